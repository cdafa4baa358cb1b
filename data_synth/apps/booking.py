"""Appointment booking: services, a date picker with months, time slots, the booking form,
and "My bookings" with reschedule and cancel. Availability is a fixed rule shared with the
page script (``booking.js``), so the generator knows which days and slots are free."""

from __future__ import annotations

import datetime as dt
from typing import Any

from data_synth import lexicon
from data_synth.apps.base import Ctx, Draft, base_state, choose, click, fill, slug, template, then_join
from data_synth.rng import Rand
from data_synth.spec import PlanStep
from data_synth.validators import Check, eq, where

FAMILY = "booking"
SERVICES = (("Haircut", 30, 35), ("Colour & style", 90, 110), ("Beard trim", 20, 18), ("Massage", 60, 70),
            ("Physio check-up", 45, 60), ("Dental cleaning", 40, 85), ("Consultation", 30, 0), ("Eye exam", 30, 45))
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def label(day: dt.date) -> str:
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def _js_weekday(day: dt.date) -> int:
    return (day.weekday() + 1) % 7  # JS getUTCDay: Sunday is 0


def is_open(app: dict[str, Any], day: dt.date) -> bool:
    return day.isoformat() >= app["today"] and _js_weekday(day) not in app["closedDays"]


def is_booked(app: dict[str, Any], day: dt.date, slot: int) -> bool:
    return (day.day * 7 + slot * 3 + app["salt"]) % 5 == 0


def _app(ctx: Ctx, n_services: int) -> dict[str, Any]:
    r = ctx.rng.child("app")
    today = dt.date(2026, r.int(1, 10), r.int(3, 20))
    start = r.choice((8, 9, 10))
    slots = [f"{(h - 1) % 12 + 1}:{m:02d} {'AM' if h < 12 else 'PM'}" for h in range(start, start + 5) for m in (0, 30)]
    services = [{"name": n, "minutes": mins, "price": p} for n, mins, p in r.sample(SERVICES, n_services)]
    name, email = lexicon.person(r.child("me"))
    copy = {"title": r.choice(("Book an appointment", "Book a visit", "Schedule")), "bookTab": "Book",
            "mineTab": r.choice(("My bookings", "Upcoming")), "service": "Service", "date": "Date",
            "chooseDate": "Choose a date", "prevMonth": "Previous month", "nextMonth": "Next month", "time": "Time",
            "pickDateFirst": "Pick a date to see free times.", "details": "Your details", "name": "Name",
            "email": "Email", "notes": r.choice(("Notes", "Anything we should know?")),
            "book": r.choice(("Book now", "Confirm booking", "Reserve")), "saveBooking": "Save new time",
            "rescheduling": "Choosing a new time for", "reschedule": "Reschedule", "cancel": "Cancel",
            "cancelTitle": "Cancel this booking?", "cancelText": "The time will be given to someone else.",
            "keep": "Keep it", "cancelConfirm": "Cancel booking", "booked": "You're booked!",
            "rescheduled": "Your booking was moved."}
    return {
        "title": f"{copy['title']} — {lexicon.brand(r)}", "brand": lexicon.brand(r.child("brand")),
        "place": f"{r.choice(lexicon.CITIES)} · {r.choice(lexicon.STREETS)}", "copy": copy, "services": services,
        "today": today.isoformat(), "closedDays": [0] if r.chance(0.5) else [0, 6], "salt": r.int(0, 4),
        "slots": slots, "currency": r.choice(("$", "€", "£")),
        "weekdays": ["Su", "Mo", "Tu", "We", "Th", "Fr", "Sa"],
        "me": {"name": name, "email": email},
        "state": base_state(tab="book", service=services[0]["name"] if n_services == 1 else None, date=None, time=None,
                            month=today.isoformat()[:7], form={"name": "", "email": "", "notes": ""}, errors={},
                            bookings=[], reschedule=None, cancelling=None, ui={"done": None}),
    }


def _free_day(r: Rand, app: dict[str, Any], month_offset: int, avoid: set[str] = frozenset()) -> dt.date:
    today = dt.date.fromisoformat(app["today"])
    y, m = today.year + (today.month - 1 + month_offset) // 12, (today.month - 1 + month_offset) % 12 + 1
    days = [dt.date(y, m, d) for d in range(1, 29)]
    return r.choice([d for d in days if is_open(app, d) and d > today and d.isoformat() not in avoid])


def _free_slot(r: Rand, app: dict[str, Any], day: dt.date) -> str:
    return r.choice([s for i, s in enumerate(app["slots"]) if not is_booked(app, day, i)])


def _pick(app: dict[str, Any], day: dt.date, slot: str, months_ahead: int) -> list[PlanStep]:
    c = app["copy"]
    return [click(c["date"], "date-button", changes_state=False),
            *[click(c["nextMonth"], "month-next", changes_state=False)] * months_ahead,
            click(label(day), f"day-{day.isoformat()}", "", target=f'the day "{label(day)}" in the calendar'),
            click(slot, f"slot-{slug(slot)}")]


def _booking(day: dt.date, slot: str, service: str) -> list[Check]:
    b = ["bookings", where(date=day.isoformat(), time=slot)]
    return [eq([*b, "service"], service, f"{service} on {label(day)} at {slot}"),
            eq([*b, "status"], "confirmed", "confirmed")]


@template(FAMILY, "slot", ("easy",), "book a date and a time")
def slot(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 1)
    app["state"]["form"].update(name=app["me"]["name"], email=app["me"]["email"])  # signed in: details known
    day = _free_day(r, app, 0)
    time = _free_slot(r, app, day)
    plan = [*_pick(app, day, time, 0), click(app["copy"]["book"], "confirm")]
    checks = [*_booking(day, time, app["services"][0]["name"]), Check(path=["bookings"], op="len", value=1)]
    return Draft(then_join(plan), plan, checks, app, distractors=len(app["slots"]) - 1)


@template(FAMILY, "book", ("medium",), "book a service next month with your details")
def book(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 4)
    c = app["copy"]
    service = r.choice(app["services"])["name"]
    day = _free_day(r, app, 1)
    time = _free_slot(r, app, day)
    name, email = app["me"]["name"], app["me"]["email"]
    plan = [choose(service, f"service-{slug(service)}"), *_pick(app, day, time, 1),
            fill(c["name"], name, "name"), fill(c["email"], email, "email"), click(c["book"], "confirm")]
    checks = [*_booking(day, time, service), eq(["bookings", 0, "name"], name, f"booked for {name}"),
              eq(["bookings", 0, "email"], email, f"confirmation to {email}")]
    instruction = f"Book a {service.lower()} for {name} ({email}) on {label(day)} at {time}."
    return Draft(instruction, plan, checks, app, distractors=len(app["slots"]) + 3, nested_menus=True,
                 features=["date-picker", "month-navigation", "form"])


@template(FAMILY, "reschedule", ("hard",), "cancel one booking and move another")
def reschedule(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 4)
    c = app["copy"]
    taken: set[str] = set()
    bookings = []
    for i in range(3):
        day = _free_day(r.child("booked", i), app, 0, taken)
        taken.add(day.isoformat())
        bookings.append({"id": f"b{i + 1}", "status": "confirmed", "service": app["services"][i]["name"],
                         "date": day.isoformat(), "time": _free_slot(r, app, day), "name": app["me"]["name"],
                         "email": app["me"]["email"], "notes": ""})
    app["state"]["bookings"] = bookings
    cancel, move, keep = r.shuffled(bookings)
    day = _free_day(r.child("new"), app, 1)
    time = _free_slot(r, app, day)
    note = r.choice(("Running late from work, please keep the slot.", "Second visit.", "Parking at the back."))
    plan = [click(c["mineTab"], "tab-mine", "tab", changes_state=False),
            click(c["cancel"], f"cancel-{cancel['id']}", changes_state=False,
                  target=f"the Cancel button of the {cancel['service']} booking"),
            click(c["cancelConfirm"], "confirm-cancel"),
            click(c["reschedule"], f"reschedule-{move['id']}", changes_state=False,
                  target=f"the Reschedule button of the {move['service']} booking"),
            *_pick(app, day, time, 1), fill(c["notes"], note, "notes"), click(c["saveBooking"], "confirm")]
    checks = [eq(["bookings", where(id=cancel["id"]), "status"], "cancelled", f"{cancel['service']} cancelled"),
              eq(["bookings", where(id=move["id"]), "date"], day.isoformat(), f"{move['service']} moved to {label(day)}"),
              eq(["bookings", where(id=move["id"]), "time"], time, f"at {time}"),
              Check(path=["bookings", where(id=move["id"]), "notes"], op="contains", value=note, describe="the note"),
              eq(["bookings", where(id=keep["id"]), "date"], keep["date"], f"{keep['service']} unchanged"),
              eq(["bookings", where(id=keep["id"]), "status"], "confirmed", f"{keep['service']} still on")]
    instruction = (f"Cancel my {cancel['service'].lower()} on {label(dt.date.fromisoformat(cancel['date']))}, and move "
                   f"my {move['service'].lower()} to {label(day)} at {time} with the note \"{note}\". "
                   f"Leave the {keep['service'].lower()} as it is.")
    return Draft(instruction, plan, checks, app, distractors=12, nested_menus=True,
                 features=["tabs", "modal", "date-picker", "month-navigation", "reschedule"])
