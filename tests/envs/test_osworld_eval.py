"""OSWorld evaluator wiring on local files: metrics with upstream semantics, conj and/or over
lists, fractional scores, infeasible tasks, unsupported evaluators, metric errors, the task
model, the sandbox machine, setup downloads and the suite loader. No display needed."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from cua.core import CallUser, Click, CuaError, Done, Fail, Key, SetupError, Type, Wait
from cua.osworld_suite import osworld_suite
from envs.osworld import metrics as M
from envs.osworld.evaluate import evaluate
from envs.osworld.getters import LOCAL_GETTERS, GetterContext
from envs.osworld.jail import TRUST_ENV_VAR
from envs.osworld.machine import LocalMachine
from envs.osworld.setup import SetupRunner
from envs.osworld.support import download_cache_name, evaluator_reason, local_reason
from envs.osworld.task import (
    EvaluationError,
    SetupStep,
    TaskFileError,
    UnsupportedTaskError,
    load_task,
    parse_task,
)
from envs.osworld.vm import OSWorldVMEnv, to_osworld_action

FIXTURES = Path(__file__).parent / "osworld_fixtures" / "evaluation_examples"
COPY_TASK = "5ea617a3-0e86-4ba6-aab2-dac9aa2e8d57"
INFEASIBLE_TASK = "a8e5f2c1-7d34-4b91-9c0e-3f6a2b1d8e70"
UNKNOWN_FUNC_TASK = "f3c9d2e1-6b8a-4c5d-9e7f-1a2b3c4d5e6f"
CALC_TASK = "01b269ae-2111-4a07-81fd-3fcd711993b0"
CHROME_TASKS = ["06fe7178-4491-4589-810f-2e2bc9502122", "3f1c6a52-8e0b-4d7a-9c41-5b2e7d90a6c3"]


def no_display(*args: object) -> str:
    raise CuaError("no display in this test")


@pytest.fixture
def machine(tmp_path: Path) -> LocalMachine:
    return LocalMachine(tmp_path / "sandbox", display=None, trust_commands=True)


@pytest.fixture
def ctx(machine: LocalMachine, tmp_path: Path) -> GetterContext:
    return GetterContext(machine, machine.cache_dir, tmp_path, no_display, (1920, 1080))


def task_with(evaluator: dict[str, Any], config: list[dict[str, Any]] | None = None) -> Any:
    return parse_task({"id": "t-1", "instruction": "do it", "config": config or [],
                       "evaluator": evaluator})


def rule(value: Any) -> dict[str, Any]:
    return {"type": "rule", "rules": value}


def score(task: Any, ctx: GetterContext, actions: list[Any] | None = None,
          getters: dict[str, Any] | None = None) -> float:
    runner = SetupRunner(ctx.machine, no_display, lambda a: None, [])
    return evaluate(task, ctx, actions or [], runner.run, getters or LOCAL_GETTERS, M.METRICS)


# --- metrics ------------------------------------------------------------------------------------
def test_string_metrics_match_upstream() -> None:
    assert M.exact_match("abc", {"expected": "abc"}) == 1.0
    assert M.exact_match("abc", {"expected": "abd"}) == 0.0
    assert M.match_in_list("b", {"expected": ["a", "b"]}) == 1.0
    assert M.is_in_list(["a", "b"], {"expected": "b"}) == 1.0
    assert M.is_in_list(["a"], {"expected": "b"}) == 0.0
    assert M.check_include_exclude(None, {"include": []}) == 0.0
    assert M.check_include_exclude("done: ok", {"include": ["ok"], "exclude": ["fail"]}) == 1.0
    assert M.check_include_exclude("ok but fail", {"include": ["ok"], "exclude": ["fail"]}) == 0.0
    assert M.literal_match("Paris", "paris") == 0.0
    assert M.literal_match("Paris", "paris", ignore_case=True) == 1.0
    assert M.literal_match(["A", 1], ["a", "1"], type="list", ignore_case=True) == 1.0
    assert M.literal_match(["A"], ["A", "B"], type="list") == 0.0
    with pytest.raises(NotImplementedError):
        M.literal_match(1, 1, type="dict")


def test_fuzzy_match_is_rapidfuzz_ratio() -> None:
    # rapidfuzz: fuzz.ratio("this is a test", "this is a test!") == 96.551...
    assert M.fuzzy_match("this is a test", {"expected": "this is a test!"}) == pytest.approx(0.9655, abs=1e-4)
    # fuzz.ratio("kitten", "sitting") == 61.538... (LCS "ittn" = 4; 2*4 / 13)
    assert M.fuzzy_match("kitten", {"expected": "sitting"}) == pytest.approx(8 / 13)
    assert M.fuzzy_match("", {"expected": ""}) == 1.0


def test_file_metrics(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    a.write_text("one\ntwo\nthree\nfour\n")
    b.write_text("one\ntwo\nthree\nfour\n")
    c.write_text("one\n  TWO \nthree\n")
    assert M.compare_text_file(str(a), str(b)) == 1.0
    assert M.compare_text_file(None, str(b)) == 0.0
    assert M.compare_text_file(str(a), str(c)) == 0.0
    (tmp_path / "d.txt").write_text("ONE\ttwo  three\nfour")
    assert M.compare_text_file(str(a), str(tmp_path / "d.txt"), ignore_blanks=True, ignore_case=True) == 1.0
    # SequenceMatcher over lines: 2 of 4 + 3 lines match ("one", "three") → 2*2/7
    assert M.diff_text_file(str(a), str(c)) == pytest.approx(4 / 7)
    assert M.diff_text_file(None, str(c)) == 0.0
    assert M.compare_csv(str(a), str(b)) == 1.0
    (tmp_path / "e.txt").write_text(" one\nTWO\nthree \nfour")
    assert M.compare_csv(str(a), str(tmp_path / "e.txt")) == 0.0
    assert M.compare_csv(str(a), str(tmp_path / "e.txt"), strict=False, ignore_case=True) == 1.0
    assert M.file_contains(str(a), {"expected": ["two", "four"]}) == 1.0
    assert M.file_contains(str(a), {"expected": ["five"]}) == 0.0
    assert M.file_contains(str(tmp_path / "missing"), {"expected": ["x"]}) == 0.0
    assert M.check_list(str(a), {"expect": [r"^t\w+$"], "unexpect": [r"five"]}) == 1.0
    assert M.check_list(str(a), {"expect": [r"^six"]}) == 0.0


def test_check_csv_and_json(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("name,qty\napple,3\npear,5\n")
    assert M.check_csv(str(table), {"expect": [{"name": "apple", "qty": "3"}]}) == 1.0
    assert M.check_csv(str(table), {"expect": [{"name": "apple"}], "unexpect": [{"name": "pear"}]}) == 0.0
    settings = tmp_path / "s.json"
    settings.write_text(json.dumps({"editor": {"fontSize": 14, "theme": "Dark+"}}))
    ok = {"expect": [{"key": ["editor", "fontSize"], "method": "eq", "ref": 14},
                     {"key": ["editor", "theme"], "method": "re.I", "ref": "^dark"}],
          "unexpect": [{"key": ["editor", "wrap"], "method": "eq", "ref": True}]}
    assert M.check_json(str(settings), ok) == 1.0
    assert M.check_json(str(settings), {"expect": [{"key": ["editor", "size"], "method": "eq", "ref": 1}]}) == 0.0
    assert M.check_json(str(settings), {"expect": [{"key": ["editor", "fontSize"], "method": "approx:0.5", "ref": 14.4}]}) == 1.0
    assert M.check_json(str(tmp_path / "none.json"), ok) == 0.0
    assert M.check_direct_json_object("{'a': 1, 'b': 'x'}", {"expected": {"a": 1}}) == 1.0
    assert M.check_direct_json_object({"a": 2}, {"expected": {"a": 1}}) == 0.0
    assert M.check_direct_json_object({"city": "Paris, France"},
                                      {"expected": {"city": "Paris"}, "expect_in_result": True}) == 1.0


def test_rule_matching_refuses_what_is_not_a_regex_flag() -> None:
    assert M._match_value_to_rule(5, {"method": "range.te", "ref": [0, 5]}) is True
    assert M._match_value_to_rule(0, {"method": "range.te", "ref": [0, 5]}) is False
    assert M._match_value_to_rule("b,a", {"method": "str_set_eq", "ref": ["a", "b"]}) is True
    with pytest.raises(ValueError, match="regex flag"):
        M._match_value_to_rule("x", {"method": "re.__class__", "ref": "x"})


# --- OSWorld's combination ------------------------------------------------------------------------
def test_single_func_with_options(ctx: GetterContext) -> None:
    task = task_with({"func": "literal_match", "result": rule("Paris"), "expected": rule("paris"),
                      "options": {"ignore_case": True}})
    assert score(task, ctx) == 1.0


def test_conj_and_returns_mean_of_fractional_scores(ctx: GetterContext) -> None:
    task = task_with({
        "func": ["fuzzy_match", "exact_match"],
        "result": [rule("kitten"), rule("x")],
        "expected": [rule({"expected": "sitting"}), rule({"expected": "x"})],
    })
    assert score(task, ctx) == pytest.approx((8 / 13 + 1.0) / 2)


def test_conj_and_stops_at_the_first_zero(ctx: GetterContext) -> None:
    task = task_with({
        "func": ["exact_match", "fuzzy_match"],
        "result": [rule("x"), rule("kitten")],
        "expected": [rule({"expected": "y"}), rule({"expected": "kitten"})],
    })
    assert score(task, ctx) == 0.0


def test_conj_or_returns_one_at_first_match_else_max(ctx: GetterContext) -> None:
    hit = task_with({
        "func": ["exact_match", "exact_match"], "conj": "or",
        "result": [rule("a"), rule("b")],
        "expected": [rule({"expected": "z"}), rule({"expected": "b"})],
    })
    assert score(hit, ctx) == 1.0
    partial = task_with({
        "func": ["fuzzy_match", "exact_match"], "conj": "or",
        "result": [rule("kitten"), rule("b")],
        "expected": [rule({"expected": "sitting"}), rule({"expected": "c"})],
        "options": [None, {}],
    })
    assert score(partial, ctx) == pytest.approx(8 / 13)


def test_result_getter_file_not_found(ctx: GetterContext) -> None:
    def gone(env: GetterContext, config: dict[str, Any]) -> Any:
        raise FileNotFoundError(config["path"])

    getters = {**LOCAL_GETTERS, "gone": gone}
    single = task_with({"func": "exact_match", "result": {"type": "gone", "path": "/x"},
                        "expected": rule({"expected": "x"})})
    assert score(single, ctx, getters=getters) == 0.0
    both = {"func": ["exact_match", "exact_match"],
            "result": [{"type": "gone", "path": "/x"}, rule("b")],
            "expected": [rule({"expected": "x"}), rule({"expected": "b"})]}
    assert score(task_with(both), ctx, getters=getters) == 0.0
    assert score(task_with({**both, "conj": "or"}), ctx, getters=getters) == 1.0


def test_a_metric_that_raises_is_an_error_not_a_zero(ctx: GetterContext, machine: LocalMachine) -> None:
    (machine.home / "out.txt").write_text("x")
    task = task_with({"func": "compare_text_file",
                      "result": {"type": "vm_file", "path": "/home/user/out.txt", "dest": "out.txt"},
                      "expected": {"type": "local_file", "path": "no-such-gold.txt"}})
    with pytest.raises(EvaluationError, match="compare_text_file.*FileNotFoundError"):
        score(task, ctx)


def test_missing_vm_file_scores_zero_like_osworld(ctx: GetterContext) -> None:
    task = task_with({"func": "compare_text_file",
                      "result": {"type": "vm_file", "path": "/home/user/none.txt", "dest": "n.txt"},
                      "expected": {"type": "local_file", "path": "gold.txt"}})
    assert score(task, ctx) == 0.0


def test_infeasible_scores_the_agents_fail(ctx: GetterContext) -> None:
    task = task_with({"func": "infeasible"})
    assert score(task, ctx, [Click(x=1, y=1), Fail(reason="no such CPU")]) == 1.0
    assert score(task, ctx, [Fail(), Done()]) == 0.0
    assert score(task, ctx, []) == 0.0
    feasible = task_with({"func": "exact_match", "result": rule("a"), "expected": rule({"expected": "a"})})
    assert score(feasible, ctx, [Done()]) == 1.0
    assert score(feasible, ctx, [Fail()]) == 0.0


def test_a_runtime_fail_is_no_infeasibility_claim(ctx: GetterContext) -> None:
    """Fail(by="runtime") (the runtime gave up, e.g. unreadable model output) never scores an
    infeasible task, and any other task is scored by its metric, as at the step budget."""
    infeasible = task_with({"func": "infeasible"})
    assert score(infeasible, ctx, [Fail(by="agent")]) == 1.0
    assert score(infeasible, ctx, [Fail(by="runtime", reason="unreadable output")]) == 0.0
    assert score(infeasible, ctx, [Fail(by="agent"), CallUser()]) == 0.0
    feasible = task_with({"func": "exact_match", "result": rule("a"), "expected": rule({"expected": "a"})})
    assert score(feasible, ctx, [Fail(by="runtime")]) == 1.0  # the state is right: it counts
    assert score(feasible, ctx, [Fail(by="agent")]) == 0.0
    assert to_osworld_action(Fail(by="runtime")) == "DONE"
    assert to_osworld_action(Fail(by="agent")) == "FAIL"


def test_postconfig_runs_before_the_getters(ctx: GetterContext, machine: LocalMachine) -> None:
    task = task_with({
        "postconfig": [{"type": "execute", "parameters": {
            "command": "printf done > ~/Desktop/flag.txt", "shell": True}}],
        "func": "check_include_exclude",
        "result": {"type": "vm_command_line", "command": ["cat", "/home/user/Desktop/flag.txt"]},
        "expected": rule({"include": ["done"], "exclude": []}),
    })
    assert score(task, ctx) == 1.0
    assert (machine.home / "Desktop" / "flag.txt").read_text() == "done"


def test_vm_command_error_and_cache_file(ctx: GetterContext) -> None:
    err = task_with({"func": "check_include_exclude",
                     "result": {"type": "vm_command_error", "command": "ls /no/such/dir", "shell": True},
                     "expected": rule({"include": ["No such file"]})})
    assert score(err, ctx) == 1.0
    cache = task_with({"func": "exact_match", "result": {"type": "cache_file", "path": "absent.txt"},
                       "expected": rule({"expected": "x"})})
    with pytest.raises(EvaluationError, match="cache_file"):
        score(cache, ctx)


def test_unknown_func_is_unsupported_never_zero(ctx: GetterContext) -> None:
    task = load_task(FIXTURES / "examples" / "os" / f"{UNKNOWN_FUNC_TASK}.json")
    assert evaluator_reason(task) == "unknown evaluator function 'check_sparkle_level' (not an OSWorld metric)"
    with pytest.raises(UnsupportedTaskError, match="check_sparkle_level"):
        score(task, ctx)


# --- task model -----------------------------------------------------------------------------------
def test_task_model_is_strict_where_it_matters(tmp_path: Path) -> None:
    task = load_task(FIXTURES / "examples" / "os" / f"{COPY_TASK}.json")
    assert task.evaluator.funcs == ["check_include_exclude", "compare_text_file"]
    assert task.model_extra and task.model_extra["possibility_of_env_change"] == "low"
    with pytest.raises(TaskFileError, match="evaluator.*result has 1"):
        task_with({"func": ["exact_match", "exact_match"], "result": [rule("a")]})
    with pytest.raises(TaskFileError, match="instruction"):
        parse_task({"id": "x", "evaluator": {"func": "exact_match"}})
    with pytest.raises(TaskFileError, match="conj"):
        task_with({"func": ["exact_match"], "conj": "xor", "result": [rule("a")]})
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TaskFileError, match="bad.json: not JSON"):
        load_task(bad)


# --- the sandbox machine and setup --------------------------------------------------------------
def test_machine_maps_guest_paths_into_the_sandbox(machine: LocalMachine) -> None:
    assert machine.vm_path("/home/user/Desktop/a.txt") == machine.home / "Desktop" / "a.txt"
    assert machine.vm_path("~/b.txt") == machine.home / "b.txt"
    assert machine.vm_path("setup.sh") == machine.home / "setup.sh"
    assert machine.vm_path("/tmp/x") == Path("/tmp/x")
    assert machine.vm_path("/home/username/x") == Path("/home/username/x")
    out = machine.run("echo $HOME; pwd", shell=True)
    assert out is not None and out.output.split() == [str(machine.home)] * 2
    listed = machine.run(["ls", "~/"])
    assert listed is not None and "Desktop" in listed.output
    assert machine.run(["definitely-not-a-program-xyz"]) is None


def test_download_from_file_url_and_osworld_cache(machine: LocalMachine, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "t-1"
    cache.mkdir(parents=True)
    src = tmp_path / "cache" / "data.csv"  # file:// sources must lie under the cache root
    src.write_text("a,b\n")
    url = "https://drive.usercontent.google.com/download?id=abc"
    (cache / f"{uuid.uuid5(uuid.NAMESPACE_URL, url)}_report.txt").write_text("cached")
    runner = SetupRunner(machine, no_display, lambda a: None, [cache], cache_root=tmp_path / "cache")
    runner.run([SetupStep(type="download", parameters={"files": [
        {"url": src.as_uri(), "path": "/home/user/Desktop/data.csv"},
        {"url": url, "path": "~/report.txt"}]})])
    assert (machine.home / "Desktop" / "data.csv").read_text() == "a,b\n"
    assert (machine.home / "report.txt").read_text() == "cached"
    with pytest.raises(UnsupportedTaskError, match="not cached"):
        runner.run([SetupStep(type="download", parameters={"files": [
            {"url": "https://example.com/x.bin", "path": "x.bin"}]})])
    with pytest.raises(UnsupportedTaskError, match="googledrive"):
        runner.run([SetupStep(type="googledrive", parameters={})])


def test_setup_replays_pyautogui_code_without_running_it(machine: LocalMachine) -> None:
    done: list[Any] = []
    runner = SetupRunner(machine, no_display, done.append, [])
    code = "import pyautogui; import time; pyautogui.click(960, 540); time.sleep(0.5); pyautogui.write('ok')"
    runner.run([SetupStep(type="execute", parameters={"command": ["python", "-c", code]})])
    assert done == [Click(x=960, y=540), Wait(seconds=0.5), Type(text="ok")]


def test_setup_execute_writes_stdout_and_polls_until(machine: LocalMachine) -> None:
    runner = SetupRunner(machine, no_display, lambda a: None, [])
    runner.run([SetupStep(type="execute", parameters={
        "command": "echo tick >> ~/ticks; wc -l < ~/ticks", "shell": True, "stdout": "count.txt",
        "until": {"stdout": "3"}})])
    assert (machine.cache_dir / "count.txt").read_text().strip() == "3"


def test_local_support_reasons() -> None:
    def reason(config: list[dict[str, Any]], **ev: Any) -> str | None:
        return local_reason(task_with({"func": "exact_match", "result": rule("a"),
                                       "expected": rule({"expected": "a"}), **ev}, config))

    assert reason([]) is None
    assert "sudo" in (reason([{"type": "execute", "parameters": {
        "command": "echo password | sudo -S apt-get install -y expect", "shell": True}}]) or "")
    assert reason([{"type": "launch", "parameters": {"command": ["thunderbird-xyz"]}}]) \
        == "setup launch: 'thunderbird-xyz' is not installed"
    assert reason([{"type": "tidy_desktop", "parameters": {}}]) == "setup step 'tidy_desktop' needs the OSWorld VM"
    url = "https://example.com/a.xlsx"
    assert download_cache_name(url, "/home/user/a.xlsx") in (reason([{"type": "download", "parameters": {
        "files": [{"url": url, "path": "/home/user/a.xlsx"}]}}]) or "")
    assert local_reason(task_with({"func": "compare_table", "result": {"type": "vm_file", "path": "a", "dest": "a"}})) \
        == "metric 'compare_table' is not available locally"
    assert local_reason(task_with({"func": "exact_match", "result": {"type": "accessibility_tree"}})) \
        == "getter 'accessibility_tree' needs the OSWorld VM"


# --- VM wrapper (no desktop_env here) -------------------------------------------------------------
def test_vm_env_without_the_extra_names_it() -> None:
    with pytest.raises(SetupError, match=r"osworld extra.*desktop-env"):
        OSWorldVMEnv()


def test_actions_become_osworld_pyautogui_strings() -> None:
    assert to_osworld_action(Done()) == "DONE"
    assert to_osworld_action(Fail()) == "FAIL"
    assert to_osworld_action(Wait()) == "WAIT"
    assert to_osworld_action(Click(x=10, y=20)) == "pyautogui.click(x=10, y=20)"
    assert "hotkey" in to_osworld_action(Key(keys=["ctrl", "c"]))


# --- suite loader -----------------------------------------------------------------------------------
def test_suite_local_lists_runnable_and_skips_with_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TRUST_ENV_VAR, raising=False)
    suite = osworld_suite(f"{FIXTURES}?trust_commands=1")
    assert suite.task_names() == [COPY_TASK, INFEASIBLE_TASK, *CHROME_TASKS]
    skipped = dict(suite.skipped())
    assert skipped[CALC_TASK] == "needs LibreOffice (libreoffice / soffice not installed)"
    assert "check_sparkle_level" in skipped[UNKNOWN_FUNC_TASK]
    assert "is missing" in skipped["0c825995-5b70-4526-b663-113f4c999dd2"]
    assert suite.domain(COPY_TASK) == "os" and suite.domain(CALC_TASK) == "libreoffice_calc"
    task = suite.make_task(COPY_TASK, 3)
    assert task.id == f"osworld/{COPY_TASK}" and task.seed == 3 and task.max_steps == 15
    assert task.config["domain"] == "os" and task.instruction and "final.txt" in task.instruction


def test_suite_vm_provider_skips_only_unknown_evaluators() -> None:
    suite = osworld_suite(f"{FIXTURES}?provider=docker")
    assert suite.name == "osworld-docker"
    assert CALC_TASK in suite.task_names()
    assert set(dict(suite.skipped())) == {UNKNOWN_FUNC_TASK, "0c825995-5b70-4526-b663-113f4c999dd2"}
    with pytest.raises(SetupError, match="osworld extra"):
        suite.make_env()


def test_suite_from_meta_file_single_task_and_bad_paths(tmp_path: Path) -> None:
    meta = osworld_suite(f"{FIXTURES / 'test_all.json'}?trust_commands=1")
    assert meta.task_names() == [COPY_TASK, INFEASIBLE_TASK, *CHROME_TASKS]
    one = osworld_suite(str(FIXTURES / "examples" / "os" / f"{INFEASIBLE_TASK}.json"))
    assert one.task_names() == [INFEASIBLE_TASK] and one.domain(INFEASIBLE_TASK) == "os"
    with pytest.raises(CuaError, match="unknown provider"):
        osworld_suite(f"{FIXTURES}?provider=hyperv")
    with pytest.raises(CuaError, match="no such file"):
        osworld_suite(str(tmp_path / "nowhere"))
    (tmp_path / "examples" / "os").mkdir(parents=True)
    (tmp_path / "examples" / "os" / "broken.json").write_text('{"id": "broken", "evaluator": {}}')
    broken = osworld_suite(str(tmp_path))
    assert broken.task_names() == []
    assert "invalid task file" in dict(broken.skipped())["broken"]
