"""Offline critic evaluation: a balanced labelled set of (context, action, correct?) and the
metrics GUI-Critic-R1 reports (accuracy, per-class accuracy, format-error rate), with
precision / recall / F1 of *rejection* and a breakdown per error type.

Where the set comes from:

* executed trajectories (``cua run`` episode folders): every executed step of a successful
  episode is a correct sample; wrong samples perturb them (``critic.perturb``): near and far
  misses onto blank space, the wrong element of the same role, ``done`` before the end, the
  same action again on a screen it did not change, typing before the field was clicked;
* GUI-Critic-Test's JSONL (``read_gui_critic_test``): one item per line,
  ``{"images": [path], "problem": <the GUI-Critic-R1 prompt>, "solution": "Correct|Incorrect
  \\n<suggestion>"}``, as in ``X-PLUG/MobileAgent`` ``GUI-Critic-R1/test_files/gui_*.jsonl``.
  The ``vlm`` critic with ``profile=gui-critic-r1`` is shown the item's own prompt and image;
  other critics get the instruction and the decision parsed out of it. The decision's
  coordinate space is not documented there: it is read as pixels of the stored image.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from rich.table import Table

from critic.base import Critic, ReviewContext, is_abstain
from cua.core import ActionParseError, Box, CuaError, Observation, Task, Verdict
from cua.core.codecs import parse

log = logging.getLogger(__name__)

KINDS = ("near_miss", "far_miss", "wrong_element", "premature_done", "repeat", "type_no_focus")


@dataclass
class CriticSample:
    id: str
    kind: str  # "original" (a correct step), a perturbation of KINDS, or "gui-critic"
    correct: bool
    build: Callable[[], ReviewContext]  # contexts load lazily (a GUI-Critic-Test image is megabytes)
    error_type: str | None = None  # what the wrong action does wrong
    target: Box | None = None  # where a good suggested point lands
    source: str = ""


@dataclass
class Prediction:
    sample: str
    kind: str
    correct: bool
    approve: bool
    abstained: bool
    error_type: str | None
    expected_error: str | None
    suggestion_hit: bool | None  # the suggested point lands on the right element (None: not asked)
    score: float | None
    latency_s: float
    reason: str

    @property
    def right(self) -> bool:
        """An abstention is never right: it neither accepts nor rejects (GUI-Critic-R1 counts
        format errors as wrong answers too)."""
        return not self.abstained and self.approve == self.correct


def predict(critic: Critic, sample: CriticSample) -> Prediction:
    context = sample.build()
    start = time.perf_counter()
    verdict: Verdict = critic.review(context)
    latency = time.perf_counter() - start
    abstained = is_abstain(verdict)
    hit = None
    if not sample.correct and sample.target is not None and not verdict.approve:
        points = verdict.suggestion.points() if verdict.suggestion is not None else []
        hit = bool(points) and sample.target.contains(points[0])
    return Prediction(sample.id, sample.kind, sample.correct, verdict.approve and not abstained, abstained,
                      None if verdict.approve else verdict.error_type, sample.error_type, hit, verdict.score,
                      latency, verdict.reason[:300])


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


@dataclass
class OfflineReport:
    critic: str
    predictions: list[Prediction] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, Any]:
        p = self.predictions
        good = [x for x in p if x.correct]
        bad = [x for x in p if not x.correct]
        tp = sum(not x.approve and not x.abstained for x in bad)  # rejected wrong actions
        fp = sum(not x.approve and not x.abstained for x in good)
        precision, recall = _ratio(tp, tp + fp), _ratio(tp, len(bad))
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision and recall else 0.0
        asked = [x for x in bad if x.suggestion_hit is not None]
        latencies = [x.latency_s for x in p]
        return {
            "critic": self.critic, "samples": len(p), "correct_samples": len(good), "wrong_samples": len(bad),
            "accuracy": _ratio(sum(x.right for x in p), len(p)),
            "accept_correct": _ratio(sum(x.right for x in good), len(good)),
            "reject_wrong": _ratio(sum(x.right for x in bad), len(bad)),
            "reject_precision": precision, "reject_recall": recall, "reject_f1": f1,
            "format_error_rate": _ratio(sum(x.abstained for x in p), len(p)),
            "suggestion_accuracy": _ratio(sum(bool(x.suggestion_hit) for x in asked), len(asked)),
            "latency_ms": {"mean": round(1000 * statistics.fmean(latencies), 2) if latencies else None,
                           "median": round(1000 * statistics.median(latencies), 2) if latencies else None},
            "per_kind": self._per_kind(), "false_rejections": dict(Counter(
                x.error_type or "unspecified" for x in good if not x.approve and not x.abstained)),
        }

    def _per_kind(self) -> dict[str, dict[str, Any]]:
        groups: dict[str, list[Prediction]] = defaultdict(list)
        for x in self.predictions:
            groups[x.kind].append(x)
        out = {}
        for kind, xs in sorted(groups.items()):
            caught = [x for x in xs if not x.correct and not x.approve and not x.abstained]
            typed = [x for x in caught if x.expected_error]
            out[kind] = {"n": len(xs), "right": _ratio(sum(x.right for x in xs), len(xs)),
                         "abstained": sum(x.abstained for x in xs),
                         "error_type_match": _ratio(sum(x.error_type == x.expected_error for x in typed), len(typed)),
                         "predicted_types": dict(Counter(x.error_type or "-" for x in caught))}
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**self.metrics(), "sources": self.sources,
                "predictions": [vars(x) for x in self.predictions]}

    def table(self) -> Table:
        m = self.metrics()
        t = Table(title=f"offline critic evaluation — {self.critic} — {m['samples']} samples "
                        f"({m['correct_samples']} correct / {m['wrong_samples']} wrong)")
        t.add_column("class")
        for col in ("n", "right", "abstained", "error type match"):
            t.add_column(col, justify="right")
        for kind, row in m["per_kind"].items():
            t.add_row(kind, str(row["n"]), _pct(row["right"]), str(row["abstained"]), _pct(row["error_type_match"]))
        t.add_section()
        for label, key in (("accuracy", "accuracy"), ("accept correct", "accept_correct"),
                           ("reject wrong", "reject_wrong"), ("reject precision", "reject_precision"),
                           ("reject F1", "reject_f1"), ("format errors", "format_error_rate"),
                           ("suggestion lands on target", "suggestion_accuracy")):
            t.add_row(label, "", _pct(m[key]), "", "")
        t.add_row("latency ms (mean / median)", "", f"{m['latency_ms']['mean']} / {m['latency_ms']['median']}", "", "")
        return t


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def evaluate_offline(critic: Critic, samples: Iterable[CriticSample],
                     on_prediction: Callable[[Prediction], None] | None = None) -> OfflineReport:
    report = OfflineReport(getattr(critic, "name", type(critic).__name__))
    for s in samples:
        report.predictions.append(predict(critic, s))
        if on_prediction:
            on_prediction(report.predictions[-1])
    return report


# ---- GUI-Critic-Test ------------------------------------------------------------------------

_PROBLEM = re.compile(r"1\. User instruction:\n(?P<instruction>.*?)\n2\. History:\n(?P<history>.*?)\n"
                      r"3\. Decision:\n(?:Action:\s*)?(?P<decision>.*?)\n4\. Image", re.DOTALL)


def read_gui_critic_test(path: Path | str, image_root: Path | str | None = None,
                         limit: int | None = None) -> list[CriticSample]:
    """Items of a GUI-Critic-Test JSONL file; images resolve against ``image_root`` (default:
    the file's folder). Items whose decision is not a readable ``computer_use`` call are
    skipped with a warning."""
    path = Path(path)
    root = Path(image_root) if image_root else path.parent
    samples, skipped = [], 0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        m = _PROBLEM.search(item.get("problem", ""))
        solution = str(item.get("solution", "")).strip()
        label = solution.split(None, 1)[0].strip().lower() if solution else ""
        if m is None or label not in ("correct", "incorrect") or not item.get("images"):
            skipped += 1
            continue
        try:
            action = parse(m.group("decision").strip(), "computer_use").actions[0]
        except ActionParseError:
            skipped += 1
            continue
        image_path = root / item["images"][0]
        samples.append(CriticSample(
            id=f"{path.stem}:{n}", kind="gui-critic", correct=label == "correct",
            build=_gui_critic_context(image_path, m.group("instruction").strip(), m.group("history"),
                                      item["problem"], solution, action, f"{path.stem}:{n}"),
            source=str(image_path)))
        if limit and len(samples) >= limit:
            break
    if skipped:
        log.warning("%s: skipped %d items without a readable decision or label", path, skipped)
    return samples


def _gui_critic_context(image_path: Path, instruction: str, history: str, problem: str, solution: str,
                        action: Any, sample_id: str) -> Callable[[], ReviewContext]:
    def build() -> ReviewContext:
        if not image_path.exists():
            raise CuaError(f"GUI-Critic-Test image {image_path} is missing: pass the data set's image folder")
        shot = Image.open(image_path).convert("RGB")
        obs = Observation(screenshot=shot, instruction=instruction)
        return ReviewContext(task=Task(id=f"gui-critic/{sample_id}", instruction=instruction), observation=obs,
                             action=action, extra={"gui_critic_problem": problem, "gui_critic_history": history,
                                                   "reference": solution})
    return build


# ---- the CLI's entry point ------------------------------------------------------------------

def critic_eval(critic: Critic, runs: list[Path] | None = None, gui_critic: Path | None = None,
                image_root: Path | None = None, seed: int = 0, kinds: tuple[str, ...] = KINDS,
                limit: int | None = None, out: Path | None = None,
                on_prediction: Callable[[Prediction], None] | None = None) -> OfflineReport:
    """``cua critic-eval``: evaluate ``critic`` on the perturbed set built from the episode
    folders under ``runs`` and / or on a GUI-Critic-Test JSONL file; writes the report (all
    predictions included) to ``out`` as JSON when given."""
    from critic.perturb import build_perturbed_set, episode_folders

    if not runs and gui_critic is None:
        raise CuaError("nothing to evaluate on: give run folders (cua run output) or a GUI-Critic-Test file")
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise CuaError(f"unknown perturbation(s) {', '.join(sorted(unknown))}; known: {', '.join(KINDS)}")
    samples: list[CriticSample] = []
    sources: list[str] = []
    if runs:
        folders = episode_folders(runs)
        samples += build_perturbed_set(folders, seed=seed, kinds=kinds)
        sources += [str(r) for r in runs]
    if gui_critic is not None:
        samples += read_gui_critic_test(gui_critic, image_root)
        sources.append(str(gui_critic))
    if limit:
        samples = samples[:limit]
    report = evaluate_offline(critic, samples, on_prediction)
    report.sources = sources
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report.as_dict(), indent=2, default=str))
    return report
