"""Benchmark readers on folders laid out like the official releases, and the evaluator on them:
metrics and breakdowns, refusal items, bad files, missing images, resume after a kill, the
sequential (MedSPOT-style) mode, the CLI entry, and OCR end to end on Chromium screenshots."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest
import typer
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from cua.core import Box, CuaError, Grounding, ModelSpace, Observation, Point
from grounding.benchmarks import (
    BenchmarkFormatError, load_benchmark, read_osworld_g, read_screenspot_json, read_screenspot_pro,
    read_screenspot_v2, read_sequential, read_mmbench_gui,
)
from grounding.eval_cli import ground_eval_command, run_ground_eval
from grounding.evaluation import SAMPLES_FILE, classify_miss, evaluate, evaluate_sequential

CHROMIUM = os.environ.get("CUA_CHROMIUM", "/usr/bin/chromium")

Answer = tuple[float, float] | None | Exception


class LookupGrounder:
    """A test double of a grounding *model*: a fixed answer per instruction (a point, ``None``
    for a refusal, or an exception it raises). It is a real Grounder — the evaluator cannot
    tell it from a VLM — and lets each test choose hits, misses and failures exactly."""

    name = "lookup"

    def __init__(self, answers: dict[str, Answer], fail_after: int | None = None) -> None:
        self.answers = answers
        self.calls: list[str] = []
        self.fail_after = fail_after  # simulate a kill (Ctrl-C) after this many calls

    def ground(self, image: Image.Image, instruction: str, observation: Observation | None = None) -> Grounding:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt
        self.calls.append(instruction)
        answer = self.answers.get(instruction)
        if isinstance(answer, Exception):
            raise answer
        point = None if answer is None else Point(x=answer[0], y=answer[1])
        return Grounding(point=point, model_space=ModelSpace.screenshot(*image.size),
                         raw_text=str(answer), grounder=self.name)


class BatchLookupGrounder(LookupGrounder):
    """Same model with a native batch path that fails whole when one item fails."""

    name = "lookup-batch"

    def __init__(self, answers: dict[str, Answer]) -> None:
        super().__init__(answers)
        self.batch_sizes: list[int] = []

    def ground_batch(self, items: list[tuple[Image.Image, str]]) -> list[Grounding]:
        self.batch_sizes.append(len(items))
        return [self.ground(img, instr) for img, instr in items]


def png(path: Path, size: tuple[int, int] = (400, 300)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).rectangle((10, 10, 60, 40), fill="navy")  # something to look at
    img.save(path)
    return path


def dump(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1))
    return path


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---- ScreenSpot-v2 -------------------------------------------------------------------


@pytest.fixture
def ssv2(tmp_path: Path) -> Path:
    """screenspot_{desktop,mobile,web}_v2.json + screenspotv2_image/, bbox as x, y, w, h."""
    root = tmp_path / "ScreenSpot-v2"
    for name in ("pc_1.png", "mobile_1.png", "web_1.png"):
        png(root / "screenspotv2_image" / name)
    item = lambda f, bbox, instr, kind, src: {  # noqa: E731 — the official field order
        "img_filename": f, "bbox": bbox, "instruction": instr, "data_type": kind, "data_source": src}
    dump(root / "screenspot_desktop_v2.json", [
        item("pc_1.png", [100, 50, 40, 20], "close the window", "icon", "windows"),
        item("pc_1.png", [200, 100, 80, 30], "open File menu", "text", "macos"),
    ])
    dump(root / "screenspot_mobile_v2.json", [
        item("mobile_1.png", [10, 200, 100, 50], "tap Settings", "text", "ios"),
    ])
    dump(root / "screenspot_web_v2.json", [
        item("web_1.png", [300, 10, 50, 50], "search icon", "icon", "shop"),
    ])
    return root


def test_screenspot_v2_reads_xywh_and_scores_with_breakdowns(ssv2: Path, tmp_path: Path) -> None:
    bench = read_screenspot_v2(ssv2)
    assert [s.id for s in bench.samples] == ["desktop/0", "desktop/1", "mobile/0", "web/0"]
    first = bench.samples[0]
    assert first.box == Box(x1=100, y1=50, x2=140, y2=70)  # x, y, w, h → corners
    assert (first.platform, first.element_type, first.source) == ("desktop", "icon", "windows")
    assert first.image_path == ssv2 / "screenspotv2_image" / "pc_1.png"

    grounder = LookupGrounder({
        "close the window": (140, 70),  # the far corner: inside only if w, h were added
        "open File menu": (150, 90),  # above the box: miss
        "tap Settings": (60, 225),
        "search icon": None,  # no answer on a real target: miss
    })
    report = evaluate(grounder, bench.samples, tmp_path / "out", bench="screenspot-v2", progress=False)
    assert (report.overall.n, report.overall.correct) == (4, 2)
    assert report.accuracy_pct == 50.0
    by = report.breakdowns
    assert {k: (s.n, s.correct) for k, s in by["platform"].items()} == {
        "desktop": (2, 1), "mobile": (1, 1), "web": (1, 0)}
    assert {k: (s.n, s.correct) for k, s in by["element_type"].items()} == {"icon": (2, 1), "text": (2, 1)}
    assert set(by["source"]) == {"windows", "macos", "ios", "shop"}
    assert report.refusal.n == 0 and report.accuracy_without_refusal is None

    lines = jsonl(tmp_path / "out" / SAMPLES_FILE)
    assert [line["id"] for line in lines] == [s.id for s in bench.samples]
    assert lines[0]["point"] == [140, 70] and lines[0]["box"] == [100, 50, 140, 70]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["accuracy"] == 0.5 and saved["breakdowns"]["platform"]["web"]["accuracy"] == 0
    assert "| desktop | 2 | 1 | 50.0% |" in (tmp_path / "out" / "results.md").read_text()


# ---- ScreenSpot-Pro ------------------------------------------------------------------


def test_screenspot_pro_reads_xyxy_groups_and_shows_published(tmp_path: Path) -> None:
    root = tmp_path / "ScreenSpot-Pro"
    png(root / "images" / "vscode_macos" / "shot1.png", (1000, 600))
    png(root / "images" / "photoshop_windows" / "shot2.png", (1000, 600))

    def item(sid: str, img: str, bbox: list[int], instr: str, app: str, plat: str, ui: str, group: str) -> dict:
        return {"img_filename": img, "bbox": bbox, "instruction": instr, "instruction_cn": "中文指令",
                "id": sid, "application": app, "platform": plat, "img_size": [1000, 600],
                "ui_type": ui, "group": group}

    dump(root / "annotations" / "vscode_macos.json", [
        item("vscode_macos_0", "vscode_macos/shot1.png", [500, 300, 520, 310], "run the debugger",
             "vscode", "macos", "icon", "Dev"),
        item("vscode_macos_1", "vscode_macos/shot1.png", [10, 10, 200, 30], "open the Explorer",
             "vscode", "macos", "text", "Dev"),
    ])
    dump(root / "annotations" / "photoshop_windows.json", [
        item("photoshop_windows_0", "photoshop_windows/shot2.png", [700, 100, 720, 120], "brush tool",
             "photoshop", "windows", "icon", "Creative"),
    ])
    bench = read_screenspot_pro(root)
    assert [s.id for s in bench.samples] == [
        "photoshop_windows/photoshop_windows_0", "vscode_macos/vscode_macos_0", "vscode_macos/vscode_macos_1"]
    debug = bench.samples[1]
    assert debug.box == Box(x1=500, y1=300, x2=520, y2=310)  # already corners, not x, y, w, h
    assert debug.source == "vscode" and debug.element_type == "icon" and debug.extra["groups"] == ["Dev"]

    grounder = LookupGrounder({"run the debugger": (519, 309), "open the Explorer": (100, 20),
                               "brush tool": (600, 100)})
    report = evaluate(grounder, bench.samples, tmp_path / "out", bench="screenspot-pro",
                      published={"ScreenSpot-Pro": 39.5, "ScreenSpot-v2": 91.7}, progress=False)
    assert report.overall.correct == 2 and report.published == 39.5
    assert {k: s.correct for k, s in report.breakdowns["group"].items()} == {"Creative": 0, "Dev": 2}
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["published_pct"] == 39.5 and saved["delta_pct"] == pytest.approx(66.67 - 39.5, abs=0.01)
    md = (tmp_path / "out" / "results.md").read_text()
    assert "| published |  |  | 39.5% |" in md and "## By group" in md


# ---- OSWorld-G -----------------------------------------------------------------------


@pytest.fixture
def osworld_g(tmp_path: Path) -> Path:
    root = tmp_path / "OSWorld-G" / "benchmark"
    png(root / "images" / "a.png", (800, 600))
    png(root / "images" / "b.png", (800, 600))
    dump(root / "OSWorld-G.json", [
        {"id": "q1", "image_path": "a.png", "instruction": "click Save", "box_type": "bbox",
         "box_coordinates": [100, 100, 50, 20]},
        {"id": "q2", "image_path": "a.png", "instruction": "the triangle handle", "box_type": "polygon",
         "box_coordinates": [200, 200, 300, 200, 200, 300]},
        {"id": "q3", "image_path": "b.png", "instruction": "the purple unicorn button",
         "box_type": "refusal", "box_coordinates": [-1, -1, -1, -1]},
        {"id": "q4", "image_path": "b.png", "instruction": "the missing dialog", "box_type": "refusal",
         "box_coordinates": [-1, -1, -1, -1]},
        {"id": "q5", "image_path": "b.png", "instruction": "the Quit item", "box_type": "bbox",
         "box_coordinates": [10, 10, 30, 30]},
    ])
    dump(root / "classification_result.json", {"classified": {
        "text_matching": [{"id": "q1"}, {"id": "q5"}],
        "fine_grained_manipulation": [{"id": "q2"}],
        "refusal": [{"id": "q3"}, {"id": "q4"}],
        "layout_understanding": [{"id": "q1"}],
    }})
    return tmp_path / "OSWorld-G"


def test_osworld_g_refusal_polygon_and_categories(osworld_g: Path, tmp_path: Path) -> None:
    bench = read_osworld_g(osworld_g)  # the repo root: benchmark/ is found inside
    by_id = {s.id: s for s in bench.samples}
    assert by_id["q1"].box == Box(x1=100, y1=100, x2=150, y2=120)
    assert by_id["q3"].box is None and by_id["q4"].box is None
    assert by_id["q2"].box == Box(x1=200, y1=200, x2=300, y2=300)
    assert by_id["q1"].extra["groups"] == ["text_matching", "layout_understanding"]

    grounder = LookupGrounder({
        "click Save": (125, 110),
        "the triangle handle": (290, 290),  # inside the bounding box, outside the triangle
        "the purple unicorn button": None,  # refuses a refusal item: correct
        "the missing dialog": (400, 300),  # clicks something that is not there: wrong
        "the Quit item": None,  # refuses a real target: wrong
    })
    report = evaluate(grounder, bench.samples, tmp_path / "out", bench="osworld-g", progress=False)
    assert (report.overall.n, report.overall.correct) == (5, 2)
    assert (report.refusal.n, report.refusal.correct) == (2, 1)
    assert report.accuracy_without_refusal == pytest.approx(1 / 3)
    groups = {k: (s.n, s.correct) for k, s in report.breakdowns["group"].items()}
    assert groups == {"fine_grained_manipulation": (1, 0), "layout_understanding": (1, 1),
                      "refusal": (2, 1), "text_matching": (2, 1)}
    triangle = by_id["q2"]
    assert triangle.target_contains(Point(x=220, y=220)) and not triangle.target_contains(Point(x=290, y=290))


# ---- MMBench-GUI L2 ------------------------------------------------------------------


def test_mmbench_gui_scales_normalised_boxes_and_scores_missing_image_as_miss(tmp_path: Path) -> None:
    root = tmp_path / "MMBench-GUI"
    png(root / "offline_images" / "os_windows" / "w1.png", (800, 400))
    png(root / "offline_images" / "os_android" / "a1.png", (400, 800))
    item = lambda idx, plat, img, bbox, instr, kind, size: {  # noqa: E731
        "index": idx, "image_path": img, "platform": plat, "instruction": instr, "bbox": bbox,
        "image_size": size, "grounding_type": kind, "data_type": "text", "app_name": "app"}
    dump(root / "L2_annotations.json", [
        item(0, "os_windows", "w1.png", [0.5, 0.5, 0.6, 0.6], "the OK button", "basic", [800, 400]),
        item(1, "os_android", "a1.png", [0.1, 0.1, 0.2, 0.15], "the menu", "advanced", [400, 800]),
        item(2, "os_android", "gone.png", [0.5, 0.5, 1.0, 1.0], "the gone one", "basic", [400, 800]),
        item(3, "os_windows", "w1.png", [100, 50, 200, 80], "pixel box", "basic", [800, 400]),
    ])
    bench = read_mmbench_gui(root)
    boxes = {s.id: s.box for s in bench.samples}
    assert boxes["os_windows/0"] == Box(x1=400, y1=200, x2=480, y2=240)  # × the real 800×400
    assert boxes["os_android/1"] == Box(x1=40, y1=80, x2=80, y2=120)
    assert boxes["os_android/2"] == Box(x1=200, y1=400, x2=400, y2=800)  # from image_size: no file
    assert boxes["os_windows/3"] == Box(x1=100, y1=50, x2=200, y2=80)  # values > 1: pixels already

    grounder = LookupGrounder({"the OK button": (440, 220), "the menu": (60, 100),
                               "the gone one": (300, 600), "pixel box": (150, 60)})
    report = evaluate(grounder, bench.samples, tmp_path / "out", bench="mmbench-gui", progress=False)
    assert (report.overall.n, report.overall.correct, report.errors) == (4, 3, 1)
    assert "the gone one" not in grounder.calls  # never shown to the model
    missing = next(r for r in jsonl(tmp_path / "out" / SAMPLES_FILE) if r["id"] == "os_android/2")
    assert missing["correct"] is False and "image not found" in missing["error"] and "gone.png" in missing["error"]
    assert {k: s.n for k, s in report.breakdowns["group"].items()} == {"advanced": 1, "basic": 3}


# ---- screenspot-json, bad files, batches ---------------------------------------------


def test_screenspot_json_batches_refusals_and_grounder_errors(tmp_path: Path) -> None:
    root = tmp_path / "synth"
    png(root / "images" / "s0.png")
    dump(root / "screenspot.json", [
        {"id": "login-0", "img_filename": "images/s0.png", "bbox": [10, 10, 50, 30],
         "instruction": "the Login button", "data_type": "text", "data_source": "synthetic", "platform": "web"},
        {"id": "login-1", "img_filename": "images/s0.png", "bbox": None,
         "instruction": "the Logout button", "data_type": "text", "data_source": "synthetic", "platform": "web"},
        {"id": "login-2", "img_filename": "images/s0.png", "bbox": [100, 100, 20, 20],
         "instruction": "the crash", "data_type": "icon", "data_source": "synthetic", "platform": "web"},
        {"id": "login-3", "img_filename": "images/s0.png", "bbox": [200, 100, 20, 20],
         "instruction": "the gear icon", "data_type": "icon", "data_source": "synthetic", "platform": "web"},
        {"id": "bad", "img_filename": "images/s0.png", "bbox": [1, 2, 3], "instruction": "broken box"},
    ])
    bench = read_screenspot_json(root)
    assert [s.id for s in bench.samples] == ["login-0", "login-1", "login-2", "login-3"]
    assert bench.samples[1].box is None
    assert len(bench.skipped) == 1 and bench.skipped[0].id == "bad" and "bbox" in bench.skipped[0].reason

    grounder = BatchLookupGrounder({"the Login button": (30, 20), "the Logout button": None,
                                    "the crash": RuntimeError("CUDA out of memory"),
                                    "the gear icon": (210, 110)})
    report = evaluate(grounder, bench.samples, tmp_path / "out", batch_size=4, skipped=bench.skipped,
                      bench="screenspot-json", progress=False)
    assert grounder.batch_sizes[0] == 4  # one batch first; it failed and was retried one by one
    assert (report.overall.correct, report.errors) == (3, 1)
    crash = next(r for r in jsonl(tmp_path / "out" / SAMPLES_FILE) if r["id"] == "login-2")
    assert crash["correct"] is False and "CUDA out of memory" in crash["error"]
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["skipped"][0]["reason"].startswith("bbox should be a list of 4 numbers")


def test_corrupt_json_names_the_file(ssv2: Path) -> None:
    (ssv2 / "screenspot_web_v2.json").write_text('[{"img_filename": "web_1.png", "bbox": [1, 2')
    with pytest.raises(BenchmarkFormatError, match=r"screenspot_web_v2\.json is not valid JSON"):
        read_screenspot_v2(ssv2)


def test_wrong_layouts_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BenchmarkFormatError, match="annotations"):
        read_screenspot_pro(tmp_path)
    with pytest.raises(BenchmarkFormatError, match="L2_annotations.json"):
        load_benchmark("mmbench-gui", tmp_path)
    dump(tmp_path / "OSWorld-G.json", {"not": "a list"})
    with pytest.raises(BenchmarkFormatError, match="JSON list"):
        read_osworld_g(tmp_path)


# ---- resume --------------------------------------------------------------------------


def test_resume_after_kill_skips_done_samples_and_ignores_a_torn_line(ssv2: Path, tmp_path: Path) -> None:
    samples = read_screenspot_v2(ssv2).samples
    answers: dict[str, Answer] = {"close the window": (120, 60), "open File menu": (0, 0),
                                  "tap Settings": (60, 225), "search icon": (325, 35)}
    out = tmp_path / "out"
    full = evaluate(LookupGrounder(answers), samples, tmp_path / "reference", progress=False)

    killed = LookupGrounder(answers, fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        evaluate(killed, samples, out, progress=False)
    assert len(jsonl(out / SAMPLES_FILE)) == 2
    # The kill tore the next line half-way through writing it.
    with open(out / SAMPLES_FILE, "a") as f:
        f.write('{"id": "mobile/0", "correct": tr')

    rerun = LookupGrounder(answers)
    report = evaluate(rerun, samples, out, progress=False)
    assert rerun.calls == ["tap Settings", "search icon"]  # only what had not finished
    lines = jsonl(out / SAMPLES_FILE)
    assert sorted(line["id"] for line in lines) == sorted(s.id for s in samples)  # nothing twice
    assert report.resumed == 2
    assert report.overall == full.overall
    assert {d: {k: s.as_dict() for k, s in v.items()} for d, v in report.breakdowns.items()} == \
        {d: {k: s.as_dict() for k, s in v.items()} for d, v in full.breakdowns.items()}

    again = LookupGrounder(answers)
    assert evaluate(again, samples, out, progress=False).overall == full.overall and again.calls == []
    fresh = LookupGrounder(answers)
    evaluate(fresh, samples, out, resume=False, progress=False)
    assert len(fresh.calls) == 4

    class Other(LookupGrounder):
        name = "another-model"

    with pytest.raises(CuaError, match="grounder 'lookup'"):
        evaluate(Other(answers), samples, out, progress=False)


def test_rerun_retries_errored_samples_and_a_dead_grounder_stops(ssv2: Path, tmp_path: Path) -> None:
    samples = read_screenspot_v2(ssv2).samples
    answers: dict[str, Answer] = {"close the window": (120, 60), "open File menu": TimeoutError("endpoint"),
                                  "tap Settings": (60, 225), "search icon": (325, 35)}
    first = evaluate(LookupGrounder(answers), samples, tmp_path / "out", progress=False)
    assert (first.overall.correct, first.errors) == (3, 1)

    answers["open File menu"] = (240, 115)  # the endpoint is back
    rerun = LookupGrounder(answers)
    second = evaluate(rerun, samples, tmp_path / "out", progress=False)
    assert rerun.calls == ["open File menu"]
    assert (second.overall.correct, second.errors) == (4, 0)
    assert len(jsonl(tmp_path / "out" / SAMPLES_FILE)) == 4

    dead = LookupGrounder({k: ConnectionError("refused") for k in answers})
    with pytest.raises(CuaError, match="failed on 3 samples in a row"):
        evaluate(dead, samples, tmp_path / "dead", max_consecutive_errors=3, progress=False)
    assert len(dead.calls) == 3


# ---- sequential ----------------------------------------------------------------------


def test_failure_taxonomy_classes() -> None:
    box = Box(x1=100, y1=100, x2=200, y2=150)
    size = (1000, 800)
    assert classify_miss(None, box, size) == ["no_prediction"]
    assert classify_miss(Point(x=210, y=120), box, size, near_px=30) == ["near_miss"]
    assert classify_miss(Point(x=600, y=500), box, size, near_px=30) == ["far_miss"]
    assert classify_miss(Point(x=3, y=400), box, size, edge_px=10) == ["edge_bias", "far_miss"]
    assert classify_miss(Point(x=999, y=0), box, size)[0] == "edge_bias"
    tiny = Box(x1=500, y1=500, x2=510, y2=508)  # 80 px² < 0.1 % of 800 000
    assert classify_miss(Point(x=520, y=504), tiny, size, near_px=30) == ["small_target", "near_miss"]
    # Near the border but also right next to a target that sits there: a near miss, not bias.
    top = Box(x1=0, y1=0, x2=300, y2=20)
    assert classify_miss(Point(x=310, y=5), top, size) == ["near_miss"]


def test_sequential_stops_at_first_miss_with_taxonomy(tmp_path: Path) -> None:
    root = tmp_path / "seq"
    for t in ("t1", "t2", "t3"):
        for k in range(3):
            png(root / t / f"{k}.png", (1000, 800))

    def steps(task: str, names: list[str]) -> list[dict]:
        return [{"image": f"{task}/{k}.png", "instruction": name, "bbox": [100, 100, 200, 150],
                 "element_type": "text"} for k, name in enumerate(names)]

    dump(root / "tasks.json", {"tasks": [
        {"id": "t1", "platform": "windows", "source": "pacs", "steps": steps("t1", ["a1", "a2"])},
        {"id": "t2", "platform": "windows", "source": "ehr", "steps": steps("t2", ["b1", "b2", "b3"])},
        {"id": "t3", "platform": "linux", "source": "ehr", "steps": steps("t3", ["c1", "c2"])},
        {"id": "t4", "steps": [{"image": "t4/0.png", "instruction": "no box"}]},
    ]})
    tasks, skipped = read_sequential(root)
    assert [t.id for t in tasks] == ["t1", "t2", "t3"]
    assert skipped[0].id == "t4" and "step 0" in skipped[0].reason

    grounder = LookupGrounder({"a1": (150, 120), "a2": (101, 149),
                               "b1": (150, 120), "b2": (220, 120), "b3": (150, 120),
                               "c1": None, "c2": (150, 120)})
    report = evaluate_sequential(grounder, tasks, tmp_path / "out", near_px=30, skipped=skipped, progress=False)
    assert "b3" not in grounder.calls and "c2" not in grounder.calls  # strict: stopped at the miss
    assert (report.overall.n, report.overall.correct) == (3, 1)
    seq = report.sequential
    assert seq is not None
    assert (seq.steps_total, seq.steps_reached, seq.steps_correct) == (7, 5, 3)
    assert seq.step_accuracy == pytest.approx(3 / 7)
    assert seq.failures == {"no_prediction": 1, "near_miss": 1}
    assert seq.failed_at_step == {0: 1, 1: 1}
    assert {k: (s.n, s.correct) for k, s in report.breakdowns["source"].items()} == {"ehr": (2, 0), "pacs": (1, 1)}
    t2 = next(r for r in jsonl(tmp_path / "out" / "tasks.jsonl") if r["id"] == "t2")
    assert t2["failed_step"] == 1 and t2["failure"] == "near_miss" and len(t2["steps"]) == 2
    assert t2["steps"][1]["distance_px"] == 20.0
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["sequential"]["failures"] == {"no_prediction": 1, "near_miss": 1}
    assert "miss: near_miss" in (tmp_path / "out" / "results.md").read_text()

    # Through the CLI entry, with the registered a11y grounder (no accessibility tree here, so
    # it never answers): every task stops at its first step with no prediction.
    blind = run_ground_eval("sequential", root, "a11y", tmp_path / "a11y", 2, None, progress=False)
    assert blind.overall.n == 2 and blind.sequential is not None
    assert blind.sequential.failures == {"no_prediction": 2} and blind.sequential.failed_at_step == {0: 2}


# ---- CLI entry -----------------------------------------------------------------------


def test_run_ground_eval_with_a_registered_grounder_and_user_errors(tmp_path: Path) -> None:
    root = tmp_path / "synth"
    png(root / "s.png")
    dump(root / "data.json", [
        {"img_filename": "s.png", "bbox": [10, 10, 20, 20], "instruction": "the OK button", "data_type": "text"},
        {"img_filename": "s.png", "bbox": None, "instruction": "the absent button", "data_type": "text"},
    ])
    # The a11y grounder sees no accessibility tree here, so it refuses everything: it gets the
    # refusal item right and the real target wrong.
    report = run_ground_eval("screenspot-json", root, "a11y", tmp_path / "out", None, {"screenspot-json": 80.0},
                             progress=False)
    assert (report.overall.correct, report.refusal.correct, report.published) == (1, 1, 80.0)
    assert run_ground_eval("screenspot-json", root, "a11y", tmp_path / "o2", 1, None, progress=False).overall.n == 1

    with pytest.raises(CuaError, match="unknown benchmark 'screenspot-v3'"):
        run_ground_eval("screenspot-v3", root, "a11y", tmp_path / "o3", None, None)
    with pytest.raises(CuaError, match="does not exist"):
        run_ground_eval("screenspot-v2", tmp_path / "nowhere", "a11y", tmp_path / "o3", None, None)

    app = typer.Typer()
    app.command("ground-eval")(ground_eval_command)
    result = CliRunner().invoke(app, [
        "--bench", "screenspot-json", "--data", str(root), "--grounder", "a11y",
        "--out", str(tmp_path / "o4"), "--published", "screenspot-json=80", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "1/2 samples correct = 50.0%" in result.output
    assert json.loads((tmp_path / "o4" / "results.json").read_text())["published_pct"] == 80.0


# ---- OCR end to end on real Chromium screenshots -------------------------------------

PAGE = """<!doctype html><html><head><style>
body {{ margin: 0; font: 22px sans-serif; background: #fff; }}
button {{ position: absolute; font: 22px sans-serif; padding: 8px 16px; }}
</style></head><body>{buttons}</body></html>"""
LAYOUTS = [
    [("Save", 40, 40), ("Cancel", 400, 300), ("Delete account", 700, 120)],
    [("Open settings", 120, 500), ("Search", 900, 40), ("Help", 300, 200)],
]


@pytest.mark.skipif(importlib.util.find_spec("grounding.ocr") is None,
                    reason="grounding/ocr.py (the OCR grounder) is not in this checkout yet")
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}")
def test_ocr_grounder_end_to_end_on_chromium_screenshots(tmp_path: Path) -> None:
    import grounding.ocr  # noqa: F401  (registers "ocr")
    from envs.base import Task
    from envs.browser import BrowserEnv
    from grounding.base import GROUNDERS

    root = tmp_path / "chromium-shots"
    (root / "images").mkdir(parents=True)
    items = []
    env = BrowserEnv()
    try:
        for n, layout in enumerate(LAYOUTS):
            buttons = "".join(f'<button style="left:{x}px;top:{y}px">{label}</button>' for label, x, y in layout)
            page = root / f"page{n}.html"
            page.write_text(PAGE.format(buttons=buttons))
            obs = env.reset(Task(id=f"bench/page{n}", start_url=page.as_uri()))
            obs.screenshot.save(root / "images" / f"page{n}.png")
            for e in obs.elements:
                if e.role == "button":
                    b = e.box
                    items.append({"id": f"page{n}/{e.name}", "img_filename": f"images/page{n}.png",
                                  "bbox": [b.x1, b.y1, b.width, b.height],
                                  "instruction": f'the "{e.name}" button', "data_type": "text",
                                  "data_source": "chromium", "platform": "web"})
    finally:
        env.close()
    assert len(items) == 6
    dump(root / "screenspot.json", items)

    bench = load_benchmark("screenspot-json", root)
    report = evaluate(GROUNDERS.make("ocr"), bench.samples, tmp_path / "out", bench="screenspot-json",
                      progress=False)
    assert report.errors == 0 and report.overall.n == 6
    assert report.overall.correct >= 5, (tmp_path / "out" / SAMPLES_FILE).read_text()
