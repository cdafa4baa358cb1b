"""The Gradio app: watch an agent act live, browse trajectories, try grounders.

    python app.py                      # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080 --password s3cret   # HTTP basic auth (user "cua")
    python app.py --runs-dir runs      # where live runs go (runs/app/...) and what the browser lists

Tabs: Live run (suite task or URL + instruction; planner / grounder / critic by name; Start,
Pause, Step, Resume, Stop; each step streamed with its annotated screenshot, intent, verdict,
coordinate chain and timings), Trajectories (any run folder: scrub steps, filter vetoed /
failed, export a single-file HTML report), Grounding playground (several grounders on one
screenshot). Rendering lives in ``cua.ui.render``; the worker thread in ``cua.ui.live``.
"""

from __future__ import annotations

import argparse
import logging
import queue
import tempfile
import time
from pathlib import Path
from typing import Any

import gradio as gr

from cua.core import CuaError
from cua.ui import render
from cua.ui.live import LiveRun, RunSpec
from cua.ui.trajectories import (
    FILTERS,
    episode_label,
    filter_steps,
    find_runs,
    html_report,
    list_episodes,
    result_markdown,
    step_image,
)

log = logging.getLogger("cua.app")

DEFAULT_TASK = "miniwob-cpu/click-button"
RUNS: dict[str, LiveRun] = {}  # live runs of this process, by id (gr.State cannot hold threads)


# ---- choices ----------------------------------------------------------------------------------


def task_choices() -> list[str]:
    """Every task of every registered suite (synthetic suites appear once registered)."""
    from cua.suites import SUITES

    out: list[str] = []
    for name, suite in SUITES.items():
        if name == "miniwob":  # the full list is long; any miniwob task can still be typed in
            continue
        try:
            out += [f"{name}/{t}" for t in suite.task_names()]
        except Exception as e:  # noqa: BLE001 — a broken suite must not take the app down
            log.warning("suite %s: %s", name, e)
    try:
        from cua.suites import get_suite

        out += [f"miniwob/{t}" for t in get_suite("miniwob").task_names()]
    except Exception as e:  # noqa: BLE001
        log.warning("suite miniwob: %s", e)
    return out or [DEFAULT_TASK]


def component_names() -> tuple[list[str], list[str], list[str]]:
    from critic.base import CRITICS
    from cua.planners import PLANNERS
    from grounding import GROUNDERS

    return PLANNERS.names(), GROUNDERS.names(), CRITICS.names()


# ---- live run ---------------------------------------------------------------------------------


def _status(run: LiveRun, last: str) -> str:
    n = len(run.records)
    if run.error:
        return f"❌ **error** — `{run.error}`"
    if run.result is not None:
        r = run.result
        icon = {"success": "✅", "failure": "❌", "error": "⚠️"}.get(r.status, "")
        extra = f" — {r.error}" if r.error else ""
        return (f"{icon} **{r.status}** — reward {r.reward:.3f} after {r.steps} steps "
                f"in {r.duration_s:.1f} s{extra}  \nrun folder: `{run.run_dir}`")
    if run.finished:
        return f"finished ({last})"
    if run.control.paused:
        return f"⏸ **paused** after {n} step(s) — press Step or Resume  \n{last}"
    return f"▶ **running** — {n} step(s) so far  \n{last}"


def start_run(source: str, task: str, seed: float, url: str, instruction: str, planner: str,
              grounder: str, critic: str, max_steps: float, start_paused: bool, runs_root: str):
    """Generator: starts the worker, then streams its events into the page."""
    spec = RunSpec(task=(task or "").strip(), seed=int(seed or 0),
                   url=(url or "").strip() or None if source == "URL" else None,
                   instruction=(instruction or "").strip() or None,
                   planner=planner, grounder=grounder, critic=critic,
                   max_steps=int(max_steps) if max_steps else None, start_paused=bool(start_paused),
                   runs_root=Path(runs_root))
    if source == "URL" and not spec.url:
        gr.Warning("Enter a URL (and an instruction) or choose a suite task.")
        yield gr.update(value="❌ **error** — no URL given"), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    run = LiveRun(spec).start()
    run_id = f"run-{id(run)}"
    RUNS[run_id] = run
    rows: list[list[Any]] = []
    image, details, last = None, "", "starting…"
    yield _status(run, last), None, "", [], run_id, str(run.run_dir)
    shown = None
    while True:
        try:
            ev = run.events.get(timeout=0.25)
        except queue.Empty:
            if run.finished and run.events.empty():
                break
            status = _status(run, last)
            if status != shown:
                shown = status
                yield status, gr.skip(), gr.skip(), gr.skip(), run_id, gr.skip()
            continue
        if ev.kind == "status":
            last = ev.message
        elif ev.kind == "reset":
            last, image = ev.message, ev.image
        elif ev.kind == "step" and ev.record is not None:
            image = render.annotate_step(ev.image, ev.record)
            details = render.step_markdown(ev.record)
            rows.append(render.step_row(ev.record))
            last = f"step {ev.record.index}: {render.badge_for(ev.record)[0]}"
        elif ev.kind == "error":
            gr.Warning(f"Run failed: {ev.message}")
            last = ev.message
        elif ev.kind == "done" and ev.result is not None and ev.result.status == "error":
            gr.Warning(f"Episode ended with an error: {ev.result.error}")
        shown = _status(run, last)
        yield shown, image, details, rows, run_id, str(run.run_dir)
    yield _status(run, last), image, details, rows, run_id, str(run.run_dir)


def _control(run_id: str | None, what: str) -> str:
    run = RUNS.get(run_id or "")
    if run is None or run.finished:
        gr.Warning("No run in progress.")
        return gr.skip()
    getattr(run.control, what)()
    return gr.skip()


# ---- trajectory browser -------------------------------------------------------------------------


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
        episodes = list_episodes(path)
    except (CuaError, OSError) as e:
        gr.Warning(str(e))
        return gr.update(choices=[], value=None)
    choices = [(episode_label(p), str(p)) for p in episodes]
    return gr.update(choices=choices, value=choices[0][1])


def _load(folder: str):
    from cua.store import load_episode

    return load_episode(folder)


def show_episode(folder: str | None, which: str):
    """Episode → result, warnings, slider range, and its first (filtered) step."""
    empty = ("", gr.update(value="", visible=False), gr.update(maximum=1, value=0, interactive=False), None, "")
    if not folder:
        return empty
    try:
        episode = _load(folder)
    except (CuaError, OSError, ValueError) as e:
        gr.Warning(f"Cannot read {folder}: {e}")
        return ("", gr.update(value=f"⚠️ {render.escape(str(e))}", visible=True), *empty[2:])
    warn = "\n".join(f"⚠️ {render.escape(w)}" for w in episode.warnings)
    if episode.warnings:
        warn += f"\n\nShowing the {len(episode.steps)} step(s) before the damage."
    positions = filter_steps(episode.steps, which)
    image, details = None, f"no {which} steps in this episode" if episode.steps else "no steps recorded"
    if positions:
        step = episode.steps[positions[0]]
        image, details = step_image(episode, step), render.step_markdown(step)
    slider = gr.update(minimum=0, maximum=max(len(positions) - 1, 1), value=0, step=1,
                       label=f"step ({len(positions)} shown of {len(episode.steps)})",
                       interactive=len(positions) > 1)
    return (result_markdown(episode), gr.update(value=warn, visible=bool(warn)), slider, image, details)


def show_step(folder: str | None, which: str, pos: float):
    if not folder:
        return None, ""
    try:
        episode = _load(folder)
    except (CuaError, OSError, ValueError) as e:
        gr.Warning(str(e))
        return None, ""
    positions = filter_steps(episode.steps, which)
    if not positions:
        return None, f"no {which} steps"
    step = episode.steps[positions[min(max(int(pos or 0), 0), len(positions) - 1)]]
    return step_image(episode, step), render.step_markdown(step)


def export_report(folder: str | None):
    if not folder:
        gr.Warning("Open an episode first.")
        return None
    try:
        text = html_report(folder)
    except (CuaError, OSError, ValueError) as e:
        gr.Warning(f"Export failed: {e}")
        return None
    out = Path(tempfile.mkdtemp(prefix="cua-report-")) / f"{Path(folder).name}.html"
    out.write_text(text, encoding="utf-8")
    return str(out)


# ---- grounding playground -------------------------------------------------------------------------


def ground_all(image, instruction: str, grounders: list[str]):
    if image is None or not (instruction or "").strip():
        gr.Warning("Upload a screenshot and type an instruction.")
        return None, []
    from grounding import GROUNDERS

    results, rows = {}, []
    for n, name in enumerate(grounders or []):
        color = render.hex_color(render.PALETTE[n % len(render.PALETTE)])
        t = time.perf_counter()
        try:
            g = GROUNDERS.make(name).ground(image.convert("RGB"), instruction)
        except Exception as e:  # noqa: BLE001 — a model that fails to load is reported, not fatal
            gr.Warning(f"{name}: {type(e).__name__}: {e}")
            results[name] = None
            rows.append([name, color, "—", f"error: {e}", round(time.perf_counter() - t, 3)])
            continue
        results[name] = g
        point = "refused" if g.point is None else f"({g.point.x:.0f}, {g.point.y:.0f})"
        rows.append([name, color, point, g.raw_text[:200], round(time.perf_counter() - t, 3)])
    return render.annotate_groundings(image, results), rows


# ---- layout ------------------------------------------------------------------------------------------


def build(runs_root: str | Path = "runs") -> gr.Blocks:
    planners, grounders, critics = component_names()
    tasks = task_choices()
    with gr.Blocks(title="cua — computer-use agent runtime") as demo:
        runs_state = gr.State(str(runs_root))
        run_id = gr.State(None)
        gr.Markdown("# cua — watch, replay and probe computer-use agents")
        with gr.Tabs() as tabs:
            with gr.Tab("Live run", id="live"):  # noqa: SIM117 (Gradio layout)
                with gr.Row():
                    with gr.Column(scale=1, min_width=320):
                        source = gr.Radio(["Suite task", "URL"], value="Suite task", label="Source")
                        task = gr.Dropdown(tasks, value=DEFAULT_TASK if DEFAULT_TASK in tasks else tasks[0],
                                           allow_custom_value=True, label="Task (suite/task)",
                                           elem_id="task")
                        seed = gr.Number(0, precision=0, label="Seed")
                        url = gr.Textbox(label="URL (for Source = URL)", placeholder="http://127.0.0.1:8000/")
                        instruction = gr.Textbox(label="Instruction (for Source = URL)",
                                                 placeholder='Click the "Submit" button')
                        planner = gr.Dropdown(planners, value="instructions", label="Planner",
                                              allow_custom_value=True)
                        grounder = gr.Dropdown(grounders, value="a11y", label="Grounder", allow_custom_value=True)
                        critic = gr.Dropdown(critics, value="approve-all", label="Critic", allow_custom_value=True)
                        max_steps = gr.Number(None, precision=0, label="Max steps (0 = the task's own)")
                        start_paused = gr.Checkbox(False, label="Start paused (then Step through)",
                                                   elem_id="start-paused")
                        with gr.Row():
                            start = gr.Button("Start", variant="primary", elem_id="start")
                            stop = gr.Button("Stop", variant="stop", elem_id="stop")
                        with gr.Row():
                            pause = gr.Button("Pause", elem_id="pause")
                            step = gr.Button("Step", elem_id="step")
                            resume = gr.Button("Resume", elem_id="resume")
                    with gr.Column(scale=2):
                        status = gr.Markdown("Idle. Choose a task and press Start.", elem_id="live-status")
                        shot = gr.Image(label="Annotated screenshot", type="pil", interactive=False,
                                        elem_id="live-shot", height=520)
                        details = gr.Markdown(elem_id="live-details")
                        table = gr.Dataframe(headers=render.STEP_COLUMNS, label="Steps", interactive=False,
                                             elem_id="live-steps")
                        run_dir = gr.Textbox(label="Run folder", interactive=False, elem_id="live-run-dir")
                        to_browser = gr.Button("Open this run in the trajectory browser", elem_id="to-browser")
            with gr.Tab("Trajectories", id="browse") as browse_tab:
                with gr.Row():
                    runs_dd = gr.Dropdown(label="Run folders", choices=[str(p) for p in find_runs(runs_root)],
                                          allow_custom_value=True, scale=3)
                    refresh = gr.Button("Refresh", scale=0)
                with gr.Row():
                    path = gr.Textbox(label="…or a path (run folder or episode folder)", scale=3,
                                      elem_id="browse-path")
                    open_btn = gr.Button("Open", variant="primary", scale=0, elem_id="browse-open")
                episode_dd = gr.Dropdown(label="Episode", choices=[], elem_id="episode")
                result_md = gr.Markdown(elem_id="browse-result")
                warn_md = gr.Markdown(visible=False, elem_id="browse-warning")
                with gr.Row():
                    which = gr.Radio(list(FILTERS), value="all steps", label="Show", elem_id="browse-filter")
                    slider = gr.Slider(0, 1, value=0, step=1, label="step", interactive=False, elem_id="browse-slider")
                with gr.Row():
                    bshot = gr.Image(label="Step", type="pil", interactive=False, elem_id="browse-shot",
                                     height=520)
                    bdetails = gr.Markdown(elem_id="browse-details")
                with gr.Row():
                    export = gr.Button("Export HTML report", elem_id="export")
                    report = gr.File(label="Report", elem_id="report")
            with gr.Tab("Grounding playground", id="ground"):  # noqa: SIM117 (Gradio layout)
                with gr.Row():
                    with gr.Column():
                        pg_image = gr.Image(label="Screenshot", type="pil")
                        pg_text = gr.Textbox(label="Instruction", placeholder='the "Submit" button')
                        pg_grounders = gr.CheckboxGroup(grounders, value=["ocr"], label="Grounders")
                        pg_go = gr.Button("Ground", variant="primary")
                    with gr.Column():
                        pg_out = gr.Image(label="Points (one colour per grounder)", interactive=False)
                        pg_table = gr.Dataframe(headers=["grounder", "colour", "point", "raw", "seconds"],
                                                interactive=False)
        gr.Markdown(
            "Colours: <span style='color:#16a34a'>■ executed / approved</span> · "
            "<span style='color:#dc2626'>■ vetoed</span> · <span style='color:#f59e0b'>■ proposed</span> · "
            "<span style='color:#2563eb'>■ grounder box</span> · <span style='color:#ea580c'>■ zoom crop</span>"
            " · <span style='color:#9333ea'>■ drag</span>")

        start.click(start_run, [source, task, seed, url, instruction, planner, grounder, critic, max_steps,
                                start_paused, runs_state], [status, shot, details, table, run_id, run_dir])
        for button, what in ((pause, "pause"), (step, "step"), (resume, "resume"), (stop, "stop")):
            button.click(lambda rid, w=what: _control(rid, w), [run_id], [status], queue=False)

        show_inputs = [episode_dd, which]
        show_outputs = [result_md, warn_md, slider, bshot, bdetails]
        to_browser.click(lambda d: (d, gr.Tabs(selected="browse")), [run_dir], [path, tabs]).then(
            open_run, [path], [episode_dd]).then(show_episode, show_inputs, show_outputs)
        refresh.click(refresh_runs, [runs_state], [runs_dd])
        browse_tab.select(refresh_runs, [runs_state], [runs_dd])
        runs_dd.input(lambda p: p, [runs_dd], [path]).then(open_run, [path], [episode_dd]).then(
            show_episode, show_inputs, show_outputs)
        open_btn.click(open_run, [path], [episode_dd]).then(show_episode, show_inputs, show_outputs)
        path.submit(open_run, [path], [episode_dd]).then(show_episode, show_inputs, show_outputs)
        episode_dd.input(show_episode, show_inputs, show_outputs)
        which.input(show_episode, show_inputs, show_outputs)
        slider.change(show_step, [episode_dd, which, slider], [bshot, bdetails])
        export.click(export_report, [episode_dd], [report])
        pg_go.click(ground_all, [pg_image, pg_text, pg_grounders], [pg_out, pg_table])
    return demo


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="a public gradio.live link (needs network)")
    p.add_argument("--password", default=None, help="require HTTP basic auth (user: --user)")
    p.add_argument("--user", default="cua")
    p.add_argument("--runs-dir", default="runs", help="live runs go to <runs-dir>/app/; the browser lists it")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    demo = build(args.runs_dir)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                auth=(args.user, args.password) if args.password else None)


if __name__ == "__main__":
    main()
