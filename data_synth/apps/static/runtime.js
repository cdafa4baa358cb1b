// Shared runtime of the generated apps: state, rendering, event delegation, widgets.
// Each family script calls Synth.register({render, actions}); render(state, cfg, h) returns
// the page as an HTML string and is re-run after every action. The app's real state is
// window.__app.state (plain JSON): validators read it, never the screen.
"use strict";
(function () {
  const cfg = JSON.parse(document.getElementById("app-config").textContent);
  const app = (window.__app = {
    state: JSON.parse(JSON.stringify(cfg.state)), ready: false, mutations: 0, renders: 0,
    errors: [], family: cfg.family,
  });
  window.addEventListener("error", (e) => app.errors.push(String(e.message || e)));
  new MutationObserver((records) => { app.mutations += records.length; })
    .observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ESC[c]);
  const slug = (s) => String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
  const attrs = (o) => Object.entries(o)
    .filter(([, v]) => v !== null && v !== undefined && v !== false)
    .map(([k, v]) => (v === true ? ` ${k}` : ` ${k}="${esc(v)}"`)).join("");

  function getPath(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }
  function setPath(obj, path, value) {
    const keys = path.split(".");
    const last = keys.pop();
    const target = keys.reduce((o, k) => o[k], obj);
    target[last] = value;
  }

  const icon = (name, cls) => {
    const d = cfg.icons[name];
    return `<svg class="icon ${cls || ""}" viewBox="0 0 24 24" data-icon="${esc(name)}" aria-hidden="true"` +
      ` fill="none" stroke="currentColor" stroke-linecap="round" stroke-linejoin="round">` +
      `<path d="${esc(d)}"/></svg>`;
  };

  // ---- widgets: one markup per kind, so every family's pages look like one design system ----
  const h = {
    esc, slug, attrs, icon, getPath,
    button(o) {
      const cls = `btn ${o.variant ? "btn-" + o.variant : "btn-primary"} ${o.cls || ""}`;
      return `<button${attrs({ class: cls, type: "button", role: o.role, "aria-haspopup": o.haspopup,
        "data-sid": o.sid, "data-act": o.act, "data-arg": o.arg, "data-fn": o.fn, disabled: o.disabled,
        "aria-label": o.aria })}>` +
        `${o.icon ? icon(o.icon) : ""}<span>${esc(o.text)}</span></button>`;
    },
    iconButton(o) {
      return `<button${attrs({ class: `icon-btn tone-${o.tone || "muted"} ${o.round ? "round" : ""} ${o.cls || ""}`,
        type: "button", "data-sid": o.sid, "data-act": o.act, "data-arg": o.arg, "data-fn": o.fn,
        "aria-label": o.label, title: o.label, "aria-pressed": o.pressed, disabled: o.disabled })}>` +
        `${icon(o.icon)}${o.badge ? `<span class="badge">${esc(o.badge)}</span>` : ""}</button>`;
    },
    link(o) {
      return `<a${attrs({ href: "#", class: `link ${o.cls || ""}`, "data-sid": o.sid, "data-act": o.act,
        "data-arg": o.arg, "data-fn": o.fn, "aria-current": o.current ? "page" : null })}>` +
        `${o.icon ? icon(o.icon) : ""}<span>${esc(o.text)}</span>${o.count != null ? `<span class="count">${esc(o.count)}</span>` : ""}</a>`;
    },
    field(o) {
      const tag = o.multiline ? "textarea" : "input";
      const a = attrs({ id: o.sid, class: `input ${o.error ? "invalid" : ""}`, "data-sid": o.sid,
        "data-bind": o.bind, "data-fn": o.fn, "data-enter": o.enter, "data-live": o.live,
        type: o.multiline ? null : o.type || "text", placeholder: o.placeholder,
        "aria-invalid": o.error ? "true" : null, autocomplete: "off", rows: o.multiline ? 4 : null,
        value: o.multiline ? null : o.value, "aria-label": o.hideLabel ? o.label : null });
      const input = o.multiline ? `<${tag}${a}>${esc(o.value)}</${tag}>` : `<${tag}${a}>`;
      const label = o.hideLabel ? "" : `<label class="lbl" for="${esc(o.sid)}">${esc(o.label)}</label>`;
      const body = o.prefix || o.suffix ? `<div class="input-wrap">${o.prefix || ""}${input}${o.suffix || ""}</div>` : input;
      return `<div class="field ${o.cls || ""}">${label}${body}` +
        `${o.error ? `<div class="err" role="alert">${esc(o.error)}</div>` : ""}</div>`;
    },
    checkbox(o) {
      return `<label class="check ${o.cls || ""}"><input${attrs({ type: "checkbox", id: o.sid, "data-sid": o.sid,
        "data-act": "toggle", "data-arg": o.path, "data-fn": o.fn, checked: !!o.checked })}>` +
        `<span>${esc(o.label)}</span></label>`;
    },
    switch(o) {
      return `<div class="switch-row"><span class="lbl" id="${esc(o.sid)}-lbl">${esc(o.label)}</span>` +
        `${o.hint ? `<span class="hint">${esc(o.hint)}</span>` : ""}<button${attrs({ type: "button",
        role: "switch", class: "switch", "data-sid": o.sid, "data-act": o.act || "toggle",
        "data-arg": o.path, "data-fn": o.fn, "aria-checked": o.checked ? "true" : "false",
        "aria-labelledby": `${o.sid}-lbl` })}><span class="knob"></span></button></div>`;
    },
    radios(o) {
      return `<fieldset class="radios ${o.cls || ""}"><legend class="lbl">${esc(o.label)}</legend>` +
        o.options.map((opt) => `<label class="radio"><input${attrs({ type: "radio", name: o.path,
          id: `${o.sid}-${slug(opt.value)}`, "data-sid": `${o.sid}-${slug(opt.value)}`, "data-act": "setv",
          "data-path": o.path, "data-arg": opt.value, "data-fn": opt.fn, checked: opt.value === o.value })}>` +
          `<span>${esc(opt.label)}</span>${opt.note ? ` <span class="note">${esc(opt.note)}</span>` : ""}</label>`).join("") +
        `</fieldset>`;
    },
    dropdown(o, state) {
      const open = state.ui.open === o.sid;
      const cur = o.options.find((x) => x.value === o.value);
      const list = open ? `<ul role="listbox" class="dd-list" data-scroll="${esc(o.sid)}-list"` +
        ` aria-labelledby="${esc(o.sid)}-lbl">` + o.options.map((opt) => `<li${attrs({ role: "option",
          "aria-selected": opt.value === o.value ? "true" : "false", "data-sid": `${o.sid}-opt-${slug(opt.value)}`,
          "data-act": "ddPick", "data-path": o.path, "data-arg": opt.value, "data-fn": opt.fn,
          class: opt.value === o.value ? "selected" : "" })}>${esc(opt.label)}</li>`).join("") + `</ul>` : "";
      return `<div class="field dd ${o.cls || ""}" data-popup="${esc(o.sid)}">` +
        `<span class="lbl" id="${esc(o.sid)}-lbl">${esc(o.label)}</span><button${attrs({ type: "button",
        role: "combobox", class: "dd-btn", "data-sid": o.sid, "data-act": "ddToggle", "data-arg": o.sid,
        "data-fn": o.fn, "aria-expanded": open ? "true" : "false", "aria-haspopup": "listbox",
        "aria-labelledby": `${o.sid}-lbl` })}><span>${esc(cur ? cur.label : o.placeholder || "Select…")}</span>` +
        `${icon("chevron-down")}</button>${list}</div>`;
    },
    slider(o) {
      const pct = ((o.value - o.min) / (o.max - o.min)) * 100;
      return `<div class="field slider-row"><span class="lbl" id="${esc(o.sid)}-lbl">${esc(o.label)}</span>` +
        `<div${attrs({ class: "slider", role: "slider", tabindex: "0", "data-sid": o.sid, "data-slider": o.path,
        "data-min": o.min, "data-max": o.max, "data-step": o.step, "data-fn": o.fn, "aria-valuemin": o.min,
        "aria-valuemax": o.max, "aria-valuenow": o.value, "aria-labelledby": `${o.sid}-lbl` })}>` +
        `<div class="track"><div class="fill" style="width:${pct}%"></div></div>` +
        `<div class="thumb" style="left:${pct}%"></div></div><span class="val">${esc(o.value)}${esc(o.unit || "")}</span></div>`;
    },
    tabs(o) {
      return `<div class="tabs" role="tablist">` + o.tabs.map((t) => `<button${attrs({ type: "button",
        role: "tab", class: "tab", "data-sid": `tab-${slug(t.value)}`, "data-act": "setv", "data-path": o.path,
        "data-arg": t.value, "data-fn": t.fn, "aria-selected": t.value === o.value ? "true" : "false" })}>` +
        `${t.icon ? icon(t.icon) : ""}<span>${esc(t.label)}</span></button>`).join("") + `</div>`;
    },
    modal(o) {
      return `<div class="overlay"><div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title">` +
        `<div class="modal-head"><h2 id="modal-title">${esc(o.title)}</h2>` +
        h.iconButton({ sid: "modal-close", label: "Close", icon: "close", act: "modalClose", fn: "close this dialog" }) +
        `</div><div class="modal-body">${o.body}</div><div class="modal-foot">${o.foot}</div></div></div>`;
    },
    toast(state) {
      return state.ui.toast ? `<div class="toast" role="status">${icon("check")}<span>${esc(state.ui.toast)}</span></div>` : "";
    },
  };

  // ---- actions every family gets -------------------------------------------------------------
  const common = {
    toggle(s, path, el) { setPath(s, path, !getPath(s, path)); },
    setv(s, value, el) { setPath(s, el.dataset.path, coerce(getPath(s, el.dataset.path), value)); },
    ddToggle(s, sid) { s.ui.open = s.ui.open === sid ? null : sid; },
    ddPick(s, value, el) { setPath(s, el.dataset.path, coerce(getPath(s, el.dataset.path), value)); s.ui.open = null; },
    modalClose(s) { s.ui.modal = null; },
  };
  const coerce = (old, v) => (typeof old === "number" ? Number(v) : v);

  let fam = null;
  const root = document.getElementById("root");

  function rerender() {
    const active = document.activeElement;
    const sid = active && active.dataset ? active.dataset.sid : null;
    let sel = null;
    try { if (sid && active.selectionStart != null) sel = [active.selectionStart, active.selectionEnd]; } catch (e) { sel = null; }
    const scrolls = {};
    root.querySelectorAll("[data-scroll]").forEach((n) => { scrolls[n.dataset.scroll] = n.scrollTop; });
    root.innerHTML = fam.render(app.state, cfg, h);
    root.querySelectorAll("[data-scroll]").forEach((n) => { if (scrolls[n.dataset.scroll]) n.scrollTop = scrolls[n.dataset.scroll]; });
    const want = app.state.ui.focus || sid;
    app.state.ui.focus = null;
    const el = want ? root.querySelector(`[data-sid="${CSS.escape(want)}"]`) : null;
    if (el) {
      el.focus();
      if (sel && el.setSelectionRange && want === sid) try { el.setSelectionRange(sel[0], sel[1]); } catch (e) { /* not a text input */ }
    }
    app.renders += 1;
  }

  function run(name, arg, el, ev) {
    const fn = (fam.actions && fam.actions[name]) || common[name];
    if (!fn) { app.errors.push(`unknown action ${name}`); return; }
    app.state.ui.toast = null;
    fn(app.state, arg, el, ev);
  }

  root.addEventListener("click", (ev) => {
    let dirty = false;
    const open = app.state.ui.open;
    if (open) {
      const pop = ev.target.closest("[data-popup]");
      // a nested menu is open as "menu/submenu": its popup root carries the first name
      if (!pop || pop.dataset.popup !== open.split("/")[0]) { app.state.ui.open = null; dirty = true; }
    }
    const el = ev.target.closest("[data-act]");
    if (el && !el.disabled && el.getAttribute("aria-disabled") !== "true") {
      if (el.tagName === "A") ev.preventDefault();
      run(el.dataset.act, el.dataset.arg, el, ev);
      dirty = true;
    }
    if (dirty) rerender();
  });
  root.addEventListener("dblclick", (ev) => {
    const el = ev.target.closest("[data-dbl]");
    if (el) { run(el.dataset.dbl, el.dataset.arg, el, ev); rerender(); }
  });
  root.addEventListener("input", (ev) => {
    const el = ev.target;
    if (!el.dataset || !el.dataset.bind) return;
    setPath(app.state, el.dataset.bind, el.value);
    if (!el.dataset.live) return;
    if (el.dataset.live !== "1") run(el.dataset.live, el.value, el, ev);  // e.g. show the results page
    rerender();
  });
  root.addEventListener("keydown", (ev) => {
    const el = ev.target;
    if (ev.key === "Enter" && el.dataset && el.dataset.enter) {
      ev.preventDefault();
      run(el.dataset.enter, el.dataset.arg, el, ev);
      rerender();
    } else if (ev.key === "Escape" && (app.state.ui.open || app.state.ui.modal)) {
      app.state.ui.open = null;
      app.state.ui.modal = null;
      rerender();
    } else if (el.dataset && el.dataset.slider && (ev.key === "ArrowRight" || ev.key === "ArrowLeft")) {
      const step = Number(el.dataset.step) * (ev.key === "ArrowRight" ? 1 : -1);
      const v = Math.min(Number(el.dataset.max), Math.max(Number(el.dataset.min), getPath(app.state, el.dataset.slider) + step));
      setPath(app.state, el.dataset.slider, v);
      app.state.ui.focus = el.dataset.sid;
      rerender();
    }
  });

  // Sliders: the value under the pointer, snapped to the step, while the button is down.
  let dragging = null;
  function slideTo(x) {
    const { path, min, max, step, left, width, sid } = dragging;
    const frac = Math.min(1, Math.max(0, (x - left) / width));
    const v = min + Math.round((frac * (max - min)) / step) * step;
    if (getPath(app.state, path) !== v) { setPath(app.state, path, v); app.state.ui.focus = sid; rerender(); }
  }
  root.addEventListener("mousedown", (ev) => {
    const el = ev.target.closest("[data-slider]");
    if (!el) return;
    const r = el.getBoundingClientRect();
    dragging = { path: el.dataset.slider, min: Number(el.dataset.min), max: Number(el.dataset.max),
      step: Number(el.dataset.step), left: r.left, width: r.width, sid: el.dataset.sid };
    slideTo(ev.clientX);
  });
  document.addEventListener("mousemove", (ev) => { if (dragging) slideTo(ev.clientX); });
  document.addEventListener("mouseup", () => { dragging = null; });

  // A live status line ("Synced 3 s ago"), as mail and chat apps show: realistic motion the
  // stability wait has to tolerate. cfg.liveClockMs sets how often it ticks.
  if (cfg.liveClockMs) {
    const line = document.createElement("div");
    line.className = "live-clock muted";
    document.body.appendChild(line);
    let n = 0;
    setInterval(() => { n += 1; line.textContent = `Synced ${n} s ago`; }, cfg.liveClockMs);
  }

  window.Synth = {
    h, cfg, app,
    register(impl) {
      fam = impl;
      if (impl.init) impl.init(app.state, cfg);
      rerender();
      document.fonts.ready.then(() => { app.ready = true; });
    },
  };
})();
