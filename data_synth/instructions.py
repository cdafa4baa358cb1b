"""Grounding instructions from several perspectives, each kept only if it names ONE element.

For a target on the live page: by its text ('the "Save" button'), its appearance ("the red
trash can icon"), its position ("the pencil icon in the 3rd row", "the 2nd button in the
sidebar"), its function ("the button that adds Blue Mug to the cart") and the user's intent
("I want to add Blue Mug to the cart") — the perspectives UI-Ins trains on. Every instruction
is checked by matching its describing attributes against every element rendered on the page;
one that fits two elements is dropped.
"""

from __future__ import annotations

import colorsys
import re
from dataclasses import dataclass
from typing import Any, Literal

from playwright.sync_api import Page
from pydantic import BaseModel

from cua.core import Box
from data_synth.icons import ICON_WORDS
from data_synth.rng import Rand, stable_int

Perspective = Literal["text", "appearance", "position", "function", "intent"]
PERSPECTIVES: tuple[Perspective, ...] = ("text", "appearance", "position", "function", "intent")

# Everything visible that an instruction could be confused with: controls, and elements with
# text of their own.
_INVENTORY_JS = """() => {
  const vw = innerWidth, vh = innerHeight;
  const CONTROL = 'button, a, input, textarea, [role=button], [role=link], [role=tab], [role=switch],' +
    ' [role=checkbox], [role=radio], [role=option], [role=menuitem], [role=slider], [role=combobox], [data-sid]';
  const clean = (s) => (s || '').replace(/\\s+/g, ' ').trim().slice(0, 80);
  const ownText = (el) => clean([...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join(' '));
  const implicit = (el) => {
    const t = el.tagName.toLowerCase();
    if (t === 'a') return 'link';
    if (t === 'button') return 'button';
    if (t === 'textarea') return 'textbox';
    if (t === 'input') return ({checkbox: 'checkbox', radio: 'radio', range: 'slider'})[el.type] || 'textbox';
    return 'text';
  };
  const name = (el) => {
    if (el.getAttribute('aria-label')) return clean(el.getAttribute('aria-label'));
    const by = el.getAttribute('aria-labelledby');
    if (by) return clean(by.split(' ').map((id) => (document.getElementById(id) || {}).textContent || '').join(' '));
    if (el.labels && el.labels.length) return clean(el.labels[0].textContent);
    return clean(el.innerText);
  };
  const REGIONS = [['[role=dialog]', 'dialog'], ['[role=listbox]', 'open list'], ['header, .topbar', 'top bar'],
    ['nav, .sidenav', 'sidebar'], ['aside', 'side panel'], ['footer', 'footer'], ['table', 'table'],
    ['main, .main', 'main area']];
  const region = (el) => {
    for (const [css, label] of REGIONS) if (el.closest(css)) return label;
    return 'page';
  };
  const seen = new Set();
  const out = [];
  const add = (el, control) => {
    if (seen.has(el)) return;
    seen.add(el);
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2 || r.bottom <= 0 || r.right <= 0 || r.top >= vh || r.left >= vw) return;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden' || Number(cs.opacity) === 0) return;
    const cx = (r.left + r.right) / 2, cy = (r.top + r.bottom) / 2;
    const hit = document.elementFromPoint(Math.min(Math.max(cx, 0), vw - 1), Math.min(Math.max(cy, 0), vh - 1));
    const svg = el.querySelector('svg[data-icon]');
    const text = control ? clean(el.innerText) : ownText(el);
    const row = el.closest('[data-row]');
    out.push({
      sid: el.dataset.sid || null, tag: el.tagName.toLowerCase(),
      role: el.getAttribute('role') || (control ? implicit(el) : 'text'),
      name: control ? name(el) : text, text, icon: svg && !text ? svg.dataset.icon : null,
      color: cs.color, bg: cs.backgroundColor, radius: parseFloat(cs.borderTopLeftRadius) || 0,
      region: region(el), row: row ? Number(row.dataset.row) : null, list: row ? row.dataset.list || '' : null,
      fn: el.dataset.fn || null, box: [r.left, r.top, r.right, r.bottom],
      whole: r.top >= 0 && r.left >= 0 && r.bottom <= vh && r.right <= vw,
      reachable: !!hit && (hit === el || el.contains(hit)),
    });
  };
  document.querySelectorAll(CONTROL).forEach((el) => add(el, true));
  document.querySelectorAll('body *').forEach((el) => { if (!el.closest(CONTROL) && ownText(el)) add(el, false); });
  return out;
}"""

_KIND = {"button": "button", "link": "link", "textbox": "field", "checkbox": "checkbox",
         "radio": "radio button", "switch": "switch", "tab": "tab", "option": "option",
         "menuitem": "menu item", "slider": "slider", "combobox": "dropdown", "text": "text"}
_ORDINAL = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh",
            8: "eighth", 9: "ninth", 10: "tenth"}


@dataclass(frozen=True)
class Element:
    sid: str | None
    kind: str  # "button", "field", "icon" ...
    name: str
    text: str
    icon: str | None
    colour: str
    background: str | None
    shape: str
    region: str
    row: int | None
    list: str | None
    fn: str | None
    box: tuple[float, float, float, float]  # CSS pixels
    whole: bool
    reachable: bool

    @property
    def key(self) -> str:
        return _norm(self.name)


class GroundingSample(BaseModel):
    """One grounding example: an instruction and the one element it names, on one screenshot."""

    task_id: str
    screenshot: str  # relative to the task's folder
    image_size: tuple[int, int]
    sid: str
    kind: str
    instruction: str
    perspective: Perspective
    data_type: Literal["text", "icon"]
    box: Box  # screenshot pixels
    plan_target: bool


def _norm(s: str) -> str:
    return " ".join(re.sub(r"[^\w#]+", " ", s.lower()).split())


def colour_name(css: str) -> str | None:
    """'rgb(220, 38, 38)' → 'red'; None for transparent."""
    nums = [float(v) for v in re.findall(r"[\d.]+", css)]
    if len(nums) < 3 or (len(nums) == 4 and nums[3] < 0.5):
        return None
    h, l, s = colorsys.rgb_to_hls(*(v / 255 for v in nums[:3]))
    if s < 0.18 or l < 0.08 or l > 0.95:
        return "black" if l < 0.25 else "white" if l > 0.85 else "grey"
    hue = h * 360
    for limit, name in ((15, "red"), (40, "orange"), (65, "yellow"), (160, "green"), (190, "teal"),
                        (250, "blue"), (290, "purple"), (345, "pink"), (361, "red")):
        if hue < limit:
            return name
    return None


def inventory(page: Page) -> list[Element]:
    out = []
    for raw in page.evaluate(_INVENTORY_JS):
        role = raw["role"]
        kind = "icon" if raw["icon"] and role in ("button", "link") else _KIND.get(role, role)
        w, h = raw["box"][2] - raw["box"][0], raw["box"][3] - raw["box"][1]
        shape = "round" if raw["radius"] >= min(w, h) / 2 - 1 else "rounded" if raw["radius"] >= 3 else "square"
        out.append(Element(
            sid=raw["sid"], kind=kind, name=raw["name"], text=raw["text"], icon=raw["icon"],
            colour=colour_name(raw["color"]) or "", background=colour_name(raw["bg"]), shape=shape,
            region=raw["region"], row=raw["row"], list=raw["list"], fn=raw["fn"], box=tuple(raw["box"]),
            whole=raw["whole"], reachable=raw["reachable"]))
    return out


def _count(elements: list[Element], **want: Any) -> int:
    return sum(all(getattr(e, k) == v for k, v in want.items()) for e in elements)


def _reading_order(e: Element) -> tuple[int, float]:
    return (round(e.box[1] / 8), e.box[0])


def _screen_part(e: Element, vw: float, vh: float) -> str:
    cx, cy = (e.box[0] + e.box[2]) / 2, (e.box[1] + e.box[3]) / 2
    v = ("top", "middle", "bottom")[min(2, int(3 * cy / vh))]
    h = ("left", "centre", "right")[min(2, int(3 * cx / vw))]
    return "centre" if (v, h) == ("middle", "centre") else f"{v}-{h}" if v != "middle" else f"{h} side"


def describe(target: Element, elements: list[Element], viewport: tuple[int, int], rng: Rand
             ) -> list[tuple[Perspective, str]]:
    """Instructions for ``target`` from every perspective that names it alone on this page."""
    out: list[tuple[Perspective, str]] = []
    what = ICON_WORDS.get(target.icon or "", target.icon or "")
    if target.key and target.kind != "text" and _count(elements, key=target.key, kind=target.kind) == 1:
        out.append(("text", f'the "{target.name}" {target.kind}'))
    if target.kind == "icon":
        if _count(elements, icon=target.icon) == 1:
            out.append(("appearance", f"the {what} icon"))
        elif target.colour and _count(elements, icon=target.icon, colour=target.colour) == 1:
            out.append(("appearance", f"the {target.colour} {what} icon"))
    elif target.background and target.kind == "button" and _count(
            elements, kind="button", background=target.background, shape=target.shape) == 1:
        out.append(("appearance", f"the {target.background} {target.shape} button"))
    out.extend(_position(target, elements, viewport, what))
    if target.fn and _count(elements, fn=target.fn) == 1:
        noun = "icon" if target.kind == "icon" else target.kind
        out.append(("function", f"the {noun} to {target.fn}"))
        out.append(("intent", rng.choice(("I want to {}.", "Help me {}.", "I need to {}.")).format(target.fn)))
    return out


def _position(target: Element, elements: list[Element], viewport: tuple[int, int], what: str
              ) -> list[tuple[Perspective, str]]:
    label = f"{what} icon" if target.kind == "icon" else (
        f'"{target.name}" {target.kind}' if target.key else target.kind)
    if target.row is not None and target.row in _ORDINAL:
        # the same control sits in every row: the row number is what tells them apart
        same: dict[str, Any] = {"list": target.list, "row": target.row, "kind": target.kind}
        same["icon" if target.kind == "icon" else "key"] = target.icon if target.kind == "icon" else target.key
        if _count(elements, **same) == 1:
            return [("position", f"the {label} in the {_ORDINAL[target.row]} row")]
    peers = sorted((e for e in elements if e.kind == target.kind and e.region == target.region), key=_reading_order)
    if target in peers and 1 < len(peers) and target.kind != "text":
        rank = peers.index(target) + 1
        nth = "last" if rank == len(peers) else _ORDINAL.get(rank)
        if nth:
            where = "on the page" if target.region == "page" else f"in the {target.region}"
            return [("position", f"the {nth} {target.kind} {where}")]
    part = _screen_part(target, *viewport)
    if sum(e.kind == target.kind and _screen_part(e, *viewport) == part for e in elements) == 1:
        return [("position", f"the {label} at the {part} of the screen")]
    return []


def samples_for(page: Page, task_id: str, screenshot: str, image_size: tuple[int, int], dsf: float,
                target_sid: str | None, extra: int, seed: int) -> list[GroundingSample]:
    """Samples for the plan's target on this screenshot and up to ``extra`` other controls."""
    elements = inventory(page)
    vw, vh = image_size[0] / dsf, image_size[1] / dsf
    chosen = [e for e in elements if e.sid and e.sid == target_sid and e.whole and e.reachable]
    others = sorted((e for e in elements if e.sid and e.sid != target_sid and e.whole and e.reachable
                     and e.kind != "text"),
                    key=lambda e: stable_int(seed, screenshot, e.sid))
    chosen += others[:extra]
    out = []
    for e in chosen:
        rng = Rand(seed, screenshot, e.sid)
        x1, y1, x2, y2 = (v * dsf for v in e.box)
        for perspective, text in describe(e, elements, (int(vw), int(vh)), rng):
            out.append(GroundingSample(
                task_id=task_id, screenshot=screenshot, image_size=image_size, sid=e.sid or "",
                kind=e.kind, instruction=text, perspective=perspective,
                data_type="icon" if e.kind == "icon" else "text",
                box=Box(x1=x1, y1=y1, x2=x2, y2=y2), plan_target=e.sid == target_sid))
    return out
