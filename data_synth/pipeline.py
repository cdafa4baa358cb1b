"""Generate and verify tasks at scale: worker processes, a progress bar, stop and resume.

Each worker process owns one ``SyntheticEnv`` (its own Chromium and loopback server). A task's
folder ``<out>/tasks/<name>/`` is finished once its ``outcome.json`` exists (written last and
atomically), so a stopped run started again skips exactly the finished tasks; ``manifest.json``
(rewritten atomically) summarises what is finished.

    <out>/manifest.json
    <out>/tasks/<name>/{task.json, grounding.json, episode/, outcome.json}
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cua.core import EnvError
from cua.core.store import write_json
from data_synth.env import SyntheticEnv
from data_synth.spec import SynthTask
from data_synth.templates import generate
from data_synth.verify import OUTCOME_FILE, Outcome, discard_outcome, verify

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
TASKS_DIR = "tasks"
Maker = Callable[[str], SynthTask]


@dataclass(frozen=True)
class Settings:
    out: Path
    ablations: int = 2
    extra_targets: int = 3
    stable_timeout_s: float = 5.0
    make: Maker = generate  # name → task; tests pass one that misbehaves


@dataclass
class RunReport:
    out: Path
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    elapsed_s: float = 0.0
    stopped: bool = False

    @property
    def verified(self) -> int:
        return sum(o.status == "verified" for o in self.outcomes.values())

    @property
    def discarded(self) -> int:
        return sum(o.status == "discarded" for o in self.outcomes.values())

    def reasons(self) -> Counter[str]:
        return Counter(o.reason for o in self.outcomes.values() if o.reason)

    def as_dict(self) -> dict[str, Any]:
        def by(attr: str) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for o in self.outcomes.values():
                row = out.setdefault(getattr(o, attr) or "?", {"verified": 0, "discarded": 0})
                row[o.status] += 1
            return dict(sorted(out.items()))
        kinds: Counter[str] = Counter()
        for o in self.outcomes.values():
            kinds.update(o.element_kinds)
        return {
            "generated": len(self.outcomes), "verified": self.verified, "discarded": self.discarded,
            "discard_reasons": dict(sorted(self.reasons().items())),
            "grounding_samples": sum(o.grounding_samples for o in self.outcomes.values()),
            "per_family": by("family"), "per_level": by("level"), "element_kinds": dict(sorted(kinds.items())),
            "elapsed_s": round(self.elapsed_s, 2), "stopped": self.stopped,
            "finished": {k: {"status": o.status, "reason": o.reason, "detail": o.detail}
                         for k, o in sorted(self.outcomes.items())},
        }

    def table(self) -> Table:
        t = Table(title=f"synthetic tasks in {self.out}")
        for col in ("family", "verified", "discarded"):
            t.add_column(col, justify="left" if col == "family" else "right")
        for fam, row in self.as_dict()["per_family"].items():
            t.add_row(fam, str(row["verified"]), str(row["discarded"]))
        t.add_section()
        t.add_row("all", str(self.verified), str(self.discarded))
        for reason, n in sorted(self.reasons().items()):
            t.add_row(f"  discarded: {reason}", "", str(n))
        return t


def job_names(names: Iterable[str], seeds: Iterable[int]) -> list[str]:
    """``shop-cart-easy`` × seeds → ``shop-cart-easy-0000`` ... (task names, unique, in order)."""
    seeds = list(seeds)
    return list(dict.fromkeys(f"{n}-{s:04d}" for n in names for s in seeds))


def finished(out: Path) -> dict[str, Outcome]:
    """Outcomes already on disk, by task name (an unreadable outcome counts as unfinished)."""
    done: dict[str, Outcome] = {}
    for path in sorted((out / TASKS_DIR).glob(f"*/{OUTCOME_FILE}")):
        try:
            done[path.parent.name] = Outcome.model_validate_json(path.read_text())
        except (ValidationError, OSError) as e:
            log.warning("%s unreadable, the task runs again: %s", path, e)
    return done


# ---- one task, in whichever process runs it ----------------------------------------------

_ENV: SyntheticEnv | None = None


def _env(settings: Settings) -> SyntheticEnv:
    global _ENV
    if _ENV is None:
        _ENV = SyntheticEnv(stable_timeout_s=settings.stable_timeout_s)
        atexit.register(_drop_env)  # a worker process closes its browser when it ends
    return _ENV


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _drop_env() -> None:
    global _ENV
    if _ENV is not None:
        try:
            _ENV.close()
        except Exception as e:  # noqa: BLE001 — a crashed browser may fail to close; a new one follows
            log.warning("closing a failed env: %s", e)
        _ENV = None


def run_one(name: str, settings: Settings) -> Outcome:
    """Generate and verify one task; every failure becomes a discarded outcome on disk."""
    folder = settings.out / TASKS_DIR / name
    try:
        synth = settings.make(name)
    except Exception as e:  # noqa: BLE001 — a template that throws discards its task, nothing more
        return _record(folder, discard_outcome(f"synthetic/{name}", "template-error", e))
    try:
        outcome = verify(_env(settings), synth, folder, settings.ablations, settings.extra_targets)
    except EnvError as e:  # the browser died: this task is lost, the next gets a new browser
        _drop_env()
        return _record(folder, discard_outcome(synth.id, "env-error", e))
    if outcome.status == "discarded":
        log.warning("%s discarded (%s): %s", synth.id, outcome.reason, outcome.detail)
    return outcome


def _record(folder: Path, outcome: Outcome) -> Outcome:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / OUTCOME_FILE, outcome.model_dump(mode="json"))
    return outcome


def _worker_job(name: str, settings: Settings) -> dict[str, Any]:
    return run_one(name, settings).model_dump(mode="json")


# ---- the run --------------------------------------------------------------------------------

def run(out: Path, names: list[str], seeds: Iterable[int], workers: int = 2, ablations: int = 2,
        extra_targets: int = 3, make: Maker = generate, console: Console | None = None,
        show_progress: bool = True, stable_timeout_s: float = 5.0) -> RunReport:
    """Generate and verify ``names`` × ``seeds`` into ``out``; ``workers`` 0 runs in this
    process. Finished tasks in ``out`` are skipped. Ctrl-C stops after the tasks in flight."""
    out = Path(out)
    (out / TASKS_DIR).mkdir(parents=True, exist_ok=True)
    settings = Settings(out, ablations, extra_targets, stable_timeout_s, make)
    report = RunReport(out=out)
    report.outcomes.update(finished(out))
    jobs = job_names(names, seeds)
    todo = [n for n in jobs if n not in report.outcomes]
    started = time.time()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("verified {task.fields[ok]} · discarded {task.fields[bad]}"), TimeElapsedColumn())
    last_write = 0.0

    def done(name: str, outcome: Outcome, bar: Progress, tid: Any) -> None:
        nonlocal last_write
        report.outcomes[name] = outcome
        bar.update(tid, advance=1, ok=report.verified, bad=report.discarded, description=name)
        if time.time() - last_write > 1.0:
            _write_manifest(report, time.time() - started)
            last_write = time.time()

    with Progress(*columns, console=console or Console(), disable=not show_progress) as bar:
        tid = bar.add_task("synthetic", total=len(jobs), completed=len(jobs) - len(todo),
                           ok=report.verified, bad=report.discarded)
        try:
            if workers <= 0:
                try:
                    for name in todo:
                        done(name, run_one(name, settings), bar, tid)
                finally:
                    _drop_env()
            else:
                _run_pool(todo, settings, workers, lambda n, o: done(n, o, bar, tid))
        except KeyboardInterrupt:
            report.stopped = True
    report.elapsed_s = time.time() - started
    _write_manifest(report, report.elapsed_s)
    return report


def _run_pool(todo: list[str], settings: Settings, workers: int, done: Callable[[str, Outcome], None]) -> None:
    """At most two tasks in flight per worker, so a stop loses little; a worker that dies
    takes its tasks with it once (they are retried), then they are discarded."""
    ctx = multiprocessing.get_context("spawn")  # a fork would copy Playwright's threads
    queue = list(reversed(todo))
    retried: set[str] = set()
    while queue:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
            flying: dict[Future[dict[str, Any]], str] = {}
            try:
                while queue or flying:
                    while queue and len(flying) < 2 * workers:
                        name = queue.pop()
                        flying[pool.submit(_worker_job, name, settings)] = name
                    ready, _ = wait(flying, return_when=FIRST_COMPLETED)
                    for fut in ready:
                        name = flying.pop(fut)
                        done(name, Outcome.model_validate(fut.result()))
            except BrokenProcessPool:
                for name in flying.values():
                    if name in retried:
                        done(name, _record(settings.out / TASKS_DIR / name, discard_outcome(
                            f"synthetic/{name}", "env-error", RuntimeError("its worker process died twice"))))
                    else:
                        retried.add(name)
                        queue.append(name)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise


def _write_manifest(report: RunReport, elapsed: float) -> None:
    report.elapsed_s = elapsed
    write_json(report.out / MANIFEST, report.as_dict())


def load_manifest(out: Path) -> dict[str, Any]:
    return json.loads((Path(out) / MANIFEST).read_text())
