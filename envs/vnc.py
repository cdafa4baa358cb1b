"""Attach to an existing VNC server (an OSWorld VM, a container's x11vnc) through vncdotool.

The env starts nothing: the machine behind the server is someone else's. Screenshot pixels are
framebuffer pixels (device scale factor 1); keys go out as X keysyms from ``envs.keymap``.
RFB carries pointer and key events, so everything PointerKeyboardEnv does works here, button
and key holds included (``mouseDown``/``mouseUp``, raw key events); browser actions do not.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image
from twisted.internet import reactor
from vncdotool import api
from vncdotool.client import VNCDoToolClient, VNCDoToolFactory

from cua.core import EnvError, Observation
from envs.base import Task
from envs.desktop import PointerKeyboardEnv
from envs.keymap import keysym_code, text_keysyms, type_runs

_reactor_cleanup_registered = False


class _KeysymClient(VNCDoToolClient):
    """vncdotool's client plus one method that sends a raw X keysym.

    ``keyDown``/``keyUp`` only take vncdotool's key names or one character (no Unicode keysyms,
    ``-`` splits chords), and the threaded proxy needs every call to return the client: a
    method returning None would break every later call on the connection."""

    def keysymEvent(self, keysym: int, down: bool) -> _KeysymClient:
        self.keyEvent(keysym, down)
        return self


class _KeysymFactory(VNCDoToolFactory):
    protocol = _KeysymClient


@dataclass
class VNCConfig:
    host: str = "127.0.0.1"
    port: int | None = None  # the RFB port; None means 5900 + display
    display: int = 0
    password_env: str | None = None  # NAME of the environment variable holding the password
    timeout_s: float = 30.0  # per client call (connect, screenshot, input)
    type_delay_ms: int = 12
    settle_s: float = 0.1  # pause before the post-action screenshot so it shows the effect

    @property
    def rfb_port(self) -> int:
        return self.port if self.port is not None else 5900 + self.display

    @property
    def server(self) -> str:
        """vncdotool's ``host::port`` form (brackets around IPv6 literals)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}::{self.rfb_port}"


class VNCDesktopEnv(PointerKeyboardEnv):
    """reset() connects (once) and observes; the server's machine is never started or stopped."""

    name = "vnc"

    def __init__(self, config: VNCConfig | None = None) -> None:
        super().__init__()
        self.config = config or VNCConfig()
        self.settle_s = self.config.settle_s
        self._client: Any = None  # vncdotool's ThreadedVNCClientProxy

    def reset(self, task: Task) -> Observation:
        self._task = None
        if self._client is not None and (self._held_keys or self._held_buttons):
            with contextlib.suppress(EnvError):  # a dropped connection: reconnected below
                self._release_held()
        self._held_keys, self._held_buttons, self._pointer = [], [], None
        if self._client is None:
            self._connect()
        self._task = task
        return self.observe()

    def close(self) -> None:
        """Disconnect; idempotent. The Twisted reactor thread stays up (it cannot be restarted
        in this process) and is shut down at interpreter exit."""
        client, self._client, self._task = self._client, None, None
        if client is not None and _connected(client):
            client.disconnect()

    def _connect(self) -> None:
        global _reactor_cleanup_registered
        if not _reactor_cleanup_registered:
            atexit.register(api.shutdown)
            _reactor_cleanup_registered = True
        self._client = api.connect(self.config.server, password=self._password(),
                                   factory_class=_KeysymFactory, timeout=self.config.timeout_s)
        self._screenshot()  # the first call is where a refused connection or bad password shows

    def _password(self) -> str | None:
        name = self.config.password_env
        if name is None:
            return None
        if name not in os.environ:
            raise EnvError(f"VNC password variable ${name} is not set")
        return os.environ[name]

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._client is None:
            raise EnvError("vnc: not connected; call reset() first")
        if self._client.protocol is not None and not _connected(self._client):
            self._client = None  # input to a closed socket vanishes silently: say so instead
            raise EnvError(f"VNC {self.config.server}: the server closed the connection")
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except Exception as exc:  # Twisted failures re-raised by the proxy, or its TimeoutError
            # A failure sticks in vncdotool's call chain: drop the client so reset() reconnects.
            _abandon(self._client)
            self._client = None
            raise EnvError(f"VNC {self.config.server} {method} failed: "
                           f"{type(exc).__name__}: {exc}") from exc

    # --- backend hooks -------------------------------------------------------------------
    def _observation_extra(self) -> dict[str, Any]:
        return {"vnc": self.config.server}

    def _screenshot(self) -> Image.Image:
        buf = io.BytesIO()
        self._call("captureScreen", buf, format="BMP")  # lossless and cheap to encode
        buf.seek(0)
        with Image.open(buf) as shot:
            return shot.convert("RGB")

    def _move(self, p: tuple[int, int]) -> None:
        self._call("mouseMove", *p)

    def _click(self, p: tuple[int, int], button: int, count: int) -> None:
        self._call("mouseMove", *p)
        for _ in range(count):
            self._call("mousePress", button)

    def _drag(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        mid = ((start[0] + end[0]) // 2, (start[1] + end[1]) // 2)
        self._call("mouseMove", *start)
        self._call("mouseDown", 1)
        for p in (mid, end):  # toolkits start a drag only after seeing movement
            time.sleep(0.05)
            self._call("mouseMove", *p)
        time.sleep(0.05)
        self._call("mouseUp", 1)

    def _scroll(self, p: tuple[int, int], button: int, amount: int) -> None:
        self._call("mouseMove", *p)
        for _ in range(amount):
            self._call("mousePress", button)

    def _type(self, text: str) -> None:
        """One keysym per character; upper-case Latin-1 letters with Shift held (the server
        binds a keysym its keymap lacks to a spare keycode, which X reads as lower case)."""
        shift = keysym_code("shift")
        for run, shifted in type_runs(text):
            for code in text_keysyms(run):
                if shifted:
                    self._call("keysymEvent", shift, True)
                self._call("keysymEvent", code, True)
                self._call("keysymEvent", code, False)
                if shifted:
                    self._call("keysymEvent", shift, False)
                time.sleep(self.config.type_delay_ms / 1000)

    def _key(self, keys: list[str]) -> None:
        codes = [keysym_code(k) for k in keys]
        for code in codes:
            self._call("keysymEvent", code, True)
        for code in reversed(codes):
            self._call("keysymEvent", code, False)

    def _button(self, p: tuple[int, int] | None, button: int, down: bool) -> None:
        """At ``p``, or where this connection last put the pointer (vncdotool starts at 0, 0)."""
        if p is not None:
            self._call("mouseMove", *p)
        self._call("mouseDown" if down else "mouseUp", button)

    def _key_hold(self, keys: list[str], down: bool) -> None:
        for key in keys:
            self._call("keysymEvent", keysym_code(key), down)


def _connected(client: Any) -> bool:
    """Whether the connection is still open: disconnect() on a dropped one waits out its timeout
    for a close notification that never comes."""
    transport = getattr(client.protocol, "transport", None)
    return bool(transport is not None and transport.connected and not transport.disconnecting)


def _abandon(client: Any) -> None:
    """Close a connection whose call chain failed, without disconnect() (which would wait
    for that chain)."""
    transport = getattr(client.protocol, "transport", None)
    if transport is not None:
        reactor.callFromThread(transport.loseConnection)
