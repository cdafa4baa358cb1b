"""``cua ground-eval``: score a grounder on a grounding benchmark folder.

    cua ground-eval --bench screenspot-v2 --data data/ScreenSpot-v2 --grounder ocr --out runs/ssv2-ocr

Rerunning the same command resumes (samples already in ``--out`` are not grounded again).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from cua.core import CuaError
from grounding.base import GROUNDERS
from grounding.benchmarks import BENCHES, load_benchmark, read_sequential
from grounding.evaluation import RESULTS_JSON, RESULTS_MD, EvalReport, evaluate, evaluate_sequential

BENCH_CHOICES = (*BENCHES, "sequential")


def default_out(bench: str, grounder_spec: str) -> Path:
    """Stable per (bench, grounder), so running the same command again resumes."""
    safe = re.sub(r"[^\w.=-]+", "_", grounder_spec)
    return Path("runs") / "ground-eval" / f"{bench}__{safe}"


def parse_published(text: str | None) -> dict[str, float] | None:
    """``"screenspot-v2=91.7,screenspot-pro=39.5"`` → ``{"screenspot-v2": 91.7, ...}``."""
    if not text:
        return None
    scores: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        bench, _, value = part.partition("=")
        try:
            score = float(value)
        except ValueError:
            score = math.nan
        if not bench.strip() or not math.isfinite(score):
            raise CuaError(f"bad published score {part!r}: expected bench=percent, e.g. screenspot-v2=91.7")
        scores[bench.strip()] = score
    return scores


def run_ground_eval(
    bench: str, data: Path, grounder_spec: str, out: Path, limit: int | None,
    published: dict[str, float] | None, *, batch_size: int = 1, resume: bool = True,
    progress: bool = True, console: Console | None = None,
) -> EvalReport:
    """Read the benchmark (errors surface before a model is loaded), build the grounder, score."""
    if bench not in BENCH_CHOICES:
        raise CuaError(f"unknown benchmark {bench!r}; choose one of {', '.join(BENCH_CHOICES)}")
    data = Path(data)
    if not data.exists():
        raise CuaError(f"the {bench} data folder {data} does not exist")
    if limit is not None and limit < 1:
        raise CuaError(f"--limit must be at least 1, got {limit}")
    if bench == "sequential":
        tasks, skipped = read_sequential(data)
        grounder = GROUNDERS.make(grounder_spec)
        return evaluate_sequential(
            grounder, tasks[:limit], out, resume=resume, progress=progress, published=published,
            skipped=skipped, console=console,
        )
    benchmark = load_benchmark(bench, data)
    if not benchmark.samples:
        raise CuaError(f"{data} holds no usable {bench} samples ({len(benchmark.skipped)} skipped)")
    grounder = GROUNDERS.make(grounder_spec)
    return evaluate(
        grounder, benchmark.samples[:limit], out, batch_size=batch_size, resume=resume,
        progress=progress, bench=bench, published=published, skipped=benchmark.skipped,
        console=console,
    )


def ground_eval_command(
    bench: str = typer.Option(..., "--bench", help=f"one of: {', '.join(BENCH_CHOICES)}"),
    data: Path = typer.Option(..., "--data", help="the benchmark folder in its official layout"),
    grounder: str = typer.Option("ocr", "--grounder", help="grounder NAME[:k=v,...]"),
    out: Optional[Path] = typer.Option(
        None, "--out", help="results folder (default runs/ground-eval/<bench>__<grounder>); an existing one resumes"),
    limit: Optional[int] = typer.Option(None, "--limit", help="score only the first N samples (tasks)"),
    batch_size: int = typer.Option(1, "--batch-size", help="images per grounder call"),
    published: Optional[str] = typer.Option(
        None, "--published", help="published scores to show beside ours, e.g. screenspot-v2=91.7"),
    fresh: bool = typer.Option(False, "--fresh", help="discard earlier results in --out instead of resuming"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Score a grounder on ScreenSpot-v2 / -Pro, OSWorld-G, MMBench-GUI L2, a ScreenSpot-style
    JSON, or sequential multi-step tasks; results as JSON and Markdown in the output folder."""
    console = Console()
    out_dir = out or default_out(bench, grounder)
    report = run_ground_eval(
        bench, data, grounder, out_dir, limit, parse_published(published), batch_size=batch_size,
        resume=not fresh, progress=progress, console=console,
    )
    console.print(report.table())
    console.print(f"{report.bench}: {report.overall.correct}/{report.overall.n} {report.unit} correct"
                  f" = {report.accuracy_pct:.1f}%  ({report.errors} errors, {len(report.skipped)} skipped,"
                  f" {report.resumed} resumed)")
    console.print(f"results: {out_dir / RESULTS_JSON}, {out_dir / RESULTS_MD}")
