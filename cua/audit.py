"""Grader audit: a second, independent grader re-scores every finished episode of a run, and
the report lists where it disagrees with the benchmark's own score.

The grader is a VLM judge through any ``grounding.backends`` ChatModel (``make_chat_model``):
it sees the task's instruction, the final screenshot and the agent's answer, and says whether
the task was done. Its reply is untrusted text: a JSON object ``{"success": true|false,
"reason": "..."}`` (or a plain leading yes / no) is read, anything else is *undecided*, never
guessed. Only episodes the benchmark scored (success or failure) are audited: an error or a
stopped episode has no benchmark verdict to check. A judge call that fails (server down) makes
that episode *undecided* and the audit goes on; ``audit.json`` is rewritten after every episode,
and a later audit with the same grader keeps its verdicts and judges only the rest (and the
episodes whose judge call failed).

    false positive: the benchmark scored success, the judge says the task was not done
    false negative: the benchmark scored no success, the judge says it was done

Written next to the run's results as ``audit.json`` and ``audit.md``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from cua.core import CuaError, EpisodeResult
from cua.core.registry import parse_spec
from cua.core.store import (
    RESULT_FILE,
    atomic_write_bytes,
    episode_file,
    load_episode,
    write_json,
)

AUDIT_JSON = "audit.json"
AUDITED_STATUSES = ("success", "failure")  # the benchmark's verdicts; the rest have none to check

JUDGE_PROMPT = (
    "You are grading a computer-use agent. The task it was given:\n{instruction}\n\n"
    "Its final answer (empty if it gave none): {answer}\n\n"
    "The image is the screen when the agent stopped. Judge only from the screen and the answer "
    "whether the task was completed. Reply with one JSON object and nothing else: "
    '{{"success": true or false, "reason": "<one sentence>"}}'
)
_JSON = re.compile(r"\{[^{}]*\}", re.S)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.I)


def parse_judgment(text: str) -> tuple[bool | None, str]:
    """(verdict, reason); verdict None when the reply says neither."""
    for match in _JSON.finditer(text):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("success"), bool):
            return data["success"], str(data.get("reason", ""))[:300]
    m = _YES_NO.match(text)
    if m:
        return m.group(1).lower() == "yes", text.strip()[:300]
    return None, f"unreadable reply: {text.strip()[:120]!r}"


@dataclass
class AuditItem:
    task_id: str
    seed: int | None
    folder: str
    benchmark_success: bool
    judge_success: bool | None
    reason: str
    judge_failed: bool = False  # the judge call itself failed: undecided now, judged again next time

    @property
    def kind(self) -> str:
        if self.judge_success is None:
            return "undecided"
        if self.judge_success == self.benchmark_success:
            return "agree"
        return "false_positive" if self.benchmark_success else "false_negative"


@dataclass
class AuditReport:
    run_dir: Path
    grader: str
    items: list[AuditItem] = field(default_factory=list)
    complete: bool = False  # False while the audit runs (or after it was stopped)

    def counts(self) -> dict[str, int]:
        out = {"audited": len(self.items), "agree": 0, "false_positive": 0, "false_negative": 0, "undecided": 0,
               "judge_failed": sum(i.judge_failed for i in self.items)}
        for item in self.items:
            out[item.kind] += 1
        return out

    def disagreements(self) -> list[AuditItem]:
        return [i for i in self.items if i.kind in ("false_positive", "false_negative")]

    def as_dict(self) -> dict[str, object]:
        return {"run_dir": str(self.run_dir), "grader": self.grader, "complete": self.complete, **self.counts(),
                "items": [{**asdict(i), "kind": i.kind} for i in self.items]}

    def markdown(self) -> str:
        c = self.counts()
        lines = [f"# Grader audit of {self.run_dir.name}", "", f"Second grader: {self.grader}", "",
                 "| audited | agree | false positives | false negatives | undecided |",
                 "|---:|---:|---:|---:|---:|",
                 f"| {c['audited']} | {c['agree']} | {c['false_positive']} | {c['false_negative']} | {c['undecided']} |",
                 "", "## Disagreements", "", "| task | seed | benchmark | judge | kind | judge's reason |",
                 "|---|---:|---|---|---|---|"]
        for i in self.disagreements():
            lines.append(f"| {i.task_id} | {i.seed} | {'success' if i.benchmark_success else 'no success'} | "
                         f"{'done' if i.judge_success else 'not done'} | {i.kind} | {i.reason} |")
        return "\n".join(lines) + "\n"

    def table(self) -> Table:
        c = self.counts()
        t = Table("task", "seed", "benchmark", "judge", "kind", "reason",
                  title=f"grader audit ({self.grader}): {c['agree']}/{c['audited']} agree, "
                        f"{c['false_positive']} FP, {c['false_negative']} FN, {c['undecided']} undecided "
                        f"({c['judge_failed']} judge calls failed)")
        for i in self.items:
            judge = "-" if i.judge_success is None else ("done" if i.judge_success else "not done")
            t.add_row(i.task_id, str(i.seed), "success" if i.benchmark_success else "no success", judge,
                      i.kind, i.reason[:60])
        return t

    def write_progress(self) -> None:
        write_json(self.run_dir / AUDIT_JSON, self.as_dict())

    def write(self) -> None:
        self.complete = True
        write_json(self.run_dir / AUDIT_JSON, self.as_dict())
        atomic_write_bytes(self.run_dir / "audit.md", self.markdown().encode())

    def earlier_verdicts(self) -> dict[str, AuditItem]:
        """folder → the verdict an earlier audit of this run by the same grader wrote (judge
        failures left out: those are asked again)."""
        path = self.run_dir / AUDIT_JSON
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("grader") != self.grader:
            return {}  # another grader's verdicts are not this one's
        known = {f for f in AuditItem.__dataclass_fields__}
        out: dict[str, AuditItem] = {}
        for raw in data.get("items", []):
            try:
                item = AuditItem(**{k: v for k, v in raw.items() if k in known})
            except TypeError:
                continue
            if not item.judge_failed:
                out[item.folder] = item
        return out


def make_grader(spec: str):  # -> ChatModel
    """``vlm:backend=http,path=URL,model=NAME`` or ``vlm:backend=local,path=CHECKPOINT``."""
    from grounding.model_grounder import make_chat_model

    name, args = parse_spec(spec)
    if name != "vlm":
        raise CuaError(f"unknown grader {name!r}; known: vlm (e.g. vlm:backend=http,path=URL,model=NAME)")
    if "path" not in args:
        raise CuaError(f"grader {spec!r} needs path= (a checkpoint folder or a server URL)")
    backend, path = args.pop("backend", "http"), args.pop("path")
    return make_chat_model(backend, path, **args)


def _final_answer(folder: Path) -> str:
    episode = load_episode(folder)
    for step in reversed(episode.steps):
        answer = step.info.get("answer")
        if answer:
            return str(answer)
    return ""


def audit_run(run_dir: Path, grader_spec: str, console: Console | None = None,
              show_progress: bool = True) -> AuditReport:
    run_dir = Path(run_dir)
    model = make_grader(grader_spec)
    report = AuditReport(run_dir, f"{grader_spec.split(':', 1)[0]} ({getattr(model, 'name', '?')})")
    earlier = report.earlier_verdicts()
    folders = sorted(p.parent for p in (run_dir / "episodes").glob(f"*/{RESULT_FILE}"))
    with Progress(console=console or Console(), disable=not show_progress) as bar:
        progress = bar.add_task("auditing", total=len(folders))
        for folder in folders:
            bar.advance(progress)
            result = load_episode(folder).result
            if result is None or result.status not in AUDITED_STATUSES:
                continue  # no benchmark verdict to check
            before = earlier.get(folder.name)
            if before is not None and before.benchmark_success == (result.status == "success"):
                report.items.append(before)
                continue
            report.items.append(_judge(model, folder, result))
            report.write_progress()  # a stopped audit keeps every verdict it paid for
    report.write()
    return report


def _judge(model, folder: Path, result: EpisodeResult) -> AuditItem:  # model: ChatModel
    def item(verdict: bool | None, reason: str, judge_failed: bool = False) -> AuditItem:
        return AuditItem(result.task_id, result.seed, folder.name, result.status == "success", verdict, reason,
                         judge_failed)

    name = result.final_screenshot or "final.png"
    shot = episode_file(folder, name)  # the name comes from the run folder: untrusted
    if shot is None:
        return item(None, f"refused final screenshot name {name!r}: not a file of the episode folder")
    if not shot.is_file():
        return item(None, "no final screenshot")
    prompt = JUDGE_PROMPT.format(instruction=result.instruction or "", answer=_final_answer(folder))
    try:
        with Image.open(shot) as image:
            messages = [{"role": "user", "content": [{"type": "image", "image": image.convert("RGB")},
                                                      {"type": "text", "text": prompt}]}]
    except OSError as e:
        return item(None, f"unreadable final screenshot: {e}"[:300])
    try:
        reply = model.chat(messages, max_new_tokens=128)
    except CuaError as e:  # ModelServerError and kin: this episode stays undecided, the audit goes on
        return item(None, f"judge call failed: {e}"[:300], judge_failed=True)
    verdict, reason = parse_judgment(reply)
    return item(verdict, reason)
