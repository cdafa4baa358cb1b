"""Per-step overhead of our MiniWoBEnv against BrowserGym's env, same page, same run.

    .venv/bin/python bench/env_step.py [--steps 50] [--json out.json]

A step is one mouse click on blank space of the task area (the episode goes on) and the env's
full observation, no model. Ours: ``MiniWoBEnv.step(Click)`` = click, 50 ms settle, load-state
wait, WOB state reads, screenshot (PNG -> PIL), ARIA snapshot, elements (CDP DOM snapshot + AX
tree). BrowserGym: ``BrowserEnv.step("mouse_click(x, y)")`` = click, its pre_observation_delay
sleep, DOM-loaded waits, task validate (one evaluate of WOB_*), then its observation: bid
marking, DOM snapshot, merged AXTree, focused bid, extra properties, screenshot (CDP, PNG ->
numpy). Both on the system Chromium, same MiniWoB page and seed, viewport 330x240 CSS with
660x480 screenshots, slow_mo 0, default timeouts.

BrowserGym runs in ``.venv-bench`` (browsergym-core pins playwright 1.44; we need 1.65), made
here when missing, as a subprocess (``bench/_browsergym_peer.py``) taking one JSON command per
line and answering one JSON line; each side times its own env call. Steps are interleaved
round by round (order rotated) so load from other processes hits both sides alike.
BrowserGym's pre_observation_delay (0.5 s by default) is set to our settle time for the
headline ratio and also measured at its default. Memory, of each env alone after as many steps
as the timed run: PSS, USS and RSS (/proc/PID/smaps_rollup) of the Python process, its Playwright
driver and every browser process the env started (BrowserGym starts two: task and chat).
Exits non-zero on errors only, never for missing the target.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(ROOT), str(BENCH)]  # envs/ and the peer's /proc helpers, from anywhere

from _browsergym_peer import tree_memory  # noqa: E402 (stdlib only at module level)

from cua.core import Click  # noqa: E402
from envs.browser import LAUNCH_FLAGS  # noqa: E402
from envs.miniwob import HTML_DIR, MiniWoBEnv, make_task  # noqa: E402

BENCH_VENV = ROOT / ".venv-bench"
PEER = BENCH / "_browsergym_peer.py"
BROWSERGYM_SPEC = "browsergym-core==0.14.3"  # the peer uses 0.14's _bgym_scale_factor
BG_DEFAULT_DELAY_S = 0.5  # BrowserEnv's own pre_observation_delay default
TARGET_RATIO = 0.5
NO_DOWNLOAD = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
console = Console(stderr=True)


def stats(xs: list[float]) -> dict[str, float | int]:
    """Median, p90, mean and min in milliseconds."""
    p90 = statistics.quantiles(xs, n=10, method="inclusive")[8]
    return {
        "median_ms": round(statistics.median(xs) * 1000, 1), "p90_ms": round(p90 * 1000, 1),
        "mean_ms": round(statistics.fmean(xs) * 1000, 1), "min_ms": round(min(xs) * 1000, 1),
        "n": len(xs),
    }


def ensure_bench_venv() -> Path:
    """``.venv-bench`` with browsergym-core; made or repaired only when it cannot import it."""
    py = BENCH_VENV / "bin" / "python"
    check = [str(py), "-c", "import browsergym.core"]
    if py.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return py
    console.print(f"[bold]setting up {BENCH_VENV.name} with {BROWSERGYM_SPEC}…")
    if not py.exists():
        base = shutil.which("python3") or sys.executable
        subprocess.run([base, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", BROWSERGYM_SPEC], check=True,
                   env=NO_DOWNLOAD)
    subprocess.run(check, check=True)
    return py


class Peer:
    """BrowserGym in ``.venv-bench``: one JSON command per line in, one JSON answer out."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.proc = subprocess.Popen(
            [str(ensure_bench_venv()), str(PEER), json.dumps(cfg)], text=True, bufsize=1,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=NO_DOWNLOAD,
        )
        self.log: collections.deque[str] = collections.deque(maxlen=30)  # its stderr, for errors
        threading.Thread(target=self._drain, daemon=True).start()
        self.hello = self._recv()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip())

    def _recv(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # a stray print, not ours
            if isinstance(msg, dict):
                return msg
        self.proc.wait(timeout=10)
        time.sleep(0.2)  # let the stderr reader catch up
        tail = "\n".join(self.log)
        raise RuntimeError(f"BrowserGym peer exited with {self.proc.returncode}:\n{tail}")

    def call(self, cmd: str, **kw: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        return self._recv()

    def close(self) -> None:
        try:
            self.call("close")
            self.proc.wait(timeout=30)
        except (OSError, RuntimeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def ours_memory_alone(task: Any, action: Click, steps: int) -> dict[str, Any]:
    """A fresh MiniWoBEnv through reset and as many steps as the timed run, then /proc."""
    env = MiniWoBEnv()
    try:
        env.reset(task)
        for _ in range(steps):
            env.step(action)
        return tree_memory(os.getpid())
    finally:
        env.close()


def run(args: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """Resets, then warm-up and timed rounds of one step per side (rotated order)."""
    env = MiniWoBEnv()
    task = make_task(args.task, seed=args.seed)
    task.time_limit_s = 1e6  # no 10 s episode timeout (BrowserGym's miniwob tasks: 1e6 ms)
    settle_s, dsf = env.config.settle_ms / 1000, env.config.device_scale_factor
    x, y = args.click
    click = Click(x=x, y=y)
    bg_scale = args.bg_scale or dsf  # the click lands on the same CSS point on both sides
    cfg = {
        "html_dir": str(HTML_DIR), "task": args.task, "seed": args.seed,
        "viewport": list(env.config.viewport), "scale": bg_scale, "chromium": args.chromium,
        "flags": list(LAUNCH_FLAGS), "click": [x / dsf * bg_scale, y / dsf * bg_scale],
    }
    times: dict[str, list[float]] = {"ours": [], "bg_matched": [], "bg_default": []}
    resets: dict[str, list[float]] = {"ours": [], "bg": []}
    parts: dict[str, list[dict[str, float]]] = {"bg_matched": [], "bg_default": []}
    last: dict[str, Any] = {}  # the latest observation / answer of each side
    peer: Peer | None = None
    try:
        bar = progress.add_task("starting BrowserGym", total=None)
        peer = bg = Peer(cfg)

        def reset_ours() -> None:
            t0 = time.perf_counter()
            last["ours"] = env.reset(task)
            resets["ours"].append(time.perf_counter() - t0)

        def reset_bg() -> None:
            last["bg_reset"] = bg.call("reset")
            resets["bg"].append(last["bg_reset"]["s"])

        progress.update(bar, description="resets", total=args.resets, completed=0)
        for i in range(args.resets):
            for fn in (reset_ours, reset_bg)[:: 1 if i % 2 == 0 else -1]:
                fn()
            progress.advance(bar)
        hit = env.page.evaluate(
            "([x, y]) => document.elementFromPoint(x, y)?.tagName ?? null", [x / dsf, y / dsf]
        )
        if hit in (None, "BUTTON", "INPUT", "A", "SELECT", "TEXTAREA", "LABEL"):
            raise RuntimeError(f"--click {x:g} {y:g} lands on {hit}, not on blank space")

        def step_ours(keep: bool) -> None:
            t0 = time.perf_counter()
            result = env.step(click)
            dt = time.perf_counter() - t0
            if result.done or "skipped" in result.info:
                raise RuntimeError(f"the click at ({x:g}, {y:g}) ended our episode")
            last["ours"] = result.observation
            if keep:
                times["ours"].append(dt)

        def step_bg(key: str, delay: float) -> Callable[[bool], None]:
            def step(keep: bool) -> None:
                answer = last["bg_step"] = bg.call("step", delay=delay)
                if answer["error"] or answer["ended"]:
                    raise RuntimeError(f"BrowserGym step: {answer['error'] or 'episode ended'}")
                if keep:
                    times[key].append(answer["s"])
                    parts[key].append(answer["parts"])
            return step

        sides = [step_ours, step_bg("bg_matched", settle_s),
                 step_bg("bg_default", BG_DEFAULT_DELAY_S)]
        total = args.warmup + args.steps
        progress.update(bar, description="steps, 3 per round", total=total, completed=0)
        for i in range(total):
            for side in sides[i % 3:] + sides[: i % 3]:
                side(i >= args.warmup)
            progress.advance(bar)
        # Memory of each side alone (PSS splits pages shared with other browsers' processes):
        # BrowserGym after its steps with ours closed, then a fresh one of ours, peer gone.
        env.close()
        progress.update(bar, description="memory", total=None)
        mem_bg = bg.call("memory")
        peer = None
        bg.close()
        mem_ours = ours_memory_alone(task, click, total)
    finally:
        if peer is not None:
            peer.close()
        env.close()
    obs = last["ours"]
    return {
        "times_s": times, "resets_s": resets, "bg_parts_s": parts, "settle_s": settle_s,
        "memory": {"ours": mem_ours, "browsergym": mem_bg}, "peer": bg.hello,
        "ours": {"goal": obs.instruction, "screenshot": list(obs.screenshot.size),
                 "elements": len(obs.elements), "aria_chars": len(obs.accessibility or ""),
                 "playwright": version("playwright")},
        "browsergym": {"goal": last["bg_reset"]["goal"],
                       "screenshot": last["bg_reset"]["screenshot_shape"],
                       "axtree_nodes": last["bg_step"]["axtree_nodes"]},
    }


def summarise(raw: dict[str, Any]) -> dict[str, Any]:
    waits = {"ours": raw["settle_s"], "bg_matched": raw["settle_s"],
             "bg_default": BG_DEFAULT_DELAY_S}
    rows: dict[str, dict[str, Any]] = {}
    for key, xs in raw["times_s"].items():
        side = "ours" if key == "ours" else "bg"
        r = raw["resets_s"][side]
        rows[key] = {
            "fixed_wait_ms": waits[key] * 1000, **stats(xs),
            "reset_cold_s": round(r[0], 3),
            "reset_warm_median_s": round(statistics.median(r[1:]), 3) if len(r) > 1 else None,
            "memory": raw["memory"]["ours" if key == "ours" else "browsergym"],
        }
        rows[key]["median_minus_wait_ms"] = round(rows[key]["median_ms"] - waits[key] * 1000, 1)
        if key in raw["bg_parts_s"]:
            ps = raw["bg_parts_s"][key]
            rows[key]["parts_median_ms"] = {
                k: round(statistics.median(p[k] for p in ps) * 1000, 1) for k in ps[0]}

    def ratio(key: str, other: str) -> float:
        return round(float(rows["ours"][key]) / float(rows[other][key]), 3)

    mem = raw["memory"]
    return {"rows": rows, "target_ratio": TARGET_RATIO, "ratio": {
        "median": ratio("median_ms", "bg_matched"),
        "p90": ratio("p90_ms", "bg_matched"),
        "median_minus_wait": ratio("median_minus_wait_ms", "bg_matched"),
        "median_vs_bg_default_delay": ratio("median_ms", "bg_default"),
        "total_pss": round(mem["ours"]["total_pss_mb"] / mem["browsergym"]["total_pss_mb"], 3),
    }}


def print_report(summary: dict[str, Any], meta: dict[str, Any]) -> None:
    out = Console(width=max(Console().width, 120))
    rows = summary["rows"]
    times = Table(title=f"Step = one click + full observation, MiniWoB {meta['task']} "
                        f"(seed {meta['seed']}), {meta['steps']} steps after {meta['warmup']} "
                        "warm-up, interleaved")
    times.add_column("env", no_wrap=True)
    for col in ("fixed wait", "median", "p90", "median − wait", "reset cold", "reset warm"):
        times.add_column(col, justify="right", no_wrap=True)
    names = {"ours": "ours (MiniWoBEnv)", "bg_matched": "BrowserGym, same wait",
             "bg_default": "BrowserGym, its 0.5 s"}
    for key, r in rows.items():
        warm = "-" if r["reset_warm_median_s"] is None else f"{r['reset_warm_median_s']:.2f} s"
        times.add_row(
            names[key], f"{r['fixed_wait_ms']:.0f} ms", f"{r['median_ms']:.1f} ms",
            f"{r['p90_ms']:.1f} ms", f"{r['median_minus_wait_ms']:.1f} ms",
            f"{r['reset_cold_s']:.2f} s", warm,
        )
    out.print(times)
    mem = Table(title="Memory of one env alone after its steps, MB (PSS unless noted)")
    mem.add_column("env", no_wrap=True)
    for col in ("browsers", "browser", "Python", "driver", "total", "total USS", "total RSS"):
        mem.add_column(col, justify="right", no_wrap=True)
    for key in ("ours", "bg_matched"):
        m = rows[key]["memory"]
        procs = ", ".join(f"{b['name']} ({b['procs']} procs)" for b in m["browsers"])
        mem.add_row(names[key].split(",")[0], procs, f"{m['browser_pss_mb']:.0f}",
                    f"{m['python']['pss_mb']:.0f}", f"{m['driver']['pss_mb']:.0f}",
                    f"{m['total_pss_mb']:.0f}", f"{m['total_uss_mb']:.0f}",
                    f"{m['total_rss_mb']:.0f}")
    out.print(mem)
    rt = summary["ratio"]
    met = "[green]met[/]" if rt["median"] <= TARGET_RATIO else "[red]not met[/]"
    out.print(f"[bold]ours/BrowserGym step median (same wait): {rt['median']:.3f}×[/] "
              f"(target ≤ {TARGET_RATIO}: {met}); p90 {rt['p90']:.2f}×; "
              f"without the fixed waits {rt['median_minus_wait']:.2f}×; "
              f"vs BrowserGym's default delay {rt['median_vs_bg_default_delay']:.2f}×; "
              f"memory (total PSS) {rt['total_pss']:.2f}×")
    parts = summary["rows"]["bg_matched"]["parts_median_ms"]
    out.print("BrowserGym step parts, same wait (median ms): "
              + ", ".join(f"{k} {v}" for k, v in parts.items()))
    out.print(f"[dim]{meta['chromium_version']}; ours: playwright {meta['ours_playwright']}; "
              f"BrowserGym: browsergym-core {meta['browsergym_core']}, playwright "
              f"{meta['bg_playwright']}; {meta['cpus']} CPUs, load avg {meta['loadavg']}. "
              "BrowserGym's env launches a second Chromium for its chat page ('chat').[/]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=50, help="timed steps per env (default 50)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed rounds first (default 5)")
    ap.add_argument("--resets", type=int, default=3, help="timed resets per env; first is cold")
    ap.add_argument("--task", default="click-test", help="MiniWoB task (default click-test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--click", type=float, nargs=2, default=(280.0, 200.0), metavar=("X", "Y"),
                    help="screenshot pixels of blank space to click (default 280 200)")
    ap.add_argument("--bg-scale", type=float, default=None, metavar="F",
                    help="BrowserGym's screenshot scale (default: ours, 2 -> 660x480 px)")
    ap.add_argument("--chromium", default=os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium"))
    ap.add_argument("--json", type=Path, help="write the figures and raw timings here")
    args = ap.parse_args()
    if args.steps < 2 or args.warmup < 0 or args.resets < 1:
        ap.error("need --steps >= 2, --warmup >= 0, --resets >= 1")
    os.environ["CUA_CHROMIUM"] = args.chromium  # read by our BrowserConfig

    try:
        with Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            raw = run(args, progress)
    except Exception as e:  # noqa: BLE001 (one readable message, then a non-zero exit)
        console.print(f"[red]error:[/] {type(e).__name__}: {e}")
        return 1
    chromium = subprocess.run([args.chromium, "--version"], capture_output=True, text=True)
    meta = {
        "task": args.task, "seed": args.seed, "steps": args.steps, "warmup": args.warmup,
        "resets": args.resets, "click": list(args.click), "chromium": args.chromium,
        "chromium_version": chromium.stdout.strip(), "ours_playwright": raw["ours"]["playwright"],
        "browsergym_core": raw["peer"]["browsergym_core"],
        "bg_playwright": raw["peer"]["playwright"],
        "cpus": os.cpu_count(), "loadavg": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "machine": platform.platform(),
    }
    summary = summarise(raw)
    print_report(summary, meta)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, **summary, "raw": raw}, indent=1))
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
