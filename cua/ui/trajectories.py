"""Finding run folders and episodes on disk, filtering steps, and the single-file HTML report."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image

from cua.core import CuaError, StepRecord
from cua.core.store import RESULT_FILE, STEPS_FILE, Episode, episode_file, load_episode
from cua.ui import render

FILTERS = ("all steps", "vetoed", "failed")


def is_episode_dir(path: Path) -> bool:
    return path.is_dir() and ((path / STEPS_FILE).exists() or (path / RESULT_FILE).exists())


def find_runs(root: Path | str, max_depth: int = 3) -> list[Path]:
    """Run folders (with an ``episodes/`` folder) under ``root``, newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Path] = []

    def walk(folder: Path, depth: int) -> None:
        if (folder / "episodes").is_dir():
            found.append(folder)
            return
        if depth >= max_depth:
            return
        try:
            # links are not followed: the pages may open only what lies under the runs folder
            children = [c for c in folder.iterdir()
                        if c.is_dir() and not c.is_symlink() and not c.name.startswith(".")]
        except OSError:
            return
        for c in children:
            walk(c, depth + 1)

    walk(root, 0)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def list_episodes(path: Path | str) -> list[Path]:
    """Episode folders of a run folder, or the folder itself when it is an episode."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CuaError(f"no such folder: {path}")
    if is_episode_dir(path):
        return [path]
    base = path / "episodes" if (path / "episodes").is_dir() else path
    episodes = sorted(p for p in base.iterdir() if is_episode_dir(p)) if base.is_dir() else []
    if not episodes:
        raise CuaError(f"{path} holds no episodes (expected <run>/episodes/<task>__seed<n>/steps.jsonl)")
    return episodes


def episode_label(folder: Path) -> str:
    """``click-button__seed0 — success 1.00 (1 steps)`` without parsing the whole episode."""
    try:
        r = json.loads((folder / RESULT_FILE).read_text())
        return f"{folder.name} — {r.get('status')} {float(r.get('reward', 0)):.2f} ({r.get('steps')} steps)"
    except (OSError, ValueError):
        return f"{folder.name} — unfinished"


def filter_steps(steps: list[StepRecord], which: str) -> list[int]:
    """Positions (into ``steps``) of the steps a filter keeps."""
    if which == "vetoed":
        return [i for i, s in enumerate(steps) if render.is_vetoed(s)]
    if which == "failed":
        return [i for i, s in enumerate(steps) if render.is_failed(s)]
    return list(range(len(steps)))


def step_image(episode: Episode, step: StepRecord) -> Image.Image | None:
    try:
        return render.annotate_step(episode.screenshot(step), step)
    except (CuaError, OSError, ValueError):  # missing, unreadable, or a name leading out of the folder
        return None


def result_markdown(episode: Episode) -> str:
    r = episode.result
    if r is None:
        return f"**{episode.folder.name}** — unfinished (no result.json), {len(episode.steps)} steps read"
    icon = {"success": "✅", "failure": "❌", "error": "⚠️"}.get(r.status, "⏳")
    stack = ", ".join(f"{k}={v}" for k, v in r.stack.items())
    lines = [(f"{icon} **{r.task_id}** seed {r.seed} — **{r.status}**, reward {r.reward:.3f}, "
             f"{r.steps} steps in {r.duration_s:.1f} s  "), f"stack: {stack} · env: {r.env}  "]
    if r.instruction:
        lines.append(f"instruction: *{render.escape(r.instruction)}*  ")
    if r.error:
        lines.append(f"error: `{r.error}`")
    return "\n".join(lines)


def _b64_png(image: Image.Image, max_width: int = 1280) -> str:
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


def html_report(folder: Path | str) -> str:
    """One self-contained HTML page for an episode: result, then each step's annotated
    screenshot (inlined as base64) with intent, verdict, coordinate chain and timings."""
    episode = load_episode(folder)
    e = render.escape
    r = episode.result
    title = f"{r.task_id} seed {r.seed}" if r else Path(folder).name
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#111}",
        ".step{display:flex;gap:1.5em;border-top:1px solid #ddd;padding:1em 0}",
        ".step img{max-width:720px;border:1px solid #ccc}",
        "pre{white-space:pre-wrap;background:#f5f5f5;padding:.5em;font-size:12px}",
        ".warn{background:#fef3c7;border:1px solid #f59e0b;padding:.5em}",
        ".badge{color:#fff;padding:2px 6px;border-radius:3px;font-weight:bold}",
        "</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if r:
        parts.append(f"<p><b>{e(r.status)}</b> · reward {r.reward:.3f} · {r.steps} steps · "
                     f"{r.duration_s:.1f} s · stack {e(json.dumps(r.stack))} · env {e(r.env)}</p>")
        if r.instruction:
            parts.append(f"<p>Instruction: <i>{e(r.instruction)}</i></p>")
        if r.error:
            parts.append(f"<p class='warn'>Error: {e(r.error)}</p>")
    for w in episode.warnings:
        parts.append(f"<p class='warn'>⚠ {e(w)}</p>")
    for step in episode.steps:
        badge, color = render.badge_for(step)
        img = step_image(episode, step)
        img_html = (f"<img alt='step {step.index}' src='data:image/png;base64,{_b64_png(img)}'>"
                    if img is not None else f"<p class='warn'>screenshot {e(step.screenshot)} missing</p>")
        rows = []
        for n, a in enumerate(step.attempts):
            intent = f"{a.intent.kind} “{a.intent.target}”" if a.intent else "direct action"
            verdict = ("—" if a.verdict is None else
                       f"{'approved' if a.verdict.approve else 'vetoed'}"
                       f"{' [' + a.verdict.error_type + ']' if a.verdict.error_type else ''}: {a.verdict.reason}")
            rows.append(f"<li>attempt {n}: {e(intent)} → <code>{e(render.action_text(a.action))}</code>"
                        f"<br>critic: {e(verdict)}{'<br>' + e(a.error) if a.error else ''}</li>")
        parts.append(
            f"<div class='step' id='step-{step.index}'>{img_html}<div>"
            f"<h3>Step {step.index} <span class='badge' style='background:{render.hex_color(color)}'>"
            f"{e(badge)}</span></h3><ul>{''.join(rows)}</ul>"
            f"<p>Executed <code>{e(render.action_text(step.action))}</code> · reward {step.reward:g}"
            f"{' · done' if step.done else ''}</p>"
            f"<pre>{e(render.chain_text(step))}</pre><p>Timings: {e(render.timings_text(step))}</p>"
            f"{'<p class=warn>' + e(step.error) + '</p>' if step.error else ''}</div></div>")
    final = episode_file(folder, r.final_screenshot or "final.png") if r else episode_file(folder, "final.png")
    if final is not None and final.exists():
        parts.append(f"<h2>Final screen</h2><img style='max-width:720px' "
                     f"src='data:image/png;base64,{_b64_png(Image.open(final).convert('RGB'))}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
