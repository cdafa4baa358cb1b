"""Accuracy and latency of the CPU grounders, ``ocr`` and ``a11y``, on two sets.

    .venv/bin/python bench/grounding.py [--data runs/bench-grounding/screenspot] [--seeds 10]
                                        [--json runs/bench-grounding/report.json]

(a) ``docs``: a ScreenSpot-v2-style set rendered here, in the system Chromium at a 1280x800
viewport and DSF 1 and 2, from HTML documentation that ships with the machine's packages
(Rust's books and std docs from rustup, valgrind, libffi, libxslt, Debian's python policy,
xterm's FAQ, ...): pages nobody on this project wrote. Targets come from the accessibility
elements: ``text`` = links, buttons and headings whose visible text is their name and is said
nowhere else on the screenshot (so the instruction names one element); ``icon`` = links,
buttons and images with a name but no visible text (the name is the instruction). The same
targets are drawn at both DSFs. The set is written under ``--data`` in the layout
``grounding.benchmarks`` reads as ``screenspot-json`` (``screenspot.json``: items
``img_filename, bbox [x, y, w, h], instruction, data_type, data_source``, plus ``images/``),
with each screenshot's elements in ``elements/`` for the a11y grounder; it is reused when it
exists. OCR sees the image and the instruction only, as in ScreenSpot; a11y also gets the
elements (the targets were drawn from them, so a11y is a ceiling here, not a rival).

(b) ``miniwob``: MiniWoB++ single-click tasks, ``--seeds`` episodes each. The target is the
first step of the instruction-list planner (``cua.planners.split_instruction``) on the
utterance; the grounded point is clicked and success is the episode's reward (raw > 0).
Both grounders get the observation (OCR uses its instruction to skip the prompt shown above
the task). ``icon`` there = targets with no words to read ("the textbox", the dialog's "x").

Latency per sample, ``median_ms``: for ``ocr`` one OCR pass of the screenshot plus the
matching (on ``docs`` several targets share a screenshot, so its OCR time is added to each
sample's cache-hit call; ``warm_ms`` is the cache-hit call alone). Wall time moves with the
machine's load (recorded as the load average); ``cpu_ms``, the process's CPU time for the same
work summed over ONNX Runtime's threads, moves much less. Exits non-zero on errors only.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import random
import statistics
import sys
import time
import zlib
from collections import Counter, defaultdict
from importlib.metadata import version
from pathlib import Path
from typing import Any

from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, from anywhere

from cua.core import Box, Click, Intent, Observation, UIElement  # noqa: E402
from cua.planners import split_instruction  # noqa: E402
from envs.base import Task  # noqa: E402
from envs.browser import BrowserConfig, BrowserEnv  # noqa: E402
from envs.miniwob import MiniWoBEnv, make_task  # noqa: E402
from grounding.base import GROUNDERS, Grounder  # noqa: E402
from grounding.benchmarks import Sample, load_benchmark  # noqa: E402
from grounding.ocr import OCRGrounder  # noqa: E402 (registers "ocr")
from grounding.targets import TargetQuery, normalize_text  # noqa: E402

VIEWPORT = (1280, 800)
DSFS = (1, 2)
RUST_DOCS = ("~/.rustup/toolchains/*/share/doc/rust/html", "/usr/share/doc/rust-doc/html")
DOC_PAGES = (  # (data_source, path); "{rust}" is the first Rust documentation folder found
    ("rust-book", "{rust}/book/ch03-02-data-types.html"),
    ("rust-std", "{rust}/std/vec/struct.Vec.html"),
    ("cargo-book", "{rust}/cargo/guide/creating-a-new-project.html"),
    ("rust-reference", "{rust}/reference/introduction.html"),
    ("rust-by-example", "{rust}/rust-by-example/hello.html"),
    ("valgrind", "/usr/share/doc/valgrind/html/manual-core.html"),
    ("libffi", "/usr/share/doc/libffi8/html/index.html"),
    ("libxslt", "/usr/share/doc/libxslt1-dev/html/index.html"),
    ("python-policy", "/usr/share/doc/python3/python-policy.html"),
    ("xterm-faq", "/usr/share/doc/xterm/xterm.faq.html"),
    ("base-passwd", "/usr/share/doc/base-passwd/users-and-groups.html"),
    ("rust-std-index", "{rust}/std/index.html"),
)
TEXT_ROLES = ("link", "button", "heading")
ICON_ROLES = ("link", "button", "img", "image")
TEXT_PER_SHOT, ICON_PER_SHOT = 10, 4
MINIWOB_TASKS = (
    "click-button", "click-link", "click-tab", "click-dialog", "click-dialog-2", "click-test",
    "click-test-2", "focus-text",
)
console = Console(stderr=True)


# ---- (a) the documentation set --------------------------------------------------------------

def doc_pages(limit: int) -> list[tuple[str, Path]]:
    rust = next((Path(p) for pat in RUST_DOCS for p in sorted(glob.glob(os.path.expanduser(pat)))),
                None)
    found = []
    for source, pattern in DOC_PAGES:
        if "{rust}" in pattern and rust is None:
            continue
        path = Path(pattern.replace("{rust}", str(rust)))
        if path.is_file():
            found.append((source, path))
    return found[:limit]


def build_docs_set(data: Path, pages: int, progress: Progress) -> None:
    found = doc_pages(pages)
    if not found:
        raise RuntimeError("no HTML documentation found on this machine (see DOC_PAGES)")
    (data / "images").mkdir(parents=True, exist_ok=True)
    (data / "elements").mkdir(exist_ok=True)
    items: list[dict[str, Any]] = []
    job = progress.add_task("render docs", total=len(found) * len(DSFS))
    for dsf in DSFS:
        env = BrowserEnv(BrowserConfig(viewport=VIEWPORT, device_scale_factor=dsf,
                                       allowed_origins=["file://"]))  # nothing from outside
        try:
            for source, path in found:
                obs = env.reset(Task(id=f"docs/{source}", start_url=path.as_uri()))
                stem = f"{source}@{dsf}x"
                obs.screenshot.save(data / "images" / f"{stem}.png")
                (data / "elements" / f"{stem}.json").write_text(
                    json.dumps([e.model_dump() for e in obs.elements]))
                rng = random.Random(zlib.crc32(source.encode()))  # same targets at each DSF
                items += doc_targets(obs, f"images/{stem}.png", source, rng)
                progress.advance(job)
        finally:
            env.close()
    (data / "screenspot.json").write_text(json.dumps(items, indent=1))
    progress.remove_task(job)


def doc_targets(
    obs: Observation, img: str, source: str, rng: random.Random
) -> list[dict[str, Any]]:
    texts = sorted((e for e in obs.elements if e.role == "StaticText"),
                   key=lambda e: (e.box.y1, e.box.x1))
    named = Counter(normalize_text(e.name) for e in obs.elements if e.role != "StaticText")
    min_side = 6 * obs.device_scale_factor
    text_items, icon_items = [], []
    for e in obs.elements:
        name, b = normalize_text(e.name), e.box
        if not name or len(e.name) > 60 or named[name] > 1 or min(b.width, b.height) < min_side:
            continue
        if b.x1 <= 0 or b.y1 <= 0 or b.x2 >= obs.width - 1 or b.y2 >= obs.height - 1:
            continue  # clipped by the viewport: its box is not the element's
        inner = normalize_text(" ".join(t.name for t in texts if b.contains(t.box.center)))
        if e.role in TEXT_ROLES and inner == name and not _said_elsewhere(name, b, texts):
            text_items.append(_item(img, b, f'the "{e.name}" {e.role}', "text", source))
        elif e.role in ICON_ROLES and not inner:
            icon_items.append(_item(img, b, e.name, "icon", source))
    return (rng.sample(text_items, min(TEXT_PER_SHOT, len(text_items)))
            + rng.sample(icon_items, min(ICON_PER_SHOT, len(icon_items))))


def _said_elsewhere(name: str, box: Box, texts: list[UIElement]) -> bool:
    """Whether another text on the page reads exactly the same (an ambiguous instruction);
    the same words inside a longer text are fine, as in ScreenSpot."""
    return any(normalize_text(t.name) == name for t in texts if not box.contains(t.box.center))


def _item(img: str, b: Box, instruction: str, kind: str, source: str) -> dict[str, Any]:
    return {"img_filename": img, "bbox": [round(v, 2) for v in (b.x1, b.y1, b.width, b.height)],
            "instruction": instruction, "data_type": kind, "data_source": source,
            "platform": "web"}


def run_docs(
    data: Path, grounders: dict[str, Grounder], progress: Progress
) -> list[dict[str, Any]]:
    samples = load_benchmark("screenspot-json", data).samples
    by_image: dict[Path, list[Sample]] = defaultdict(list)
    for s in samples:
        by_image[s.image_path].append(s)
    job = progress.add_task("docs", total=len(samples))
    records = []
    for path, group in by_image.items():
        image = Image.open(path).convert("RGB")
        elements = json.loads((data / "elements" / f"{path.stem}.json").read_text())
        obs = Observation(screenshot=image, elements=[UIElement(**e) for e in elements],
                          device_scale_factor=float(path.stem.rsplit("@", 1)[1].rstrip("x")))
        cold: dict[str, tuple[float, float]] = {}  # wall and CPU seconds of the OCR pass
        for name, grounder in grounders.items():
            if isinstance(grounder, OCRGrounder):  # one timed OCR pass; its samples hit the cache
                start, cpu = time.perf_counter(), time.process_time()
                grounder.read(image)
                cold[name] = (time.perf_counter() - start, time.process_time() - cpu)
        for s in group:
            for name, grounder in grounders.items():
                cpu = time.process_time()
                g = grounder.ground(image, s.instruction, None if name in cold else obs)
                cpu = time.process_time() - cpu
                wall0, cpu0 = cold.get(name, (0.0, 0.0))
                hit = g.point is not None and s.target_contains(g.point)
                records.append(_record("docs", name, s.element_type, hit, g.point is None,
                                       wall0 + g.latency_s, cpu0 + cpu, g.latency_s,
                                       id=s.id, source=s.source, score=g.score,
                                       dsf=obs.device_scale_factor,
                                       instruction=s.instruction, raw_text=g.raw_text))
            progress.advance(job)
    return records


# ---- (b) MiniWoB++ --------------------------------------------------------------------------

def run_miniwob(
    tasks: list[str], seeds: int, grounders: dict[str, Grounder], progress: Progress
) -> list[dict[str, Any]]:
    job = progress.add_task("miniwob", total=len(tasks) * seeds)
    records = []
    env = MiniWoBEnv()
    try:
        for task_name in tasks:
            for seed in range(seeds):
                for name, grounder in grounders.items():
                    task = make_task(task_name, seed)
                    task.time_limit_s = 600.0  # OCR must not run the episode's clock out
                    obs = env.reset(task)
                    step = split_instruction(obs.instruction or "")[0]
                    target = step.target if isinstance(step, Intent) else ""
                    q = TargetQuery.parse(target)
                    kind = "icon" if q.text in ("", "x") else "text"
                    cpu = time.process_time()
                    g = grounder.ground(obs.screenshot, target, obs)
                    cpu = time.process_time() - cpu
                    hit = False
                    if g.point is not None:
                        env.step(Click(x=g.point.x, y=g.point.y))
                        hit = env.evaluate() == 1.0
                    records.append(_record("miniwob", name, kind, hit, g.point is None,
                                           g.latency_s, cpu, g.latency_s, id=f"{task_name}/{seed}",
                                           source=task_name, score=g.score, instruction=target,
                                           utterance=obs.instruction, raw_text=g.raw_text))
                progress.advance(job)
    finally:
        env.close()
    return records


# ---- report ---------------------------------------------------------------------------------

def _record(bench: str, grounder: str, kind: str, hit: bool, refused: bool, latency_s: float,
            cpu_s: float, warm_s: float, **extra: Any) -> dict[str, Any]:
    return {"set": bench, "grounder": grounder, "data_type": kind, "hit": hit,
            "refused": refused, "latency_ms": round(latency_s * 1000, 2),
            "cpu_ms": round(cpu_s * 1000, 2), "warm_ms": round(warm_s * 1000, 2), **extra}


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in records:  # the docs set per DSF: OCR reads a DSF-2 shot (4x the pixels) apart
        bench = f"{r['set']} dsf{r['dsf']:g}" if r.get("dsf") else r["set"]
        groups[(bench, r["grounder"], r["data_type"])].append(r)
    rows = []
    for (bench, grounder, kind), rs in sorted(groups.items()):
        rows.append({
            "set": bench, "grounder": grounder, "data_type": kind, "n": len(rs),
            "accuracy": round(sum(r["hit"] for r in rs) / len(rs), 4),
            "refusals": sum(r["refused"] for r in rs),
            "median_ms": round(statistics.median(r["latency_ms"] for r in rs), 1),
            "cpu_ms": round(statistics.median(r["cpu_ms"] for r in rs), 1),
            "warm_ms": round(statistics.median(r["warm_ms"] for r in rs), 1),
        })
    return rows


def print_report(rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    table = Table(title="CPU grounders: accuracy (point in the target's box / task reward) "
                        "and median latency per sample")
    for col in ("set", "grounder", "type", "n", "accuracy", "refused", "median ms", "cpu ms",
                "warm ms"):
        table.add_column(col, justify="left" if col in ("set", "grounder", "type") else "right")
    for r in rows:
        table.add_row(r["set"], r["grounder"], r["data_type"], str(r["n"]),
                      f"{r['accuracy']:.1%}", str(r["refusals"]), f"{r['median_ms']:.0f}",
                      f"{r['cpu_ms']:.0f}", f"{r['warm_ms']:.1f}")
    Console(width=120).print(table)
    console.print(f"[dim]{meta['cpus']} CPUs, load average {meta['loadavg']}; docs set "
                  f"{meta['data']}; MiniWoB {meta['seeds']} seeds x {len(meta['tasks'])} tasks; "
                  f"rapidocr-onnxruntime {meta['rapidocr']}.[/]")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("runs/bench-grounding/screenspot"),
                    help="the docs set's folder (built there when missing)")
    ap.add_argument("--pages", type=int, default=10, help="documentation pages to render")
    ap.add_argument("--seeds", type=int, default=10, help="episodes per MiniWoB task")
    ap.add_argument("--tasks", default=",".join(MINIWOB_TASKS),
                    help="MiniWoB tasks, comma-separated")
    ap.add_argument("--grounders", default="ocr,a11y",
                    help="grounder specs, comma-separated; ';' between arguments of one spec"
                         " (default ocr,a11y; e.g. 'ocr,ocr:scale=2,a11y')")
    ap.add_argument("--json", type=Path, help="write the figures and every sample here")
    args = ap.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    try:
        with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            if not (args.data / "screenspot.json").exists():
                build_docs_set(args.data, args.pages, progress)
            grounders = {spec: GROUNDERS.make(spec.replace(";", ","))
                         for spec in args.grounders.split(",") if spec}
            records = run_docs(args.data, grounders, progress)
            records += run_miniwob(tasks, args.seeds, grounders, progress)
    except Exception as e:  # noqa: BLE001 (one readable message, then a non-zero exit)
        console.print(f"[red]error:[/] {type(e).__name__}: {e}")
        return 1
    meta = {
        "data": str(args.data), "viewport": list(VIEWPORT), "dsfs": list(DSFS),
        "seeds": args.seeds, "tasks": tasks, "rapidocr": version("rapidocr-onnxruntime"),
        "cpus": os.cpu_count(), "loadavg": " ".join(f"{v:.1f}" for v in os.getloadavg()),
        "machine": platform.platform(),
    }
    rows = summarise(records)
    print_report(rows, meta)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"meta": meta, "summary": rows, "samples": records},
                                        indent=1))
        console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
