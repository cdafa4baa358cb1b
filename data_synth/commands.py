"""``cua synth ...`` commands as plain typer-annotated functions (registered by ``cua.cli``).

    cua synth generate --out runs/synth --level easy --seeds 50 --workers 2
    cua synth export --run runs/synth --out data/synth --what grounding,hf,trajectories,rl
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from cua.core import CuaError, ModelSpace
from cua.core.codecs import CODECS
from data_synth.export import export_hf_grounding, export_rl, export_screenspot, export_trajectories
from data_synth.export.grounding import FORMATS
from data_synth.pipeline import run
from data_synth.spec import LEVELS
from data_synth.templates import task_names

EXPORTS = ("grounding", "hf", "trajectories", "rl")
SPACES = {"screenshot": ModelSpace.screenshot, "rel_1000": lambda w, h: ModelSpace.rel_1000(),
          "rel_1": lambda w, h: ModelSpace.rel_1(),
          "abs_resized": lambda w, h: ModelSpace.abs_resized(w, h, 28, 56 * 56, 12_845_056)}


def _csv(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def select_names(level: str | None, templates: str | None) -> list[str]:
    """Task names for a level (or all) narrowed to ``templates`` (``shop-cart,mail``: prefixes)."""
    if level is not None and level not in LEVELS:
        raise CuaError(f"--level must be one of {', '.join(LEVELS)}")
    names = task_names(level)  # type: ignore[arg-type]
    wanted = _csv(templates)
    if wanted:
        names = [n for n in names if any(n == w or n.startswith(w + "-") for w in wanted)]
    if not names:
        raise CuaError(f"no synthetic templates match {templates!r} at level {level or 'any'}")
    return names


def synth_generate_command(
    out: Path = typer.Option(Path("runs/synth"), "--out", help="run folder; an existing one resumes"),
    level: str | None = typer.Option(None, "--level", help="easy, medium or hard (default: all)"),
    templates: str | None = typer.Option(None, "--templates", help="family or template prefixes, e.g. shop,mail-reply"),
    seeds: int = typer.Option(10, "--seeds", help="seeds per template and level"),
    seed_start: int = typer.Option(0, "--seed-start", help="first seed"),
    workers: int = typer.Option(2, "--workers", help="worker processes, each with its own browser (0: in this process)"),
    ablations: int = typer.Option(2, "--ablations", help="state-changing steps left out, one run each (0: all)"),
    extra_targets: int = typer.Option(3, "--extra-targets", help="other controls described per screenshot"),
    progress: bool = typer.Option(True, help="show a progress bar"),
) -> None:
    """Generate synthetic web tasks and keep only those verified by execution."""
    if seeds < 1:
        raise CuaError("--seeds must be at least 1")
    console = Console()
    report = run(out, select_names(level, templates), range(seed_start, seed_start + seeds), workers=workers,
                 ablations=ablations, extra_targets=extra_targets, console=console, show_progress=progress)
    console.print(report.table())
    console.print(f"verified {report.verified}, discarded {report.discarded}"
                  f"{' (stopped; run again to resume)' if report.stopped else ''}; manifest: {out / 'manifest.json'}")
    if report.stopped:
        raise typer.Exit(130)


def synth_export_command(
    run_dir: Path = typer.Option(..., "--run", help="a run folder written by `cua synth generate`"),
    out: Path = typer.Option(..., "--out", help="export folder"),
    what: str = typer.Option(",".join(EXPORTS), "--what", help=f"comma list of: {', '.join(EXPORTS)}"),
    fmt: str = typer.Option("qwen2.5-vl", "--format", help=f"HF grounding format: {', '.join(FORMATS)}"),
    codec: str = typer.Option("pyautogui", "--codec", help=f"trajectory action codec: {', '.join(CODECS)}"),
    space: str = typer.Option("screenshot", "--space", help=f"trajectory coordinate space: {', '.join(SPACES)}"),
    max_images: int | None = typer.Option(None, "--max-images", help="screenshots kept per trajectory (latest)"),
    heldout: float = typer.Option(0.1, "--heldout", help="share of task ids held out for test"),
    heldout_templates: str | None = typer.Option(None, "--heldout-templates", help="templates only in test"),
) -> None:
    """Export a verified run: ScreenSpot-layout grounding data, a Hugging Face dataset (Qwen chat
    format), multi-turn trajectories and RL task specs, with a held-out split."""
    kinds = _csv(what)
    for k in kinds:
        if k not in EXPORTS:
            raise CuaError(f"unknown export {k!r}; choose from {', '.join(EXPORTS)}")
    if fmt not in FORMATS or codec not in CODECS or space not in SPACES:
        raise CuaError(f"--format one of {', '.join(FORMATS)}; --codec one of {', '.join(CODECS)}; "
                       f"--space one of {', '.join(SPACES)}")
    if not (run_dir / "tasks").is_dir():
        raise CuaError(f"{run_dir} is not a synthetic run folder (no tasks/)")
    held = tuple(_csv(heldout_templates))
    console = Console()
    if "grounding" in kinds:
        m = export_screenspot(run_dir, out, heldout, held)
        console.print(f"grounding: {m.get('samples_per_split', {})} samples → {out / 'grounding'}")
    if "hf" in kinds:
        try:
            path = export_hf_grounding(run_dir, out, FORMATS[fmt], heldout, held)
        except ImportError:
            raise CuaError("the hf export needs the `datasets` package (pip install datasets)") from None
        console.print(f"hf dataset ({fmt}) → {path}")
    if "trajectories" in kinds:
        m = export_trajectories(run_dir, out, codec, SPACES[space], max_images=max_images, heldout=heldout,
                                heldout_templates=held)  # type: ignore[arg-type]
        console.print(f"trajectories: {m['tasks_per_split']} episodes → {out / 'trajectories'}")
    if "rl" in kinds:
        m = export_rl(run_dir, out, heldout, held)
        console.print(f"rl specs: {m['tasks_per_split']} → {out / 'rl'}")
