"""Success rates with confidence intervals, per task, per domain and overall.

An episode counts as *scored* when the agent had a fair try: success, failure, or an error
the agent caused. Infrastructure errors (after their retries) and grader errors (the task's
evaluator could not score it; never retried) are not scored: they are counted apart, as are
tasks the suite could not run (``Suite.skipped()``).

Two intervals per group, both 95 %:
  * ``wilson``: the Wilson score interval of successes / scored episodes;
  * ``seed_mean`` ± ``seed_ci``: the mean over seeds of each seed's success rate (over the
    group's tasks) with a Student-t interval, i.e. how much the score moves with the seed.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cua.core import EpisodeResult

Z_95 = 1.959963984540054


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval; None with no episodes (nothing to estimate)."""
    if n == 0:
        return None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _t_two_sided_mass(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer ``df`` (closed form, Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    c2, s = math.cos(theta) ** 2, math.sin(theta)
    if df % 2 == 1:
        term, total = math.cos(theta), 0.0
        for k in range(1, (df - 1) // 2 + 1):  # cos θ + 2/3 cos³θ + ... up to cos^(df-2) θ
            total += term
            term *= c2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + s * total)
    term, total = 1.0, 0.0
    for k in range(1, df // 2 + 1):  # 1 + 1/2 cos²θ + (1·3)/(2·4) cos⁴θ + ... up to cos^(df-2) θ
        total += term
        term *= c2 * (2 * k - 1) / (2 * k)
    return s * total


@functools.cache
def t_quantile_975(df: int) -> float:
    """t(0.975, df), exact to 1e-10 for every integer df ≥ 1 (bisection on the closed-form CDF)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    lo, hi = Z_95, 13.0  # t(0.975, 1) = 12.706 is the largest; the normal's is the limit
    while hi - lo > 1e-10:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_two_sided_mass(mid, df) < 0.95 else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values: list[float]) -> tuple[float, float | None]:
    """(mean, half-width of its 95 % t interval); with fewer than two values the spread is
    unknown, so the half-width is None (not 0: one seed says nothing about the seed's effect)."""
    if not values:
        return 0.0, None
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    return mean, t_quantile_975(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def is_infra(r: EpisodeResult) -> bool:
    return r.status == "error" and r.error_kind == "infra"


def is_grader(r: EpisodeResult) -> bool:
    """The task's grader could not score the episode (a metric raised, an unsupported task)."""
    return r.status == "error" and r.error_kind == "grader"


def is_scored(r: EpisodeResult) -> bool:
    """Counted in the success rate. An episode whose policy asked for a person (``needs_user``)
    counts as not solved: the agent did not finish the task on its own."""
    return r.status in ("success", "failure", "needs_user") or (r.status == "error" and not is_infra(r)
                                                                 and not is_grader(r))


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
        wilson = wilson_interval(successes, n)
        by_seed: dict[int | None, list[EpisodeResult]] = {}
        for r in scored:
            by_seed.setdefault(r.seed, []).append(r)
        seed_rates = [sum(r.status == "success" for r in rs) / len(rs) for rs in by_seed.values()]
        seed_mean, seed_ci = mean_ci(seed_rates)
        return {
            "name": self.name, "episodes": len(self.results), "scored": n, "successes": successes,
            "failures": sum(r.status == "failure" for r in scored),
            "needs_user": sum(r.status == "needs_user" for r in scored),
            "terminations": _count(r.termination or "?" for r in scored),
            "agent_errors": sum(r.status == "error" for r in scored),
            "infra_errors": sum(is_infra(r) for r in self.results),
            "grader_errors": sum(is_grader(r) for r in self.results),
            "other": sum(not is_scored(r) and not is_infra(r) and not is_grader(r)
                         for r in self.results),  # stopped, running
            "success_rate": round(successes / n, 4) if n else None,
            "wilson_95": None if wilson is None else [round(wilson[0], 4), round(wilson[1], 4)],
            "seeds": len(seed_rates), "seed_mean": round(seed_mean, 4),
            "seed_ci_95": None if seed_ci is None else round(seed_ci, 4),
            "mean_reward": round(statistics.fmean(r.reward for r in scored), 4) if n else None,
            "mean_steps": round(statistics.fmean(r.steps for r in scored), 2) if n else None,
        }


def _count(keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in keys:
        out[k] = out.get(k, 0) + 1
    return dict(sorted(out.items()))


def group(results: Iterable[EpisodeResult], key: Callable[[EpisodeResult], str]) -> list[GroupStats]:
    groups: dict[str, GroupStats] = {}
    for r in results:
        k = key(r)
        groups.setdefault(k, GroupStats(k)).results.append(r)
    return list(groups.values())


def overall(results: Iterable[EpisodeResult]) -> GroupStats:
    return GroupStats("overall", list(results))
