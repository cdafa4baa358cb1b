"""Gradio callbacks of the Live run tab: start a run and stream it, the run controls, and the
decisions on a proposal (approve-each mode, or a policy asking for the user). The worker
itself lives in ``cua.ui.live``."""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from cua.core import CuaError
from cua.core.geometry import Point
from cua.core.store import episode_file
from cua.ui import render
from cua.ui.human import (
    USER_ACTION_KINDS,
    Decision,
    moved,
    proposal_markdown,
    user_action,
)
from cua.ui.live import LiveRun, RunSpec, web_browser_config
from cua.ui.trajectories import sent_images

RUNS: dict[str, LiveRun] = {}  # runs being streamed to a page, by id (gr.State cannot hold threads)
# What start_run yields, in this order (the Start button's outputs).
LIVE_OUTPUTS = ("status", "shot", "details", "table", "run_id", "run_dir", "evidence", "hx", "hy", "hkind", "sent")
ICONS = {"success": "✅", "failure": "❌", "error": "⚠️", "stopped": "⏹", "needs_user": "🙋"}


def _out(**values: Any) -> tuple:
    return tuple(values.get(k, gr.skip()) for k in LIVE_OUTPUTS)


def status_text(run: LiveRun, last: str) -> str:
    n = len(run.records)
    last = render.md(last)
    if run.error:
        return f"❌ **error** — {render.code(run.error, 2000)}"
    if run.result is not None:
        r = run.result
        extra = f" — {render.md(r.error)}" if r.error else ""
        why = f" ({render.md(run.control.stop_reason)})" if r.status == "stopped" and run.control.stop_reason else ""
        return (f"{ICONS.get(r.status, '')} **{r.status}**{why} — reward {r.reward:.3f} after {r.steps} steps "
                f"({r.turns} turns) in {r.duration_s:.1f} s{extra}  \n{render.ending_markdown(r)}  \n"
                f"run folder: {render.code(run.run_dir)}")
    if run.finished:
        return f"finished ({last})"
    if run.control.stopped:
        return f"⏹ **stopping** after {n} step(s)…"
    pending = run.human.pending if run.human is not None else None
    if pending is not None and pending.asks_user:
        return (f"🙋 **the policy asks for you** on step {pending.step}: "
                f"{render.md(pending.question or '(no question)')}  \n"
                "Answer it, take over with your own action, or Approve (ends the episode as needs_user)")
    if pending is not None:
        return (f"✋ **waiting for your decision** on step {pending.step} — Approve, Reject, "
                f"or move the point / take over  \n{last}")
    if run.control.paused:
        return f"⏸ **paused** after {n} step(s) — press Step or Resume  \n{last}"
    return f"▶ **running** — {n} step(s) so far  \n{last}"


def _evidence(run: LiveRun, record) -> list[tuple[Image.Image, str]]:
    out = []
    for name, caption in render.evidence_names(record):
        path = episode_file(run.episode_dir, name) if run.episode_dir is not None else None
        if path is None:
            continue
        try:
            out.append((Image.open(path).convert("RGB"), caption))
        except OSError:
            continue
    return out


def start_run(source: str, task: str, seed: float, url: str, instruction: str, planner: str, grounder: str,
              critic: str, max_steps: float, start_paused: bool, approve_each: bool, delay: float, runs_root: str,
              policy: str | None = "planner"):
    """Generator: starts the worker, then streams its events into the page. ``policy``:
    ``planner`` (the planner + grounder), a policy spec (``native:profile=...``) or a
    plugin's policy name."""
    spec = RunSpec(task=(task or "").strip(), seed=int(seed or 0),
                   url=((url or "").strip() or None) if source == "URL" else None,
                   instruction=(instruction or "").strip() or None,
                   policy=(policy or "").strip() or "planner",
                   planner=planner, grounder=grounder, critic=critic,
                   max_steps=int(max_steps) if max_steps else None, start_paused=bool(start_paused),
                   approve_each=bool(approve_each), step_delay_s=max(0.0, float(delay or 0)),
                   runs_root=Path(runs_root))
    if source == "URL" and not spec.url:
        gr.Warning("Enter a URL (and an instruction) or choose a suite task.")
        yield _out(status="❌ **error** — no URL given")
        return
    if spec.url:
        try:
            web_browser_config(spec.url)  # refuse file:// and friends before a browser starts
        except CuaError as e:
            gr.Warning(str(e))
            yield _out(status=f"❌ **error** — {render.escape(str(e))}")
            return
    run = LiveRun(spec).start()
    run_id = f"run-{id(run)}"
    RUNS[run_id] = run
    try:
        yield from _stream(run, run_id)
    finally:
        # The stream ended: the run finished, or the page went away (Gradio closes the generator,
        # GeneratorExit). A run nobody watches is stopped so its browser closes, and nothing of
        # it is kept: the buttons only act on runs in progress.
        if not run.finished:
            run.control.stop("stopped: the page that started it went away")
        RUNS.pop(run_id, None)


def _stream(run: LiveRun, run_id: str):
    rows: list[list[Any]] = []
    last = "starting…"
    yield _out(status=status_text(run, last), shot=None, details="", table=[], run_id=run_id,
               run_dir=str(run.run_dir), evidence=[], sent=[])
    shown = None
    while True:
        try:
            ev = run.events.get(timeout=0.25)
        except queue.Empty:
            if run.finished and run.events.empty():
                break
            status = status_text(run, last)
            if status != shown:
                shown = status
                yield _out(status=status)
            continue
        values: dict[str, Any] = {}
        if ev.kind == "status":
            last = ev.message
        elif ev.kind == "reset":
            last, values["shot"] = ev.message, ev.image
        elif ev.kind == "step" and ev.record is not None:
            rec = ev.record
            rows.append(render.step_row(rec))
            earlier = [r for r in list(run.records) if r.index < rec.index]
            turn, _pos, _asked = render.find_turn(rec, earlier)
            last = f"step {rec.index}: {render.badge_for(rec)[0]}"
            values.update(shot=render.annotate_step(ev.image, rec), details=render.step_markdown(rec, earlier),
                          table=rows, evidence=_evidence(run, rec), sent=sent_images(run.episode_dir, turn))
        elif ev.kind == "proposal" and ev.proposal is not None:
            p = ev.proposal
            points = p.action.points()
            last = ev.message
            values.update(shot=render.annotate_proposal(p.screenshot, p.action, p.grounding, p.verdict),
                          details=proposal_markdown(p),
                          evidence=[(p.evidence, "critic evidence")] if p.evidence is not None else [],
                          hx=points[0].x if points else None, hy=points[0].y if points else None,
                          hkind=p.action.type if p.action.type in USER_ACTION_KINDS else "click",
                          sent=sent_images(run.episode_dir, p.turn, current=p.screenshot))
        elif ev.kind == "error":
            gr.Warning(f"Run failed: {ev.message}")
            last = ev.message
        elif ev.kind == "done" and ev.result is not None and ev.result.status == "error":
            gr.Warning(f"Episode ended with an error: {ev.result.error}")
        elif ev.kind == "done":
            last = ev.message
        shown = status_text(run, last)
        yield _out(status=shown, run_id=run_id, run_dir=str(run.run_dir), **values)
    yield _out(status=status_text(run, last))


def control(run_id: str | None, what: str):
    run = RUNS.get(run_id or "")
    if run is None or run.finished:
        gr.Warning("No run in progress.")
        return gr.skip()
    getattr(run.control, what)()
    return f"{what} pressed"


def _pending(run_id: str | None):
    run = RUNS.get(run_id or "")
    human = run.human if run is not None and not run.finished else None
    if human is None or human.pending is None:
        return None, None
    return human, human.pending


def decide(run_id: str | None, kind: str, action_kind: str, x: float | None, y: float | None, text: str,
           answer: str = ""):
    """Approve / reject the pending proposal, answer the policy's question, or run the user's
    own action instead."""
    human, pending = _pending(run_id)
    if pending is None:
        gr.Warning("No action is waiting for a decision (tick 'Approve each action' before Start; "
                   "a policy that asks for you stops here by itself).")
        return gr.skip()
    try:
        if kind == "approve":
            decision = Decision("approve")
        elif kind == "answer":
            decision = Decision("answer", note=(answer or "").strip())
        elif kind == "reject":
            decision = Decision("reject", note=(text or "").strip())
        else:
            same_kind = action_kind == pending.action.type and pending.action.points()
            action = (moved(pending.action, x, y) if same_kind and x is not None and y is not None
                      else user_action(action_kind, x, y, text))
            decision = Decision("replace", action=action)
        human.decide(decision)
    except CuaError as e:
        gr.Warning(str(e))
        return gr.skip()
    return f"decision sent: {decision.kind}" + (f" {render.code(render.action_text(decision.action))}"
                                                if decision.action else "")


def pick_point(run_id: str | None, evt: gr.SelectData):
    """A click on the live screenshot moves the proposed point there (shown in pink)."""
    x, y = (float(v) for v in evt.index[:2])
    _, pending = _pending(run_id)
    if pending is None:
        return gr.skip(), x, y
    image = render.annotate_proposal(pending.screenshot, pending.action, pending.grounding, pending.verdict,
                                     edited=Point(x=x, y=y))
    return image, x, y
