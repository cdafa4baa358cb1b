"""OSWorld's scoring, step for step as ``DesktopEnv.evaluate()`` in xlang-ai/OSWorld
``desktop_env/desktop_env.py`` (y786449628-ai/OSWorld-Microsoft snapshot, 2026-04):

1. run ``evaluator.postconfig`` setup steps;
2. ``func == "infeasible"``: 1 iff the agent's last action was FAIL, else 0;
   any other task whose last action was FAIL scores 0. FAIL here is ``Fail(by="agent")``, the
   policy's claim that the task cannot be done. ``Fail(by="runtime")`` (the runtime gave up for
   the policy, e.g. unreadable model output) is no such claim: it never scores an infeasible
   task, and any other task is scored by its metrics, as at the step budget (what
   ``OSWorldVMEnv`` gets by sending "DONE" for it);
3. one func: ``metric(result, expected, **options)`` (``expected`` left out when the evaluator has
   none); a FileNotFoundError from the result getter scores 0;
4. a list of funcs (``conj`` default "and"): "and" returns 0 at the first metric that is 0,
   else the mean of all; "or" returns 1 at the first metric that is 1, else the max.
   A FileNotFoundError from a result getter returns 0 under "and".

Where OSWorld crashes, this raises EvaluationError (OSWorld then writes no result for the
episode: an error, never a silent 0). Two places where OSWorld's code has no defined outcome are
made explicit: under "or" a result getter's FileNotFoundError counts that metric as 0 (OSWorld
reuses the previous metric's result or hits NameError), and a ``null`` entry in an ``expected``
list calls that metric without ``expected`` (OSWorld calls None and crashes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cua.core import Action, Fail
from envs.osworld.getters import Getter, GetterContext
from envs.osworld.metrics import Metric
from envs.osworld.task import (
    EvaluationError,
    GetterSpec,
    OSWorldTask,
    SetupStep,
    UnsupportedTaskError,
)


def _nth(value: Any, idx: int | None) -> Any:
    if idx is None:
        return value
    return value[idx] if isinstance(value, list) else None


def _get(spec: GetterSpec | None, ctx: GetterContext, getters: Mapping[str, Getter], what: str) -> Any:
    if spec is None:
        return None
    getter = getters.get(spec.type)
    if getter is None:
        raise UnsupportedTaskError(f"getter {spec.type!r} is not available here")
    try:
        return getter(ctx, spec.fields)
    except (FileNotFoundError, UnsupportedTaskError):
        raise
    except Exception as exc:
        raise EvaluationError(f"{what} getter {spec.type!r} failed: {type(exc).__name__}: {exc}") from exc


def _score(name: str, metric: Metric, result: Any, expected_spec: GetterSpec | None,
           options: dict[str, Any], ctx: GetterContext, getters: Mapping[str, Getter]) -> float:
    args = [result]
    if expected_spec is not None:
        args.append(_get(expected_spec, ctx, getters, "expected"))
    try:
        value = metric(*args, **options)
    except Exception as exc:
        raise EvaluationError(f"metric {name!r} failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(value, tuple):  # some OSWorld forks return (score, reason)
        value = value[0]
    return float(value)


def evaluate(
    task: OSWorldTask,
    ctx: GetterContext,
    actions: list[Action],
    run_postconfig: Callable[[list[SetupStep]], None],
    getters: Mapping[str, Getter],
    metrics: Mapping[str, Metric],
) -> float:
    ev = task.evaluator
    run_postconfig(ev.postconfig)
    last = actions[-1] if actions else None
    last_is_fail = isinstance(last, Fail) and last.by == "agent"
    if ev.func == "infeasible":
        return 1.0 if last_is_fail else 0.0
    if last_is_fail:
        return 0.0
    missing = [f for f in ev.funcs if f not in metrics]
    if missing:
        raise UnsupportedTaskError(f"metric {missing[0]!r} is not available here")

    if not isinstance(ev.func, list):
        try:
            result = _get(ev.result, ctx, getters, "result")  # type: ignore[arg-type]
        except FileNotFoundError:
            return 0.0
        return _score(ev.func, metrics[ev.func], result, ev.expected,  # type: ignore[arg-type]
                      ev.options or {}, ctx, getters)  # type: ignore[arg-type]

    scores: list[float] = []
    for idx, name in enumerate(ev.func):
        try:
            result = _get(_nth(ev.result, idx), ctx, getters, "result")
        except FileNotFoundError:
            if ev.conj == "and":
                return 0.0
            scores.append(0.0)
            continue
        options = _nth(ev.options, idx) or {}
        score = _score(name, metrics[name], result, _nth(ev.expected, idx), options, ctx, getters)
        if ev.conj == "and" and score == 0.0:
            return 0.0
        if ev.conj == "or" and score == 1.0:
            return 1.0
        scores.append(score)
    return sum(scores) / len(scores) if ev.conj == "and" else max(scores)
