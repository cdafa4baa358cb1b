"""The CPU critic (the default; no weights): rule checks, the page's accessible elements, and
OCR evidence around the proposed point.

    --critic cpu                       rules + elements + OCR evidence
    --critic rules                     rules + elements, no OCR (the cheapest)
    --critic cpu:focus=off,repeat=off  any check switched off: bounds, repeat, focus, done,
                                       elements, ocr; evidence=off skips the evidence image

Order: the hard rules first (a rejection there is final); then the elements (is the point on
the element the intent names?); OCR is read only when the elements cannot tell, or when they
see a miss on a spot that is not blank (a label's text the tree does not name: OCR may still
find the target there). OCR is how the critic judges screens without an accessibility tree.
"""

from __future__ import annotations

from critic.base import CRITICS, NOT_INTERACTABLE, OFF_TARGET, ReviewContext, parse_flag
from critic.evidence import render
from critic.history import RuleCompressor
from critic.ocr_evidence import OCREvidence
from critic.rules import (
    Finding,
    blank_at,
    check_bounds,
    check_done,
    check_elements,
    check_focus,
    check_repeat,
)
from cua.core import Verdict, with_point
from grounding.ocr import READER, instruction_lines
from grounding.targets import TargetQuery

CHECKS = ("bounds", "repeat", "focus", "done", "elements", "ocr")


class CPUCritic:
    """``unchanged_px``: changed pixels (at DSF 1) where the action acts below which the
    screen counts as unchanged (repeat rule); ``ocr_threshold``: OCR match score that counts
    as the target's text."""

    def __init__(self, bounds: bool | str = True, repeat: bool | str = True, focus: bool | str = True,
                 done: bool | str = True, elements: bool | str = True, ocr: bool | str = True,
                 evidence: bool | str = True, unchanged_px: float | str = 80,
                 ocr_threshold: float | str = 0.7, name: str = "cpu") -> None:
        flags = {"bounds": bounds, "repeat": repeat, "focus": focus, "done": done, "elements": elements, "ocr": ocr}
        self.enabled = {k for k, v in flags.items() if parse_flag(v)}
        self.evidence = parse_flag(evidence)
        self.unchanged_px = float(unchanged_px)
        self.ocr = OCREvidence(float(ocr_threshold)) if "ocr" in self.enabled else None
        self.compressor = RuleCompressor()
        off = sorted(set(CHECKS) - self.enabled - ({"ocr"} if name == "rules" else set()))
        self.name = name + (f"(-{',-'.join(off)})" if off else "")

    def review(self, ctx: ReviewContext) -> Verdict:
        if self.evidence:
            ctx.evidence = render(ctx.observation.screenshot, ctx.action).panel()
        for check, rule in (("bounds", check_bounds), ("repeat", lambda c: check_repeat(c, self.unchanged_px)),
                            ("focus", check_focus), ("done", self._done)):
            if check in self.enabled and (f := rule(ctx)) is not None and f.ok is False:
                return self._reject(ctx, f)
        found = check_elements(ctx) if "elements" in self.enabled else None
        if found is not None and found.ok is False and found.error_type in (OFF_TARGET, NOT_INTERACTABLE) \
                and self.ocr is not None and not blank_at(ctx.observation.screenshot, ctx.action.points()[0]):
            read = self.ocr.check(ctx, screen=False)  # ink the tree does not name: the target's label?
            if read is not None and read.ok:
                return self._approve(read)
        if found is not None and found.ok is not None:
            return self._approve(found) if found.ok else self._reject(ctx, found)
        if self.ocr is not None and (read := self.ocr.check(ctx)) is not None and read.ok is not None:
            return self._approve(read) if read.ok else self._reject(ctx, read)
        return Verdict(approve=True, reason="no check objects", score=0.5, critic=self.name)

    def _done(self, ctx: ReviewContext) -> Finding | None:
        if ctx.action.type != "done":
            return None
        # Without an accessibility tree, entered text is looked for in the OCR (the instruction
        # lines left out: MiniWoB prints the very text to enter above the task).
        return check_done(ctx, None if ctx.observation.elements or self.ocr is None else _screen_text(ctx))

    def _approve(self, f: Finding) -> Verdict:
        return Verdict(approve=True, reason=f.reason, score=f.confidence, critic=self.name)

    def _reject(self, ctx: ReviewContext, f: Finding) -> Verdict:
        suggestion = None
        if f.suggestion is not None and len(ctx.action.points()) == 1:
            suggestion = with_point(ctx.action, round(f.suggestion.x, 1), round(f.suggestion.y, 1))
        return Verdict(approve=False, reason=f.reason, error_type=f.error_type, suggestion=suggestion,
                       score=f.confidence, critic=self.name)


def _screen_text(ctx: ReviewContext) -> str:
    lines = READER.read(ctx.observation.screenshot)
    shown = ctx.observation.instruction or ctx.task.instruction
    skip = instruction_lines(lines, shown, TargetQuery.parse("")) if shown else set()
    return " ".join(line.text for i, line in enumerate(lines) if i not in skip)


@CRITICS.register("cpu")
def _make_cpu(**args: str) -> CPUCritic:
    return CPUCritic(**args)


@CRITICS.register("rules")
def _make_rules(**args: str) -> CPUCritic:
    return CPUCritic(**{"ocr": "off", "name": "rules", **args})
