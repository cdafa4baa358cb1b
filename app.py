"""The Gradio app: watch an agent act live, browse trajectories, try grounders.

    python app.py                      # http://127.0.0.1:7860
    python app.py --host 0.0.0.0 --port 8080 --password s3cret   # HTTP basic auth (user "cua")
    python app.py --runs-dir runs      # where live runs go (runs/app/...) and what the pages list
    python app.py --allow-path /data/old-runs   # another folder the pages may open (repeatable)
    python app.py --plugin mypkg.agents:MyPolicy  # import a plugin; a module:Class is a policy to pick

Off loopback or with --share a password is required (the app drives a browser and reads run
folders); pages open folders only under --runs-dir and --allow-path; URLs must be http(s).

Tabs: Live run (suite task or URL + instruction; a policy (``planner`` = the planner / grounder
pickers, a spec such as ``native:profile=qwen3-vl,backend=http,url=...,model=...``, or a
plugin's policy) and a critic by name; Start, Pause, Step, Resume, Stop; optionally approve /
edit / reject each action; a policy that asks for the user (call_user) always waits for an
answer, a take-over or an approval; each step streamed with its annotated screenshot, the
policy's thought, raw output, actions, the screenshots it was sent, usage, the verdict,
evidence, coordinate chain and timings),
Trajectories (any run folder: scrub steps, filter vetoed / failed, export a single-file HTML
report), Compare (two episodes side by side), Grounding playground (several grounders on one
screenshot), Dashboard (the run folders of `cua run` / `cua eval` in other processes, live).
Keys (outside text boxes): ← → previous / next step, p pause, s step, r resume, a approve,
x reject. Rendering lives in ``cua.ui.render``; callbacks in ``cua.ui.live_view`` and
``cua.ui.browse_view``; the worker thread in ``cua.ui.live``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import time
from pathlib import Path
from typing import Any

import gradio as gr

from cua.ui import folders, render
from cua.ui.browse_view import (
    compare_episodes,
    compare_step,
    dashboard_view,
    export_report,
    move_step,
    open_run,
    refresh_runs,
    show_episode,
    show_step,
)
from cua.ui.dashboard import EPISODE_COLUMNS, RUN_COLUMNS
from cua.ui.human import USER_ACTION_KINDS
from cua.ui.live_view import LIVE_OUTPUTS, RUNS, control, decide, pick_point, start_run
from cua.ui.trajectories import FILTERS, find_runs

__all__ = ["RUNS", "build", "compare_episodes", "dashboard_view", "export_report", "main", "move_step", "open_run",
           "show_episode", "show_step", "start_run"]

log = logging.getLogger("cua.app")

DEFAULT_TASK = "miniwob-cpu/click-button"
GROUNDER_CACHE: dict[str, Any] = {}  # the playground loads a model once, on first use

KEYS_JS = """
<script>
document.addEventListener('keydown', (e) => {
  const t = e.target;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
  const ids = {ArrowLeft: 'browse-prev', ArrowRight: 'browse-next', p: 'pause', s: 'step', r: 'resume',
               a: 'approve', x: 'reject'};
  const el = document.getElementById(ids[e.key] || '');
  if (el && el.offsetParent !== null) { e.preventDefault(); el.click(); }  // only on the visible tab
});
</script>
"""


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


POLICY_EXAMPLES = (
    "native:profile=ui-tars-1.5,backend=http,url=http://127.0.0.1:8000,model=ui-tars",
    "native:profile=qwen3-vl,backend=http,url=http://127.0.0.1:8000,model=qwen3-vl",
)


def policy_choices() -> list[str]:
    """``planner`` (the planner + grounder pickers), registered policies that need no
    arguments (plugins' ``module.Class``), and native specs to edit."""
    from cua.policies import POLICIES
    from cua.stack import PLANNER_POLICY

    return [PLANNER_POLICY, *[n for n in POLICIES.names() if n != "native"], *POLICY_EXAMPLES]


def component_names() -> tuple[list[str], list[str], list[str]]:
    from critic.base import CRITICS
    from cua.planners import PLANNERS
    from grounding import GROUNDERS

    return PLANNERS.names(), GROUNDERS.names(), CRITICS.names()


# ---- grounding playground ---------------------------------------------------------------------


def capture(url: str):
    """A screenshot of a page, taken with the project's browser env (Playwright + Chromium)."""
    url = (url or "").strip()
    if not url:
        gr.Warning("Type a URL to capture.")
        return gr.skip()
    from cua.core import Task
    from cua.ui.live import web_browser_config
    from envs.browser import BrowserEnv

    env = None
    try:
        env = BrowserEnv(web_browser_config(url))
        return env.reset(Task(id="playground/capture", instruction="", start_url=url)).screenshot
    except Exception as e:  # noqa: BLE001 — no browser / bad URL: a message, the app keeps working
        gr.Warning(f"Capture failed: {type(e).__name__}: {e}")
        return gr.skip()
    finally:
        if env is not None:
            env.close()


def ground_all(image, instruction: str, grounders: list[str], progress=gr.Progress()):  # noqa: B008 (Gradio's idiom)
    if image is None or not (instruction or "").strip():
        gr.Warning("Upload a screenshot and type an instruction.")
        return None, [], []
    from grounding import GROUNDERS

    results, rows, crops = {}, [], []
    chosen = list(grounders or [])
    for n, name in enumerate(chosen):
        color = render.hex_color(render.PALETTE[n % len(render.PALETTE)])
        t = time.perf_counter()
        try:
            if name not in GROUNDER_CACHE:
                progress(n / max(len(chosen), 1), desc=f"{name}: loading (first use)…")
                GROUNDER_CACHE[name] = GROUNDERS.make(name)
            progress(n / max(len(chosen), 1), desc=f"{name}: grounding…")
            g = GROUNDER_CACHE[name].ground(image.convert("RGB"), instruction)
        except Exception as e:  # noqa: BLE001 — a model that fails to load is reported, not fatal
            gr.Warning(f"{name}: {type(e).__name__}: {e}")
            results[name] = None
            rows.append([name, color, "—", f"error: {type(e).__name__}: {e}", round(time.perf_counter() - t, 3)])
            continue
        results[name] = g
        point = "refused" if g.point is None else f"({g.point.x:.0f}, {g.point.y:.0f})"
        rows.append([name, color, point, g.raw_text[:200], round(time.perf_counter() - t, 3)])
        for k, box in enumerate(g.crops):  # the zoom steps, as the grounder saw them
            crops.append((image.convert("RGB").crop((box.x1, box.y1, box.x2, box.y2)), f"{name} zoom {k + 1}"))
    return render.annotate_groundings(image, results), rows, crops


# ---- layout -----------------------------------------------------------------------------------


# Markdown that shows model / page text: no LaTeX (``$$`` in a model's reply stays text).
PLAIN = {"latex_delimiters": []}


def _live_tab(runs_state, tasks, planners, grounders, critics, policies) -> dict[str, Any]:
    c: dict[str, Any] = {}
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            c["source"] = gr.Radio(["Suite task", "URL"], value="Suite task", label="Source")
            c["task"] = gr.Dropdown(tasks, value=DEFAULT_TASK if DEFAULT_TASK in tasks else tasks[0],
                                    allow_custom_value=True, label="Task (suite/task)", elem_id="task")
            c["seed"] = gr.Number(0, precision=0, label="Seed")
            c["url"] = gr.Textbox(label="URL (for Source = URL)", placeholder="http://127.0.0.1:8000/")
            c["instruction"] = gr.Textbox(label="Instruction (for Source = URL)",
                                          placeholder='Click the "Submit" button')
            c["policy"] = gr.Dropdown(policies, value="planner", allow_custom_value=True, elem_id="policy",
                                      label="Policy (planner = the planner + grounder below; or a spec)")
            c["planner"] = gr.Dropdown(planners, value="instructions", label="Planner (policy = planner)",
                                       allow_custom_value=True)
            c["grounder"] = gr.Dropdown(grounders, value="a11y", label="Grounder (policy = planner)",
                                        allow_custom_value=True, elem_id="grounder")
            c["critic"] = gr.Dropdown(critics, value="approve-all", label="Critic", allow_custom_value=True,
                                      elem_id="critic")
            c["max_steps"] = gr.Number(None, precision=0, label="Max steps (0 = the task's own)")
            c["delay"] = gr.Number(0, minimum=0, label="Seconds between steps (watch pace)", elem_id="delay")
            c["start_paused"] = gr.Checkbox(False, label="Start paused (then Step through)", elem_id="start-paused")
            c["approve_each"] = gr.Checkbox(False, label="Approve each action (human in the loop)",
                                            elem_id="approve-each")
            with gr.Row():
                c["start"] = gr.Button("Start", variant="primary", elem_id="start")
                c["stop"] = gr.Button("Stop", variant="stop", elem_id="stop")
            with gr.Row():
                c["pause"] = gr.Button("Pause", elem_id="pause")
                c["step"] = gr.Button("Step", elem_id="step")
                c["resume"] = gr.Button("Resume", elem_id="resume")
            c["ack"] = gr.Markdown(elem_id="live-ack")  # what a button press did (the status streams apart)
            with gr.Group(elem_id="decision"):
                gr.Markdown("**Your decision** (approve-each mode, or when the policy asks for you): "
                            "click the screenshot to move the point")
                with gr.Row():
                    c["approve"] = gr.Button("Approve", variant="primary", elem_id="approve")
                    c["reject"] = gr.Button("Reject", variant="stop", elem_id="reject")
                c["answer_text"] = gr.Textbox(label="Your answer (when the policy asks for you)", elem_id="user-answer",
                                              placeholder="the policy is asked again with it")
                c["answer"] = gr.Button("Answer", elem_id="answer")
                with gr.Row():
                    c["hkind"] = gr.Dropdown(list(USER_ACTION_KINDS), value="click", label="Action", elem_id="hkind")
                    c["hx"] = gr.Number(None, label="x", elem_id="hx")
                    c["hy"] = gr.Number(None, label="y", elem_id="hy")
                c["htext"] = gr.Textbox(label="Text / keys / scroll direction / note", elem_id="htext")
                c["takeover"] = gr.Button("Run my action (edit / take over)", elem_id="takeover")
        with gr.Column(scale=2):
            c["status"] = gr.Markdown("Idle. Choose a task and press Start.", elem_id="live-status", **PLAIN)
            c["shot"] = gr.Image(label="Annotated screenshot (click to move a proposed point)", type="pil",
                                 interactive=False, elem_id="live-shot", height=520)
            c["details"] = gr.Markdown(elem_id="live-details", **PLAIN)
            c["sent"] = gr.Gallery(label="Screenshots sent to the model (current last, at the size sent)",
                                   elem_id="live-sent", height=200, columns=5, object_fit="contain")
            c["evidence"] = gr.Gallery(label="Critic evidence", elem_id="live-evidence", height=220, columns=4)
            c["table"] = gr.Dataframe(headers=render.STEP_COLUMNS, label="Steps", interactive=False,
                                      elem_id="live-steps")
            c["run_dir"] = gr.Textbox(label="Run folder", interactive=False, elem_id="live-run-dir")
            c["to_browser"] = gr.Button("Open this run in the trajectory browser", elem_id="to-browser")
    return c


def build(runs_root: str | Path = "runs", allow_paths: list[str | Path] = (), plugins: list[str] = ()) -> gr.Blocks:
    """The app; the folders it may open are ``runs_root`` and ``allow_paths``. ``plugins``
    (``module`` or ``module:Class``) are imported first (``cua.stack.import_plugins``): a
    ``module:Class`` becomes the policy ``module.Class`` in the Policy picker."""
    from cua.stack import import_plugins

    import_plugins(list(plugins))
    folders.allow([runs_root, *allow_paths])
    planners, grounders, critics = component_names()
    tasks = task_choices()
    with gr.Blocks(title="cua — computer-use agent runtime") as demo:
        runs_state = gr.State(str(runs_root))
        run_id = gr.State(None)
        gr.Markdown("# cua — watch, replay and probe computer-use agents")
        with gr.Tabs() as tabs:
            with gr.Tab("Live run", id="live") as live_tab:
                lv = _live_tab(runs_state, tasks, planners, grounders, critics, policy_choices())
            with gr.Tab("Trajectories", id="browse") as browse_tab:
                with gr.Row():
                    runs_dd = gr.Dropdown(label="Run folders", choices=[str(p) for p in find_runs(runs_root)],
                                          allow_custom_value=True, scale=3)
                    refresh = gr.Button("Refresh", scale=0)
                with gr.Row():
                    path = gr.Textbox(label="…or a path (run folder or episode folder)", scale=3, elem_id="browse-path")
                    open_btn = gr.Button("Open", variant="primary", scale=0, elem_id="browse-open")
                episode_dd = gr.Dropdown(label="Episode", choices=[], elem_id="episode")
                result_md = gr.Markdown(elem_id="browse-result", **PLAIN)
                warn_md = gr.Markdown(visible=False, elem_id="browse-warning", **PLAIN)
                with gr.Row():
                    which = gr.Radio(list(FILTERS), value="all steps", label="Show", elem_id="browse-filter")
                    slider = gr.Slider(0, 1, value=0, step=1, label="step", interactive=False, elem_id="browse-slider")
                    prev_btn = gr.Button("◀ Prev (←)", scale=0, elem_id="browse-prev")
                    next_btn = gr.Button("Next (→) ▶", scale=0, elem_id="browse-next")
                with gr.Row():
                    bshot = gr.Image(label="Step", type="pil", interactive=False, elem_id="browse-shot", height=520)
                    bdetails = gr.Markdown(elem_id="browse-details", **PLAIN)
                bsent = gr.Gallery(label="Screenshots sent to the model (current last, at the size sent)",
                                   elem_id="browse-sent", height=200, columns=5, object_fit="contain")
                bevidence = gr.Gallery(label="Critic evidence", elem_id="browse-evidence", height=220, columns=4)
                with gr.Row():
                    export = gr.Button("Export HTML report", elem_id="export")
                    report = gr.File(label="Report", elem_id="report")
            with gr.Tab("Compare", id="compare") as compare_tab:
                gr.Markdown("Two episodes side by side (e.g. one task under two stacks or two seeds); "
                            "the slider starts at the first step where they differ.")
                with gr.Row():
                    cmp_a = gr.Dropdown(label="Episode A (folder)", choices=[], allow_custom_value=True, elem_id="cmp-a")
                    cmp_b = gr.Dropdown(label="Episode B (folder)", choices=[], allow_custom_value=True, elem_id="cmp-b")
                    cmp_go = gr.Button("Compare", variant="primary", scale=0, elem_id="cmp-go")
                cmp_table = gr.Dataframe(headers=["", "A", "B"], interactive=False, elem_id="cmp-table")
                cmp_note = gr.Markdown(elem_id="cmp-note", **PLAIN)
                cmp_slider = gr.Slider(0, 1, value=0, step=1, label="step", interactive=False, elem_id="cmp-slider")
                with gr.Row():
                    with gr.Column():
                        cmp_shot_a = gr.Image(label="A", type="pil", interactive=False, elem_id="cmp-shot-a")
                        cmp_md_a = gr.Markdown(elem_id="cmp-md-a", **PLAIN)
                    with gr.Column():
                        cmp_shot_b = gr.Image(label="B", type="pil", interactive=False, elem_id="cmp-shot-b")
                        cmp_md_b = gr.Markdown(elem_id="cmp-md-b", **PLAIN)
            with gr.Tab("Grounding playground", id="ground") as ground_tab:  # noqa: SIM117
                with gr.Row():
                    with gr.Column():
                        pg_image = gr.Image(label="Screenshot (upload, paste, or capture a URL)", type="pil")
                        with gr.Row():
                            pg_url = gr.Textbox(label="Capture a page", placeholder="http://127.0.0.1:8000/", scale=3)
                            pg_capture = gr.Button("Capture", scale=0)
                        pg_text = gr.Textbox(label="Instruction", placeholder='the "Submit" button')
                        pg_grounders = gr.CheckboxGroup(grounders, value=["ocr"], label="Grounders")
                        pg_go = gr.Button("Ground", variant="primary")
                    with gr.Column():
                        pg_out = gr.Image(label="Points (one colour per grounder)", interactive=False)
                        pg_table = gr.Dataframe(headers=["grounder", "colour", "point", "raw", "seconds"],
                                                interactive=False)
                        pg_crops = gr.Gallery(label="Zoom steps", height=200, columns=4)
            with gr.Tab("Dashboard", id="dashboard") as dash_tab:
                gr.Markdown("Runs of `cua run` / `cua eval` in other processes, read from their folders "
                            "(refreshed every 2 s while this tab is open).")
                with gr.Row():
                    dash_root = gr.Textbox(str(runs_root), label="Runs folder", scale=3, elem_id="dash-root")
                    dash_refresh = gr.Button("Refresh", scale=0, elem_id="dash-refresh")
                dash_runs = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, elem_id="dash-runs")
                with gr.Row():
                    dash_run = gr.Dropdown(label="Run", choices=[], elem_id="dash-run", scale=3)
                    dash_open = gr.Button("Open in the trajectory browser", scale=0, elem_id="dash-open")
                dash_summary = gr.Markdown(elem_id="dash-summary", **PLAIN)
                dash_episodes = gr.Dataframe(headers=EPISODE_COLUMNS, interactive=False, elem_id="dash-episodes")
                timer = gr.Timer(2.0, active=False)
        gr.Markdown(
            "Colours: <span style='color:#16a34a'>■ executed / approved</span> · "
            "<span style='color:#dc2626'>■ vetoed</span> · <span style='color:#f59e0b'>■ proposed</span> · "
            "<span style='color:#db2777'>■ your point</span> · "
            "<span style='color:#2563eb'>■ grounder box</span> · <span style='color:#ea580c'>■ zoom crop</span>"
            " · <span style='color:#9333ea'>■ drag</span> — keys: ← → step, p pause, s step, r resume, "
            "a approve, x reject")

        # live run
        lv["run_id"] = run_id
        start_inputs = [lv[k] for k in ("source", "task", "seed", "url", "instruction", "planner", "grounder",
                                        "critic", "max_steps", "start_paused", "approve_each", "delay")]
        lv["start"].click(start_run, [*start_inputs, runs_state, lv["policy"]], [lv[k] for k in LIVE_OUTPUTS])
        for what in ("pause", "step", "resume", "stop"):
            lv[what].click(lambda rid, w=what: control(rid, w), [run_id], [lv["ack"]], queue=False)
        decision_inputs = [run_id, lv["hkind"], lv["hx"], lv["hy"], lv["htext"], lv["answer_text"]]
        for what in ("approve", "reject", "takeover"):
            lv[what].click(lambda rid, k, x, y, t, a, w=what: decide(rid, w, k, x, y, t, a), decision_inputs,
                           [lv["ack"]], queue=False)

        def answer(rid, k, x, y, t, a):
            ack = decide(rid, "answer", k, x, y, t, a)
            return ack, ("" if isinstance(ack, str) else gr.skip())  # sent: the box is cleared

        lv["answer"].click(answer, decision_inputs, [lv["ack"], lv["answer_text"]], queue=False)
        lv["answer_text"].submit(answer, decision_inputs, [lv["ack"], lv["answer_text"]], queue=False)
        lv["shot"].select(pick_point, [run_id], [lv["shot"], lv["hx"], lv["hy"]])

        # trajectories
        show_inputs = [episode_dd, which]
        show_outputs = [result_md, warn_md, slider, bshot, bdetails, bevidence, bsent]
        lv["to_browser"].click(lambda d: (d, gr.Tabs(selected="browse")), [lv["run_dir"]], [path, tabs]).then(
            open_run, [path], [episode_dd]).then(show_episode, show_inputs, show_outputs)
        refresh.click(refresh_runs, [runs_state], [runs_dd])
        browse_tab.select(refresh_runs, [runs_state], [runs_dd])
        runs_dd.input(lambda p: p, [runs_dd], [path]).then(open_run, [path], [episode_dd]).then(
            show_episode, show_inputs, show_outputs)
        open_btn.click(open_run, [path], [episode_dd]).then(show_episode, show_inputs, show_outputs)
        path.submit(open_run, [path], [episode_dd]).then(show_episode, show_inputs, show_outputs)
        episode_dd.input(show_episode, show_inputs, show_outputs)
        which.input(show_episode, show_inputs, show_outputs)
        slider.change(show_step, [episode_dd, which, slider], [bshot, bdetails, bevidence, bsent])
        prev_btn.click(lambda f, w, p: move_step(f, w, p, -1), [episode_dd, which, slider], [slider])
        next_btn.click(lambda f, w, p: move_step(f, w, p, +1), [episode_dd, which, slider], [slider])
        export.click(export_report, [episode_dd], [report])

        # compare: both sides list every episode under the runs folder
        def episode_choices(root: str):
            from cua.ui.dashboard import scan

            folders = [str(e.folder) for s in scan(root) for e in s.episodes]
            return gr.update(choices=folders), gr.update(choices=folders)

        compare_tab.select(episode_choices, [runs_state], [cmp_a, cmp_b])
        cmp_go.click(compare_episodes, [cmp_a, cmp_b],
                     [cmp_table, cmp_note, cmp_slider, cmp_shot_a, cmp_md_a, cmp_shot_b, cmp_md_b])
        cmp_slider.change(compare_step, [cmp_a, cmp_b, cmp_slider], [cmp_shot_a, cmp_md_a, cmp_shot_b, cmp_md_b])

        # playground
        pg_capture.click(capture, [pg_url], [pg_image])
        pg_go.click(ground_all, [pg_image, pg_text, pg_grounders], [pg_out, pg_table, pg_crops])

        # dashboard: the timer runs only while its tab is open
        dash_outputs = [dash_runs, dash_run, dash_summary, dash_episodes]
        dash_tab.select(lambda: gr.Timer(active=True), None, [timer]).then(
            dashboard_view, [dash_root, dash_run], dash_outputs)
        for other in (live_tab, browse_tab, compare_tab, ground_tab):
            other.select(lambda: gr.Timer(active=False), None, [timer])
        timer.tick(dashboard_view, [dash_root, dash_run], dash_outputs, show_progress="hidden")
        dash_refresh.click(dashboard_view, [dash_root, dash_run], dash_outputs)
        dash_run.input(dashboard_view, [dash_root, dash_run], dash_outputs)
        dash_open.click(lambda d: (d, gr.Tabs(selected="browse")), [dash_run], [path, tabs]).then(
            open_run, [path], [episode_dd]).then(show_episode, show_inputs, show_outputs)
    return demo


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="a public gradio.live link (needs network)")
    p.add_argument("--password", default=None,
                   help="require HTTP basic auth (user: --user); or set CUA_APP_PASSWORD")
    p.add_argument("--user", default="cua")
    p.add_argument("--runs-dir", default="runs", help="live runs go to <runs-dir>/app/; the pages list it")
    p.add_argument("--allow-path", action="append", default=[], metavar="FOLDER",
                   help="another folder the pages may open (repeatable); by default only --runs-dir")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE[:CLASS]",
                   help="import a module at start (it may register suites, planners, grounders, critics, "
                        "policies); MODULE:CLASS registers CLASS as the policy MODULE.CLASS (repeatable)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    password = args.password or os.environ.get("CUA_APP_PASSWORD")
    if (args.share or not is_loopback(args.host)) and not password:
        # The app drives a browser and reads run folders: never open to others without a password.
        where = "with --share" if args.share else f"on {args.host}"
        raise SystemExit(f"error: refusing to serve {where} without a password: "
                         "pass --password or set CUA_APP_PASSWORD")
    from cua.core import CuaError
    from cua.stack import import_plugins

    try:
        registered = import_plugins(args.plugin)
    except CuaError as e:
        raise SystemExit(f"error: {e}") from None
    if registered:
        print(f"policies from plugins (pick them in Live run → Policy): {', '.join(registered)}")
    demo = build(args.runs_dir, args.allow_path, args.plugin)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, head=KEYS_JS,
                auth=(args.user, password) if password else None)


if __name__ == "__main__":
    main()
