"""Success rates with confidence intervals, per task, per domain and overall.

An episode counts as *scored* when the agent had a fair try: success, failure, or an error
the agent caused. Infrastructure errors (after their retries) are not scored: they are counted
apart, as are tasks the suite could not run (``Suite.skipped()``).

Two intervals per group, both 95 %:
  * ``wilson``: the Wilson score interval of successes / scored episodes;
  * ``seed_mean`` ± ``seed_ci``: the mean over seeds of each seed's success rate (over the
    group's tasks) with a Student-t interval, i.e. how much the score moves with the seed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cua.core import EpisodeResult

Z_95 = 1.959963984540054
# Two-sided 95 % Student-t quantiles t(0.975, df) for df = 1..30; beyond, the normal's.
_T_975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
          2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
          2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def t_quantile_975(df: int) -> float:
    return _T_975[df - 1] if df <= len(_T_975) else Z_95


def mean_ci(values: list[float]) -> tuple[float, float]:
    """(mean, half-width of its 95 % t interval); one value has no spread: half-width 0."""
    if not values:
        return 0.0, 0.0
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, t_quantile_975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def is_infra(r: EpisodeResult) -> bool:
    return r.status == "error" and r.error_kind == "infra"


def is_scored(r: EpisodeResult) -> bool:
    return r.status in ("success", "failure") or (r.status == "error" and not is_infra(r))


@dataclass
class GroupStats:
    name: str
    results: list[EpisodeResult] = field(default_factory=list)

    @property
    def scored(self) -> list[EpisodeResult]:
        return [r for r in self.results if is_scored(r)]

    def as_dict(self) -> dict[str, object]:
        scored = self.scored
        n = len(scored)
        successes = sum(r.status == "success" for r in scored)
        lo, hi = wilson_interval(successes, n)
        by_seed: dict[int | None, list[EpisodeResult]] = {}
        for r in scored:
            by_seed.setdefault(r.seed, []).append(r)
        seed_rates = [sum(r.status == "success" for r in rs) / len(rs) for rs in by_seed.values()]
        seed_mean, seed_ci = mean_ci(seed_rates)
        return {
            "name": self.name, "episodes": len(self.results), "scored": n, "successes": successes,
            "failures": sum(r.status == "failure" for r in scored),
            "agent_errors": sum(r.status == "error" for r in scored),
            "infra_errors": sum(is_infra(r) for r in self.results),
            "other": sum(not is_scored(r) and not is_infra(r) for r in self.results),  # stopped, running
            "success_rate": round(successes / n, 4) if n else None,
            "wilson_95": [round(lo, 4), round(hi, 4)],
            "seeds": len(seed_rates), "seed_mean": round(seed_mean, 4), "seed_ci_95": round(seed_ci, 4),
            "mean_reward": round(statistics.fmean(r.reward for r in scored), 4) if n else None,
            "mean_steps": round(statistics.fmean(r.steps for r in scored), 2) if n else None,
        }


def group(results: Iterable[EpisodeResult], key: Callable[[EpisodeResult], str]) -> list[GroupStats]:
    groups: dict[str, GroupStats] = {}
    for r in results:
        k = key(r)
        groups.setdefault(k, GroupStats(k)).results.append(r)
    return list(groups.values())


def overall(results: Iterable[EpisodeResult]) -> GroupStats:
    return GroupStats("overall", list(results))
