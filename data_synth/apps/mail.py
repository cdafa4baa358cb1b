"""An email client: folders, labels, message list, reading pane, nested "Move to" menu, compose."""

from __future__ import annotations

from typing import Any

from data_synth import lexicon
from data_synth.apps.base import Ctx, Draft, base_state, choose, click, fill, slug, template, then_join
from data_synth.rng import Rand
from data_synth.validators import Check, eq, where

FAMILY = "mail"
DATES = ("9:41 AM", "8:15 AM", "Yesterday", "Mon", "Sun", "Sat", "Mar 14", "Mar 12", "Mar 9", "Mar 3", "Feb 27",
         "Feb 20", "Feb 14", "Feb 2", "Jan 30", "Jan 21", "Jan 12", "Jan 5", "Dec 28", "Dec 19", "Dec 11", "Dec 2")


def _messages(r: Rand, n: int, me: str) -> list[dict[str, Any]]:
    people = lexicon.people(r.child("people"), max(4, n * 2 // 3))
    subjects = r.sample(lexicon.SUBJECTS, min(n, len(lexicon.SUBJECTS)))
    out = []
    for i in range(n):
        name, email = people[i % len(people)] if i < len(people) else r.choice(people)
        subject = subjects[i % len(subjects)].replace("{n}", str(r.int(100, 999)))
        if i >= len(subjects):
            subject = f"{subject} (follow-up)"
        snippet = r.choice(lexicon.SNIPPETS)
        out.append({"id": f"m{i + 1}", "folder": "inbox", "from": name, "fromEmail": email, "to": [me],
                    "subject": subject, "snippet": snippet,
                    "body": f"Hi,\n{snippet} {r.choice(lexicon.SNIPPETS)}\nBest,\n{name.split()[0]}",
                    "date": DATES[i % len(DATES)], "read": r.chance(0.5), "starred": r.chance(0.15), "inReplyTo": None})
    return out


def _app(ctx: Ctx, n: int) -> dict[str, Any]:
    r = ctx.rng.child("app")
    my_name, me = lexicon.person(r.child("me"))
    copy = {
        "compose": r.choice(("Compose", "New message", "Write")), "reply": "Reply", "forward": "Forward",
        "archive": "Archive", "del": r.choice(("Delete", "Move to trash")), "moveTo": r.choice(("Move to", "Move")),
        "send": "Send", "to": "To", "subject": "Subject", "message": r.choice(("Message", "Body")),
        "search": r.choice(("Search mail", "Search")), "labels": "Labels", "refresh": "Refresh",
        "empty": "No messages here.", "sent": "Message sent", "replyTitle": "Reply", "newMessage": "New message",
        "discardDraft": "Discard draft",
    }
    folders = [{"id": "inbox", "label": "Inbox", "icon": "inbox", "movable": True},
               {"id": "starred", "label": "Starred", "icon": "star", "movable": False},
               {"id": "sent", "label": "Sent", "icon": "send", "movable": False},
               {"id": "archive", "label": "Archive", "icon": "archive", "movable": True},
               {"id": "trash", "label": "Trash", "icon": "trash", "movable": True}]
    return {
        "title": f"Inbox — {my_name}", "brand": lexicon.brand(r) + " Mail", "me": me, "copy": copy, "folders": folders,
        "labels": sorted(r.sample(("Clients", "Travel", "Receipts", "Family", "Projects", "Newsletters"), 3)),
        "state": base_state(folder="inbox", open=None, selected=[], compose=None, query="", errors={},
                            messages=_messages(r.child("messages"), n, me)),
    }


def _folder(id_: str, folder: str, what: str) -> Check:
    return eq(["messages", where(id=id_), "folder"], folder, what)


@template(FAMILY, "archive", ("easy",), "archive one message")
def archive(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 10)
    msgs = app["state"]["messages"]
    m, other = r.sample(msgs[:5], 2)  # near the top: no scrolling
    plan = [click(m["subject"], f"msg-{m['id']}", "", changes_state=False), click(app["copy"]["archive"], "archive")]
    checks = [_folder(m["id"], "archive", f"\"{m['subject']}\" archived"), _folder(other["id"], "inbox", "others stay")]
    return Draft(then_join(plan), plan, checks, app, distractors=len(msgs) - 1)


@template(FAMILY, "reply", ("medium",), "star a message and reply to it")
def reply(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 14)
    c = app["copy"]
    m = r.choice([x for x in app["state"]["messages"][:8] if not x["starred"]] or app["state"]["messages"][:1])
    m["starred"] = False
    text = r.choice(lexicon.REPLIES)
    plan = [click(m["subject"], f"msg-{m['id']}", "", changes_state=False), click("Star", "star"),
            click(c["reply"], "reply", changes_state=False), fill(c["message"], text, "compose-body"),
            click(c["send"], "send")]
    sent = ["messages", where(inReplyTo=m["id"])]
    checks = [eq([*sent, "folder"], "sent", f"a reply to \"{m['subject']}\" was sent"),
              eq([*sent, "to"], [m["fromEmail"]], f"sent to {m['fromEmail']}"),
              Check(path=[*sent, "body"], op="contains", value=text, describe=f'the reply says "{text}"'),
              eq(["messages", where(id=m["id"]), "starred"], True, "the message is starred")]
    instruction = f'Star the email "{m["subject"]}" from {m["from"]} and reply to it with "{text}".'
    return Draft(instruction, plan, checks, app, distractors=13, features=["compose", "star"])


@template(FAMILY, "organize", ("hard",), "label a sender's messages, delete one, write a new message")
def organize(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 20)
    c = app["copy"]
    msgs = app["state"]["messages"]
    a, b = r.sample(msgs, 2)  # the same sender wrote both
    b["from"], b["fromEmail"] = a["from"], a["fromEmail"]
    for m in msgs:  # and nobody else shares that name
        if m is not a and m is not b and m["from"] == a["from"]:
            m["from"], m["fromEmail"] = "Ops Team", "ops@corp.example"
    gone = r.choice([m for m in msgs if m["from"] != a["from"]])
    keep = r.choice([m for m in msgs if m not in (a, b, gone)])
    label = r.choice(app["labels"])
    to = [p[1] for p in lexicon.people(r.child("to"), 2)]
    subject = r.choice(("Notes from today", "Next steps", "Quick question", "Schedule for next week"))
    body = r.choice(lexicon.REPLIES)
    first, second = sorted((a, b), key=lambda m: int(m["id"][1:]))
    plan = [*(choose(m["subject"], f"sel-{m['id']}", target=f"the checkbox of the message \"{m['subject']}\"")
              for m in (first, second)),
            click(c["moveTo"], "bulk-move", changes_state=False), click("Labels ›", "bulk-move-labels", changes_state=False),
            click(label, f"bulk-move-label-{slug(label)}"),
            click(gone["subject"], f"msg-{gone['id']}", "", changes_state=False), click(c["del"], "delete"),
            click(c["compose"], "compose", changes_state=False), fill(c["to"], ", ".join(to), "compose-to"),
            fill(c["subject"], subject, "compose-subject"), fill(c["message"], body, "compose-body"),
            click(c["send"], "send")]
    sent = ["messages", where(subject=subject, folder="sent")]
    checks = [_folder(a["id"], f"label:{label}", f"\"{a['subject']}\" labelled {label}"),
              _folder(b["id"], f"label:{label}", f"\"{b['subject']}\" labelled {label}"),
              _folder(gone["id"], "trash", f"\"{gone['subject']}\" deleted"), _folder(keep["id"], "inbox", "others stay"),
              eq([*sent, "to"], to, "sent to both people"),
              Check(path=[*sent, "body"], op="contains", value=body, describe="the new message's text")]
    instruction = (f"Move both emails from {a['from']} to the {label} label, delete \"{gone['subject']}\", then send "
                   f"{' and '.join(to)} a message with the subject \"{subject}\" saying \"{body}\".")
    return Draft(instruction, plan, checks, app, distractors=17, scroll=True, nested_menus=True,
                 features=["selection", "nested-menu", "compose", "delete"])
