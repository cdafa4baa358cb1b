"""Score a grounder on a grounding benchmark: point-in-box accuracy, resumable, with breakdowns.

Single-step mode (``evaluate``): a sample is correct when the predicted point lies inside its
target (inclusive; a polygon for OSWorld-G polygons). A refusal item (``Sample.box is None``)
is correct only when the grounder gives no point. A grounder exception or an unreadable image
scores that sample as a miss with the error recorded, and the evaluation goes on (a grounder
that fails ``max_consecutive_errors`` times in a row stops the run instead: a dead endpoint).

Output folder (``out_dir``):

    eval.json       what ran (bench, grounder, mode, settings); resuming with others is refused
    samples.jsonl   one line per finished sample (``tasks.jsonl`` in sequential mode), appended
                    and fsynced as each finishes: a killed run loses at most the line in flight;
                    a rerun skips the ids already scored, tries again those that ended in an
                    error, and drops a half-written last line
    results.json    the report: overall, refusal items, breakdowns, published score beside ours
    results.md      the same as Markdown tables

Sequential mode (``evaluate_sequential``, MedSPOT-style) reads ``tasks.json`` (or the one JSON
file given) laid out as below; image paths are relative to that file's folder and ``bbox`` is
x1, y1, x2, y2 in pixels of that step's screenshot::

    {"tasks": [
      {"id": "open-study", "platform": "windows", "source": "pacs-viewer",
       "steps": [
         {"image": "open-study/0.png", "instruction": "click the File menu",
          "bbox": [12, 4, 48, 22], "element_type": "text"},
         {"image": "open-study/1.png", "instruction": "click Open study", "bbox": [20, 40, 130, 60]}
       ]}
    ]}

Steps are grounded in order and scoring is strict: the task stops at its first miss and counts
as failed (later steps are "not reached"). Each miss gets a failure class, the first that
applies of: ``error`` (grounder exception / unreadable image), ``no_prediction`` (no point),
``edge_bias`` (point within ``edge_px`` of the screenshot border and farther than ``near_px``
from the target), ``small_target`` (target area below ``small_frac`` of the screenshot),
``near_miss`` (within ``near_px`` of the box), ``far_miss``; every class that applies is kept
in ``tags``. MedSPOT's "toolbar confusion" needs toolbar annotations and is not scored.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cua.core import Box, CuaError, Grounding, Point
from cua.core.store import atomic_write_bytes, write_json
from grounding.base import Grounder, ground_batch
from grounding.benchmarks import Sample, SeqTask, Skip

SAMPLES_FILE = "samples.jsonl"
TASKS_FILE = "tasks.jsonl"
META_FILE = "eval.json"
RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
# "platform/element_type" is the cross table ScreenSpot papers publish (mobile-text, web-icon ...).
DIMENSIONS = ("platform", "element_type", "platform/element_type", "source", "group")
FAILURE_CLASSES = ("error", "no_prediction", "edge_bias", "small_target", "near_miss", "far_miss")
_RAW_TEXT_LIMIT = 2000  # model output kept per line; enough to see a parse failure

T = TypeVar("T")


def is_correct(sample: Sample, point: Point | None) -> bool:
    if sample.box is None:
        return point is None
    return point is not None and sample.target_contains(point)


# ---- the resumable result log -----------------------------------------------------------


class ResultLog:
    """Append-only JSONL of finished items keyed by ``id``. On resume, unreadable lines (the
    half-written last one of a killed run), repeated ids and items that ended in an error (a
    flaky endpoint, an out-of-memory: worth another try) are dropped, the file is rewritten
    clean, and appending goes on from there."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.done: dict[str, dict[str, Any]] = {}
        if not resume:
            path.unlink(missing_ok=True)
        elif path.exists():
            self._recover()

    def _recover(self) -> None:
        raw = self.path.read_bytes()
        lines: dict[str, bytes] = {}
        for line in raw.split(b"\n"):
            try:
                record = json.loads(line)
                key, retry = str(record["id"]), record["error"] is not None
            except (ValueError, KeyError, TypeError):
                continue
            if retry:
                self.done.pop(key, None)
                lines.pop(key, None)
                continue
            self.done[key] = record
            lines[key] = line
        clean = b"".join(line + b"\n" for line in lines.values())
        if clean != raw:
            atomic_write_bytes(self.path, clean)

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.done[str(record["id"])] = record


def _check_meta(out_dir: Path, meta: dict[str, Any], resume: bool) -> None:
    path = out_dir / META_FILE
    if resume and path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = {}
        for key, value in meta.items():
            if key in old and old[key] != value:
                raise CuaError(
                    f"{out_dir} holds results for {key} {old[key]!r}, not {value!r}:"
                    " choose another output folder or start fresh"
                )
    write_json(path, meta)


# ---- grounding one batch ----------------------------------------------------------------


def _open_image(path: Path) -> Image.Image | str:
    """The screenshot as RGB, or why it cannot be used."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except FileNotFoundError:
        return f"image not found: {path}"
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        return f"image not readable: {path} ({e})"


def _ground_many(grounder: Grounder, items: list[tuple[Image.Image, str]]) -> list[Grounding | str]:
    """A Grounding, or the error text, per item. A failing batch is retried item by item so
    one bad sample does not sink its neighbours."""
    try:
        out = ground_batch(grounder, items)
        if len(out) != len(items) or not all(isinstance(g, Grounding) for g in out):
            raise TypeError(f"ground_batch gave {len(out)} results for {len(items)} items, not Groundings")
        return list(out)
    except Exception as e:  # noqa: BLE001 — a model failure is scored as a miss, not fatal
        if len(items) == 1:
            return [f"{type(e).__name__}: {e}"]
        return [r for item in items for r in _ground_many(grounder, [item])]


class _ErrorStreak:
    """Stops a run whose grounder fails on every sample (a dead endpoint would otherwise turn a
    whole benchmark into misses, one timeout at a time)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.count = limit, 0

    def see(self, error: str | None) -> None:
        self.count = self.count + 1 if error else 0
        if self.limit and self.count >= self.limit:
            raise CuaError(
                f"the grounder failed on {self.count} samples in a row (last: {error}); stopped."
                " Fix it and rerun: finished samples are kept, failed ones are tried again"
            )


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _pt(p: Point | None) -> list[float] | None:
    return None if p is None else [round(p.x, 2), round(p.y, 2)]


def _bx(b: Box | None) -> list[float] | None:
    return None if b is None else [round(b.x1, 2), round(b.y1, 2), round(b.x2, 2), round(b.y2, 2)]


def _sample_record(s: Sample, result: Grounding | str, latency_s: float) -> dict[str, Any]:
    g = result if isinstance(result, Grounding) else None
    error = None if g is not None else str(result)
    point = g.point if g is not None else None
    return {
        "id": s.id, "correct": error is None and is_correct(s, point), "point": _pt(point),
        "box": _bx(s.box), "refusal_item": s.box is None, "instruction": s.instruction,
        "image": str(s.image_path), "platform": s.platform, "element_type": s.element_type,
        "source": s.source, "groups": list(s.extra.get("groups", [])),
        "raw_text": g.raw_text[:_RAW_TEXT_LIMIT] if g else "", "score": g.score if g else None,
        "latency_s": round(g.latency_s or latency_s, 4) if g else 0.0, "error": error,
    }


def _progress(console: Console | None, enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("ok {task.fields[ok]}"), TimeElapsedColumn(),
        console=console, disable=not enabled, transient=False,
    )


# ---- report -----------------------------------------------------------------------------


@dataclass
class Stat:
    n: int = 0
    correct: int = 0

    def add(self, ok: bool) -> None:
        self.n += 1
        self.correct += bool(ok)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"n": self.n, "correct": self.correct, "accuracy": round(self.accuracy, 4)}


@dataclass
class SequentialSummary:
    steps_total: int = 0
    steps_reached: int = 0
    steps_correct: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # failure class → misses
    failed_at_step: dict[int, int] = field(default_factory=dict)  # step index → tasks that stopped there
    settings: dict[str, float] = field(default_factory=dict)

    @property
    def step_accuracy(self) -> float:
        """Correct steps over all steps; steps after a miss count as not done (strict)."""
        return self.steps_correct / self.steps_total if self.steps_total else 0.0


@dataclass
class EvalReport:
    bench: str
    grounder: str
    mode: str  # "single" | "sequential"
    out_dir: Path
    overall: Stat
    refusal: Stat  # refusal items only (correct = no point given)
    breakdowns: dict[str, dict[str, Stat]]
    errors: int
    skipped: list[Skip]
    published: float | None  # the model's published score on this bench, in percent
    resumed: int  # items taken from an earlier, interrupted run
    duration_s: float
    sequential: SequentialSummary | None = None

    @property
    def unit(self) -> str:
        return "tasks" if self.mode == "sequential" else "samples"

    @property
    def accuracy_pct(self) -> float:
        return 100 * self.overall.accuracy

    @property
    def accuracy_without_refusal(self) -> float | None:
        """Some harnesses (ClawGUI) leave OSWorld-G's refusal items out of the denominator."""
        n = self.overall.n - self.refusal.n
        if not self.refusal.n or n <= 0:
            return None
        return (self.overall.correct - self.refusal.correct) / n

    def as_dict(self) -> dict[str, Any]:
        seq = self.sequential
        return {
            "bench": self.bench, "grounder": self.grounder, "mode": self.mode, "unit": self.unit,
            **self.overall.as_dict(), "accuracy_pct": round(self.accuracy_pct, 2),
            "published_pct": self.published,
            "delta_pct": None if self.published is None else round(self.accuracy_pct - self.published, 2),
            "refusal": self.refusal.as_dict() if self.refusal.n else None,
            "accuracy_without_refusal": None if (a := self.accuracy_without_refusal) is None else round(a, 4),
            "errors": self.errors, "skipped": [asdict(s) for s in self.skipped],
            "resumed": self.resumed, "duration_s": round(self.duration_s, 2),
            "breakdowns": {d: {k: s.as_dict() for k, s in v.items()} for d, v in self.breakdowns.items()},
            "sequential": None if seq is None else {
                **asdict(seq), "step_accuracy": round(seq.step_accuracy, 4)},
            "records": str(self.out_dir / (TASKS_FILE if seq else SAMPLES_FILE)),
        }

    def _headline(self) -> list[tuple[str, str, str, str]]:
        """(label, n, correct, accuracy) rows shown above the breakdowns."""
        o = self.overall
        rows = [("overall", str(o.n), str(o.correct), f"{self.accuracy_pct:.1f}%")]
        if self.published is not None:
            rows.append(("published", "", "", f"{self.published:.1f}%"))
            rows.append(("ours − published", "", "", f"{self.accuracy_pct - self.published:+.1f}"))
        if self.refusal.n:
            rows.append(("refusal items", str(self.refusal.n), str(self.refusal.correct),
                         f"{100 * self.refusal.accuracy:.1f}%"))
            if (acc := self.accuracy_without_refusal) is not None:
                rows.append(("without refusal items", str(o.n - self.refusal.n),
                             str(o.correct - self.refusal.correct), f"{100 * acc:.1f}%"))
        if (seq := self.sequential) is not None:
            rows.append(("steps (strict)", str(seq.steps_total), str(seq.steps_correct),
                         f"{100 * seq.step_accuracy:.1f}%"))
            rows.append(("steps reached", str(seq.steps_total), str(seq.steps_reached), ""))
            rows.extend((f"miss: {c}", "", str(k), "") for c, k in seq.failures.items())
        rows.append(("errors (scored as misses)", str(self.errors), "", ""))
        rows.append(("skipped (malformed items)", str(len(self.skipped)), "", ""))
        return rows

    def table(self) -> Table:
        t = Table(title=f"{self.bench} — grounder={self.grounder} ({self.unit})")
        for col in ("breakdown", "value", "n", "correct", "accuracy"):
            t.add_column(col, justify="left" if col in ("breakdown", "value") else "right")
        for label, n, correct, acc in self._headline():
            t.add_row(label, "", n, correct, acc)
        for dim, stats in self.breakdowns.items():
            t.add_section()
            for value, s in stats.items():
                t.add_row(dim, value, str(s.n), str(s.correct), f"{100 * s.accuracy:.1f}%")
        return t

    def markdown(self) -> str:
        lines = [f"# Grounding evaluation: {self.bench}", "",
                 f"Grounder `{self.grounder}`, {self.mode} mode, {self.overall.n} {self.unit}.", "",
                 "| | n | correct | accuracy |", "|---|---:|---:|---:|"]
        lines += [f"| {label} | {n} | {c} | {acc} |" for label, n, c, acc in self._headline()]
        for dim, stats in self.breakdowns.items():
            lines += ["", f"## By {dim}", "", f"| {dim} | n | correct | accuracy |", "|---|---:|---:|---:|"]
            lines += [f"| {v} | {s.n} | {s.correct} | {100 * s.accuracy:.1f}% |" for v, s in stats.items()]
        if self.skipped:
            lines += ["", "## Skipped", ""] + [f"- `{s.id}` ({s.file}): {s.reason}" for s in self.skipped]
        return "\n".join(lines) + "\n"


def _breakdowns(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Stat]]:
    out: dict[str, dict[str, Stat]] = {d: {} for d in DIMENSIONS}
    for r in records:
        for dim in DIMENSIONS:
            if dim == "group":
                values = r.get("groups", [])
            elif dim == "platform/element_type":
                both = r.get("platform") and r.get("element_type")
                values = [f"{r['platform']}/{r['element_type']}"] if both else []
            else:
                values = [r.get(dim, "")]
            for v in filter(None, values):  # a sample without the field is left out of that table
                out[dim].setdefault(str(v), Stat()).add(r["correct"])
    return {d: dict(sorted(v.items())) for d, v in out.items() if v}


def _finish(report: EvalReport) -> EvalReport:
    write_json(report.out_dir / RESULTS_JSON, report.as_dict())
    atomic_write_bytes(report.out_dir / RESULTS_MD, report.markdown().encode())
    return report


def _bench_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _published(published: Mapping[str, float] | None, bench: str) -> float | None:
    """The score for ``bench``; keys match loosely ("ScreenSpot-v2" as a profile spells it)."""
    scores = {_bench_key(k): v for k, v in (published or {}).items()}
    value = scores.get(_bench_key(bench))
    return None if value is None else float(value)


def _start(out_dir: Path, meta: dict[str, Any], resume: bool, name: str) -> ResultLog:
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_meta(out_dir, meta, resume)
    return ResultLog(out_dir / name, resume)


def _unique_ids(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise CuaError(f"sample id {i!r} appears twice: ids must be unique for resuming")
        seen.add(i)


# ---- single-step evaluation -------------------------------------------------------------


def evaluate(
    grounder: Grounder, samples: Iterable[Sample], out_dir: Path, *, batch_size: int = 1,
    resume: bool = True, progress: bool = True, bench: str = "custom",
    published: Mapping[str, float] | None = None, skipped: Sequence[Skip] = (),
    max_consecutive_errors: int = 20, console: Console | None = None,
) -> EvalReport:
    """Ground every sample, one JSONL line each, and return (and write) the report.
    ``published`` maps bench names to the model's published accuracy in percent;
    ``max_consecutive_errors`` grounder failures in a row stop the run (0: never)."""
    samples = list(samples)
    _unique_ids(s.id for s in samples)
    if batch_size < 1:
        raise CuaError(f"batch size must be at least 1, got {batch_size}")
    out_dir = Path(out_dir)
    name = getattr(grounder, "name", type(grounder).__name__)
    log = _start(out_dir, {"bench": bench, "grounder": name, "mode": "single"}, resume, SAMPLES_FILE)
    resumed = sum(s.id in log.done for s in samples)
    pending = [s for s in samples if s.id not in log.done]
    start = time.perf_counter()
    streak = _ErrorStreak(max_consecutive_errors)
    with _progress(console, progress) as bar:
        ok = sum(bool(log.done[s.id]["correct"]) for s in samples if s.id in log.done)
        task = bar.add_task(f"{bench} · {name}", total=len(samples), completed=resumed, ok=ok)
        for batch in _chunks(pending, batch_size):
            ready: list[tuple[Sample, Image.Image]] = []
            for s in batch:
                image = _open_image(s.image_path)
                if isinstance(image, str):
                    log.append(_sample_record(s, image, 0.0))
                else:
                    ready.append((s, image))
            t0 = time.perf_counter()
            results = _ground_many(grounder, [(img, s.instruction) for s, img in ready]) if ready else []
            each = (time.perf_counter() - t0) / max(len(ready), 1)
            for (s, _), result in zip(ready, results):
                log.append(_sample_record(s, result, each))
                streak.see(result if isinstance(result, str) else None)
            ok += sum(bool(log.done[s.id]["correct"]) for s in batch)
            bar.update(task, advance=len(batch), ok=ok)
    records = [log.done[s.id] for s in samples]
    overall, refusal = Stat(), Stat()
    for r in records:
        overall.add(r["correct"])
        if r["refusal_item"]:
            refusal.add(r["correct"])
    report = EvalReport(
        bench=bench, grounder=name, mode="single", out_dir=out_dir, overall=overall,
        refusal=refusal, breakdowns=_breakdowns(records),
        errors=sum(r["error"] is not None for r in records), skipped=list(skipped),
        published=_published(published, bench), resumed=resumed,
        duration_s=time.perf_counter() - start,
    )
    return _finish(report)


# ---- sequential (MedSPOT-style) evaluation ----------------------------------------------


def distance_to_box(point: Point, box: Box) -> float:
    """Euclidean distance from the point to the nearest point of the box (0 inside)."""
    dx = max(box.x1 - point.x, 0.0, point.x - box.x2)
    dy = max(box.y1 - point.y, 0.0, point.y - box.y2)
    return math.hypot(dx, dy)


def classify_miss(
    point: Point | None, box: Box, image_size: tuple[int, int], *, near_px: float = 30.0,
    edge_px: float = 10.0, small_frac: float = 0.001,
) -> list[str]:
    """Every failure class that applies to a miss, the primary one first (see module doc)."""
    if point is None:
        return ["no_prediction"]
    w, h = image_size
    distance = distance_to_box(point, box)
    tags = []
    if min(point.x, point.y, w - point.x, h - point.y) <= edge_px and distance > near_px:
        tags.append("edge_bias")
    if box.area < small_frac * w * h:
        tags.append("small_target")
    tags.append("near_miss" if distance <= near_px else "far_miss")
    return tags


def _run_task(
    grounder: Grounder, task: SeqTask, settings: dict[str, float], streak: _ErrorStreak,
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    for k, s in enumerate(task.steps):
        assert s.box is not None  # read_sequential requires a bbox on every step
        image = _open_image(s.image_path)
        result = image if isinstance(image, str) else _ground_many(grounder, [(image, s.instruction)])[0]
        g = result if isinstance(result, Grounding) else None
        if not isinstance(image, str):
            streak.see(None if g is not None else str(result))
        point = g.point if g is not None else None
        ok = g is not None and is_correct(s, point)
        if ok:
            tags: list[str] = []
        elif g is None or isinstance(image, str):
            tags = ["error"]
        else:
            tags = classify_miss(point, s.box, image.size, **settings)
        steps.append({
            "index": k, "image": str(s.image_path), "instruction": s.instruction, "point": _pt(point),
            "box": _bx(s.box), "correct": ok, "failure": tags[0] if tags else None, "tags": tags,
            "distance_px": None if point is None else round(distance_to_box(point, s.box), 2),
            "raw_text": g.raw_text[:_RAW_TEXT_LIMIT] if g else "", "error": None if g else str(result),
        })
        if not ok:
            break  # strict protocol: the first miss ends the task
    last = steps[-1]
    return {
        "id": task.id, "correct": last["correct"],  # a miss breaks the loop early
        "platform": task.platform, "source": task.source, "groups": [],
        "steps_total": len(task.steps), "steps_correct": sum(st["correct"] for st in steps),
        "failed_step": None if last["correct"] else last["index"], "failure": last["failure"],
        "error": last["error"], "steps": steps,
    }


def evaluate_sequential(
    grounder: Grounder, tasks: Iterable[SeqTask], out_dir: Path, *, near_px: float = 30.0,
    edge_px: float = 10.0, small_frac: float = 0.001, resume: bool = True, progress: bool = True,
    bench: str = "sequential", published: Mapping[str, float] | None = None,
    skipped: Sequence[Skip] = (), max_consecutive_errors: int = 20, console: Console | None = None,
) -> EvalReport:
    """Strict multi-step grounding: a task succeeds only if every step hits, in order."""
    tasks = list(tasks)
    _unique_ids(t.id for t in tasks)
    out_dir = Path(out_dir)
    name = getattr(grounder, "name", type(grounder).__name__)
    settings = {"near_px": near_px, "edge_px": edge_px, "small_frac": small_frac}
    meta = {"bench": bench, "grounder": name, "mode": "sequential", "settings": settings}
    log = _start(out_dir, meta, resume, TASKS_FILE)
    resumed = sum(t.id in log.done for t in tasks)
    start = time.perf_counter()
    streak = _ErrorStreak(max_consecutive_errors)
    with _progress(console, progress) as bar:
        ok = sum(bool(log.done[t.id]["correct"]) for t in tasks if t.id in log.done)
        progress_task = bar.add_task(f"{bench} · {name}", total=len(tasks), completed=resumed, ok=ok)
        for t in tasks:
            if t.id in log.done:
                continue
            record = _run_task(grounder, t, settings, streak)
            log.append(record)
            ok += record["correct"]
            bar.update(progress_task, advance=1, ok=ok)
    records = [log.done[t.id] for t in tasks]
    overall = Stat()
    seq = SequentialSummary(settings=settings)
    for r in records:
        overall.add(r["correct"])
        seq.steps_total += r["steps_total"]
        seq.steps_reached += len(r["steps"])
        seq.steps_correct += r["steps_correct"]
        if r["failure"] is not None:
            seq.failures[r["failure"]] = seq.failures.get(r["failure"], 0) + 1
            seq.failed_at_step[r["failed_step"]] = seq.failed_at_step.get(r["failed_step"], 0) + 1
    seq.failures = {c: seq.failures[c] for c in FAILURE_CLASSES if c in seq.failures}
    seq.failed_at_step = dict(sorted(seq.failed_at_step.items()))
    report = EvalReport(
        bench=bench, grounder=name, mode="sequential", out_dir=out_dir, overall=overall,
        refusal=Stat(), breakdowns=_breakdowns(records),
        errors=sum(r["error"] is not None for r in records), skipped=list(skipped),
        published=_published(published, bench), resumed=resumed,
        duration_s=time.perf_counter() - start, sequential=seq,
    )
    return _finish(report)
