"""A Linux desktop env: its own Xvfb display, an app in it, input by xdotool, screenshots by XCB.

Screenshot pixels are X screen pixels (device scale factor 1). Nothing here touches a real
display unless ``DesktopConfig.use_existing_display`` says so.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from PIL import Image, ImageGrab

from cua.core import (
    TERMINAL_ACTIONS, Action, CallUser, Click, Done, DoubleClick, Drag, EnvError, Fail, Key, KeyDown,
    KeyUp, MouseDown, MouseUp, Move, Observation, RightClick, Scroll, TripleClick, Type, Wait,
)
from envs.base import POINTER_KEYBOARD_ACTIONS, StepResult, Task, check_supported
from envs.keymap import chunks, keysym_name, type_runs, xdotool_chord

BUTTONS = {"left": 1, "middle": 2, "right": 3}
SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}
DOUBLE_CLICK_DELAY_MS = 60  # well inside the usual 250-400 ms double-click threshold
_FIRST_DISPLAY, _LAST_DISPLAY, _DISPLAY_ATTEMPTS = 100, 999, 8


@dataclass
class DesktopConfig:
    width: int = 1280
    height: int = 800
    depth: int = 24
    display: str | None = None  # ":N" for our Xvfb; None picks a free number
    app: list[str] | None = None  # command started in the display (a task's config["app"] wins)
    window_class: str | None = None  # find the app's window by WM_CLASS instead of by its pid
    use_existing_display: bool = False  # act on `display` (or $DISPLAY) instead of our own Xvfb
    xvfb_path: str = "Xvfb"
    xdotool_path: str = "xdotool"
    xmodmap_path: str = "xmodmap"  # binds what the keymap lacks before typing (x11-xserver-utils)
    startup_timeout_s: float = 10.0
    command_timeout_s: float = 30.0
    type_chunk: int = 50
    type_delay_ms: int = 12
    settle_s: float = 0.05  # pause before the post-action screenshot so it shows the effect


class PointerKeyboardEnv(ABC):
    """Action dispatch shared by the X11 (xdotool) and VNC backends; subclasses do the I/O.

    A screen, a pointer and a keyboard: clicks (single, double, triple), button and key holds
    that last across steps (released at reset), drags, scrolls, typing and key chords. Browser
    actions (goto, back, forward, tabs, select_option) are not in its action space."""

    name = "pointer-keyboard"
    settle_s = 0.05
    supported_actions: frozenset[str] = POINTER_KEYBOARD_ACTIONS

    def __init__(self) -> None:
        self._task: Task | None = None
        self._size: tuple[int, int] = (0, 0)
        self._pointer: tuple[int, int] | None = None  # where our last pointer action left it
        self._held_keys: list[str] = []  # our key names held by key_down
        self._held_buttons: list[int] = []

    def step(self, action: Action) -> StepResult:
        check_supported(self, action)
        if self._task is None:
            raise EnvError(f"{self.name}: call reset() before step()")
        info: dict[str, Any] = {"executed_points": [], "device_scale_factor": 1.0}
        if isinstance(action, Done):
            info["answer"] = action.answer
        elif isinstance(action, Fail):
            info["fail_reason"] = action.reason
            info["fail_by"] = action.by
        elif isinstance(action, CallUser):
            info["question"] = action.question
        elif isinstance(action, Wait):
            time.sleep(action.seconds)
        else:
            info["executed_points"] = [list(p) for p in self._execute(action)]
            time.sleep(self.settle_s)
        return StepResult(self.observe(), 0.0, isinstance(action, TERMINAL_ACTIONS), info)

    def observe(self) -> Observation:
        """The screen now, without acting."""
        shot = self._screenshot()
        self._size = shot.size
        return Observation(
            screenshot=shot, instruction=self._task.instruction if self._task else None,
            extra=self._observation_extra(),
        )

    @property
    def screenshot_size(self) -> tuple[int, int] | None:
        """(width, height) of every screenshot, once known."""
        return self._size if self._size != (0, 0) else None

    def evaluate(self) -> float:
        """The task's ``config["validator"]`` (a callable taking this env) clipped to [0, 1]."""
        validator = self._task.config.get("validator") if self._task else None
        if not callable(validator):
            return 0.0
        return min(1.0, max(0.0, float(validator(self))))

    def _execute(self, action: Action) -> list[tuple[int, int]]:
        points = self._pointer_action(action)
        if points:
            self._pointer = points[-1]
            return points
        match action:
            case Type():
                self._type(action.text)
            case Key():
                self._key(action.keys)
            case KeyDown():
                self._key_hold(action.keys, True)
                self._held_keys += [k for k in action.keys if k not in self._held_keys]
            case KeyUp():
                self._key_hold(list(reversed(action.keys)), False)
                self._held_keys = [k for k in self._held_keys if k not in action.keys]
            case MouseDown() | MouseUp():  # where the pointer is, which we may not know
                self._press_button(action, None)
            case _:
                raise EnvError(f"{self.name}: unsupported action {action.type!r}")
        return []

    def _pointer_action(self, action: Action) -> list[tuple[int, int]]:
        """Actions with a point: the screen points they used (empty for any other action)."""
        match action:
            case Click():
                return [self._click_at(action.x, action.y, BUTTONS[action.button], 1)]
            case DoubleClick():
                return [self._click_at(action.x, action.y, BUTTONS["left"], 2)]
            case TripleClick():
                return [self._click_at(action.x, action.y, BUTTONS["left"], 3)]
            case RightClick():
                return [self._click_at(action.x, action.y, BUTTONS["right"], 1)]
            case Move():
                p = self._point(action.x, action.y)
                self._move(p)
                return [p]
            case MouseDown() | MouseUp() if action.x is not None and action.y is not None:
                p = self._point(action.x, action.y)
                self._press_button(action, p)
                return [p]
            case MouseDown() | MouseUp() if self._pointer is not None:
                self._press_button(action, None)
                return [self._pointer]
            case Drag():
                start, end = self._point(action.x, action.y), self._point(action.to_x, action.to_y)
                self._drag(start, end)
                return [start, end]
            case Scroll():
                w, h = self._size
                at = self._point(w / 2 if action.x is None else action.x,
                                 h / 2 if action.y is None else action.y)
                self._scroll(at, SCROLL_BUTTONS[action.direction], action.amount)
                return [at]
        return []

    def _press_button(self, action: MouseDown | MouseUp, p: tuple[int, int] | None) -> None:
        button = BUTTONS[action.button]
        down = isinstance(action, MouseDown)
        self._button(p, button, down)
        if down and button not in self._held_buttons:
            self._held_buttons.append(button)
        elif not down and button in self._held_buttons:
            self._held_buttons.remove(button)

    def _release_held(self) -> None:
        """Let go of every key and button still held by key_down / mouse_down (at reset)."""
        keys, buttons = self._held_keys, self._held_buttons
        self._held_keys, self._held_buttons = [], []
        if keys:
            self._key_hold(list(reversed(keys)), False)
        for button in buttons:
            self._button(None, button, False)

    def _click_at(self, x: float, y: float, button: int, count: int) -> tuple[int, int]:
        p = self._point(x, y)
        self._click(p, button, count)
        return p

    def _point(self, x: float, y: float) -> tuple[int, int]:
        """Screenshot pixels → screen pixels (DSF 1), clamped to the screen so the executed
        point we report is the one the pointer really reached."""
        w, h = self._size
        return min(max(round(x), 0), w - 1), min(max(round(y), 0), h - 1)

    # --- backend hooks -------------------------------------------------------------------
    def _observation_extra(self) -> dict[str, Any]:
        return {}

    @abstractmethod
    def _screenshot(self) -> Image.Image: ...

    @abstractmethod
    def _move(self, p: tuple[int, int]) -> None: ...

    @abstractmethod
    def _click(self, p: tuple[int, int], button: int, count: int) -> None: ...

    @abstractmethod
    def _drag(self, start: tuple[int, int], end: tuple[int, int]) -> None: ...

    @abstractmethod
    def _scroll(self, p: tuple[int, int], button: int, amount: int) -> None: ...

    @abstractmethod
    def _type(self, text: str) -> None: ...

    @abstractmethod
    def _key(self, keys: list[str]) -> None: ...

    @abstractmethod
    def _button(self, p: tuple[int, int] | None, button: int, down: bool) -> None:
        """Press (down) or release a button, at ``p`` or where the pointer is (None)."""

    @abstractmethod
    def _key_hold(self, keys: list[str], down: bool) -> None:
        """Press (down) or release each key in order, leaving it so."""


class _Proc:
    """A child in its own process group, its stderr kept in a temp file for error messages."""

    def __init__(
        self, argv: list[str], env: dict[str, str], pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        try:
            self.popen = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self.log, pass_fds=pass_fds, start_new_session=True,
            )
        except OSError as exc:
            self.log.close()
            raise EnvError(f"cannot start {argv[0]!r}: {exc}") from exc

    def tail(self, limit: int = 2000) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:].strip()

    def stop(self) -> None:
        """SIGTERM the whole group (the app's children too); up to 2 s later SIGKILL whatever of
        the group is left, so no child that ignores SIGTERM outlives the env. Idempotent."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):  # the group is already empty
                os.killpg(self.popen.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=2)
        self.log.close()


def _stop_all(procs: dict[str, _Proc]) -> None:
    for name in ("app", "xvfb"):  # the app first, so it does not die on a vanished display
        proc = procs.pop(name, None)
        if proc is not None:
            proc.stop()


class DesktopEnv(PointerKeyboardEnv):
    """Starts its own Xvfb (kept across resets), an app per reset, and drives both by xdotool."""

    name = "desktop"

    def __init__(self, config: DesktopConfig | None = None) -> None:
        super().__init__()
        self.config = config or DesktopConfig()
        self.settle_s = self.config.settle_s
        self._display: str | None = None
        self._procs: dict[str, _Proc] = {}
        self._spare_keys: SpareKeys | None | Literal[False] = None  # False: none on this display
        # Kills our processes on garbage collection and at interpreter exit, not only on close().
        self._finalizer = weakref.finalize(self, _stop_all, self._procs)

    @property
    def screenshot_size(self) -> tuple[int, int] | None:
        if self._size == (0, 0) and not self.config.use_existing_display:
            return (self.config.width, self.config.height)
        return super().screenshot_size

    @property
    def display(self) -> str | None:
        return self._display

    @property
    def xvfb_pid(self) -> int | None:
        return self._procs["xvfb"].popen.pid if "xvfb" in self._procs else None

    @property
    def app_pid(self) -> int | None:
        return self._procs["app"].popen.pid if "app" in self._procs else None

    def reset(self, task: Task) -> Observation:
        self._task = None
        _require(self.config.xdotool_path, "xdotool")
        if self._display_alive():
            with contextlib.suppress(EnvError):  # a wedged display is replaced below anyway
                self._release_held()
        self._held_keys, self._held_buttons, self._pointer = [], [], None
        self._stop_app()
        if not self._display_alive():
            self._open_display()
        app = task.config.get("app", self.config.app)
        if app:
            self._start_app(list(app), task.config.get("window_class", self.config.window_class))
        self._task = task
        return self.observe()

    def close(self) -> None:
        if self.config.use_existing_display and self._spare_keys and self._display:
            with contextlib.suppress(EnvError):  # not our display: give its keycodes back
                self._spare_keys.unbind_all()
        _stop_all(self._procs)
        self._display = None
        self._spare_keys = None
        self._task = None

    def xdotool(self, *args: object) -> str:
        """Run one xdotool command line (argument list, no shell) on our display."""
        return self.run_x(self.config.xdotool_path, *args)

    def run_x(self, program: str, *args: object) -> str:
        """Run an X client (argument list, no shell) on our display; its stdout."""
        argv = [program, *map(str, args)]
        name = os.path.basename(program)
        try:
            out = subprocess.run(argv, env=self._child_env(), capture_output=True, text=True,
                                 timeout=self.config.command_timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise EnvError(f"{name} {' '.join(argv[1:])} timed out") from exc
        if out.returncode != 0:
            raise EnvError(f"{name} {' '.join(argv[1:])} failed: {out.stderr.strip()}")
        return out.stdout

    # --- display and app -----------------------------------------------------------------
    def _child_env(self) -> dict[str, str]:
        if self._display is None:
            raise EnvError("desktop: no display; call reset() first")
        return {**os.environ, "DISPLAY": self._display}

    def _display_alive(self) -> bool:
        if self.config.use_existing_display:
            return self._display is not None
        xvfb = self._procs.get("xvfb")
        return xvfb is not None and xvfb.popen.poll() is None

    def _open_display(self) -> None:
        cfg = self.config
        if cfg.use_existing_display:
            self._display = cfg.display or os.environ.get("DISPLAY")
            if not self._display:
                raise EnvError("use_existing_display is set but neither config.display nor "
                               "$DISPLAY names a display")
        else:
            _require(cfg.xvfb_path, "xvfb")
            dead = self._procs.pop("xvfb", None)
            if dead is not None:
                dead.stop()
            numbers = [_display_number(cfg.display)] if cfg.display else _free_displays()
            self._display = self._start_xvfb(numbers)
        self._spare_keys = None  # a new display: its keymap is read when first needed
        # The display answers a client request, and tells us its real size.
        w, h = self.xdotool("getdisplaygeometry").split()
        self._size = (int(w), int(h))

    def _start_xvfb(self, numbers: list[int]) -> str:
        tried = []
        for n in numbers[:_DISPLAY_ATTEMPTS]:
            proc = self._launch_xvfb(n)
            if proc is not None:
                self._procs["xvfb"] = proc
                return f":{n}"
            tried.append(f":{n}")
        raise EnvError(f"Xvfb could not start: display {', '.join(tried)} in use (to act on an "
                       "existing display, set use_existing_display=True)")

    def _launch_xvfb(self, n: int) -> _Proc | None:
        """Start Xvfb on :n; None when another server holds :n (we then try the next number).
        ``-displayfd`` makes Xvfb write the number once it accepts clients: no polling;
        ``-noreset`` keeps server state (keymaps, root properties) when its last client leaves,
        as happens between two xdotool calls while no app is open."""
        cfg = self.config
        read_fd, write_fd = os.pipe()
        try:
            proc = _Proc([cfg.xvfb_path, f":{n}", "-screen", "0",
                          f"{cfg.width}x{cfg.height}x{cfg.depth}", "-nolisten", "tcp", "-noreset",
                          "-displayfd", str(write_fd)], dict(os.environ), pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        try:
            answered = _read_line(read_fd, cfg.startup_timeout_s) == str(n)
        finally:
            os.close(read_fd)
        if answered:
            return proc
        log = proc.tail()
        proc.stop()
        if "already" in log:  # "Server is already active for display N": a collision
            return None
        raise EnvError(f"Xvfb :{n} did not come up (waited up to {cfg.startup_timeout_s} s): {log}")

    def _start_app(self, argv: list[str], window_class: str | None) -> None:
        proc = _Proc(argv, self._child_env())
        self._procs["app"] = proc
        query = ["--class", window_class] if window_class else ["--pid", str(proc.popen.pid)]
        window = self._wait_for_window(proc, query)
        # No window manager runs, so give the app the keyboard focus ourselves.
        self.xdotool("windowfocus", window)

    def _wait_for_window(self, proc: _Proc, query: list[str]) -> str:
        """Poll rather than ``search --sync`` so an app that dies is reported at once."""
        deadline = time.monotonic() + self.config.startup_timeout_s
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise EnvError(f"app {proc.popen.args!r} exited with {proc.popen.returncode} "
                               f"before showing a window: {proc.tail()}")
            found = subprocess.run(
                [self.config.xdotool_path, "search", "--onlyvisible", *query],
                env=self._child_env(), capture_output=True, text=True,
                timeout=self.config.command_timeout_s,
            )
            if found.returncode == 0 and found.stdout.split():
                return found.stdout.split()[0]
            time.sleep(0.05)
        raise EnvError(f"app {proc.popen.args!r} showed no window ({' '.join(query)}) within "
                       f"{self.config.startup_timeout_s} s")

    def _stop_app(self) -> None:
        app = self._procs.pop("app", None)
        if app is not None:
            app.stop()

    # --- input and screenshots -----------------------------------------------------------
    def _observation_extra(self) -> dict[str, Any]:
        return {"display": self._display}

    def _screenshot(self) -> Image.Image:
        if self._display is None:  # grab(xdisplay=None) would read $DISPLAY: never a real screen
            raise EnvError("desktop: no display; call reset() first")
        try:
            return ImageGrab.grab(xdisplay=self._display).convert("RGB")
        except OSError as exc:
            raise EnvError(f"screenshot of {self._display} failed: {exc}") from exc

    def _move(self, p: tuple[int, int]) -> None:
        self.xdotool("mousemove", *p)

    def _click(self, p: tuple[int, int], button: int, count: int) -> None:
        self.xdotool("mousemove", *p, "click", "--repeat", count,
                     "--delay", DOUBLE_CLICK_DELAY_MS, button)

    def _drag(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        # Intermediate motion with short pauses: toolkits start a drag only after seeing movement.
        mid = ((start[0] + end[0]) // 2, (start[1] + end[1]) // 2)
        self.xdotool("mousemove", *start, "mousedown", 1, "sleep", 0.05, "mousemove", *mid,
                     "sleep", 0.05, "mousemove", *end, "sleep", 0.05, "mouseup", 1)

    def _scroll(self, p: tuple[int, int], button: int, amount: int) -> None:
        self.xdotool("mousemove", *p, "click", "--repeat", amount, "--delay", 20, button)

    def _type(self, text: str) -> None:
        """``xdotool type``, with the characters the keymap lacks (accents, CJK, emoji) bound to
        spare keycodes first (``SpareKeys``): xdotool would bind each to a scratch keycode and
        unbind it right after the key event, and a busy client that reads its keymap after the
        unbinding gets nothing (characters dropped under load). Without xmodmap, plain
        ``xdotool type``, with Shift held for the upper-case Latin-1 letters (X reads a keycode
        bound to one alone as its lower case)."""
        delay = self.config.type_delay_ms
        if self._spare_keys is None and not text.isascii():
            self._spare_keys = SpareKeys.read(self) or False
        if self._spare_keys:
            for segment in self._spare_keys.segments(text, self.config.type_chunk):
                self._spare_keys.bind(segment)
                self.xdotool("type", "--delay", delay, "--", segment)
                self._spare_keys.used()
            return
        for run, shifted in type_runs(text):
            hold = shifted and "shift" not in self._held_keys
            for chunk in chunks(run, self.config.type_chunk):
                if not hold:
                    self.xdotool("type", "--delay", delay, "--", chunk)
                    continue
                try:
                    self.xdotool("keydown", "Shift_L", "type", "--delay", delay, "--", chunk)
                finally:
                    self.xdotool("keyup", "Shift_L")

    def _key(self, keys: list[str]) -> None:
        self.xdotool("key", "--", xdotool_chord(keys))

    def _button(self, p: tuple[int, int] | None, button: int, down: bool) -> None:
        move = ["mousemove", *p] if p is not None else []
        self.xdotool(*move, "mousedown" if down else "mouseup", button)

    def _key_hold(self, keys: list[str], down: bool) -> None:
        self.xdotool("keydown" if down else "keyup", "--", *(keysym_name(k) for k in keys))


class SpareKeys:
    """Characters the keymap lacks, bound to its spare (empty) keycodes with xmodmap as
    ``keycode K = sym sym`` (the same symbol with and without Shift, so capitals stay capitals),
    and kept bound: rebound, least recently used first, only after a pause that lets clients
    read the key events that used them. Two spare keycodes are left to xdotool."""

    RESERVED = 2
    REBIND_PAUSE_S = 0.2

    def __init__(self, env: DesktopEnv, spare: list[int]) -> None:
        self._env = env
        self._free = spare[:-self.RESERVED] if len(spare) > self.RESERVED else []
        self._bound: dict[str, int] = {}  # character -> keycode, least recently used first
        self._last_use = 0.0

    @classmethod
    def read(cls, env: DesktopEnv) -> SpareKeys | None:
        """None (plain xdotool type then) without xmodmap or spare keycodes."""
        if shutil.which(env.config.xmodmap_path) is None:
            return None
        table = env.run_x(env.config.xmodmap_path, "-pke")
        spare = [int(line.split()[1]) for line in table.splitlines()
                 if line.startswith("keycode") and line.split("=", 1)[1].strip() == ""]
        keys = cls(env, spare)
        return keys if keys._free else None

    @property
    def capacity(self) -> int:
        return len(self._free) + len(self._bound)

    def segments(self, text: str, size: int) -> Iterator[str]:
        """Pieces of at most ``size`` characters needing at most ``capacity`` bindings each."""
        start, needs = 0, set()
        for i, ch in enumerate(text):
            extra = {ch} if _needs_binding(ch) else set()
            if i - start >= size or len(needs | extra) > self.capacity:
                yield text[start:i]
                start, needs = i, set()
            needs |= extra
        if start < len(text):
            yield text[start:]

    def bind(self, segment: str) -> None:
        wanted = list(dict.fromkeys(ch for ch in segment if _needs_binding(ch)))
        for ch in wanted:
            if ch in self._bound:
                self._bound[ch] = self._bound.pop(ch)  # most recently used now
        missing = [ch for ch in wanted if ch not in self._bound]
        if not missing:
            return
        if len(missing) > len(self._free):  # rebinding keycodes used a moment ago
            time.sleep(max(0.0, self._last_use + self.REBIND_PAUSE_S - time.monotonic()))
        expressions = []
        for ch in missing:
            if not self._free:
                old = next(c for c in self._bound if c not in wanted)
                self._free.append(self._bound.pop(old))
            code = self._free.pop()
            self._bound[ch] = code
            sym = keysym_name(ch)
            expressions += ["-e", f"keycode {code} = {sym} {sym}"]
        self._env.run_x(self._env.config.xmodmap_path, *expressions)

    def used(self) -> None:
        self._last_use = time.monotonic()

    def unbind_all(self) -> None:
        """Give the keycodes back (on a display that is not ours)."""
        expressions = [arg for code in self._bound.values() for arg in ("-e", f"keycode {code} =")]
        self._free += list(self._bound.values())
        self._bound = {}
        if expressions:
            self._env.run_x(self._env.config.xmodmap_path, *expressions)


def _needs_binding(ch: str) -> bool:
    """A printable character beyond ASCII (what the US keymap lacks); control characters and
    the rest are left to xdotool as they are."""
    return ch.isprintable() and not ch.isascii()


def _require(path: str, package: str) -> None:
    if shutil.which(path) is None:
        raise EnvError(f"{path!r} not found; install the Debian package {package!r} "
                       f"(apt-get install -y {package})")


def _read_line(fd: int, timeout_s: float) -> str:
    """Read up to a newline, EOF or the deadline. Xvfb writes the number and the newline
    separately, and dies if the pipe is closed between the two writes."""
    deadline, data = time.monotonic() + timeout_s, b""
    while b"\n" not in data:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 64) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _display_number(display: str) -> int:
    try:
        return int(display.lstrip(":").split(".")[0])
    except ValueError as exc:
        raise EnvError(f"not a local display name: {display!r} (expected ':N')") from exc


def _free_displays() -> list[int]:
    """Display numbers with neither a socket nor a lock file (another server may still win the
    race for one; _start_xvfb then tries the next)."""
    return [n for n in range(_FIRST_DISPLAY, _LAST_DISPLAY + 1)
            if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists()]
