"""Finding run folders and episodes on disk, filtering steps, and the single-file HTML report."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

from PIL import Image

from cua.core import CuaError, StepRecord, TurnRecord
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


def sent_images(folder: Path | str | None, turn: TurnRecord | None,
                current: Image.Image | None = None) -> list[tuple[Image.Image, str]]:
    """The screenshots a turn sent to the model, read from the episode folder by the names in
    ``turn.images`` (the current one last) and shown at the size they were sent. ``current``
    stands in for the last one when it is not on disk yet (a proposal waiting for the user). A
    name leading out of the folder, or a missing file, is a grey tile saying so."""
    if turn is None or not turn.images:
        return []
    out = []
    size = tuple(turn.image_size) if turn.image_size else None
    last = len(turn.images) - 1
    for n, name in enumerate(turn.images):
        caption = f"{name}{' (current)' if n == last else ''}" + (f" — sent at {size[0]}×{size[1]}" if size else "")
        path = episode_file(folder, name) if folder is not None else None
        image = None
        if path is not None and path.exists():
            try:
                image = Image.open(path).convert("RGB")
            except OSError:
                image = None
        if image is None and n == last and current is not None:
            image = current.convert("RGB")
        if image is None:
            why = "refused (outside the episode)" if folder is not None and path is None else "missing"
            out.append((Image.new("RGB", (160, 90), (226, 232, 240)), f"{caption} — {why}"))
            continue
        if size and image.size != size and size[0] > 0 and size[1] > 0:
            image = image.resize(size)
        out.append((image, caption))
    return out


def result_markdown(episode: Episode) -> str:
    r = episode.result
    if r is None:
        return f"**{render.md(episode.folder.name)}** — unfinished (no result.json), {len(episode.steps)} steps read"
    icon = {"success": "✅", "failure": "❌", "error": "⚠️", "stopped": "⏹", "needs_user": "🙋"}.get(r.status, "⏳")
    stack = ", ".join(f"{k}={v}" for k, v in r.stack.items())
    lines = [(f"{icon} **{render.md(r.task_id)}** seed {r.seed} — **{render.md(r.status)}**, reward {r.reward:.3f}, "
             f"{r.steps} steps ({r.turns} turns) in {r.duration_s:.1f} s  "),
             f"{render.ending_markdown(r)}  ", f"stack: {render.md(stack)} · env: {render.md(r.env)}  "]
    if r.instruction:
        lines.append(f"instruction: {render.md(r.instruction)}  ")
    if r.error:
        lines.append(f"error: {render.code(r.error, 2000)}")
    return "\n".join(lines)


def _b64_png(image: Image.Image, max_width: int = 1280) -> str:
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)))
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode()


THUMB_WIDTH = 320  # the report's thumbnails of the screenshots sent (their caption gives the size sent)


def _turn_html(folder: Path, turn: TurnRecord, executed: int | None, asked_at: int | None,
               thumbs_cache: dict[str, str] | None = None) -> str:
    """A policy turn in the report: everything the model said or was told is escaped."""
    e = render.escape
    source = {"user": " · taken over by the user", "critic": " · the critic's suggestion"}.get(turn.source, "")
    asked = f" · asked at step {asked_at}" if asked_at is not None else ""
    parts = [f"<div class='turn'><h4>Turn {turn.index}{' · ' + e(turn.policy) if turn.policy else ''}{source}{asked}</h4>"]
    if turn.thought:
        parts.append(f"<p><b>Thought</b></p><p class='thought'>{e(turn.thought)}</p>")
    if turn.feedback:
        parts.append(f"<p><b>Feedback given to the model</b></p><p class='thought'>{e(turn.feedback)}</p>")
    if turn.raw_output is not None:
        parts.append(f"<p><b>Raw model output</b></p><pre class='raw'>{e(turn.raw_output)}</pre>")
    if turn.actions:
        items = "".join(f"<li{' class=executed' if n == executed else ''}><code>{e(render.action_text(a))}</code>"
                        f"{' ← executed in this step' if n == executed else ''}</li>"
                        for n, a in enumerate(turn.actions))
        parts.append(f"<p><b>Actions of the turn</b></p><ol>{items}</ol>")
    for n, r in enumerate(turn.rejected):
        parts.append(f"<p><b>Rejected reply {n + 1}</b> — parser: {e(r.error)}</p><pre class='raw'>{e(r.raw)}</pre>")
    thumbs = sent_images(folder, turn)
    if thumbs:
        cache = thumbs_cache if thumbs_cache is not None else {}
        tiles = []
        for img, c in thumbs:  # one screenshot is sent in several turns: encoded once
            if c not in cache:
                cache[c] = _b64_png(img, THUMB_WIDTH)
            tiles.append(f"<figure><img class='sent' alt='{e(c)}' title='{e(c)}' "
                         f"src='data:image/png;base64,{cache[c]}'><figcaption>{e(c)}</figcaption></figure>")
        tiles = "".join(tiles)
        parts.append(f"<p><b>Sent to the model</b></p><div class='sent'>{tiles}</div>")
    if turn.source == "policy" or turn.usage.calls:
        parts.append(f"<p><b>Usage</b> {e(render.usage_text(turn.usage))}</p>")
    if turn.summary:
        parts.append(f"<p><b>Summary</b> {e(turn.summary)}</p>")
    if turn.error:
        parts.append(f"<p class='warn'>Turn error: {e(turn.error)}</p>")
    parts.append("</div>")
    return "".join(parts)


def html_report(folder: Path | str) -> str:
    """One self-contained HTML page for an episode: result (how it ended, the answer), then
    each step's annotated screenshot (inlined as base64) with the policy's turn (thought, raw
    output, actions, rejected replies, the screenshots sent, usage), intent, verdict,
    coordinate chain and timings. Every text from a model, a page or the run folder is escaped."""
    folder = Path(folder)
    episode = load_episode(folder)
    e = render.escape
    r = episode.result
    title = f"{r.task_id} seed {r.seed}" if r else folder.name
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#111}",
        ".step{display:flex;gap:1.5em;border-top:1px solid #ddd;padding:1em 0}",
        ".step img{max-width:720px;border:1px solid #ccc}",
        "pre{white-space:pre-wrap;background:#f5f5f5;padding:.5em;font-size:12px}",
        ".warn{background:#fef3c7;border:1px solid #f59e0b;padding:.5em}",
        ".badge{color:#fff;padding:2px 6px;border-radius:3px;font-weight:bold}",
        ".turn{border-left:3px solid #2563eb;padding-left:.8em;margin:.5em 0}",
        ".thought{white-space:pre-wrap}",
        "li.executed{font-weight:bold}",
        "div.sent{display:flex;flex-wrap:wrap;gap:.5em}",
        "figure{margin:0;font-size:11px}",
        ".step img.sent{max-width:180px;max-height:140px}",
        "</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]
    if r:
        parts.append(f"<p><b>{e(r.status)}</b> · reward {r.reward:.3f} · {r.steps} steps ({r.turns} turns) · "
                     f"{r.duration_s:.1f} s · stack {e(json.dumps(r.stack))} · env {e(r.env)}</p>")
        ended = [f"ended: <b>{e(r.termination or r.status)}</b>", e(render.graded_text(r))]
        if r.answer is not None:
            ended.append(f"answer: <code class='answer'>{e(r.answer)}</code>")
        if r.reason:
            ended.append(f"{'question' if r.termination == 'needs_user' else 'reason'}: {e(r.reason)}")
        parts.append(f"<p class='ending'>{' · '.join(ended)}</p>")
        if r.instruction:
            parts.append(f"<p>Instruction: <i>{e(r.instruction)}</i></p>")
        if r.error:
            parts.append(f"<p class='warn'>Error: {e(r.error)}</p>")
    for w in episode.warnings:
        parts.append(f"<p class='warn'>⚠ {e(w)}</p>")
    thumbs: dict[str, str] = {}
    for pos, step in enumerate(episode.steps):
        badge, color = render.badge_for(step)
        img = step_image(episode, step)
        img_html = (f"<img alt='step {step.index}' src='data:image/png;base64,{_b64_png(img)}'>"
                    if img is not None else f"<p class='warn'>screenshot {e(step.screenshot)} missing</p>")
        turn, executed, asked_at = render.find_turn(step, episode.steps[:pos])
        turn_html = _turn_html(folder, turn, executed, asked_at, thumbs) if turn is not None else ""
        rows = []
        for n, a in enumerate(step.attempts):
            intent = f"{a.intent.kind} “{a.intent.target}”" if a.intent else "direct action"
            verdict = ("—" if a.verdict is None else
                       f"{a.verdict.critic or '?'}: {'approved' if a.verdict.approve else 'vetoed'}"
                       f"{' [' + a.verdict.error_type + ']' if a.verdict.error_type else ''}: {a.verdict.reason}")
            other = _turn_html(folder, a.turn, None, None, thumbs) if a.turn is not None and a.turn != turn else ""
            rows.append(f"<li>attempt {n}: {e(intent)} → <code>{e(render.action_text(a.action))}</code>"
                        f"<br>critic: {e(verdict)}{'<br>' + e(a.error) if a.error else ''}{other}</li>")
        parts.append(
            f"<div class='step' id='step-{step.index}'>{img_html}<div>"
            f"<h3>Step {step.index} <span class='badge' style='background:{render.hex_color(color)}'>"
            f"{e(badge)}</span></h3>{turn_html}<ul>{''.join(rows)}</ul>"
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
