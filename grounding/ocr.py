"""OCR grounder: read the screenshot's text with RapidOCR (once per image, cached on a hash of
its pixels), match the target's text against every line and every run of words inside a line,
and return the centre of the best box; refuse when nothing reads close enough. Needs no
weights beyond the detector and recogniser that ship inside ``rapidocr-onnxruntime``."""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
import statistics
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from cua.core import Box, Grounding, ModelSpace, Observation
from grounding.base import GROUNDERS
from grounding.matching import Embedder, name_score
from grounding.targets import TargetQuery, normalize_text

_TOKEN = re.compile(r"[\w#]+")  # what normalize_text keeps of a line: its words
# Whole lines beat the same words inside a longer line: a button or link stands alone.
WHOLE_LINE_BONUS = 0.03
EXACT_CASE_BONUS = 0.02
# A name inside a longer word that OCR glued together ("EditView"): rated as name_score rates
# the same words with a space lost.
GLUED_SCORE = 0.95
# Letters this much further apart than the line's median pitch are taken as a dropped space
# (1.6-2.2x at the dropped spaces of MiniWoB and docs lines, 1.0-1.5x inside words).
GAP_FACTOR = 1.5
FUZZY_FLOOR = 0.4  # fuzzy matches below this are not worth computing, even for the refusal note
TIE_MARGIN = 0.05  # candidates this close to the best one count as the same match (ordinals)
# RapidOCR's recogniser drops the spaces between small words ("Egestasultricesnam"). Measured
# on Chromium screenshots (multi-word texts read exactly, native -> 2x): MiniWoB 660x480 at
# DSF 2 60% -> 92%; docs 1280x800 at DSF 1 79% -> 79%; at DSF 2 (2560x1600) 88% -> 94% for
# 2-4x the time. So small screenshots (MiniWoB's, a 640x360 page) are read at UPSCALE, screen-
# sized ones (1280x720 and up) at their own size; above OCR_MAX_SIDE RapidOCR shrinks them
# itself (and maps its boxes back).
UPSCALE_BELOW = 500_000  # pixels
UPSCALE = 2.0
OCR_MAX_SIDE = 4096


@dataclass(frozen=True)
class Line:
    """One line of text as OCR read it, in screenshot pixels."""

    text: str
    box: Box
    confidence: float
    xs: tuple[tuple[float, float], ...]  # left and right edge of each character of ``text``
    words: tuple[tuple[int, int], ...]  # character ranges [start, end) of the words

    @functools.cached_property
    def pitch(self) -> float:
        """Median distance between the centres of neighbouring letters or digits."""
        steps = [(self.xs[j + 1][0] + self.xs[j + 1][1] - self.xs[j][0] - self.xs[j][1]) / 2
                 for j in range(len(self.text) - 1)
                 if self.text[j].isalnum() and self.text[j + 1].isalnum()]
        return statistics.median(steps) if steps else 0.0

    def word_break(self, left: int, right: int) -> bool:
        """Whether a word may end between characters ``left`` and ``right``: at the line's
        ends, at punctuation, at a lower→upper or letter↔digit change, or where the letters
        stand apart (OCR drops spaces but keeps where each character was)."""
        if left < 0 or right >= len(self.text):
            return True
        p, c = self.text[left], self.text[right]
        if not (p.isalnum() and c.isalnum()) or (p.islower() and c.isupper()) or \
                p.isdigit() != c.isdigit():
            return True
        step = (self.xs[right][0] + self.xs[right][1] - self.xs[left][0] - self.xs[left][1]) / 2
        return self.pitch > 0 and step >= GAP_FACTOR * self.pitch

    def span(self, index: int, start: int, end: int, whole: bool, glued: bool = False) -> Span:
        raw = self.text[start:end]
        box = Box(x1=self.xs[start][0], y1=self.box.y1, x2=max(self.xs[end - 1][1],
                  self.xs[start][0] + 1), y2=self.box.y2)
        return Span(index, start, end, normalize_text(raw), raw, box, whole, glued)


@dataclass(frozen=True)
class Span:
    """Characters ``start:end`` of line number ``line``: a candidate for the target."""

    line: int
    start: int
    end: int
    text: str  # normalised
    raw: str  # as read
    box: Box
    whole: bool  # the whole line
    glued: bool  # part of a word OCR glued to its neighbour ("EditView")

    def overlaps(self, other: Span) -> bool:
        return self.line == other.line and self.start < other.end and other.start < self.end


@functools.cache
def _engine() -> Any:
    """One RapidOCR per process (about 0.5 s to load its three ONNX models)."""
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR(max_side_len=OCR_MAX_SIDE, print_verbose=False)


def auto_scale(size: tuple[int, int]) -> float:
    """How much to enlarge a screenshot of ``size`` before OCR (see UPSCALE_BELOW)."""
    return UPSCALE if size[0] * size[1] < UPSCALE_BELOW else 1.0


class TextReader:
    """OCR with a small LRU cache keyed on the image's pixels, so every target grounded on
    one observation (and a critic reading the same screenshot) costs one OCR pass.
    ``scale``: how much to enlarge screenshots before OCR (``None``: ``auto_scale``)."""

    def __init__(self, cache_size: int = 8, scale: float | None = None) -> None:
        self.cache_size = cache_size
        self.scale = scale
        self.hits = self.misses = 0
        self._cache: OrderedDict[str, tuple[Line, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, image: Image.Image) -> tuple[Line, ...]:
        if image.mode != "RGB":
            image = image.convert("RGB")
        key = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest() + str(image.size)
        with self._lock:
            if key in self._cache:
                self.hits += 1
                self._cache.move_to_end(key)
                return self._cache[key]
            self.misses += 1
            lines = _read(image, self.scale or auto_scale(image.size))
            self._cache[key] = lines
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return lines


# Shared by every OCRGrounder of the process unless one is given its own.
READER = TextReader()


def _read(image: Image.Image, scale: float) -> tuple[Line, ...]:
    # Bicubic: LANCZOS's ringing under underlined links read "Edit" as "Edlit".
    shown = image if scale == 1.0 else image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
    # Screen text is never upside down: skip the orientation classifier.
    result, _ = _engine()(shown, use_cls=False, return_word_box=True)
    return tuple(line for item in result or () if (line := _line(item, scale)).words)


def _line(item: Sequence[Any], scale: float) -> Line:
    """One RapidOCR result ``[quad, text, score, char_quads, chars, char_scores]`` → a Line
    with an x-range per character (RapidOCR's own when it gives one per character)."""
    quad, text, conf = item[0], str(item[1]), float(item[2])
    box = _quad_box(quad, scale)
    if len(item) > 3 and len(item[3]) == len(text):
        xs = tuple((b.x1, b.x2) for b in (_quad_box(q, scale) for q in item[3]))
    else:  # place each character by its share of the line
        step = box.width / max(len(text), 1)
        xs = tuple((box.x1 + i * step, box.x1 + (i + 1) * step) for i in range(len(text)))
    words = tuple((m.start(), m.end()) for m in _TOKEN.finditer(text)
                  if normalize_text(m.group()))
    return Line(text=text, box=box, confidence=conf, xs=xs, words=words)


def _quad_box(quad: Sequence[Sequence[float]], scale: float) -> Box:
    """A quadrilateral on the enlarged image → its bounding box in screenshot pixels."""
    xs, ys = [p[0] / scale for p in quad], [p[1] / scale for p in quad]
    return Box(x1=min(xs), y1=min(ys), x2=max(xs), y2=max(ys))


def _spans(
    lines: Sequence[Line], names: set[str], skip: set[int]
) -> Iterator[Span]:
    """Each whole line, each run of words about as long as a name, and each name found glued
    inside a longer word at a likely word break ("View" in "EditView", "nam" in
    "ultricesnamscelerisque" where the letters stand apart; not "view" in "Preview")."""
    n_words = {len(n.split()) for n in names}
    sizes = set(range(max(1, min(n_words) - 1), max(n_words) + 2))
    compact_names = {n.replace(" ", "") for n in names}
    for i, line in enumerate(lines):
        if i in skip:
            continue
        k = len(line.words)
        yield line.span(i, line.words[0][0], line.words[-1][1], whole=True)
        for size in sorted(n for n in sizes if n < k):
            for w in range(k - size + 1):
                yield line.span(i, line.words[w][0], line.words[w + size - 1][1], whole=False)
        yield from _glued(i, line, compact_names)


def _glued(index: int, line: Line, names: set[str]) -> Iterator[Span]:
    keep = [j for j, c in enumerate(line.text) if c.isalnum() or c in "#_"]
    compact = "".join(line.text[j] for j in keep).lower()
    for name in (n for n in names if len(n) >= 2):
        at = compact.find(name)
        while at >= 0:
            a, b = keep[at], keep[at + len(name) - 1]  # first and last character
            if line.word_break(a - 1, a) and line.word_break(b, b + 1) and \
                    (a, b + 1) not in line.words:
                yield line.span(index, a, b + 1, whole=False, glued=True)
            at = compact.find(name, at + 1)


def alternatives(q: TargetQuery) -> set[str]:
    """The normalised texts the target may show: its text, its synonyms and, unquoted, the
    description as written (role words are often on screen too: "Tab #2", "The Rust Book")."""
    out = {normalize_text(a) for a in q.alternatives}
    if not q.exact:
        out.add(normalize_text(q.raw))
    return out - {""}


def instruction_lines(lines: Sequence[Line], instruction: str, target: TargetQuery) -> set[int]:
    """Lines that show the task's own instruction (MiniWoB prints it above the task): the
    target's name quoted there must not be clicked. A line that *is* the target stays."""
    instr = normalize_text(instruction).replace(" ", "")
    names = {a.replace(" ", "") for a in alternatives(target)}
    out = set()
    for i, line in enumerate(lines):
        text = normalize_text(line.text).replace(" ", "")
        if not text or text in names:
            continue
        if text in instr or (len(text) >= 8 and _coverage(text, instr) >= 0.8):
            out.add(i)
    return out


def _coverage(part: str, whole: str) -> float:
    """Share of ``part``'s characters found in ``whole`` in runs of 3 or more (OCR misreads
    a letter here and there; scattered single letters match anything)."""
    blocks = difflib.SequenceMatcher(None, part, whole, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks if b.size >= 3) / len(part)


class OCRGrounder:
    """``threshold``: the lowest match score that still counts; below it the grounder refuses
    (or, with ``semantic``, tries the closest line by meaning, from ``semantic_threshold``).
    ``scale``: enlarge screenshots this much before OCR (default: ``auto_scale``);
    ``reader``: where the OCR and its cache live (the process-wide ``READER`` by default)."""

    name = "ocr"

    def __init__(
        self, threshold: float | str = 0.62, semantic: bool | str = False,
        semantic_threshold: float | str = 0.5, scale: float | str | None = None,
        reader: TextReader | None = None,
    ) -> None:
        self.threshold = float(threshold)
        if isinstance(semantic, str):  # from a CLI spec: "ocr:semantic=true"
            semantic = semantic.lower() in ("1", "true", "yes", "on")
        self.semantic_threshold = float(semantic_threshold)
        self.reader = reader or (READER if scale is None else TextReader(scale=float(scale)))
        self._embedder = Embedder() if semantic else None

    def read(self, image: Image.Image) -> tuple[Line, ...]:
        """The lines on ``image`` (cached)."""
        return self.reader.read(image)

    def ground(
        self, image: Image.Image, instruction: str, observation: Observation | None = None
    ) -> Grounding:
        start = time.perf_counter()
        query = TargetQuery.parse(instruction)
        lines = self.read(image) if query.text else ()
        shown = observation.instruction if observation is not None else None
        skip = instruction_lines(lines, shown, query) if shown else set()
        span, score, why = self._match(query, lines, skip)
        space = ModelSpace.screenshot(*image.size)
        point = span.box.center if span is not None else None
        return Grounding(
            point=point, box=span.box if span else None, score=round(score, 4),
            raw_text=why, model_space=space, model_point=point,
            latency_s=time.perf_counter() - start, grounder=self.name,
        )

    def _match(
        self, q: TargetQuery, lines: Sequence[Line], skip: set[int]
    ) -> tuple[Span | None, float, str]:
        if not q.text:
            return None, 0.0, "OCR refuses: the target has no text to read (role only)"
        names = alternatives(q)
        written = f" {' '.join(_TOKEN.findall(q.exact or q.raw))} "  # case kept
        order = _reading_order(lines)
        candidates = ((*self._score(names, written, sp), sp) for sp in _spans(lines, names, skip))
        scored = sorted(  # best first (tie-breaks included); equal scores in reading order
            (c for c in candidates if c[0] > 0), key=lambda s: (-s[0] - s[1], order(s[2])))
        top = max((base for base, _, _ in scored), default=0.0)
        if top >= self.threshold:
            # Every place the words match about as well counts for an ordinal ("the 2nd Edit"),
            # whole line or inside one; without an ordinal the tie-breaks pick.
            ties = _distinct([sp for base, _, sp in scored if base >= top - TIE_MARGIN])
            span = ties[0] if q.ordinal is None else _nth(sorted(ties, key=order), q.ordinal)
            if span is None:
                return None, top, (f"OCR refuses: no match number {q.ordinal} for"
                                   f" {q.text!r} ({len(ties)} on screen)")
            return span, top, f"ocr {span.raw!r} in line {lines[span.line].text!r}"
        best = f" (closest {scored[0][2].raw!r} at {scored[0][0]:.2f})" if scored else ""
        if self._embedder is not None:
            found = self._semantic(q, lines, skip)
            if found is not None:
                return found
        return None, top, f"OCR refuses: no text on screen matches {q.text!r}{best}"

    @staticmethod
    def _score(names: set[str], written: str, span: Span) -> tuple[float, float]:
        """(how well the words match, tie-breaks: a whole line, the case as written)."""
        if span.glued:
            base = GLUED_SCORE
        else:
            fits = [a for a in names if _may_match(a, span)]
            base = max((name_score(a, span.text, FUZZY_FLOOR) for a in fits), default=0.0)
        if base == 0.0:
            return 0.0, 0.0
        bonus = WHOLE_LINE_BONUS if span.whole else 0.0
        if f" {' '.join(_TOKEN.findall(span.raw))} " in written:
            bonus += EXACT_CASE_BONUS  # "Eget" over "eget" when written so
        return base, bonus

    def _semantic(
        self, q: TargetQuery, lines: Sequence[Line], skip: set[int]
    ) -> tuple[Span, float, str] | None:
        """The short line closest in meaning ("open the settings" → "Settings")."""
        pool = [i for i, line in enumerate(lines) if i not in skip and len(line.words) <= 8]
        if not pool or self._embedder is None:  # labels are short; paragraphs are not targets
            return None
        sims = self._embedder.similarities(q.text, [lines[i].text for i in pool])
        sim, i = max(zip(sims, pool))
        if sim < self.semantic_threshold:
            return None
        line = lines[i]
        span = line.span(i, 0, len(line.text), whole=True)
        return span, sim, f"ocr (semantic {sim:.2f}) line {line.text!r}"


def _may_match(name: str, span: Span) -> bool:
    """Words cut out of a line are no label: they may not stand for a longer name. And a name
    hidden inside a longer word ("one" in "done") is no fuzzy match: only ``_glued`` may find
    it there, at a word boundary."""
    text = span.text
    if name == text:
        return True
    if not span.whole and f" {text} " in f" {name} ":
        return False
    name_c, text_c = name.replace(" ", ""), text.replace(" ", "")
    return name_c not in text_c or name_c == text_c or f" {name} " in f" {text} "


def _distinct(spans: list[Span]) -> list[Span]:
    """Best first, dropping spans that share words with a better one (one match per place)."""
    kept: list[Span] = []
    for sp in spans:
        if not any(sp.overlaps(k) for k in kept):
            kept.append(sp)
    return kept


def _reading_order(lines: Sequence[Line]) -> Callable[[Span], tuple[int, float]]:
    """Sort key: rows about one line high, top to bottom, then left to right."""
    row = statistics.median(line.box.height for line in lines) if lines else 1.0
    return lambda sp: (round(sp.box.center.y / max(row, 1.0)), sp.box.x1)


def _nth(ordered: list[Span], ordinal: int) -> Span | None:
    index = ordinal - 1 if ordinal > 0 else ordinal  # 1-based; -1 = last
    return ordered[index] if -len(ordered) <= index < len(ordered) else None


GROUNDERS.register("ocr")(OCRGrounder)
