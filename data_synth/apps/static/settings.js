// A settings panel: tabs of toggles, dropdowns, radio groups, a slider, colour swatches and
// modals; changes are a draft until "Save changes" copies them to the saved settings.
"use strict";
(function () {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

  function general(s, c, h) {
    const d = s.draft;
    return `<section class="card stack"><h2>${h.esc(c.copy.profile)}</h2>` +
      h.field({ sid: "display-name", label: c.copy.displayName, bind: "draft.displayName", value: d.displayName,
        fn: "change the name others see" }) +
      h.dropdown({ sid: "language", label: c.copy.language, path: "draft.language", value: d.language,
        options: c.languages.map((x) => ({ value: x, label: x, fn: `use ${x} for the interface` })), fn: "change the language" }, s) +
      h.dropdown({ sid: "timezone", label: c.copy.timezone, path: "draft.timezone", value: d.timezone,
        options: c.timezones.map((x) => ({ value: x, label: x, fn: `set the time zone to ${x}` })), fn: "change the time zone" }, s) +
      h.radios({ sid: "date-format", label: c.copy.dateFormat, path: "draft.dateFormat", value: d.dateFormat, cls: "inline",
        options: c.dateFormats.map((x) => ({ value: x, label: x, fn: `show dates as ${x}` })) }) + `</section>`;
  }

  function notifications(s, c, h) {
    const d = s.draft;
    return `<section class="card stack"><h2>${h.esc(c.copy.notifications)}</h2>` +
      c.switches.map((w) => h.switch({ sid: `sw-${w.key}`, label: w.label, hint: w.hint, path: `draft.${w.key}`,
        checked: d[w.key], fn: `turn ${w.label.toLowerCase()} on or off` })).join("") +
      h.radios({ sid: "digest", label: c.copy.digest, path: "draft.digest", value: d.digest, cls: "inline",
        options: c.digests.map((x) => ({ value: x, label: x, fn: `get the digest ${x.toLowerCase()}` })) }) + `</section>`;
  }

  function appearance(s, c, h) {
    const d = s.draft;
    return `<section class="card stack"><h2>${h.esc(c.copy.appearance)}</h2>` +
      h.radios({ sid: "theme", label: c.copy.theme, path: "draft.theme", value: d.theme, cls: "inline",
        options: c.themes.map((x) => ({ value: x, label: x, fn: `use the ${x.toLowerCase()} theme` })) }) +
      `<div class="field"><span class="lbl">${h.esc(c.copy.accent)}</span><div class="row swatches">` +
      c.accents.map((a) => `<button${h.attrs({ type: "button", class: "swatch", "data-sid": `accent-${a.name.toLowerCase()}`,
        "data-act": "setv", "data-path": "draft.accent", "data-arg": a.name, "aria-label": a.name, title: a.name,
        "aria-pressed": d.accent === a.name ? "true" : "false", "data-fn": `make the accent colour ${a.name.toLowerCase()}`,
        style: `background:${a.hex}` })}>${d.accent === a.name ? h.icon("check") : ""}</button>`).join("") + `</div></div>` +
      h.slider({ sid: "font-size", label: c.copy.fontSize, path: "draft.fontSize", value: d.fontSize, min: 10, max: 24,
        step: 1, unit: " px", fn: "change the text size" }) +
      h.dropdown({ sid: "density", label: c.copy.density, path: "draft.density", value: d.density,
        options: c.densities.map((x) => ({ value: x, label: x, fn: `use ${x.toLowerCase()} spacing` })), fn: "change the spacing" }, s) +
      `</section>`;
  }

  function security(s, c, h) {
    const d = s.draft;
    return `<section class="card stack"><h2>${h.esc(c.copy.security)}</h2>` +
      c.privacy.map((w) => h.switch({ sid: `sw-${w.key}`, label: w.label, path: `draft.${w.key}`, checked: d[w.key],
        fn: `turn ${w.label.toLowerCase()} on or off` })).join("") +
      `<div class="row"><div class="grow"><div class="lbl">${h.esc(c.copy.twofa)}</div><div class="muted">` +
      `${d.twofa ? h.esc(c.copy.twofaOn) : h.esc(c.copy.twofaOff)}</div></div>` +
      (d.twofa ? h.iconButton({ sid: "twofa-ok", label: "Two-factor authentication is on", icon: "shield", tone: "success", act: "noop" })
        : h.button({ sid: "enable-2fa", text: c.copy.enable2fa, variant: "secondary", act: "open2fa", icon: "lock",
          fn: "turn on two-factor authentication" })) + `</div>` +
      `<div class="row danger-zone"><div class="grow"><div class="lbl">${h.esc(c.copy.deleteTitle)}</div>` +
      `<div class="muted">${h.esc(c.copy.deleteHint)}</div></div>` +
      h.button({ sid: "delete-account", text: c.copy.deleteBtn, variant: "danger", act: "openDelete", fn: "delete your account" }) +
      `</div></section>`;
  }

  function modal(s, c, h) {
    if (s.ui.modal === "2fa") {
      return h.modal({ title: c.copy.twofa, body: `<p>${h.esc(c.copy.codeHint)} <b>${h.esc(c.code)}</b></p>` +
        h.field({ sid: "twofa-code", label: c.copy.code, bind: "ui.code", value: s.ui.code, error: s.ui.codeError,
          enter: "verify2fa", fn: "type the verification code" }),
        foot: h.button({ sid: "twofa-cancel", text: "Cancel", variant: "secondary", act: "modalClose", fn: "cancel" }) +
          h.button({ sid: "twofa-verify", text: c.copy.verify, act: "verify2fa", fn: "confirm the code" }) });
    }
    if (s.ui.modal === "delete") {
      return h.modal({ title: c.copy.deleteTitle, body: `<p>${h.esc(c.copy.deleteConfirm)}</p>`,
        foot: h.button({ sid: "delete-cancel", text: "Cancel", variant: "secondary", act: "modalClose", fn: "keep the account" }) +
          h.button({ sid: "delete-confirm", text: c.copy.deleteBtn, variant: "danger", act: "deleteAccount", fn: "delete the account for good" }) });
    }
    return "";
  }

  const TABS = { general, notifications, appearance, security };

  Synth.register({
    render(s, c, h) {
      const tabs = c.tabs.map((t) => ({ value: t.value, label: t.label, icon: t.icon, fn: `open the ${t.label} settings` }));
      const nav = c.tabNav === "side"
        ? `<nav class="sidenav">${tabs.map((t) => h.link({ sid: `tab-${t.value}`, text: t.label, icon: t.icon, act: "setTab",
          arg: t.value, current: s.tab === t.value, fn: t.fn })).join("")}</nav>`
        : "";
      const dirty = !same(s.draft, s.saved);
      return `<div class="shell"><header class="topbar"><div class="brand"><span class="logo"></span>${h.esc(c.brand)}</div>` +
        `<span class="spacer"></span>` + h.iconButton({ sid: "notifications-bell", label: "Notifications", icon: "bell", act: "noop",
          fn: "see your notifications" }) + h.iconButton({ sid: "avatar", label: "Profile", icon: "user", act: "noop", round: true,
          fn: "open your profile" }) + `</header><div class="body">${nav}<main class="main settings">` +
        `<h1>${h.esc(c.copy.title)}</h1>` +
        (dirty ? `<div class="banner warn" role="status">${h.icon("info", "tone-warning")}${h.esc(c.copy.unsaved)}</div>` : "") +
        (c.tabNav === "top" ? h.tabs({ path: "tab", value: s.tab, tabs }) : "") +
        TABS[s.tab](s, c, h) +
        `<div class="row actions">` + h.button({ sid: "discard", text: c.copy.discard, variant: "secondary", act: "discard",
          fn: "throw away unsaved changes", disabled: !dirty }) +
        h.button({ sid: "save", text: c.copy.save, act: "save", fn: "save the settings" }) + `</div>` +
        `</main></div>${modal(s, c, h)}${h.toast(s)}</div>`;
    },
    actions: {
      noop() {},
      setTab(s, tab) { s.tab = tab; },
      save(s) { s.saved = JSON.parse(JSON.stringify(s.draft)); s.ui.toast = Synth.cfg.copy.saved; },
      discard(s) { s.draft = JSON.parse(JSON.stringify(s.saved)); },
      open2fa(s) { s.ui.modal = "2fa"; s.ui.code = ""; s.ui.codeError = null; s.ui.focus = "twofa-code"; },
      verify2fa(s) {
        if (s.ui.code.trim() !== Synth.cfg.code) { s.ui.codeError = "That code is not valid"; return; }
        s.draft.twofa = true;
        s.ui.modal = null;
      },
      openDelete(s) { s.ui.modal = "delete"; },
      deleteAccount(s) { s.deleted = true; s.ui.modal = null; },
    },
  });
})();
