// Appointment booking: services, a date picker with month navigation, time slots, the
// booking form, and "My bookings" with reschedule and cancel (with confirmation).
"use strict";
(function () {
  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const pad = (n) => String(n).padStart(2, "0");
  const parts = (iso) => iso.split("-").map(Number);
  const label = (iso) => { const [y, m, d] = parts(iso); return `${MONTHS[m - 1]} ${d}, ${y}`; };
  // Same rule as the generator (data_synth/apps/booking.py): no clock, no randomness.
  const weekday = (iso) => { const [y, m, d] = parts(iso); return new Date(Date.UTC(y, m - 1, d)).getUTCDay(); };
  const open = (c, iso) => iso >= c.today && !c.closedDays.includes(weekday(iso));
  const booked = (c, iso, i) => (parts(iso)[2] * 7 + i * 3 + c.salt) % 5 === 0;

  function picker(s, c, h) {
    const t = c.copy;
    const [y, m] = s.month.split("-").map(Number);
    const first = new Date(Date.UTC(y, m - 1, 1)).getUTCDay();
    const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const cells = [];
    for (let i = 0; i < first; i++) cells.push(`<span></span>`);
    for (let d = 1; d <= days; d++) {
      const iso = `${y}-${pad(m)}-${pad(d)}`;
      cells.push(`<button${h.attrs({ type: "button", class: `day ${s.date === iso ? "chosen" : ""}`, "data-sid": `day-${iso}`,
        "data-act": "pickDate", "data-arg": iso, "aria-label": label(iso), disabled: !open(c, iso),
        "aria-pressed": s.date === iso ? "true" : "false", "data-fn": `book on ${label(iso)}` })}>${d}</button>`);
    }
    const body = s.ui.open === "date" ? `<div class="calendar" role="dialog" aria-label="${h.esc(t.chooseDate)}">` +
      `<div class="row cal-head">` + h.iconButton({ sid: "month-prev", label: t.prevMonth, icon: "chevron-left", act: "shiftMonth",
        arg: "-1", fn: "show the previous month", disabled: s.month <= c.today.slice(0, 7) }) +
      `<b class="grow center">${MONTHS[m - 1]} ${y}</b>` + h.iconButton({ sid: "month-next", label: t.nextMonth,
        icon: "chevron-right", act: "shiftMonth", arg: "1", fn: "show the next month" }) + `</div>` +
      `<div class="cal-grid">${c.weekdays.map((w) => `<span class="wd muted">${w}</span>`).join("")}${cells.join("")}</div></div>` : "";
    return `<div class="field dd" data-popup="date"><span class="lbl" id="date-lbl">${h.esc(t.date)}</span>` +
      `<button${h.attrs({ type: "button", class: "dd-btn", "data-sid": "date-button", "data-act": "ddToggle", "data-arg": "date",
        "aria-labelledby": "date-lbl", "aria-haspopup": "dialog", "data-fn": "open the calendar" })}>` +
      `${h.icon("calendar")}<span>${h.esc(s.date ? label(s.date) : t.chooseDate)}</span></button>${body}</div>`;
  }

  function slots(s, c, h) {
    if (!s.date) return `<p class="muted">${h.esc(c.copy.pickDateFirst)}</p>`;
    return `<fieldset class="slots"><legend class="lbl">${h.esc(c.copy.time)}</legend><div class="slot-grid">` +
      c.slots.map((x, i) => h.button({ sid: `slot-${h.slug(x)}`, text: x, act: "pickTime", arg: x,
        variant: s.time === x ? "primary" : "secondary", disabled: booked(c, s.date, i), cls: "slot",
        fn: `book the ${x} slot` })).join("") + `</div></fieldset>`;
  }

  function book(s, c, h) {
    const t = c.copy;
    const f = s.form;
    const editing = s.reschedule ? s.bookings.find((b) => b.id === s.reschedule) : null;
    return `<div class="row top"><section class="card stack grow">` +
      (editing ? `<div class="banner warn">${h.icon("refresh")}${h.esc(t.rescheduling)} ${h.esc(editing.service)}</div>` : "") +
      (c.services.length > 1 && !editing ? h.radios({ sid: "service", label: t.service, path: "service", value: s.service,
        options: c.services.map((x) => ({ value: x.name, label: x.name, note: `${x.minutes} min · ${c.currency}${x.price}`,
          fn: `book a ${x.name.toLowerCase()}` })) }) : "") +
      picker(s, c, h) + slots(s, c, h) + `</section><section class="card stack side-form">` +
      `<h2>${h.esc(t.details)}</h2>` +
      h.field({ sid: "name", label: t.name, bind: "form.name", value: f.name, error: s.errors.name, fn: "enter your name" }) +
      h.field({ sid: "email", label: t.email, bind: "form.email", value: f.email, error: s.errors.email, fn: "enter your email" }) +
      h.field({ sid: "notes", label: t.notes, bind: "form.notes", value: f.notes, multiline: true, fn: "add a note for the appointment" }) +
      (s.errors.slot ? `<div class="err" role="alert">${h.esc(s.errors.slot)}</div>` : "") +
      h.button({ sid: "confirm", text: editing ? t.saveBooking : t.book, act: "confirm", cls: "wide",
        fn: editing ? "save the new time" : "confirm the booking" }) + `</section></div>`;
  }

  function mine(s, c, h) {
    const t = c.copy;
    const rows = s.bookings.map((b, i) => `<tr data-row="${i + 1}" data-list="bookings"><td>${h.esc(b.service)}</td>` +
      `<td>${h.esc(label(b.date))}</td><td>${h.esc(b.time)}</td><td><span class="pill ${b.status === "cancelled" ? "bad" : "ok"}">` +
      `${h.esc(b.status)}</span></td><td class="row-actions">` + (b.status === "cancelled" ? "" :
        h.button({ sid: `reschedule-${b.id}`, text: t.reschedule, variant: "secondary", act: "startReschedule", arg: b.id,
          fn: `move the ${b.service.toLowerCase()} on ${label(b.date)}` }) +
        h.button({ sid: `cancel-${b.id}`, text: t.cancel, variant: "ghost", act: "askCancel", arg: b.id,
          fn: `cancel the ${b.service.toLowerCase()} on ${label(b.date)}` })) + `</td></tr>`).join("");
    return `<div class="card"><table class="data"><thead><tr><th>${h.esc(t.service)}</th><th>${h.esc(t.date)}</th>` +
      `<th>${h.esc(t.time)}</th><th>Status</th><th></th></tr></thead><tbody>${rows}</tbody></table></div>`;
  }

  Synth.register({
    render(s, c, h) {
      const t = c.copy;
      const tabs = h.tabs({ path: "tab", value: s.tab, tabs: [{ value: "book", label: t.bookTab, icon: "calendar", fn: "book a new appointment" },
        { value: "mine", label: t.mineTab, icon: "clock", fn: "see your bookings" }] });
      const modal = s.ui.modal === "cancel" ? h.modal({ title: t.cancelTitle, body: `<p>${h.esc(t.cancelText)}</p>`,
        foot: h.button({ sid: "keep-booking", text: t.keep, variant: "secondary", act: "modalClose", fn: "keep the booking" }) +
          h.button({ sid: "confirm-cancel", text: t.cancelConfirm, variant: "danger", act: "doCancel", fn: "cancel it for good" }) }) : "";
      const done = s.ui.done ? `<div class="banner ok" role="status">${h.icon("check", "tone-success")}${h.esc(s.ui.done)}</div>` : "";
      return `<div class="shell"><header class="topbar"><div class="brand"><span class="logo"></span>${h.esc(c.brand)}</div>` +
        `<span class="muted">${h.esc(c.place)}</span><span class="spacer"></span>` +
        h.iconButton({ sid: "account", label: "Account", icon: "user", act: "noop", round: true, fn: "open your account" }) +
        `</header><main class="main booking"><h1>${h.esc(t.title)}</h1>${done}${tabs}` +
        (s.tab === "book" ? book(s, c, h) : mine(s, c, h)) + `</main>${modal}${h.toast(s)}</div>`;
    },
    actions: {
      noop() {},
      shiftMonth(s, d) {
        let [y, m] = s.month.split("-").map(Number);
        m += Number(d);
        if (m === 0) { m = 12; y -= 1; } else if (m === 13) { m = 1; y += 1; }
        s.month = `${y}-${pad(m)}`;
        s.ui.open = "date";
      },
      pickDate(s, iso) { s.date = iso; s.time = null; s.ui.open = null; },
      pickTime(s, x) { s.time = x; },
      startReschedule(s, id) {
        const b = s.bookings.find((x) => x.id === id);
        s.reschedule = id; s.tab = "book"; s.service = b.service; s.date = null; s.time = null;
        s.form = { name: b.name, email: b.email, notes: b.notes };
      },
      askCancel(s, id) { s.cancelling = id; s.ui.modal = "cancel"; },
      doCancel(s) { s.bookings.find((b) => b.id === s.cancelling).status = "cancelled"; s.ui.modal = null; },
      confirm(s) {
        const f = s.form;
        s.errors = {};
        if (!f.name.trim()) s.errors.name = "Enter your name";
        if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(f.email.trim())) s.errors.email = "Enter a valid email";
        if (!s.service || !s.date || !s.time) s.errors.slot = "Choose a service, a date and a time";
        if (Object.keys(s.errors).length) return;
        const fields = { service: s.service, date: s.date, time: s.time, name: f.name.trim(), email: f.email.trim(), notes: f.notes.trim() };
        if (s.reschedule) {
          Object.assign(s.bookings.find((b) => b.id === s.reschedule), fields);
          s.ui.done = Synth.cfg.copy.rescheduled;
        } else {
          s.bookings.push({ id: `b${s.bookings.length + 1}`, status: "confirmed", ...fields });
          s.ui.done = Synth.cfg.copy.booked;
        }
        s.reschedule = null; s.date = null; s.time = null; s.tab = "mine";
      },
    },
  });
})();
