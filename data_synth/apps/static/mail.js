// An email client: folders and labels, a message list with selection and stars, a reading
// pane with reply / archive / delete / a nested "Move to" menu, and a compose window.
"use strict";
(function () {
  const inFolder = (s, f) => (f === "starred" ? s.messages.filter((m) => m.starred && m.folder !== "trash")
    : s.messages.filter((m) => m.folder === f));
  const find = (s, id) => s.messages.find((m) => m.id === id);

  // align: which edge of the button the menu hangs from; the submenu opens away from it
  function moveMenu(s, c, h, sid, label, align) {
    const open = s.ui.open || "";
    const root = open.split("/")[0] === sid;
    const folders = c.folders.filter((f) => f.movable);
    const sub = open === `${sid}/labels`
      ? `<ul role="menu" class="menu sub">${c.labels.map((l) => `<li>${h.button({ sid: `${sid}-label-${h.slug(l)}`,
        text: l, variant: "ghost", act: "moveTo", arg: `label:${l}`, cls: "menuitem", role: "menuitem",
        fn: `move it to the ${l} label` })}</li>`).join("")}</ul>` : "";
    const menu = root ? `<ul role="menu" class="menu align-${align}">` + folders.map((f) => `<li>${h.button({ sid: `${sid}-${f.id}`,
      text: f.label, icon: f.icon, variant: "ghost", act: "moveTo", arg: f.id, cls: "menuitem", role: "menuitem",
      fn: `move it to ${f.label}` })}</li>`).join("") +
      `<li>${h.button({ sid: `${sid}-labels`, text: `${c.copy.labels} ›`, icon: "tag", variant: "ghost", act: "openSub",
        arg: `${sid}/labels`, cls: "menuitem", role: "menuitem", haspopup: "menu", fn: "show the labels" })}` +
      `${sub}</li></ul>` : "";
    return `<div class="menu-wrap" data-popup="${sid}">` + h.button({ sid, text: label, icon: "folder", variant: "secondary",
      act: "ddToggle", arg: sid, fn: "move messages to another folder or label" }) + menu + `</div>`;
  }

  function list(s, c, h) {
    const t = c.copy;
    const msgs = inFolder(s, s.folder);
    const any = s.selected.length > 0;
    const toolbar = `<div class="row toolbar">` +
      h.iconButton({ sid: "refresh", label: t.refresh, icon: "refresh", act: "noop", fn: "check for new mail" }) +
      (any ? h.iconButton({ sid: "bulk-archive", label: `${t.archive} selected`, icon: "archive", act: "bulkMove", arg: "archive",
        fn: "archive the selected messages" }) + h.iconButton({ sid: "bulk-delete", label: `${t.del} selected`, icon: "trash",
        tone: "danger", act: "bulkMove", arg: "trash", fn: "delete the selected messages" }) +
        moveMenu(s, c, h, "bulk-move", t.moveTo, "left") + `<span class="muted">${s.selected.length} selected</span>` : "") + `</div>`;
    const rows = msgs.map((m, i) => `<div class="mrow ${m.read ? "" : "unread"}" data-row="${i + 1}" data-list="messages">` +
      `<input${h.attrs({ type: "checkbox", class: "sel", "data-sid": `sel-${m.id}`, "data-act": "select", "data-arg": m.id,
        "aria-label": `Select message from ${m.from}`, checked: s.selected.includes(m.id), "data-fn": `select the message from ${m.from}` })}>` +
      h.iconButton({ sid: `star-${m.id}`, label: m.starred ? "Unstar" : "Star", icon: "star", act: "star", arg: m.id,
        pressed: m.starred ? "true" : "false", fn: `${m.starred ? "unstar" : "star"} the message about ${m.subject}` }) +
      `<span class="from">${h.esc(m.from)}</span>` +
      h.link({ sid: `msg-${m.id}`, text: m.subject, act: "openMsg", arg: m.id, cls: "subject", fn: `read the message about ${m.subject}` }) +
      `<span class="snippet muted">${h.esc(m.snippet)}</span><span class="date muted">${h.esc(m.date)}</span></div>`).join("");
    return `<div class="maillist">${toolbar}${rows || `<p class="muted empty">${h.esc(t.empty)}</p>`}</div>`;
  }

  function reader(s, c, h) {
    const m = find(s, s.open);
    const t = c.copy;
    return `<article class="reader card">` +
      `<div class="row toolbar">` + h.iconButton({ sid: "back", label: `Back to ${folderLabel(c, s.folder)}`, icon: "chevron-left",
        act: "closeMsg", fn: "go back to the message list" }) + `<span class="spacer"></span>` +
      h.iconButton({ sid: "archive", label: t.archive, icon: "archive", act: "moveTo", arg: "archive", fn: "archive this message" }) +
      h.iconButton({ sid: "delete", label: t.del, icon: "trash", tone: "danger", act: "moveTo", arg: "trash", fn: "delete this message" }) +
      h.iconButton({ sid: "star", label: m.starred ? "Unstar" : "Star", icon: "star", act: "star", arg: m.id,
        pressed: m.starred ? "true" : "false", fn: `${m.starred ? "unstar" : "star"} this message` }) +
      moveMenu(s, c, h, "move", t.moveTo, "right") + `</div>` +
      `<h1>${h.esc(m.subject)}</h1><div class="row meta"><b>${h.esc(m.from)}</b><span class="muted">&lt;${h.esc(m.fromEmail)}&gt;</span>` +
      `<span class="spacer"></span><span class="muted">${h.esc(m.date)}</span></div>` +
      m.body.split("\n").map((p) => `<p>${h.esc(p)}</p>`).join("") +
      `<div class="row">` + h.button({ sid: "reply", text: t.reply, icon: "reply", variant: "secondary", act: "reply", arg: m.id,
        fn: `reply to ${m.from}` }) + h.button({ sid: "forward", text: t.forward, icon: "forward", variant: "secondary", act: "forward",
        arg: m.id, fn: "forward this message" }) + `</div></article>`;
  }

  function compose(s, c, h) {
    const k = s.compose;
    const t = c.copy;
    return `<div class="compose" role="dialog" aria-labelledby="compose-title"><div class="row compose-head">` +
      `<h2 id="compose-title">${h.esc(k.replyTo ? t.replyTitle : t.newMessage)}</h2><span class="spacer"></span>` +
      h.iconButton({ sid: "compose-close", label: t.discardDraft, icon: "close", act: "discardDraft", fn: "throw the draft away" }) +
      `</div>` + h.field({ sid: "compose-to", label: t.to, bind: "compose.to", value: k.to, error: s.errors.to, fn: "enter the recipients" }) +
      h.field({ sid: "compose-subject", label: t.subject, bind: "compose.subject", value: k.subject, fn: "enter the subject" }) +
      h.field({ sid: "compose-body", label: t.message, bind: "compose.body", value: k.body, multiline: true, fn: "write the message" }) +
      `<div class="row">` + h.button({ sid: "send", text: t.send, icon: "send", act: "send", fn: "send the message" }) + `</div></div>`;
  }

  const folderLabel = (c, id) => (c.folders.find((f) => f.id === id) || { label: id }).label;

  Synth.register({
    render(s, c, h) {
      const t = c.copy;
      const unread = (f) => inFolder(s, f).filter((m) => !m.read).length;
      const nav = `<nav class="sidenav">` + h.button({ sid: "compose", text: t.compose, icon: "pencil", act: "newMessage",
        fn: "write a new message", cls: "wide" }) +
        c.folders.map((f) => h.link({ sid: `folder-${f.id}`, text: f.label, icon: f.icon, act: "folder", arg: f.id,
          current: s.folder === f.id, count: f.id === "inbox" && unread("inbox") ? unread("inbox") : null,
          fn: `show the ${f.label} folder` })).join("") +
        `<div class="nav-head muted">${h.esc(t.labels)}</div>` +
        c.labels.map((l) => h.link({ sid: `folder-label-${h.slug(l)}`, text: l, icon: "tag", act: "folder", arg: `label:${l}`,
          current: s.folder === `label:${l}`, fn: `show messages labelled ${l}` })).join("") + `</nav>`;
      return `<div class="shell"><header class="topbar"><div class="brand"><span class="logo"></span>${h.esc(c.brand)}</div>` +
        h.field({ sid: "mail-search", label: t.search, hideLabel: true, bind: "query", value: s.query, placeholder: t.search,
          cls: "search", prefix: h.icon("search", "tone-text"), fn: "search mail" }) + `<span class="spacer"></span>` +
        h.iconButton({ sid: "settings", label: "Settings", icon: "gear", act: "noop", fn: "open mail settings" }) +
        h.iconButton({ sid: "account", label: "Account", icon: "user", round: true, act: "noop", fn: "open your account" }) +
        `</header><div class="body">${nav}<main class="main mail">` +
        `<h1>${h.esc(folderLabel(c, s.folder.replace(/^label:/, "")))}</h1>` +
        (s.open ? reader(s, c, h) : list(s, c, h)) + `</main></div>` +
        (s.compose ? compose(s, c, h) : "") + h.toast(s) + `</div>`;
    },
    actions: {
      noop() {},
      folder(s, f) { s.folder = f; s.open = null; s.selected = []; },
      openMsg(s, id) { s.open = id; find(s, id).read = true; },
      closeMsg(s) { s.open = null; },
      select(s, id, el) { s.selected = el.checked ? [...s.selected, id] : s.selected.filter((x) => x !== id); },
      star(s, id) { const m = find(s, id); m.starred = !m.starred; },
      openSub(s, which) { s.ui.open = which; },
      moveTo(s, where) {
        const ids = s.open ? [s.open] : s.selected;
        for (const id of ids) find(s, id).folder = where;
        s.ui.open = null;
        s.ui.toast = `${ids.length === 1 ? "Message" : ids.length + " messages"} moved to ${where.replace(/^label:/, "")}`;
        s.open = null;
        s.selected = [];
      },
      bulkMove(s, where) { for (const id of s.selected) find(s, id).folder = where; s.selected = []; },
      newMessage(s) { s.compose = { to: "", subject: "", body: "", replyTo: null }; s.errors = {}; s.ui.focus = "compose-to"; },
      reply(s, id) {
        const m = find(s, id);
        s.compose = { to: m.fromEmail, subject: m.subject.startsWith("Re: ") ? m.subject : `Re: ${m.subject}`, body: "", replyTo: id };
        s.errors = {};
      },
      forward(s, id) { const m = find(s, id); s.compose = { to: "", subject: `Fwd: ${m.subject}`, body: m.body, replyTo: null }; },
      discardDraft(s) { s.compose = null; },
      send(s) {
        const k = s.compose;
        const to = k.to.split(/[,;]/).map((x) => x.trim()).filter(Boolean);
        if (!to.length || to.some((x) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(x))) { s.errors = { to: "Enter valid email addresses" }; return; }
        s.messages.push({ id: `sent-${s.messages.length + 1}`, folder: "sent", from: "Me", fromEmail: Synth.cfg.me,
          to, subject: k.subject.trim(), body: k.body, snippet: k.body.slice(0, 60), date: "Now", read: true, starred: false,
          inReplyTo: k.replyTo });
        s.compose = null;
        s.ui.toast = Synth.cfg.copy.sent;
      },
    },
  });
})();
