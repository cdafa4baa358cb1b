"""Metrics of a training run: one JSON line per logged step in ``<output_dir>/metrics.jsonl``,
a short line on the console, and TensorBoard / W&B through accelerate's trackers when asked
for (and installed: asking for a missing one is an error, not a silent no-op)."""

from __future__ import annotations

import importlib.util
import json
import math
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from cua.core import CuaError
from grounding.train.config import LoggingSection

METRICS_FILE = "metrics.jsonl"


def trackers(cfg: LoggingSection) -> list[str]:
    """Accelerate tracker names for ``log_with``; errors name a missing package."""
    wanted = [name for name, on in (("tensorboard", cfg.tensorboard), ("wandb", cfg.wandb)) if on]
    for name in wanted:
        if importlib.util.find_spec(name) is None:
            raise CuaError(f"logging.{name} is on but the {name} package is not installed (pip install {name})")
    return wanted


class MetricsLog:
    def __init__(self, out_dir: Path, accelerator: Any, cfg: LoggingSection, console: Console | None,
                 resume: bool) -> None:
        self.path = Path(out_dir) / METRICS_FILE
        self.accelerator, self.cfg, self.console = accelerator, cfg, console
        self.main = accelerator.is_main_process
        if self.main and not resume:
            self.path.unlink(missing_ok=True)
        self.start = time.time()

    def log(self, step: int, values: dict[str, Any], kind: str = "train", force: bool = False) -> None:
        if not self.main or not (force or step % self.cfg.every == 0):
            return
        clean = {k: _plain(v) for k, v in values.items()}
        record = {"kind": kind, "step": step, "time_s": round(time.time() - self.start, 3), **clean}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        numeric = {f"{kind}/{k}": v for k, v in clean.items() if isinstance(v, (int, float))}
        if self.accelerator.trackers:
            self.accelerator.log(numeric, step=step)
        if self.console is not None:
            shown = " ".join(f"{k}={_short(v)}" for k, v in clean.items() if isinstance(v, (int, float)))
            self.console.print(f"[dim]{kind}[/] step {step}: {shown}", highlight=False)


def _plain(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _short(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def read_metrics(out_dir: Path) -> list[dict[str, Any]]:
    path = Path(out_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
