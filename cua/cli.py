"""The ``cua`` command line: run suites, list tasks, replay trajectories."""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from cua.core import CuaError
from cua.stack import Stack

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Computer-use agent runtime: environments, grounders, critics.")
console = Console()
err_console = Console(stderr=True)

# Options `cua run` and `cua eval` share: the seeds and the stack.
Seeds = Annotated[int, typer.Option(help="seeds 0..N-1 for every task")]
SeedList = Annotated[Optional[str], typer.Option(help="explicit seeds, e.g. 0,5,9")]
PolicySpec = Annotated[Optional[str], typer.Option(
    help="policy NAME[:k=v,...]: planner (the --planner + --grounder below, the default), "
         "native:profile=ui-tars-1.5,backend=http,url=URL,model=NAME, or a --plugin class")]
PlannerSpec = Annotated[str, typer.Option(help="planner NAME[:k=v,...] (the planner policy)")]
GrounderSpec = Annotated[str, typer.Option(help="grounder NAME[:k=v,...] (the planner policy)")]
Plugins = Annotated[list[str], typer.Option(
    "--plugin", help="module to import first (it may register suites, planners, grounders, critics, policies), "
                     "or module:Class, a policy class used as the policy; repeatable")]
CriticSpec = Annotated[str, typer.Option(help="critic NAME[:k=v,...]")]
MaxSteps = Annotated[Optional[int], typer.Option(help="step budget per episode (default: the task's)")]
MaxRetries = Annotated[int, typer.Option(help="re-plans after a veto")]
CriticPolicy = Annotated[str, typer.Option(help="veto-and-replan, veto-and-accept-suggestion, or advisory")]
CriticMinScore = Annotated[float, typer.Option(help="rejections scored below this only advise")]
ShowProgress = Annotated[bool, typer.Option(help="show a progress bar")]


def friendly_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """User mistakes and missing pieces are one line on stderr and exit code 2, not a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CuaError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False)
            raise typer.Exit(2) from None
    return wrapper


def _seed_list(seeds: int, seed_list: Optional[str]) -> list[int]:
    if seed_list:
        try:
            return [int(s) for s in seed_list.split(",") if s.strip()]
        except ValueError:
            raise CuaError(f"--seed-list must be integers separated by commas, got {seed_list!r}") from None
    if seeds < 1:
        raise CuaError("--seeds must be at least 1")
    return list(range(seeds))


def _default_run_dir(suite: str) -> Path:
    return Path("runs") / f"{suite.replace('/', '_').replace(',', '+').replace(':', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"


def _stack(policy: Optional[str], planner: str, grounder: str, critic: str, max_steps: Optional[int],
           max_retries: int, critic_policy: str, critic_min_score: float, plugins: list[str]) -> Stack:
    """The stack the flags describe; a ``--plugin module:Class`` is the policy unless --policy says."""
    from cua.stack import PLANNER_POLICY, import_plugins

    classes = import_plugins(plugins)
    return Stack(policy=policy or (classes[-1] if classes else PLANNER_POLICY), planner=planner,
                 grounder=grounder, critic=critic, max_steps=max_steps, max_retries=max_retries,
                 critic_policy=critic_policy, critic_min_score=critic_min_score)


def _print_summary(report: Any, run_dir: Path) -> None:
    console.print(report.table())
    total = report.overall().as_dict()
    wilson = total["wilson_95"]
    interval = "n/a" if wilson is None else f"{wilson[0]:.1%}–{wilson[1]:.1%}"  # None: nothing scored
    console.print(f"overall success {total['successes']}/{total['scored']} = "
                  f"{(total['success_rate'] or 0):.1%} (95% CI {interval}); {total['needs_user']} needed the user, "
                  f"{total['agent_errors']} agent errors, {total['infra_errors']} infra errors, "
                  f"{total['grader_errors']} grader errors, {len(report.skipped)} tasks skipped", highlight=False)
    console.print(f"trajectories: {run_dir / 'episodes'}   results: {run_dir / 'results.json'}, "
                  f"{run_dir / 'results.md'}", highlight=False)


@app.command()
@friendly_errors
def run(
    suite: str = typer.Option("miniwob-cpu", "--suite", "-s", help="suite name, suite/task[,task...] "
                              "(see `cua tasks`), or osworld:PATH / webarena:PATH"),
    seeds: Seeds = 3,
    seed_list: SeedList = None,
    policy: PolicySpec = None,
    planner: PlannerSpec = "instructions",
    grounder: GrounderSpec = "a11y",
    critic: CriticSpec = "approve-all",
    max_steps: MaxSteps = None,
    max_retries: MaxRetries = 2,
    critic_policy: CriticPolicy = "veto-and-replan",
    critic_min_score: CriticMinScore = 0.0,
    out: Optional[Path] = typer.Option(None, help="run folder (default runs/<suite>-<time>); an existing one "
                                       "continues only with the same suite, tasks, seeds and stack"),
    plugin: Plugins = [],
    progress: ShowProgress = True,
) -> None:
    """Run an agent on a suite headless, in this process (`cua eval` with one in-process worker):
    trajectories and results go to the run folder; running it again on the folder resumes."""
    from cua.batch import run_batch

    stack = _stack(policy, planner, grounder, critic, max_steps, max_retries, critic_policy, critic_min_score,
                   plugin)
    suite_spec = _absolute_suite_spec(suite)
    run_dir = out or _default_run_dir(suite_spec)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = run_batch(suite_spec, stack, run_dir, _seed_list(seeds, seed_list), inline=True, console=console,
                       show_progress=progress, plugins=tuple(plugin))
    _print_summary(report, run_dir)


@app.command("eval")
@friendly_errors
def eval_command(
    suite: Optional[str] = typer.Option(None, "--suite", "-s",
                                        help="suite name, suite/task[,task...], or osworld:PATH / webarena:PATH"),
    workers: int = typer.Option(1, help="worker processes (or Ray actors), one env each"),
    ray: Optional[str] = typer.Option(None, "--ray", help="run on Ray: 'local' starts one here, else a cluster address"),
    seeds: Seeds = 3,
    seed_list: SeedList = None,
    policy: PolicySpec = None,
    planner: PlannerSpec = "instructions",
    grounder: GrounderSpec = "a11y",
    critic: CriticSpec = "approve-all",
    max_steps: MaxSteps = None,
    max_retries: MaxRetries = 2,
    critic_policy: CriticPolicy = "veto-and-replan",
    critic_min_score: CriticMinScore = 0.0,
    retries: int = typer.Option(2, help="re-runs of an episode after an infrastructure error (never after an agent failure)"),
    episode_timeout: Optional[float] = typer.Option(None, help="seconds an episode may run before its worker is killed (infra error)"),
    out: Optional[Path] = typer.Option(None, help="run folder (default runs/<suite>-<time>); an existing one "
                                       "continues only with the same suite, tasks, seeds and stack"),
    plugin: Plugins = [],
    resume: Optional[Path] = typer.Option(None, help="resume this run folder: its suite, seeds and stack, finished episodes kept"),
    audit: Optional[str] = typer.Option(None, "--audit", help="re-score every finished episode with a second grader, "
                                        "e.g. vlm:backend=http,path=URL,model=NAME; disagreements go to audit.md"),
    rescore: Optional[Path] = typer.Option(None, help="re-score a finished WebArena run folder offline "
                                           "(string_match, url_match, WebArena-Verified); writes rescore.json"),
    progress: ShowProgress = True,
) -> None:
    """Evaluate a stack on a suite with N workers (or Ray): resumable, retries infrastructure
    errors, a results table with 95% intervals per task, per domain and overall."""
    if rescore is not None:
        _rescore_webarena(rescore)
        return
    from cua.batch import run_batch
    from cua.stack import import_plugins

    if resume is not None:
        run_json = resume / "run.json"
        if not run_json.exists():
            raise CuaError(f"--resume {resume}: no run.json there (not a `cua eval` run folder)")
        asked = json.loads(run_json.read_text())
        if suite is not None and suite != asked["suite"]:
            raise CuaError(f"--resume {resume} is a run of {asked['suite']!r}, not {suite!r}")
        plugin = plugin or list(asked.get("plugins", []))
        import_plugins(plugin)
        spec = Stack.from_dict(asked["stack_spec"])
        suite_spec, seeds_, names, run_dir = asked["suite"], list(asked["seeds"]), list(asked["tasks"]), resume
    else:
        suite_spec = _absolute_suite_spec(suite or "miniwob-cpu")
        spec = _stack(policy, planner, grounder, critic, max_steps, max_retries, critic_policy, critic_min_score,
                      plugin)
        seeds_, names, run_dir = _seed_list(seeds, seed_list), None, out or _default_run_dir(suite_spec)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    report = run_batch(suite_spec, spec, run_dir, seeds_, workers=workers, task_names=names, ray_address=ray,
                       retries=retries, episode_timeout_s=episode_timeout, console=console, show_progress=progress,
                       plugins=tuple(plugin))
    _print_summary(report, run_dir)
    if audit:
        from cua.audit import audit_run

        audited = audit_run(run_dir, audit, console=console, show_progress=progress)
        console.print(audited.table())
        console.print(f"audit: {run_dir / 'audit.json'}, {run_dir / 'audit.md'}", highlight=False)


def _absolute_suite_spec(spec: str) -> str:
    """``webarena:tasks.json?x=1`` → the same with an absolute path, so run.json stays valid for
    ``--resume`` and ``--rescore`` from another working directory."""
    from cua.suites import SUITE_LOADERS

    scheme, colon, rest = spec.partition(":")
    if not colon or scheme not in SUITE_LOADERS:
        return spec
    path, mark, query = rest.partition("?")
    return f"{scheme}:{Path(path).expanduser().resolve()}{mark}{query}"


def _rescore_webarena(run_dir: Path) -> None:
    from cua.core.store import write_json
    from cua.webarena_suite import print_rescore, rescore_run

    report = rescore_run(run_dir)
    print_rescore(report, console)
    write_json(run_dir / "rescore.json", report)
    console.print(f"rescore: {run_dir / 'rescore.json'}", highlight=False)


@app.command()
@friendly_errors
def tasks(suite: Optional[str] = typer.Argument(None, help="a suite to list the tasks of")) -> None:
    """List the suites, or the tasks of one suite."""
    from cua.suites import SUITES, get_suite

    if suite is None:
        table = Table("suite", "tasks", "description")
        for s in SUITES.values():
            table.add_row(s.name, str(len(s.task_names())), s.description)
        console.print(table)
        return
    for name in get_suite(suite).task_names():
        console.print(f"{suite}/{name}", highlight=False)


@app.command()
@friendly_errors
def replay(
    episode: Path = typer.Argument(..., help="an episode folder (runs/<run>/episodes/<task>__seed<n>)"),
    threshold: float = typer.Option(0.02, help="mean pixel difference above which screens diverge"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
) -> None:
    """Re-execute a recorded trajectory in a fresh env and report where it diverges."""
    from cua.replay import replay_episode

    report = replay_episode(episode, screen_threshold=threshold)
    if as_json:
        print(json.dumps({
            "episode": str(report.episode), "task_id": report.task_id,
            "recorded_score": report.recorded_score, "replayed_score": report.replayed_score,
            "first_divergence": report.first_divergence.index if report.first_divergence else None,
            "steps": [vars(s) for s in report.steps]}, default=float))
    else:
        table = Table("step", "screen diff", "recorded reward", "replayed reward", "diverged",
                      title=f"replay of {report.task_id}")
        for s in report.steps:
            flag = ", ".join(k for k, v in (("screen", s.screen_diverged), ("reward", s.reward_diverged)) if v)
            table.add_row(str(s.index), f"{s.screen_diff:.4f}", f"{s.recorded_reward:.2f}",
                          f"{s.replayed_reward:.2f}", flag or "-")
        console.print(table)
        first = report.first_divergence
        console.print(f"score recorded {report.recorded_score} vs replayed {report.replayed_score}; "
                      + (f"first divergence at step {first.index}" if first else "no divergence"))
    if not report.score_matches or report.first_divergence is not None:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def serve(
    model: str = typer.Option(..., "--model", help="a local checkpoint folder (or a hub id where the hub is reachable)"),
    name: Optional[str] = typer.Option(None, help="the model id clients send (default: the folder name)"),
    host: str = typer.Option("127.0.0.1", help="bind address; loopback unless you mean to expose it"),
    port: int = typer.Option(8000, help="port"),
    device: str = typer.Option("cpu", help="cpu, cuda, or auto"),
    dtype: Optional[str] = typer.Option(None, help="float32, bfloat16, float16 (default: the checkpoint's)"),
    attn: Optional[str] = typer.Option(None, help="attention implementation, e.g. sdpa or flash_attention_2"),
) -> None:
    """Serve a local transformers VLM as an OpenAI-compatible /v1/chat/completions endpoint."""
    from grounding.backends.local import LocalChatModel
    from grounding.server import serve as run_server

    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]warning:[/] serving on {host}: anyone who can reach it can use the model")
    chat_model = LocalChatModel(model, device=device, dtype=dtype, attn_implementation=attn)
    served_name = name or Path(model.rstrip("/")).name
    console.print(f"serving {served_name} at http://{host}:{port}/v1/chat/completions")
    run_server(chat_model, served_name, host=host, port=port)


@app.command("critic-eval")
@friendly_errors
def critic_eval_command(
    critic: str = typer.Option("cpu", help="critic NAME[:k=v,...]"),
    runs: list[Path] = typer.Option([], "--runs", help="run folders of `cua run` to perturb (repeatable)"),
    gui_critic: Optional[Path] = typer.Option(None, help="a GUI-Critic-Test JSONL file"),
    image_root: Optional[Path] = typer.Option(None, help="where the GUI-Critic-Test images are"),
    seed: int = typer.Option(0, help="seed of the perturbations"),
    limit: Optional[int] = typer.Option(None, help="evaluate only the first N samples"),
    out: Optional[Path] = typer.Option(None, help="write the report (all predictions) as JSON"),
) -> None:
    """Offline critic accuracy on perturbed steps of recorded runs (near/far misses, wrong
    element, premature done, repeats, typing into nothing) or on GUI-Critic-Test."""
    from critic.base import CRITICS
    from critic.evaluation import critic_eval

    report = critic_eval(CRITICS.make(critic), runs=list(runs) or None, gui_critic=gui_critic,
                         image_root=image_root, seed=seed, limit=limit, out=out)
    console.print(report.table())
    if out:
        console.print(f"report: {out}")


def _register_grounding_commands() -> None:
    from grounding.eval_cli import ground_eval_command

    app.command("ground-eval", help="Score a grounder on a grounding benchmark folder "
                "(ScreenSpot-v2/Pro, OSWorld-G, MMBench-GUI, our JSON, sequential).")(
        friendly_errors(ground_eval_command))


def _register_synth_commands() -> None:
    from data_synth.commands import synth_export_command, synth_generate_command

    synth = typer.Typer(help="Synthetic verifiable web tasks: generate, verify, export.",
                        no_args_is_help=True)
    synth.command("generate")(friendly_errors(synth_generate_command))
    synth.command("export")(friendly_errors(synth_export_command))
    app.add_typer(synth, name="synth")


_register_grounding_commands()
_register_synth_commands()

from cua.cli_train import train_app  # noqa: E402  (after app exists)
app.add_typer(train_app, name="train")


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
