"""Gradio callbacks of the Trajectories, Compare and Dashboard tabs (everything that reads
run folders from disk). A damaged folder is a message in the page, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr
from PIL import Image

from cua.core import CuaError, StepRecord
from cua.core.store import Episode, episode_file, load_episode
from cua.ui import compare, dashboard, folders, render
from cua.ui.trajectories import (
    episode_label,
    filter_steps,
    find_runs,
    html_report,
    list_episodes,
    result_markdown,
    sent_images,
    step_image,
)

READ_ERRORS = (CuaError, OSError, ValueError)


def refresh_runs(runs_root: str):
    runs = [str(p) for p in find_runs(runs_root)]
    return gr.update(choices=runs, value=runs[0] if runs else None)


def open_run(path: str):
    """Run folder (or episode folder) → the episode dropdown."""
    path = (path or "").strip()
    if not path:
        gr.Warning("Choose a run folder or type a path.")
        return gr.update(choices=[], value=None)
    try:
        episodes = list_episodes(folders.check(path))
    except READ_ERRORS as e:
        gr.Warning(str(e))
        return gr.update(choices=[], value=None)
    choices = [(episode_label(p), str(p)) for p in episodes]
    return gr.update(choices=choices, value=choices[0][1])


def evidence_images(episode: Episode, step: StepRecord) -> list[tuple[Image.Image, str]]:
    out = []
    for name, caption in render.evidence_names(step):
        path = episode_file(episode.folder, name)
        if path is None:
            out.append((Image.new("RGB", (160, 40), "white"), f"{caption} — {name!r} refused (outside the episode)"))
            continue
        try:
            out.append((Image.open(path).convert("RGB"), caption))
        except OSError:
            out.append((Image.new("RGB", (160, 40), "white"), f"{caption} — {name} missing"))
    return out


def _step_view(episode: Episode, pos: int):
    """Screenshot, details (the policy's turn included), critic evidence, and the screenshots
    that turn sent to the model."""
    step, earlier = episode.steps[pos], episode.steps[:pos]
    turn, _executed, _asked = render.find_turn(step, earlier)
    return (step_image(episode, step), render.step_markdown(step, earlier), evidence_images(episode, step),
            sent_images(episode.folder, turn))


def show_episode(folder: str | None, which: str):
    """Episode → result, warnings, slider range, and its first (filtered) step (screenshot,
    details, critic evidence, screenshots sent to the model)."""
    empty = ("", gr.update(value="", visible=False), gr.update(maximum=1, value=0, interactive=False), None, "", [],
             [])
    if not folder:
        return empty
    try:
        episode = load_episode(folders.check(folder))
    except READ_ERRORS as e:
        gr.Warning(f"Cannot read {folder}: {e}")
        return ("", gr.update(value=f"⚠️ {render.md(str(e))}", visible=True), *empty[2:])
    warn = "  \n".join(f"⚠️ {render.md(w)}" for w in episode.warnings)
    if episode.warnings:
        warn += f"\n\nShowing the {len(episode.steps)} step(s) before the damage."
    positions = filter_steps(episode.steps, which)
    view = (None, f"no {which} steps in this episode" if episode.steps else "no steps recorded", [], [])
    if positions:
        view = _step_view(episode, positions[0])
    slider = gr.update(minimum=0, maximum=max(len(positions) - 1, 1), value=0, step=1,
                       label=f"step ({len(positions)} shown of {len(episode.steps)})",
                       interactive=len(positions) > 1)
    return (result_markdown(episode), gr.update(value=warn, visible=bool(warn)), slider, *view)


def show_step(folder: str | None, which: str, pos: float):
    if not folder:
        return None, "", [], []
    try:
        episode = load_episode(folders.check(folder))
    except READ_ERRORS as e:
        gr.Warning(str(e))
        return None, "", [], []
    positions = filter_steps(episode.steps, which)
    if not positions:
        return None, f"no {which} steps", [], []
    return _step_view(episode, positions[min(max(int(pos or 0), 0), len(positions) - 1)])


def move_step(folder: str | None, which: str, pos: float, delta: int):
    """Previous / next step (buttons and the ← → keys), clamped to the filtered steps."""
    if not folder:
        return gr.skip()
    try:
        n = len(filter_steps(load_episode(folders.check(folder)).steps, which))
    except READ_ERRORS:
        return gr.skip()
    return min(max(int(pos or 0) + delta, 0), max(n - 1, 0))


def export_report(folder: str | None):
    if not folder:
        gr.Warning("Open an episode first.")
        return None
    try:
        text = html_report(folders.check(folder))
    except READ_ERRORS as e:
        gr.Warning(f"Export failed: {e}")
        return None
    out = Path(tempfile.mkdtemp(prefix="cua-report-")) / f"{Path(folder).name}.html"
    out.write_text(text, encoding="utf-8")
    return str(out)


# ---- compare ----------------------------------------------------------------------------------


def _two(a: str | None, b: str | None) -> tuple[Episode, Episode] | None:
    if not a or not b:
        gr.Warning("Choose an episode on both sides.")
        return None
    try:
        return load_episode(folders.check(a)), load_episode(folders.check(b))
    except READ_ERRORS as e:
        gr.Warning(f"Cannot read: {e}")
        return None


def compare_episodes(a: str | None, b: str | None):
    """Two episodes → summary table, note (first difference), slider, and step 0 of each."""
    pair = _two(a, b)
    if pair is None:
        return [], "", gr.update(maximum=1, value=0, interactive=False), None, "", None, ""
    ea, eb = pair
    n = max(len(ea.steps), len(eb.steps))
    div = compare.first_divergence(ea, eb)
    start = div if div is not None else 0
    slider = gr.update(minimum=0, maximum=max(n - 1, 1), value=start, step=1, interactive=n > 1,
                       label=f"step (of {n})")
    return (compare.compare_rows(ea, eb), compare.compare_note(ea, eb), slider,
            *_side(ea, start), *_side(eb, start))


def _side(episode: Episode, index: int):
    if index >= len(episode.steps):
        return None, f"*no step {index}: this episode ended after {len(episode.steps)} step(s)*"
    step = episode.steps[index]
    return step_image(episode, step), render.step_markdown(step, episode.steps[:index])


def compare_step(a: str | None, b: str | None, pos: float):
    if not a or not b:
        return None, "", None, ""
    try:
        ea, eb = load_episode(folders.check(a)), load_episode(folders.check(b))
    except READ_ERRORS as e:
        gr.Warning(str(e))
        return None, "", None, ""
    index = max(int(pos or 0), 0)
    return (*_side(ea, index), *_side(eb, index))


# ---- dashboard --------------------------------------------------------------------------------


def dashboard_view(root: str, selected: str | None):
    """Every run folder under ``root`` and the chosen run's episodes (read fresh each call)."""
    root = (root or "").strip() or "runs"
    try:
        root_path = folders.check(root)
    except CuaError as e:  # shown in the summary (a toast would repeat on every 2 s tick)
        return [], gr.update(choices=[], value=None), f"⚠️ {render.md(str(e))}", []
    states = dashboard.scan(root_path)
    names = [str(s.folder) for s in states]
    chosen = selected if selected in names else (names[0] if names else None)
    state = next((s for s in states if str(s.folder) == chosen), None)
    if not states:
        summary = f"No run folders under {render.code(root)} yet (a run folder holds `run.json` and `episodes/`)."
    else:
        summary = dashboard.summary_markdown(state) if state else ""
    return (dashboard.runs_rows(states, root_path), gr.update(choices=names, value=chosen), summary,
            dashboard.episode_rows(state) if state else [])
