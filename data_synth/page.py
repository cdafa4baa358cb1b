"""The generated page (HTML shell + theme + config) and what Python asks the live page.

``render_html`` is a pure function of the task, so hashing it with the task JSON proves
determinism. The queries run in the page as fixed JS functions taking JSON arguments.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

from playwright.sync_api import Page

from cua.core import Box, EnvError
from data_synth.spec import SynthTask
from data_synth.theme import Theme


class PageUnstableError(EnvError):
    """The app never became ready, or kept changing its DOM."""


@functools.cache
def static_assets() -> dict[str, bytes]:
    """``/static/<file>`` → bytes: the shared runtime, stylesheet and family scripts."""
    folder = resources.files("data_synth.apps") / "static"
    return {f"/static/{p.name}": p.read_bytes() for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith((".js", ".css"))}


def render_html(task: SynthTask) -> str:
    theme = Theme(**task.app["theme"])
    body = " ".join(c for c in (f"btn-{theme.button_style}", f"nav-{theme.nav}", f"side-{theme.side}",
                                "dark" if theme.dark else "") if c)
    # "</" inside the JSON would end the script element early.
    config = json.dumps(task.app, sort_keys=True, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    title = str(task.app.get("title", task.family)).replace("<", "&lt;")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{theme.css_vars()}</style>"
        '<link rel="stylesheet" href="/static/app.css"></head>'
        f'<body class="{body}"><div id="root"></div>'
        f'<script id="app-config" type="application/json">{config}</script>'
        '<script src="/static/runtime.js"></script>'
        f'<script src="/static/{task.family}.js"></script></body></html>'
    )


def task_digest(task: SynthTask) -> str:
    """SHA-256 over the page, the assets it loads and the task JSON."""
    h = hashlib.sha256(render_html(task).encode())
    for name in ("/static/app.css", "/static/runtime.js", f"/static/{task.family}.js"):
        h.update(static_assets()[name])
    h.update(task.model_dump_json().encode())
    return h.hexdigest()


_PROBE_JS = "() => window.__app ? [window.__app.ready, window.__app.mutations, window.__app.errors] : null"


def wait_stable(page: Page, timeout_s: float = 5.0, quiet_ms: int = 60) -> None:
    """Until the app says it is ready and its DOM stopped changing for ``quiet_ms``."""
    deadline = time.monotonic() + timeout_s
    last: int | None = None
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        probe = page.evaluate(_PROBE_JS)
        if probe is not None and probe[2]:
            raise PageUnstableError(f"the page raised: {probe[2][0]}")
        if probe is not None and probe[0]:
            if probe[1] != last:
                last, quiet_since = probe[1], time.monotonic()
            elif (time.monotonic() - quiet_since) * 1000 >= quiet_ms:
                return
        page.wait_for_timeout(15)
    state = "never became ready" if last is None else "kept changing its DOM"
    raise PageUnstableError(f"the page {state} within {timeout_s:g} s")


def page_errors(page: Page) -> list[str]:
    return list(page.evaluate("() => window.__app ? window.__app.errors : ['no window.__app']"))


# Where an element is, whether the pointer can reach it, and where to turn the wheel to bring
# it into view (over its own scroll container, not a nested one).
_LOCATE_JS = """([sel, frac]) => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const vw = innerWidth, vh = innerHeight;
  const scroller = (n) => {
    for (let p = n.parentElement; p && p !== document.body; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (/(auto|scroll)/.test(s.overflowY) && p.scrollHeight > p.clientHeight + 1) return p;
    }
    return null;
  };
  const clip = (a, b) => ({left: Math.max(a.left, b.left), top: Math.max(a.top, b.top),
                           right: Math.min(a.right, b.right), bottom: Math.min(a.bottom, b.bottom)});
  const view = {left: 0, top: 0, right: vw, bottom: vh};
  const levels = [];  // scroll containers from the element outwards; null is the document
  for (let n = el, sp = scroller(el); ; n = sp, sp = scroller(sp)) { levels.push(sp); if (!sp) break; }
  const portOf = (sp) => (sp ? sp.getBoundingClientRect() : view);
  let seen = view;  // what of the page is on screen, narrowed by every container
  for (let i = levels.length - 1; i >= 0; i--) seen = clip(seen, portOf(levels[i]));
  const r = el.getBoundingClientRect();
  const x = frac === null ? (r.left + r.right) / 2 : r.left + frac * r.width;
  const y = (r.top + r.bottom) / 2;
  // the point to act on is inside, and the element wholly so unless it is taller than the view
  const within = (p) => x >= p.left && x <= p.right && y >= p.top && y <= p.bottom
    && (r.top >= p.top - 1 && r.bottom <= p.bottom + 1 || r.height > p.bottom - p.top);
  const hit = r.width > 0 && r.height > 0 && within(seen) ? document.elementFromPoint(x, y) : null;
  const reachable = !!hit && (hit === el || el.contains(hit));
  // The innermost container that hides the element, and a visible point over it to scroll at;
  // a container itself off screen is brought into view by its parent first.
  let wheel = null, dy = 0, target = r;
  for (let i = 0; i < levels.length; i++) {
    const sp = levels[i];
    let visible = clip(portOf(sp), view);
    for (let j = i + 1; j < levels.length; j++) visible = clip(visible, portOf(levels[j]));
    const ty = (target.top + target.bottom) / 2;
    const inside = ty >= visible.top && ty <= visible.bottom && ((target.top >= visible.top - 1
      && target.bottom <= visible.bottom + 1) || target.bottom - target.top > visible.bottom - visible.top);
    if (inside && target === r && within(seen)) break;
    const port = portOf(sp);
    const clipped = sp && (visible.top > port.top + 1 || visible.bottom < port.bottom - 1);
    if (inside || clipped && port.bottom - port.top < vh * 0.9) { target = port; continue; }
    dy = ty - (visible.top + visible.bottom) / 2;
    for (let gy = 0.5; gy < 1 && !wheel; gy += 0.2) for (const gx of [0.5, 0.3, 0.7, 0.1, 0.9]) {
      const px = visible.left + gx * (visible.right - visible.left), py = visible.top + gy * (visible.bottom - visible.top);
      const at = document.elementFromPoint(px, py);
      if (at && (sp ? sp.contains(at) && scroller(at) === sp : scroller(at) === null) && !(sp === null && at.closest('[role=dialog]'))) {
        wheel = [px, py]; break;
      }
    }
    break;
  }
  return {box: [r.left, r.top, r.right, r.bottom], point: [x, y], visible: within(seen),
          reachable, dy, wheel, covered_by: hit && !reachable ? hit.outerHTML.slice(0, 80) : null};
}"""


@dataclass(frozen=True)
class Located:
    box: Box  # screenshot pixels
    point: tuple[float, float]  # where to act, screenshot pixels
    visible: bool  # inside its scroll container and the viewport
    reachable: bool  # the topmost element at the point is the target (or inside it)
    dy: float  # CSS px from the container's middle (positive: below)
    wheel: tuple[float, float] | None  # screenshot pixels to scroll its container at
    covered_by: str | None


def locate(page: Page, selector: str, dsf: float, fraction: float | None = None) -> Located | None:
    raw: dict[str, Any] | None = page.evaluate(_LOCATE_JS, [selector, fraction])
    if raw is None:
        return None
    x1, y1, x2, y2 = (v * dsf for v in raw["box"])
    wheel = raw["wheel"]
    return Located(
        box=Box(x1=x1, y1=y1, x2=x2, y2=y2), point=(raw["point"][0] * dsf, raw["point"][1] * dsf),
        visible=bool(raw["visible"]),
        reachable=bool(raw["reachable"]), dy=float(raw["dy"]),
        wheel=None if wheel is None else (wheel[0] * dsf, wheel[1] * dsf), covered_by=raw["covered_by"],
    )
