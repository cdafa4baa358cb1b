"""The online environment reward with real Chromium on a small verified run: the reference
box's centre passes the task's validator, a blank corner does not, one browser serves every
rollout, a crashed browser is restarted, and the rows loader gives sound boxes and meta."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from cua.core import CuaError, EnvError, Point
from data_synth.online import OnlineClickReward, online_rows
from data_synth.pipeline import run

from .conftest import require_chromium


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_chromium()
    out = tmp_path_factory.mktemp("online")
    # a shop task (navigate, then add to the bag) and an auth task (a field, typing, a submit)
    report = run(out, ["shop-cart-easy", "auth-reset-easy"], [1], workers=0, ablations=1, show_progress=False)
    assert report.verified == 2
    return out


@pytest.fixture(scope="module")
def rows(run_dir: Path) -> list[dict[str, Any]]:
    return online_rows(run_dir, split="train", heldout=0.0)


def one_per_step(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for r in rows:
        seen.setdefault((r["meta"]["task_id"], r["meta"]["step"]), r)
    return list(seen.values())


def centre(row: dict[str, Any]) -> Point:
    x1, y1, x2, y2 = row["box"]
    return Point(x=(x1 + x2) / 2, y=(y1 + y2) / 2)


def corner(row: dict[str, Any]) -> Point:
    w, h = row["image_size"]
    return Point(x=w - 3, y=h - 3)  # the bottom-right corner of these pages is blank


def test_rows_have_boxes_inside_their_images_and_json_meta(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    assert len({r["meta"]["task_id"] for r in rows}) == 2
    assert len(one_per_step(rows)) >= 4  # every clicked plan target, several instructions each
    for r in rows:
        with Image.open(r["image"]) as im:
            assert list(im.size) == r["image_size"]
        w, h = r["image_size"]
        x1, y1, x2, y2 = r["box"]
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
        assert r["instruction"].strip()
        assert json.loads(json.dumps(r)) == r  # the whole row, meta included, is plain JSON
        ref = r["meta"]["reference"]
        assert x1 <= ref["x"] <= x2 and y1 <= ref["y"] <= y2  # the recorded click hit this box
        actions = json.loads(r["meta"]["actions"])
        assert actions[r["meta"]["step"]] == ref
    test_rows = online_rows(run_dir, split="test", heldout=0.0, heldout_templates=("auth-reset",))
    assert {r["meta"]["name"] for r in test_rows} == {"auth-reset-easy-0001"}
    with pytest.raises(CuaError, match="unknown split 'dev'"):
        online_rows(run_dir, split="dev")


@pytest.mark.parametrize("mode", ["finish", "state"])
def test_centre_passes_corner_and_none_fail_with_one_browser(rows: list[dict[str, Any]], mode: str) -> None:
    steps = one_per_step(rows)
    with OnlineClickReward(mode) as reward:  # type: ignore[arg-type]
        pids = set()
        for row in steps:
            got = reward.score([centre(row), corner(row), None], [row["meta"]] * 3)
            assert got == [1.0, 0.0, 0.0], (row["meta"]["task_id"], row["meta"]["step"], row["instruction"])
            pids.add(reward.env.browser_pid())
        assert len(pids) == 1 and None not in pids  # one browser served every rollout
        assert reward.stats.launches == 1 and reward.stats.restarts == 0
        assert reward.stats.rollouts == 2 * len(steps)  # None never reached the env
        assert reward.stats.rollouts_per_s > 0
        if mode == "state":
            assert reward.stats.reference_rollouts == len(steps)  # one reference per step, cached
            reward.score([centre(steps[0])], [steps[0]["meta"]])
            assert reward.stats.reference_rollouts == len(steps)
        stats = reward.stats.as_dict()
        assert json.loads(json.dumps(stats)) == stats
    assert reward._env is None  # closed by the context manager


def test_a_crashed_browser_is_restarted_and_the_rollout_retried(rows: list[dict[str, Any]]) -> None:
    row = one_per_step(rows)[0]
    with OnlineClickReward("finish") as reward:
        assert reward.score([centre(row)], [row["meta"]]) == [1.0]
        pid = reward.env.browser_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)  # our own browser, by its id
        deadline = time.monotonic() + 5
        while reward.env.browser_pid() == pid and time.monotonic() < deadline:
            time.sleep(0.05)
        assert reward.score([centre(row), corner(row)], [row["meta"]] * 2) == [1.0, 0.0]
        assert reward.stats.restarts == 1 and reward.stats.launches == 2
        assert reward.env.browser_pid() not in (None, pid)


def test_a_replay_that_cannot_reach_the_step_raises_naming_the_task(rows: list[dict[str, Any]]) -> None:
    row = one_per_step(rows)[0]
    wrong = {**row["meta"], "sid": "no-such-element"}  # the reference point no longer hits the target
    with OnlineClickReward("finish") as reward:
        with pytest.raises(EnvError, match=rf"{row['meta']['task_id']} step {row['meta']['step']} failed twice"):
            reward.score([centre(row)], [wrong])
        assert reward.stats.restarts == 1


def test_rows_from_another_generator_version_are_refused(rows: list[dict[str, Any]]) -> None:
    row = rows[0]
    with OnlineClickReward("finish") as reward:
        with pytest.raises(CuaError, match="no longer regenerates as verified"):
            reward.score([centre(row)], [{**row["meta"], "digest": "0" * 64}])
        with pytest.raises(CuaError, match="not a recorded click"):
            reward.score([centre(row)], [{**row["meta"], "step": 99}])
        with pytest.raises(CuaError, match="unknown online reward mode"):
            OnlineClickReward("bogus")  # type: ignore[arg-type]
        assert reward.stats.launches == 0  # refused before any browser started
