"""Online environment reward: a grounded click executed in a synthetic task's live page, scored
by the task's own validator (the EvoCUA / WebFactory loop; shared/reference/anchors-critic-synth.md
B1, B2).

``online_rows`` turns a verified run into one row per plan-target grounding sample; its
``meta`` carries what rebuilds the state (task id, seed, verified digest, the step and the
recorded reference actions). ``OnlineClickReward`` keeps ONE ``SyntheticEnv`` and, for every
candidate point: resets the task (rebuilt from id and seed), replays the reference actions
before the step, clicks the point, then either

* ``finish``: replays the remaining reference actions and returns the validator's verdict, or
* ``state``: compares the app right after the click with the app right after the reference
  click (cached per task and step) and returns 1 when they match.

What makes the verdict fair:
  - the task must regenerate byte for byte (its digest is checked against the verified run);
  - the replayed prefix must reach the recorded page: the reference point must still land on
    the target element (``data-sid``) before the candidate clicks, else the env is at fault
    and EnvError is raised instead of a silent 0;
  - every action waits for the app to be still (as the verified run did), so timing never
    decides a verdict;
  - the remaining reference actions are coordinate clicks recorded on the reference layout: a
    wrong click that changes the layout makes them miss, which is the point, while a click on
    another spot of the right element leaves them valid;
  - ``state`` compares the app state plus the focused element; a reference click that changes
    neither cannot tell right from wrong, so such steps are scored as in ``finish`` (counted
    in ``stats.state_fallbacks``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from cua.core import (
    ACTION_ADAPTER,
    TERMINAL_ACTIONS,
    Action,
    Click,
    CuaError,
    DoubleClick,
    EnvError,
    Point,
    with_point,
)
from data_synth.env import SyntheticEnv, task_from_synth
from data_synth.export.records import verified_tasks
from data_synth.page import PageUnstableError, task_digest, wait_stable
from data_synth.spec import SynthTask
from data_synth.templates import generate

Mode = Literal["finish", "state"]

# What a click can change that the validator could later care about: the app's state and
# which element holds the focus (a click into a field changes only that).
_SNAPSHOT_JS = """() => {
  const focus = document.activeElement && document.activeElement.closest('[data-sid]');
  return {state: JSON.parse(JSON.stringify(window.__app.state)), focus: focus ? focus.dataset.sid : null};
}"""
# The data-sid of the element under a CSS point (the check that the replay reached the
# recorded page).
_SID_AT_JS = """([x, y]) => {
  const el = document.elementFromPoint(x, y);
  const owner = el && el.closest('[data-sid]');
  return owner ? owner.dataset.sid : null;
}"""


def _step_of(screenshot: str) -> int:
    """``episode/step_0003.png`` → 3 (the index of the step that screenshot was taken before)."""
    stem = Path(screenshot).stem
    prefix, _, number = stem.partition("_")
    if prefix != "step" or not number.isdigit():
        raise CuaError(f"unexpected screenshot name {screenshot!r} (expected step_NNNN.png)")
    return int(number)


def online_rows(run_dir: Path, split: str = "train", heldout: float = 0.1,
                heldout_templates: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """One row per plan-target grounding sample of a verified run's ``split``: ``image`` (the
    screenshot's path), ``instruction``, ``box`` [x1, y1, x2, y2] and ``image_size`` [w, h] in
    screenshot pixels, and ``meta`` (JSON-able; ``actions`` is a JSON string so a datasets
    column of mixed action kinds stays one string)."""
    if split not in ("train", "test"):
        raise CuaError(f"unknown split {split!r}; known: train, test")
    rows: list[dict[str, Any]] = []
    for t in verified_tasks(Path(run_dir), heldout, heldout_templates):
        if t.split != split:
            continue
        actions = [s.action for s in t.steps()]
        task = t.task()
        for s in t.samples():
            if not s.plan_target:
                continue
            step = _step_of(s.screenshot)
            reference = actions[step] if step < len(actions) else None
            if not isinstance(reference, (Click, DoubleClick)):
                continue  # only grounded clicks are samples; anything else is a broken record
            w, h = s.image_size
            box = [max(0.0, s.box.x1), max(0.0, s.box.y1), min(float(w), s.box.x2), min(float(h), s.box.y2)]
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            rows.append({
                "image": str(t.folder / s.screenshot), "instruction": s.instruction, "box": box,
                "image_size": [w, h],
                "meta": {
                    "task_id": s.task_id, "seed": t.outcome.seed, "step": step, "name": t.name,
                    "digest": t.outcome.digest or task.get("digest"), "sid": s.sid, "kind": s.kind,
                    "perspective": s.perspective, "data_type": s.data_type, "split": t.split,
                    "reference": reference.model_dump(mode="json"),
                    "actions": json.dumps([a.model_dump(mode="json") if a else None for a in actions]),
                },
            })
    return rows


@dataclass
class OnlineStats:
    """What the reward has done so far, for the trainer's logs."""

    rollouts: int = 0  # candidate points scored in the env (None points are not rollouts)
    seconds: float = 0.0  # wall time inside the env
    launches: int = 0  # browsers started (1 while the env is healthy)
    restarts: int = 0  # crashes recovered from
    reference_rollouts: int = 0  # rollouts spent finding reference states (mode "state")
    state_fallbacks: int = 0  # steps scored as "finish" because their click changes nothing
    broken_pages: int = 0  # candidate clicks after which the page raised or never settled

    @property
    def rollouts_per_s(self) -> float:
        return self.rollouts / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "rollouts_per_s": round(self.rollouts_per_s, 3)}


@dataclass(frozen=True)
class _Episode:
    """A verified task ready to replay: the regenerated task and its reference actions."""

    synth: SynthTask
    actions: tuple[Action | None, ...]
    step: int
    sid: str | None

    @property
    def reference(self) -> Action:
        action = self.actions[self.step]
        assert action is not None
        return action


class _BrokenPage(Exception):
    """The candidate's click left the page raising or never still: the candidate's fault."""


class OnlineClickReward:
    """Scores candidate click points by executing them in the task's live page (one browser,
    reused across calls; call ``close()`` or use it as a context manager). Bound to the thread
    that first calls ``score`` (Playwright's sync API)."""

    def __init__(self, mode: Mode = "finish", *, stable_timeout_s: float = 5.0,
                 env_factory: Callable[[], SyntheticEnv] | None = None) -> None:
        if mode not in ("finish", "state"):
            raise CuaError(f"unknown online reward mode {mode!r}; known: finish, state")
        self.mode: Mode = mode
        self.stable_timeout_s = stable_timeout_s
        self._factory = env_factory or (lambda: SyntheticEnv(stable_timeout_s=stable_timeout_s))
        self._env: SyntheticEnv | None = None
        self._synths: dict[tuple[str, int | None], tuple[SynthTask, str]] = {}  # with its digest
        self._references: dict[tuple[str, int | None, int], dict[str, Any] | None] = {}
        self.stats = OnlineStats()

    # ---- public -------------------------------------------------------------------------

    @property
    def env(self) -> SyntheticEnv:
        """The one env (started on first use)."""
        if self._env is None:
            self._env = self._factory()
            self.stats.launches += 1
        return self._env

    def score(self, points: Sequence[Point | None], metas: Sequence[Mapping[str, Any]]) -> list[float]:
        """One reward per point (screenshot pixels of the row's image); None scores 0 without
        touching the env."""
        if len(points) != len(metas):
            raise CuaError(f"online reward: {len(points)} points for {len(metas)} rows")
        out: list[float] = []
        for point, meta in zip(points, metas):
            if point is None:
                out.append(0.0)
                continue
            episode = self._episode(meta)
            started = time.perf_counter()
            try:
                out.append(self._with_retry(episode, lambda ep=episode, p=point: self._score_one(ep, p)))
            finally:
                self.stats.seconds += time.perf_counter() - started
            self.stats.rollouts += 1
        return out

    def close(self) -> None:
        if self._env is not None:
            env, self._env = self._env, None
            env.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # ---- rows → episodes ----------------------------------------------------------------

    def _episode(self, meta: Mapping[str, Any]) -> _Episode:
        try:
            task_id, step = str(meta["task_id"]), int(meta["step"])
            seed = None if meta.get("seed") is None else int(meta["seed"])
            raw = meta["actions"]
        except (KeyError, TypeError, ValueError) as e:
            raise CuaError(f"online reward: a row's meta needs task_id, seed, step and actions ({e!r})") from None
        key = (task_id, seed)
        if key not in self._synths:
            synth = generate(task_id, seed)
            self._synths[key] = (synth, task_digest(synth))
        synth, digest = self._synths[key]
        if meta.get("digest") and meta["digest"] != digest:
            raise CuaError(f"{task_id} no longer regenerates as verified (digest differs): "
                           "the generator changed since the run; verify the run again")
        try:
            items = json.loads(raw) if isinstance(raw, str) else list(raw)
            actions = tuple(None if a is None else ACTION_ADAPTER.validate_python(a) for a in items)
        except ValueError as e:
            raise CuaError(f"{task_id}: unreadable reference actions in the row's meta: {e}") from None
        if not 0 <= step < len(actions) or not isinstance(actions[step], (Click, DoubleClick)):
            raise CuaError(f"{task_id}: step {step} is not a recorded click of the reference episode")
        sid = meta.get("sid")
        return _Episode(synth, actions, step, str(sid) if sid else None)

    # ---- rollouts -----------------------------------------------------------------------

    def _with_retry(self, episode: _Episode, rollout: Callable[[], float]) -> float:
        """A crash (or any env failure) restarts the browser and retries once."""
        try:
            return rollout()
        except EnvError as first:
            self.stats.restarts += 1
            self._restart()
            try:
                return rollout()
            except EnvError as second:
                raise EnvError(f"online reward: {episode.synth.id} step {episode.step} failed twice "
                               f"({first}; then {second})") from second

    def _restart(self) -> None:
        env, self._env = self._env, None
        if env is not None:
            with contextlib.suppress(Exception):  # a dead browser may fail to close; a new one follows
                env.close()

    def _score_one(self, episode: _Episode, point: Point) -> float:
        if self.mode == "finish":
            return self._finish(episode, point)
        reference = self._reference_state(episode)
        if reference is None:
            self.stats.state_fallbacks += 1
            return self._finish(episode, point)
        try:
            self._prefix(episode)
            self._click(episode, point)
            return 1.0 if self._snapshot() == reference else 0.0
        except _BrokenPage:
            self.stats.broken_pages += 1
            return 0.0

    def _finish(self, episode: _Episode, point: Point) -> float:
        self._prefix(episode)
        try:
            self._click(episode, point)
            for action in episode.actions[episode.step + 1:]:
                self._act(action, candidate=True)
        except _BrokenPage:
            self.stats.broken_pages += 1
            return 0.0
        return self.env.evaluate()

    def _reference_state(self, episode: _Episode) -> dict[str, Any] | None:
        """The app right after the reference click; None when that click changes nothing the
        snapshot sees (then ``state`` cannot tell a miss from a hit)."""
        key = (episode.synth.id, episode.synth.seed, episode.step)
        if key not in self._references:
            self.stats.reference_rollouts += 1
            self._prefix(episode)
            before = self._snapshot()
            ref = episode.reference
            try:
                self._click(episode, Point(x=ref.x, y=ref.y))  # type: ignore[union-attr]
            except _BrokenPage as e:
                raise EnvError(f"{episode.synth.id}: the reference click of step {episode.step} broke the page") from e
            after = self._snapshot()
            self._references[key] = None if after == before else after
        return self._references[key]

    def _prefix(self, episode: _Episode) -> None:
        """Reset the task and replay the reference actions before the step; check that the
        reference point still lands on the target."""
        env = self.env
        with env.observing("none"):
            env.reset(task_from_synth(episode.synth))
        for action in episode.actions[:episode.step]:
            self._act(action, candidate=False)
        ref = episode.reference
        if episode.sid is not None:
            dsf = env.config.device_scale_factor
            found = env.page.evaluate(_SID_AT_JS, [ref.x / dsf, ref.y / dsf])  # type: ignore[union-attr]
            if found != episode.sid:
                raise EnvError(f"{episode.synth.id}: replaying the reference actions did not reach step "
                               f"{episode.step}'s page (the reference point hits {found!r}, not {episode.sid!r})")

    def _click(self, episode: _Episode, point: Point) -> None:
        """The candidate's click, of the reference's kind (a double click stays one)."""
        self._act(with_point(episode.reference, point.x, point.y), candidate=True)

    def _act(self, action: Action | None, candidate: bool) -> None:
        if action is None or isinstance(action, TERMINAL_ACTIONS):
            return
        env = self.env
        with env.observing("none"):
            env.step(action)
        try:
            wait_stable(env.page, self.stable_timeout_s)
        except PageUnstableError as e:
            if candidate:
                raise _BrokenPage(str(e)) from e
            raise  # the reference replay itself is unstable: an env problem

    def _snapshot(self) -> dict[str, Any]:
        return dict(self.env.page.evaluate(_SNAPSHOT_JS))


def check_run(run_dir: Path, mode: Mode = "finish", split: str = "train", limit: int | None = None,
              heldout: float = 0.1) -> dict[str, Any]:
    """Score each clicked step's box centre (should pass) and the screenshot's bottom-right
    corner (should fail) in the live env: how far the env's verdict agrees with the boxes, and
    how fast rollouts are. Prints a table; returns the summary as JSON-able data."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    steps: dict[tuple[str, int], dict[str, Any]] = {}
    for row in online_rows(run_dir, split, heldout):
        steps.setdefault((row["meta"]["task_id"], row["meta"]["step"]), row)
    chosen = list(steps.values())[:limit]
    table = Table("task", "step", "target", "centre", "corner")
    results: list[dict[str, Any]] = []
    with OnlineClickReward(mode) as reward, Progress(transient=True) as progress:
        bar = progress.add_task(f"online reward ({mode})", total=len(chosen))
        for row in chosen:
            x1, y1, x2, y2 = row["box"]
            w, h = row["image_size"]
            c, k = reward.score([Point(x=(x1 + x2) / 2, y=(y1 + y2) / 2), Point(x=w - 3, y=h - 3)],
                                [row["meta"]] * 2)
            m = row["meta"]
            results.append({"task_id": m["task_id"], "step": m["step"], "sid": m["sid"], "centre": c, "corner": k})
            table.add_row(m["name"], str(m["step"]), m["sid"], f"{c:g}", f"{k:g}")
            progress.advance(bar)
        stats = reward.stats.as_dict()
    n = len(results)
    summary = {"mode": mode, "split": split, "steps": n,
               "centre_passes": sum(r["centre"] == 1.0 for r in results) / n if n else 0.0,
               "corner_fails": sum(r["corner"] == 0.0 for r in results) / n if n else 0.0,
               "stats": stats, "results": results}
    console = Console()
    console.print(table)
    console.print(f"centre passes {summary['centre_passes']:.0%}, corner fails {summary['corner_fails']:.0%}, "
                  f"{stats['rollouts_per_s']:.2f} rollouts/s")
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m data_synth.online", description=check_run.__doc__)
    parser.add_argument("run_dir", type=Path, help="a verified synthetic run (cua synth ... --out RUN)")
    parser.add_argument("--mode", choices=["finish", "state"], default="finish")
    parser.add_argument("--split", choices=["train", "test"], default="train")
    parser.add_argument("--heldout", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=None, help="at most this many steps")
    parser.add_argument("--json", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)
    summary = check_run(args.run_dir, args.mode, args.split, args.limit, args.heldout)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1))


__all__ = ["Mode", "OnlineClickReward", "OnlineStats", "check_run", "online_rows"]

if __name__ == "__main__":
    main()
