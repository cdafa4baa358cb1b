"""Macro-action history: the step-level trajectory compressed into a short record of what the
agent has achieved ("opened Settings ▸ Privacy", "filled the form: name, street, city"), the
HiViG idea that keeps planner and critic from forgetting earlier achievements.

Two compressors behind one method, ``compress(task, history, frames) -> MacroHistory``:

* ``RuleCompressor`` (CPU): groups consecutive steps by page (url), action kind and target
  region, names them from the intents (else the element under the point, else the point);
* ``VLMCompressor``: asks any ChatModel to update the record with the new steps (and the
  latest screenshot); an answer it cannot read falls back to the rules, logged.

Both stay bounded as the episode grows: at most ``max_entries`` lines, older ones folded
into one "earlier:" line, every line cut to ``max_entry_chars``.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from cua.core import Action, Intent, StepRecord, Task
from grounding.backends.base import ChatModel, Message
from grounding.targets import ROLE_WORDS, TargetQuery

log = logging.getLogger(__name__)

EDITABLE_ROLES = frozenset(ROLE_WORDS["textbox"])
_ARTICLES = re.compile(r"^(?:on\s+|into\s+|in\s+)?(?:the|a|an)\s+", re.IGNORECASE)
_ROLE_TAIL = re.compile(
    r"\s+(?:" + "|".join(sorted(map(re.escape, ROLE_WORDS), key=len, reverse=True)) + r")$", re.IGNORECASE)
# Clicks this close together (share of the screenshot diagonal) work on one region of the page.
REGION_SHARE = 0.3


@dataclass(frozen=True)
class MacroAction:
    text: str  # "filled the form: name, street, city"
    first: int  # first and last step index it covers
    last: int
    kind: str  # navigate, fill, click, scroll, key, drag, wait, done, fail, vetoed, earlier; summary (a model's)


@dataclass
class MacroHistory:
    entries: list[MacroAction] = field(default_factory=list)
    steps: int = 0  # how many steps it covers
    source: str = "rules"

    def text(self) -> str:
        if not self.entries:
            return "(nothing yet)"
        return "\n".join(f"{i}. {e.text}{_span(e)}" for i, e in enumerate(self.entries, 1))


def _span(e: MacroAction) -> str:
    if e.kind == "summary":  # a model's line: which steps it covers is not known
        return ""
    return f" (steps {e.first + 1}-{e.last + 1})" if e.last > e.first else f" (step {e.first + 1})"


class HistoryCompressor(Protocol):
    name: str

    def compress(self, task: Task, history: list[StepRecord],
                 frames: dict[int, Image.Image] | None = None) -> MacroHistory: ...


# ---- naming steps ---------------------------------------------------------------------------

def target_name(target: str) -> str:
    """'the "Ok" button' → 'Ok'; 'the username field' → 'username'; case kept."""
    q = TargetQuery.parse(target)
    if q.exact:
        return q.exact
    name = _ARTICLES.sub("", target.strip().rstrip("."))
    short = _ROLE_TAIL.sub("", name)
    return (short if short and q.text else name).strip(" \"'") or target.strip()


def executed_attempt(record: StepRecord) -> tuple[Intent | None, Action | None]:
    """The intent and action of the attempt that ran (the approved one), else the last tried."""
    for a in reversed(record.attempts):
        if record.action is not None and a.action == record.action:
            return a.intent, a.action
    last = record.attempts[-1] if record.attempts else None
    return (last.intent, last.action) if last else (None, record.action)


def recorded_elements(record: StepRecord) -> list[dict[str, Any]]:
    """The elements on screen before the step, when the agent recorded them."""
    agent = record.info.get("agent") if isinstance(record.info, dict) else None
    return list(agent.get("elements") or []) if isinstance(agent, dict) else []


def _element_at(record: StepRecord, x: float, y: float) -> dict[str, Any] | None:
    hits = [e for e in recorded_elements(record)
            if e["box"]["x1"] <= x <= e["box"]["x2"] and e["box"]["y1"] <= y <= e["box"]["y2"]]
    named = [e for e in hits if e.get("name")]
    return min(named or hits, key=_area) if hits else None


def _area(e: dict[str, Any]) -> float:
    return (e["box"]["x2"] - e["box"]["x1"]) * (e["box"]["y2"] - e["box"]["y1"])


def step_name(record: StepRecord, intent: Intent | None, action: Action | None) -> str:
    if intent is not None:
        return target_name(intent.target)
    points = action.points() if action is not None else []
    if points:
        hit = _element_at(record, points[0].x, points[0].y)
        if hit is not None and hit.get("name"):
            return str(hit["name"])[:40]
        return f"({points[0].x:.0f}, {points[0].y:.0f})"
    return ""


def describe_action(action: Action, name: str = "", coords: bool = True) -> str:
    """One line a person (or a model) reads: click 'Submit' at (120, 40), type "Bob".
    ``coords=False`` leaves screenshot pixels out (prompts whose model sees another size)."""
    at = "".join(f" at ({p.x:.0f}, {p.y:.0f})" for p in action.points()[:1]) if coords else ""
    match action.type:
        case "click" | "double_click" | "right_click" | "move":
            verb = action.type.replace("_", " ")
            return f"{verb} {name!r}{at}" if name else f"{verb}{at}"
        case "drag":
            return f"drag from ({action.x:.0f}, {action.y:.0f}) to ({action.to_x:.0f}, {action.to_y:.0f})" \
                if coords else "drag"
        case "scroll":
            return f"scroll {action.direction}{at}"
        case "type":
            return f"type {action.text!r}"
        case "key":
            return "press " + "+".join(action.keys)
        case "wait":
            return f"wait {action.seconds:g} s"
        case "done":
            return "done" + (f" (answer {action.answer!r})" if action.answer else "")
        case "fail":
            return "give up" + (f" ({action.reason})" if action.reason else "")
    return action.type


def describe_step(record: StepRecord, coords: bool = True) -> str:
    intent, action = executed_attempt(record)
    name = step_name(record, intent, action)
    if not coords and name.startswith("("):
        name = ""  # a bare point: meaningless without the coordinates
    if record.action is None:
        why = next((a.verdict.error_type or a.verdict.reason for a in reversed(record.attempts)
                    if a.verdict is not None and not a.verdict.approve), None) or record.error or "nothing ran"
        what = describe_action(action, name, coords) if action is not None else \
            (f"target {name!r}" if name else "a step")
        return f"{what} — not executed ({why})"
    return describe_action(record.action, name, coords)


# ---- the rule-based compressor --------------------------------------------------------------

@dataclass
class _Event:
    index: int
    kind: str
    name: str
    url: str | None
    navigated: bool = False
    point: tuple[float, float] | None = None
    diagonal: float = 1000.0
    field: bool = False  # a click on a text field
    detail: str = ""


def _events(history: list[StepRecord]) -> list[_Event]:
    out = []
    for i, r in enumerate(history):
        intent, action = executed_attempt(r)
        name = step_name(r, intent, action)
        nxt = history[i + 1].url if i + 1 < len(history) else None
        size = r.chains[0].screenshot_size if r.chains else (1000, 1000)
        ev = _Event(r.index, "vetoed", name or "a step", r.url, diagonal=math.hypot(*size))
        if r.action is None:
            ev.detail = describe_step(r).split(" — ", 1)[-1]
            out.append(ev)
            continue
        a = r.action
        points = a.points()
        ev.point = (points[0].x, points[0].y) if points else None
        ev.navigated = nxt is not None and r.url is not None and _page(nxt) != _page(r.url)
        if a.type in ("click", "double_click", "right_click"):
            ev.kind = "click"
            q = TargetQuery.parse(intent.target) if intent else None
            hit = _element_at(r, *ev.point) if ev.point else None
            ev.field = bool(q and q.roles and set(q.roles) <= EDITABLE_ROLES) or bool(hit and hit.get("editable"))
        elif a.type == "type":
            ev.kind, ev.detail = "type", a.text
        elif a.type == "key":
            ev.kind, ev.name = "key", "+".join(a.keys)
        elif a.type == "scroll":
            ev.kind, ev.name = "scroll", a.direction
        else:
            ev.kind = a.type  # move, drag, wait, done, fail
            ev.detail = getattr(a, "answer", None) or getattr(a, "reason", None) or ""
        out.append(ev)
    return out


def _page(url: str) -> str:
    return url.split("#", 1)[0]


def _listing(names: list[str], limit: int = 5) -> str:
    """'a, b, c' with repeats as ×n and a '+k more' tail past ``limit``."""
    runs: list[list[Any]] = []
    for n in names:
        if runs and runs[-1][0] == n:
            runs[-1][1] += 1
        else:
            runs.append([n, 1])
    parts = [f"{n} ×{k}" if k > 1 else n for n, k in runs]
    extra = len(parts) - limit
    return ", ".join(parts[:limit]) + (f", +{extra} more" if extra > 0 else "")


def _quote(name: str) -> str:
    return name if not name or name.startswith("(") else f"'{name}'"


class RuleCompressor:
    """CPU compressor. ``max_entries``: lines kept; ``max_entry_chars``: length of each."""

    name = "rules"

    def __init__(self, max_entries: int | str = 8, max_entry_chars: int | str = 120) -> None:
        self.max_entries = int(max_entries)
        self.max_entry_chars = int(max_entry_chars)

    def compress(self, task: Task, history: list[StepRecord],
                 frames: dict[int, Image.Image] | None = None) -> MacroHistory:
        entries = self._group(_events(history))
        return MacroHistory(bound(entries, self.max_entries, self.max_entry_chars), len(history), self.name)

    def _group(self, events: list[_Event]) -> list[MacroAction]:
        out: list[MacroAction] = []
        i = 0
        while i < len(events):
            ev = events[i]
            if _fills_at(events, i):
                j, text = _fill_group(events, i)
                kind = "fill"
            elif ev.kind == "click" and ev.navigated:  # a chain of pages: opened A ▸ B ▸ C
                j = i + 1
                while j < len(events) and events[j].kind == "click" and events[j].navigated \
                        and not _fills_at(events, j):
                    j += 1
                text, kind = "opened " + " ▸ ".join(e.name for e in events[i:j]), "navigate"
            elif ev.kind == "click":  # clicks on one region of one page: clicked A, B, C
                j = i + 1
                while (j < len(events) and events[j].kind == "click" and not events[j - 1].navigated
                       and events[j].url == ev.url and not _fills_at(events, j)
                       and _near(events[j - 1], events[j])):
                    j += 1
                names = [e.name for e in events[i:j]]
                if events[j - 1].navigated:  # the click that submits the group ends it
                    head = f"{_listing(names[:-1])}, then " if j - i > 1 else ""
                    text = f"clicked {head}{_quote(names[-1])}, which opened a new page"
                else:
                    text = "clicked " + (_listing(names) if j - i > 1 else _quote(names[0]))
                kind = "click"
            elif ev.kind in ("done", "fail"):
                j = i + 1
                text = ("declared the task done" if ev.kind == "done" else "gave up") + \
                    (f": {ev.detail}" if ev.detail else "")
                kind = ev.kind
            else:  # runs of one kind on one page: scrolls, keys, waits, hovers, drags, vetoes
                j = i + 1
                while j < len(events) and events[j].kind == ev.kind and events[j].url == ev.url:
                    j += 1
                text, kind = _run_text(ev, [e.name for e in events[i:j]]), ev.kind
            out.append(MacroAction(text, ev.index, events[j - 1].index, kind))
            i = j
        return out


def _fills_at(events: list[_Event], i: int) -> bool:
    """Whether a field is filled from event ``i``: a type, or a click on a field then a type."""
    ev = events[i]
    return ev.kind == "type" or (ev.kind == "click" and ev.field and i + 1 < len(events)
                                 and events[i + 1].kind == "type")


def _fill_group(events: list[_Event], i: int) -> tuple[int, str]:
    """Consecutive fields filled on one page → (end, 'filled the form: a, b, c')."""
    url, fields = events[i].url, []
    while i < len(events) and events[i].url == url and _fills_at(events, i):
        if events[i].kind == "type":
            fields.append(("", events[i].detail))
            i += 1
        else:
            fields.append((events[i].name, events[i + 1].detail))
            i += 2
    if len(fields) == 1:
        name, value = fields[0]
        return i, f"typed {value!r}" + (f" into {name}" if name else "")
    return i, "filled the form: " + _listing([n or repr(v) for n, v in fields])


def _run_text(ev: _Event, names: list[str]) -> str:
    n = len(names)
    match ev.kind:
        case "scroll":
            return "scrolled " + _listing(names)
        case "key":
            return "pressed " + _listing(names)
        case "move":
            return "hovered " + _listing(names)
        case "vetoed":
            return f"tried {_listing(names)} — not executed ({ev.detail})"
    return ("waited" if ev.kind == "wait" else "dragged") + (f" ×{n}" if n > 1 else "")


def _near(a: _Event, b: _Event) -> bool:
    if a.point is None or b.point is None:
        return False
    return math.dist(a.point, b.point) <= REGION_SHARE * a.diagonal


def bound(entries: list[MacroAction], max_entries: int, max_chars: int) -> list[MacroAction]:
    """At most ``max_entries`` lines: the oldest fold into one 'earlier:' line; each line is
    cut to ``max_chars``."""
    def cut(text: str) -> str:
        return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"

    if len(entries) > max_entries:
        old, entries = entries[: len(entries) - max_entries + 1], entries[len(entries) - max_entries + 1:]
        folded = MacroAction("earlier: " + "; ".join(e.text for e in old), old[0].first, old[-1].last, "earlier")
        entries = [folded, *entries]
    return [MacroAction(cut(e.text), e.first, e.last, e.kind) for e in entries]


# ---- the VLM compressor ---------------------------------------------------------------------

VLM_PROMPT = """You keep the memory of a computer-use agent: a short list of what it has already achieved.
Task: {task}
Achieved so far:
{previous}
New steps since then:
{steps}
{image_note}Rewrite the list of achievements to include the new steps: at most {n} lines, oldest first, one achievement per line (merge steps that belong together, e.g. "filled the form: name, street, city", "opened Settings > Privacy"). Answer only with the list inside <history> and </history>, each line starting with "- "."""
_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$")


class VLMCompressor:
    """Updates the record through ``chat_model`` with the steps it has not seen yet (one
    call per step, cached per episode); unreadable answers fall back to ``fallback``."""

    def __init__(self, chat_model: ChatModel, max_entries: int | str = 8, max_entry_chars: int | str = 120,
                 max_new_tokens: int | str = 256, image: bool = True,
                 fallback: HistoryCompressor | None = None) -> None:
        self.chat_model = chat_model
        self.max_entries, self.max_entry_chars = int(max_entries), int(max_entry_chars)
        self.max_new_tokens = int(max_new_tokens)
        self.image = image
        self.fallback = fallback or RuleCompressor(max_entries, max_entry_chars)
        self.name = f"vlm:{getattr(chat_model, 'name', 'model')}"
        self.failures = 0
        self._cache: dict[tuple[str, int | None], MacroHistory] = {}

    def compress(self, task: Task, history: list[StepRecord],
                 frames: dict[int, Image.Image] | None = None) -> MacroHistory:
        key = (task.id, task.seed)
        previous = self._cache.get(key)
        if previous is None or previous.steps > len(history):
            previous = MacroHistory(steps=0, source=self.name)  # a new episode
        if previous.steps == len(history):
            return previous
        new = history[previous.steps:]
        reply = self.chat_model.chat(self._messages(task, previous, new, frames or {}),
                                     max_new_tokens=self.max_new_tokens)
        lines = parse_history_answer(reply)
        if lines is None:
            self.failures += 1
            log.info("%s: unreadable history answer, rules instead: %r", self.name, reply[:200])
            result = self.fallback.compress(task, history, frames)
            result.source = f"{self.fallback.name} (fallback from {self.name})"
        else:
            entries = [MacroAction(t, 0, history[-1].index, "summary") for t in lines]
            result = MacroHistory(bound(entries, self.max_entries, self.max_entry_chars), len(history), self.name)
        self._cache[key] = result
        return result

    def _messages(self, task: Task, previous: MacroHistory, new: list[StepRecord],
                  frames: dict[int, Image.Image]) -> list[Message]:
        latest = frames.get(new[-1].index) if self.image else None
        text = VLM_PROMPT.format(
            task=task.instruction or task.id,
            previous="\n".join(f"- {e.text}" for e in previous.entries) or "(nothing yet)",
            steps="\n".join(f"Step {r.index + 1}: {describe_step(r)}" for r in new),
            image_note="The image shows the screen before the last new step.\n" if latest else "",
            n=self.max_entries)
        content: list[dict[str, Any]] = [{"type": "image", "image": latest}] if latest else []
        content.append({"type": "text", "text": text})
        return [{"role": "user", "content": content}]


def parse_history_answer(text: str) -> list[str] | None:
    """The achievement lines of an answer, or None when it holds none."""
    m = re.search(r"<history>(.*?)(?:</history>|$)", text, re.DOTALL | re.IGNORECASE)
    body = m.group(1) if m else text
    lines = [m.group(1) for line in body.splitlines() if (m := _LINE.match(line))]
    lines = [line for line in lines if any(c.isalpha() for c in line)]
    return lines or None
