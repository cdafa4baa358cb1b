"""Task generation without a browser: every template, levels, determinism, validators, splits."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cua.core import Intent, TaskNotFoundError, Type
from cua.planners import split_instruction
from data_synth.apps import FAMILIES, TEMPLATES
from data_synth.export.records import split_of
from data_synth.page import render_html, task_digest
from data_synth.spec import LEVEL_STEPS, parse_name
from data_synth.templates import generate, task_names
from data_synth.validators import MISSING, Check, Validator, eq, resolve, where

ALL = task_names()


def test_every_family_has_templates_and_levels() -> None:
    assert {t.family for t in TEMPLATES.values()} == set(FAMILIES)
    for level in ("easy", "medium", "hard"):
        assert len({n.split("-")[0] for n in task_names(level)}) >= 3, level


@pytest.mark.parametrize("name", ALL)
def test_template_generates_within_its_level(name: str) -> None:
    for seed in range(3):
        task = generate(name, seed)
        lo, hi = LEVEL_STEPS[task.level]
        assert lo <= len(task.plan) <= hi, (task.id, len(task.plan))
        assert task.validator.checks and task.instruction
        assert parse_name(task.id) == (task.family, task.template, task.level, seed)
        assert "window.__app" not in render_html(task)  # the state lives in the page script only
        assert task.app["state"]["ui"]["open"] is None


def test_same_seed_same_bytes_other_seed_other_task() -> None:
    a, b, c = generate("shop-checkout-hard", 7), generate("shop-checkout-hard", 7), generate("shop-checkout-hard", 8)
    assert task_digest(a) == task_digest(b)
    assert render_html(a) == render_html(b) and a.model_dump_json() == b.model_dump_json()
    assert task_digest(a) != task_digest(c)


def test_digests_do_not_depend_on_the_process() -> None:
    """String hashing is salted per process: generation must not depend on it."""
    code = ("from data_synth.templates import generate, task_names; from data_synth.page import task_digest;"
            "print(','.join(task_digest(generate(n, 3)) for n in task_names()))")
    outs = {subprocess.run([sys.executable, "-c", code], env={"PYTHONHASHSEED": str(s), "PATH": ""},
                           capture_output=True, text=True, check=True).stdout for s in (1, 2)}
    assert len(outs) == 1
    assert outs.pop().strip().split(",") == [task_digest(generate(n, 3)) for n in ALL]


def test_unknown_names_are_clear_errors() -> None:
    with pytest.raises(TaskNotFoundError, match="not a synthetic task name"):
        generate("nonsense")
    with pytest.raises(TaskNotFoundError, match="no synthetic template"):
        generate("shop-carts-easy")
    with pytest.raises(TaskNotFoundError, match="has no hard level"):
        generate("auth-login-hard")


@pytest.mark.parametrize("name", task_names("easy"))
def test_easy_plans_are_in_the_instruction_planners_words(name: str) -> None:
    """The CPU default planner turns each easy step into clicks on the quoted target (and a type)."""
    task = generate(name, 1)
    for step in task.plan:
        proposals = split_instruction(step.instruction)
        assert isinstance(proposals[0], Intent), step.instruction
        if step.op == "fill":
            assert proposals[1] == Type(text=step.text)
        else:
            assert len(proposals) == 1
    assert len(split_instruction(task.instruction)) == len(
        [p for s in task.plan for p in split_instruction(s.instruction)])


def test_checks_read_real_state_shapes() -> None:
    state = {"cart": [{"name": "Blue Mug", "qty": 2}, {"name": "Red Cap", "qty": 1}], "ship": "express",
             "user": {"name": "  Dana  Lee "}}
    assert eq(["ship"], "express", "").holds(state)
    assert eq(["user", "name"], "Dana Lee", "").holds(state)  # spacing never decides
    assert eq(["cart", where(name="Blue Mug"), "qty"], 2, "").holds(state)
    assert resolve(state, ["cart", where(name="Green Cup")]) is MISSING
    assert resolve(state, ["cart", 5]) is MISSING
    items = Check(path=["cart"], op="items", keys=["name", "qty"],
                  value=[{"name": "Red Cap", "qty": 1}, {"name": "Blue Mug", "qty": 2}])
    assert items.holds(state)
    assert not items.model_copy(update={"value": [{"name": "Blue Mug", "qty": 2}]}).holds(state)
    assert Check(path=["missing"], op="absent").holds(state)
    assert not eq(["cart", 0, "qty"], True, "").holds({"cart": [{"qty": 1}]})  # 1 is not True
    v = Validator(checks=[eq(["ship"], "express", "shipping is Express")])
    assert v.score(state) == 1.0 and v.score({"ship": "standard"}) == 0.0
    assert v.explain({"ship": "standard"}) == ["shipping is Express: got 'standard'"]
    with pytest.raises(ValueError, match="cannot fail"):
        Validator(checks=[]).score(state)
    assert Validator.model_validate_json(v.model_dump_json()) == v


def test_held_out_split_is_fixed_by_id() -> None:
    ids = [f"synthetic/shop-cart-easy-{i:04d}" for i in range(2000)]
    splits = [split_of(i, 0.1) for i in ids]
    assert splits == [split_of(i, 0.1) for i in ids]
    assert 0.07 < splits.count("test") / len(ids) < 0.13
    assert split_of("synthetic/shop-cart-easy-0001", 0.0, frozenset({"shop-cart"})) == "test"
