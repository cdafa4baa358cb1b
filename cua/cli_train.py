"""``cua train sft|grpo --config FILE``: fine-tune a grounding model (see configs/train/).

Runs on one device as is, and on several under ``accelerate launch`` with a config from
configs/accelerate/ (DDP, DeepSpeed ZeRO-2/3, FSDP)::

    accelerate launch --config_file configs/accelerate/zero3.yaml -m cua.cli train sft --config FILE
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from cua.core import CuaError

train_app = typer.Typer(add_completion=False, no_args_is_help=True,
                        help="Fine-tune grounding models: SFT (full / LoRA / QLoRA) and GRPO.")
console = Console()
err_console = Console(stderr=True)


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CuaError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
    return wrapper


def _overrides(resume: bool, max_steps: Optional[int], output_dir: Optional[Path]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if resume:
        out["checkpoint.resume"] = True
    if max_steps is not None:
        out["optim.max_steps"] = max_steps
    if output_dir is not None:
        out["output_dir"] = str(output_dir)
    return out


def _report(summary: dict[str, Any]) -> None:
    table = Table(title=f"cua train {summary['method']}")
    table.add_column("")
    table.add_column("")
    for key in ("steps", "samples_seen", "duration_s", "rows", "skipped", "generation", "final_eval", "resumed_from",
                "model_dir"):
        value = summary.get(key)
        table.add_row(key, json.dumps(value) if isinstance(value, (dict, list)) else str(value))
    console.print(table)
    console.print_json(json.dumps(summary, default=str))


CONFIG = typer.Option(..., "--config", "-c", help="training config, YAML or JSON (see configs/train/)")
RESUME = typer.Option(False, "--resume", help="continue from the newest checkpoint in output_dir")
MAX_STEPS = typer.Option(None, "--max-steps", help="override optim.max_steps")
OUTPUT = typer.Option(None, "--output-dir", help="override output_dir")


@train_app.command("sft")
@_friendly
def sft_command(config: Path = CONFIG, resume: bool = RESUME, max_steps: Optional[int] = MAX_STEPS,
                output_dir: Optional[Path] = OUTPUT) -> None:
    """Supervised fine-tuning on ScreenSpot-layout, HF or synthetic-run grounding data."""
    from cua.training import run_sft
    from grounding.train.config import SFTConfig, load_config

    cfg = load_config(config, SFTConfig, _overrides(resume, max_steps, output_dir))
    _report(run_sft(cfg, console))  # type: ignore[arg-type]


@train_app.command("grpo")
@_friendly
def grpo_command(config: Path = CONFIG, resume: bool = RESUME, max_steps: Optional[int] = MAX_STEPS,
                 output_dir: Optional[Path] = OUTPUT) -> None:
    """GRPO with verifiable grounding rewards and the online environment reward (online_env)."""
    from cua.training import run_grpo
    from grounding.train.config import GRPOConfig, load_config

    cfg = load_config(config, GRPOConfig, _overrides(resume, max_steps, output_dir))
    _report(run_grpo(cfg, console))  # type: ignore[arg-type]
