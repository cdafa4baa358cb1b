"""Training wired to the synthetic engine: rows straight from a verified synthetic run, and the
online environment reward (``online_env``) that executes each grounded click in the task's live
page and takes the validator's verdict (the EvoCUA / WebFactory loop).

``grounding.train`` may not import ``data_synth``; this module (the cua layer) joins them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from cua.core import CuaError
from grounding.train.config import GRPOConfig, SFTConfig, TrainConfig
from grounding.train.data import Rows, from_dicts, limit, load_rows
from grounding.train.types import RewardFn, RewardSample

ONLINE_REWARD = "online_env"


class OnlineEnvReward:
    """A ``RewardFn``: the runtime's reading of each completion (``RewardSample.grounding``) is
    clicked in the live page of the row's task; unreadable answers score 0 without a click.
    Spec: ``online_env`` or ``online_env:mode=state`` (reward the state after the click alone)."""

    def __init__(self, spec: str = ONLINE_REWARD) -> None:
        from data_synth.online import OnlineClickReward

        options = _options(spec)
        unknown = set(options) - {"mode"}
        if unknown:
            raise CuaError(f"reward {spec!r}: unknown option(s) {', '.join(sorted(unknown))}; known: mode")
        self.reward = OnlineClickReward(options.get("mode", "finish"))  # type: ignore[arg-type]
        self.__name__ = ONLINE_REWARD

    def __call__(self, samples: Sequence[RewardSample]) -> list[float]:
        points = []
        for s in samples:
            g = s.grounding()
            points.append(g.point if g is not None else None)
        return self.reward.score(points, [s.meta for s in samples])

    def close(self) -> None:
        self.reward.close()


def _options(spec: str) -> dict[str, str]:
    name, _, rest = spec.partition(":")
    if name != ONLINE_REWARD:
        raise CuaError(f"not an online reward spec: {spec!r}")
    out = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            raise CuaError(f"reward {spec!r}: expected key=value, got {part!r}")
        out[key.strip()] = value.strip()
    return out


def make_online_reward(spec: str) -> RewardFn:
    return OnlineEnvReward(spec)


def training_rows(cfg: TrainConfig) -> Rows:
    """The config's rows; ``format: synth_run`` reads a verified synthetic run directly (the
    rows the online reward can replay: they carry their task id, seed and step)."""
    d = cfg.data
    if d.format != "synth_run":
        return load_rows(d.format, d.train, d.split, d.max_samples)
    from data_synth.online import online_rows

    run_dir = Path(d.train)
    if not (run_dir / "tasks").is_dir():
        raise CuaError(f"data.train: {run_dir} is not a synthetic run folder (no tasks/)")
    return limit(from_dicts(online_rows(run_dir, d.split, heldout=d.heldout)), d.max_samples)


def run_sft(cfg: SFTConfig, console: Console | None = None, **hooks: Any) -> dict[str, Any]:
    from grounding.train.sft import train_sft

    return train_sft(cfg, training_rows(cfg), console=console, **hooks)


def run_grpo(cfg: GRPOConfig, console: Console | None = None, **hooks: Any) -> dict[str, Any]:
    from grounding.train.grpo import build_rewards, train_grpo

    rows = training_rows(cfg)
    if any(r.name.split(":")[0] == ONLINE_REWARD for r in cfg.grpo.rewards) and not all("task_id" in r.meta for r in rows.rows):
        raise CuaError("the online_env reward replays synthetic tasks: use data.format: synth_run")
    rewards = build_rewards(cfg.grpo.rewards, {ONLINE_REWARD: make_online_reward})
    return train_grpo(cfg, rows, rewards, console=console, **hooks)
