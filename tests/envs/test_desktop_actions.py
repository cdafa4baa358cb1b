"""The desktop backends' richer actions (triple click, button and key holds, non-ASCII text) on a
real Xvfb + xterm, through xdotool and through a real x11vnc: no mocks, no xclip. What the
pointer selected is checked by pasting the X PRIMARY selection back into the terminal with the
middle button, so the shell writes it to a file."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cua.core import (
    BASIC_ACTIONS, Back, Click, CloseTab, Done, Forward, Goto, Key, KeyDown, KeyUp, MouseDown,
    MouseUp, Move, NewTab, SelectOption, SwitchTab, TripleClick, Type, UnsupportedActionError,
)
from envs.base import Task, supported_actions
from envs.desktop import DesktopConfig, DesktopEnv, PointerKeyboardEnv, SpareKeys
from envs.keymap import type_runs
from envs.vnc import VNCConfig, VNCDesktopEnv

# -u8: UTF-8 input and output whatever the locale of the machine running the tests is.
XTERM = ["xterm", "-u8", "-geometry", "80x24+0+0", "-e", "/bin/sh"]
TEXT = "café 東京 😀 ÀÉÎÕÜ Ωж"
ROW0_Y = 6  # the middle of the terminal's first text row (xterm's default font is 13 px high)
BROWSER_ONLY = [Goto(url="http://127.0.0.1/"), Back(), Forward(), NewTab(), SwitchTab(index=0), CloseTab(),
                SelectOption(x=5, y=5, values=["a"])]


def require(*binaries: str) -> None:
    """Skip when the binaries are missing on a dev machine; in CI a missing binary must fail."""
    missing = [b for b in binaries if shutil.which(b) is None]
    if missing and not os.environ.get("CI"):
        pytest.skip(f"missing {', '.join(missing)} (apt-get install -y xvfb xdotool xterm x11vnc)")


def wait_for(path: Path, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


def finish(env: PointerKeyboardEnv, path: Path) -> str:
    """Once the shell is back at its prompt (it touches a second file), the file's text."""
    done = path.with_suffix(".done")
    env.step(Type(text=f"touch {done}\n"))
    wait_for(done)
    return path.read_text(encoding="utf-8") if path.exists() else ""


def start_cat(env: PointerKeyboardEnv, path: Path) -> None:
    """``cat > path``, and wait until the shell has made the file: what is typed next goes to
    cat (typed any sooner, /bin/sh could read it as its own next command)."""
    env.step(Type(text=f"cat > {path}\n"))
    wait_for(path)
    time.sleep(0.05)


def capture(env: PointerKeyboardEnv, path: Path, *steps: object) -> str:
    """Run ``cat > path``, the given steps, a newline and EOF: what the steps typed."""
    start_cat(env, path)
    for step in steps:
        env.step(step)  # type: ignore[arg-type]
    env.step(Type(text="\n"))  # ctrl+d ends cat only at the start of a line
    env.step(Key(keys=["ctrl", "d"]))
    return finish(env, path).removesuffix("\n")


def show_on_top_row(env: PointerKeyboardEnv, text: str) -> None:
    """Clear the terminal and print ``text`` on its first row (the prompt goes below)."""
    env.step(Type(text=f"printf '\\033[H\\033[2J%s\\n' '{text}'\n"))
    time.sleep(0.3)


def mouse_location(env: DesktopEnv) -> tuple[int, int]:
    fields = dict(part.split(":") for part in env.xdotool("getmouselocation").split())
    return int(fields["x"]), int(fields["y"])


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A short folder (typing a long pytest path over VNC takes seconds)."""
    folder = Path(tempfile.mkdtemp(prefix="cua", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def desktop() -> Iterator[DesktopEnv]:
    require("Xvfb", "xdotool", "xterm")
    env = DesktopEnv(DesktopConfig(width=800, height=500, app=XTERM))
    yield env
    env.close()


@pytest.fixture
def term(desktop: DesktopEnv) -> DesktopEnv:
    desktop.reset(Task(id="desktop/xterm"))  # a fresh xterm each test
    return desktop


def test_desktop_action_space() -> None:
    extra = {"triple_click", "mouse_down", "mouse_up", "key_down", "key_up"}
    assert DesktopEnv.supported_actions == BASIC_ACTIONS | extra
    assert VNCDesktopEnv.supported_actions == BASIC_ACTIONS | extra
    assert not {"goto", "back", "forward", "new_tab", "switch_tab", "close_tab", "select_option"} & (
        DesktopEnv.supported_actions)


def test_triple_click_selects_the_line(term: DesktopEnv, tmp_path: Path) -> None:
    marker = f"LINE-{uuid.uuid4().hex[:8]}"
    show_on_top_row(term, marker)
    result = term.step(TripleClick(x=30, y=ROW0_Y))
    assert result.info["executed_points"] == [[30, ROW0_Y]]
    pasted = capture(term, tmp_path / "line.txt", Click(x=200, y=200, button="middle"))
    assert pasted == f"{marker}\n"  # the whole line (xterm's triple click takes its newline)


def test_mouse_down_move_up_selects_and_middle_button_pastes(term: DesktopEnv, tmp_path: Path) -> None:
    marker = f"DRAG{uuid.uuid4().hex[:8]}"
    show_on_top_row(term, marker)
    term.step(MouseDown(x=1, y=ROW0_Y))
    term.step(Move(x=20, y=ROW0_Y))
    result = term.step(MouseUp(x=40, y=ROW0_Y))
    assert result.info["executed_points"] == [[40, ROW0_Y]]
    assert mouse_location(term) == (40, ROW0_Y)
    pasted = capture(term, tmp_path / "drag.txt",
                     MouseDown(x=200, y=200, button="middle"), MouseUp(button="middle"))
    assert len(pasted) >= 3 and marker.startswith(pasted), pasted  # the first few characters


def test_held_shift_lasts_across_steps_until_key_up(term: DesktopEnv, tmp_path: Path) -> None:
    typed = capture(term, tmp_path / "shift.txt", KeyDown(keys=["shift"]), Type(text="abc"),
                    KeyUp(keys=["shift"]), Type(text="d\n"))
    assert typed == "ABCd\n"


def test_reset_releases_held_keys(desktop: DesktopEnv, tmp_path: Path) -> None:
    desktop.reset(Task(id="desktop/xterm"))
    desktop.step(KeyDown(keys=["shift"]))
    desktop.reset(Task(id="desktop/xterm"))
    assert capture(desktop, tmp_path / "after.txt", Type(text="abc\n")) == "abc\n"


def test_non_ascii_text_lands_exactly(term: DesktopEnv, tmp_path: Path) -> None:
    require("xmodmap")
    assert capture(term, tmp_path / "utf8.txt", Type(text=f"{TEXT}\n")) == f"{TEXT}\n"
    table = term.run_x("xmodmap", "-pke")  # the characters stay bound to spare keycodes
    assert "U6771" in table and "Eacute Eacute" in table and "U0001F600" in table


def test_more_distinct_characters_than_spare_keycodes(term: DesktopEnv, tmp_path: Path) -> None:
    require("xmodmap")
    text = "".join(chr(0x4E00 + i) for i in range(40)) + " ÀÉ 😀"  # rebinding, least recently used first
    assert capture(term, tmp_path / "many.txt", Type(text=f"{text}\n")) == f"{text}\n"


def test_spare_key_segments_respect_the_capacity(term: DesktopEnv) -> None:
    require("xmodmap")
    keys = SpareKeys(term, [200, 201, 202, 203, 204])  # 3 usable, 2 left to xdotool
    assert keys.capacity == 3
    assert list(keys.segments("aébècêdëe", 50)) == ["aébècêd", "ëe"]
    assert list(keys.segments("abcdef", 4)) == ["abcd", "ef"]
    assert list(keys.segments("éééé", 2)) == ["éé", "éé"]


def test_type_runs_split_out_the_latin1_capitals() -> None:
    assert list(type_runs("café ÀÉx")) == [("café ", False), ("ÀÉ", True), ("x", False)]
    assert list(type_runs("× ÿ ß")) == [("× ÿ ß", False)]  # no case, or no Latin-1 capital


@pytest.mark.parametrize("action", BROWSER_ONLY, ids=lambda a: a.type)
def test_browser_actions_are_refused_and_change_nothing(term: DesktopEnv, action: object) -> None:
    term.step(Move(x=123, y=45))
    before = term.observe().screenshot.tobytes()
    with pytest.raises(UnsupportedActionError, match=rf"^desktop cannot do '{action.type}' \(it can: "):  # type: ignore[attr-defined]
        term.step(action)  # type: ignore[arg-type]
    assert mouse_location(term) == (123, 45)
    assert term.observe().screenshot.tobytes() == before
    assert supported_actions(term) == DesktopEnv.supported_actions
    assert term.step(Done()).done  # the episode goes on


# ---- the same actions through VNC --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def vnc_desktop() -> Iterator[DesktopEnv]:
    require("Xvfb", "xdotool", "xterm", "x11vnc")
    env = DesktopEnv(DesktopConfig(width=800, height=500, app=XTERM))
    env.reset(Task(id="desktop/xterm"))
    yield env
    env.close()


@pytest.fixture(scope="module")
def vnc(vnc_desktop: DesktopEnv) -> Iterator[VNCDesktopEnv]:
    assert vnc_desktop.display
    port = _free_port()
    server = subprocess.Popen(
        ["x11vnc", "-display", vnc_desktop.display, "-rfbport", str(port), "-localhost", "-forever",
         "-quiet", "-nopw"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        assert server.poll() is None, "x11vnc exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "x11vnc did not listen"
            time.sleep(0.05)
    env = VNCDesktopEnv(VNCConfig(port=port, type_delay_ms=2))  # a quick typist: these type a lot
    env.reset(Task(id="vnc/xterm"))
    yield env
    env.close()
    server.kill()
    server.wait(timeout=5)


def test_vnc_triple_click_drag_and_holds(vnc: VNCDesktopEnv, tmp_path: Path) -> None:
    marker = f"VNC-{uuid.uuid4().hex[:8]}"
    show_on_top_row(vnc, marker)
    vnc.step(TripleClick(x=30, y=ROW0_Y))
    assert capture(vnc, tmp_path / "line.txt", Click(x=200, y=200, button="middle")) == f"{marker}\n"
    show_on_top_row(vnc, marker)
    vnc.step(MouseDown(x=1, y=ROW0_Y))
    vnc.step(Move(x=20, y=ROW0_Y))
    vnc.step(MouseUp(x=40, y=ROW0_Y))
    pasted = capture(vnc, tmp_path / "drag.txt", MouseDown(x=200, y=200, button="middle"),
                     MouseUp(button="middle"))
    assert len(pasted) >= 3 and marker.startswith(pasted), pasted
    # RFB sends keysyms and the server makes exactly those (x11vnc lifts Shift to type "a"), so
    # a held Shift does not capitalise typing here; a held Ctrl turns a typed "d" into EOF.
    out = tmp_path / "ctrl.txt"
    start_cat(vnc, out)
    vnc.step(Type(text="abc\n"))
    vnc.step(KeyDown(keys=["ctrl"]))
    vnc.step(Type(text="d"))
    vnc.step(KeyUp(keys=["ctrl"]))
    assert finish(vnc, out) == "abc\n"


def test_vnc_non_ascii_text_and_refusals(vnc: VNCDesktopEnv, tmp_path: Path) -> None:
    assert capture(vnc, tmp_path / "utf8.txt", Type(text=f"{TEXT}\n")) == f"{TEXT}\n"
    with pytest.raises(UnsupportedActionError, match=r"^vnc cannot do 'goto'"):
        vnc.step(Goto(url="http://127.0.0.1/"))
