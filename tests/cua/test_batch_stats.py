"""Success-rate intervals and the infra / agent split of the batch report (no browser)."""

from __future__ import annotations

import pytest

from cua.batch.errors import classify_error
from cua.stack import Stack
from cua.batch.stats import GroupStats, mean_ci, wilson_interval
from cua.core import CuaError, EpisodeResult


def test_wilson_interval_matches_published_values():
    # Wilson 95 % intervals as tabulated (e.g. Brown, Cai & DasGupta 2001; statsmodels proportion_confint)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-4)
    assert wilson_interval(0, 0) is None  # no episodes: nothing to estimate


def test_mean_ci_over_seeds_uses_student_t():
    mean, half = mean_ci([0.5, 1.0])
    assert mean == 0.75 and half == pytest.approx(12.706 * 0.35355 / 2 ** 0.5, rel=1e-3)
    assert mean_ci([0.4]) == (0.4, None)  # one seed: the spread is unknown, not 0


def test_errors_are_classified_by_their_type():
    assert classify_error("PageLoadError: http://x did not load") == "infra"
    assert classify_error("EnvError: browser crashed during step") == "infra"
    assert classify_error("StepTimeoutError: grounder took longer than 120 s") == "infra"
    assert classify_error("ModelServerError: the server did not answer") == "infra"
    assert classify_error("ActionParseError: not an action: 'rm -rf'") == "agent"
    assert classify_error("ZeroDivisionError: division by zero") == "agent"
    assert classify_error(None) == "agent"
    # The grader could not score it: neither the agent's failure nor flaky infrastructure.
    assert classify_error("EvaluationError: metric 'compare_table' failed: KeyError: 'rules'") == "grader"
    assert classify_error("UnsupportedTaskError: osworld/x: getter 'accessibility_tree' needs the OSWorld VM") == "grader"
    assert classify_error("SandboxPathError: vm_file path '/etc/passwd' is outside the sandbox home") == "grader"
    assert classify_error("JudgeError: fuzzy_match judge said neither correct nor incorrect") == "grader"


def test_grader_errors_are_counted_apart_and_not_scored():
    g = GroupStats("x", [_r("success", 0), _r("error", 1, "grader"), _r("error", 0, "agent")])
    d = g.as_dict()
    assert d["scored"] == 2 and d["grader_errors"] == 1 and d["agent_errors"] == 1
    assert d["infra_errors"] == 0 and d["other"] == 0 and d["success_rate"] == 0.5


def _r(status: str, seed: int, kind: str | None = None) -> EpisodeResult:
    return EpisodeResult(task_id="t/x", seed=seed, status=status, error_kind=kind,
                         reward=1.0 if status == "success" else 0.0)


def test_infra_errors_are_not_scored_and_agent_errors_are():
    g = GroupStats("x", [_r("success", 0), _r("failure", 1), _r("error", 0, "agent"),
                         _r("error", 1, "infra"), _r("success", 1)])
    d = g.as_dict()
    assert d["episodes"] == 5 and d["scored"] == 4 and d["successes"] == 2
    assert d["agent_errors"] == 1 and d["infra_errors"] == 1 and d["success_rate"] == 0.5
    assert d["seeds"] == 2 and d["seed_mean"] == 0.5  # seed 0: 1/2, seed 1: 1/2


def test_stack_spec_checks_names_without_building():
    Stack().validate()
    with pytest.raises(CuaError, match="unknown planner 'nosuch'"):
        Stack(planner="nosuch").validate()
    with pytest.raises(CuaError, match="unknown critic policy"):
        Stack(critic_policy="sometimes").validate()
