"""A STAND-IN for a served computer-use model (tests only): a loopback OpenAI-compatible
``/v1/chat/completions`` server that answers in a native profile's grammar and coordinate space.

It is not a model and pretends to be none: what it answers is the task's reference action,
computed in the test process by the CPU stack (the instruction-list planner and the a11y
grounder, on the live observation, in screenshot pixels) and handed over by ``OracleEnv``. The
stand-in converts that point into the space of the image it actually RECEIVED (after the
runtime's smart-resize) and writes it with its own format strings, independent of the
project's codecs, so a wrong resize, a wrong mapping back or a codec bug shows up as a miss.

Every request is recorded (images, texts, roles) so tests can check the history layout.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

from cua.core import (
    Action,
    Click,
    Done,
    DoubleClick,
    Intent,
    Key,
    Observation,
    RightClick,
    Scroll,
    StepRecord,
    Task,
    Type,
    Wait,
)
from cua.planners import InstructionListPlanner, intent_to_action
from envs.base import StepResult
from grounding.a11y import A11yGrounder


@dataclass
class Oracle:
    """The next reference action for the live screen, in screenshot pixels."""

    action: Action | None = None
    shot: tuple[int, int] = (0, 0)


@dataclass
class OracleStep:
    """One executed step: the reference action the stand-in was told (screenshot pixels, on a
    ``shot``-sized screenshot), what the env executed, and the env's info."""

    task_id: str
    expected: Action | None
    shot: tuple[int, int]
    executed: Action
    info: dict


class OracleEnv:
    """Wraps an env: after every observation it asks the CPU stack what the task's reference
    plan does next, for the stand-in to answer with. ``log`` keeps every executed step."""

    def __init__(self, env: Any, oracle: Oracle) -> None:
        self._env, self.oracle = env, oracle
        self.name = getattr(env, "name", "env")
        self._planner, self._grounder = InstructionListPlanner(), A11yGrounder()
        self._done: list[StepRecord] = []
        self._task: Task | None = None
        self.log: list[OracleStep] = []

    def reset(self, task: Task) -> Observation:
        self._task, self._done = task, []
        obs = self._env.reset(task)
        self._update(obs)
        return obs

    def step(self, action: Action) -> StepResult:
        expected, shot = self.oracle.action, self.oracle.shot
        result = self._env.step(action)
        self.log.append(OracleStep(self._task.id if self._task else "", expected, shot, action, dict(result.info)))
        self._done.append(StepRecord(index=len(self._done), screenshot="", action=action))
        self._update(result.observation)
        return result

    def _update(self, obs: Observation) -> None:
        assert self._task is not None
        proposal = self._planner.propose(self._task, self._done, obs)
        if isinstance(proposal, Intent):
            g = self._grounder.ground(obs.screenshot, proposal.target, obs)
            proposal = Wait(seconds=0) if g.point is None else intent_to_action(proposal, g.point.x, g.point.y)
        self.oracle.action, self.oracle.shot = proposal, obs.size

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


# ---- writing in each grammar (own format strings, not the project's emitters) ----------------

def _q(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def uitars_action(a: Action) -> str:
    match a:
        case Click(x=x, y=y):
            return f"click(point='<point>{x} {y}</point>')"
        case DoubleClick(x=x, y=y):
            return f"left_double(point='<point>{x} {y}</point>')"
        case RightClick(x=x, y=y):
            return f"right_single(point='<point>{x} {y}</point>')"
        case Type(text=t):
            return f"type(content={_q(t)})"
        case Key(keys=keys):
            return f"hotkey(key={_q(' '.join(keys))})"
        case Scroll(direction=d, x=x, y=y):
            return f"scroll(point='<point>{x} {y}</point>', direction='{d}')"
        case Wait():
            return "wait()"
        case Done(answer=ans):
            return "finished()" if ans is None else f"finished(content={_q(ans)})"
    raise ValueError(f"no UI-TARS words for {a}")


def qwen_action(a: Action) -> str:
    match a:
        case Click(x=x, y=y):
            args: dict[str, Any] = {"action": "left_click", "coordinate": [x, y]}
        case DoubleClick(x=x, y=y):
            args = {"action": "double_click", "coordinate": [x, y]}
        case RightClick(x=x, y=y):
            args = {"action": "right_click", "coordinate": [x, y]}
        case Type(text=t):
            args = {"action": "type", "text": t}
        case Key(keys=keys):
            args = {"action": "key", "keys": keys}
        case Scroll(direction=d, x=x, y=y):
            args = {"action": "scroll", "coordinate": [x, y], "pixels": 3 if d == "up" else -3}
        case Wait():
            args = {"action": "wait", "time": 1}
        case Done(answer=None):
            args = {"action": "terminate", "status": "success"}
        case Done(answer=ans):
            args = {"action": "answer", "text": ans}
        case _:
            raise ValueError(f"no computer_use words for {a}")
    return "<tool_call>\n" + json.dumps({"name": "computer_use", "arguments": args}) + "\n</tool_call>"


def opencua_action(a: Action) -> str:
    match a:
        case Click(x=x, y=y):
            return f"pyautogui.click(x={x}, y={y})"
        case DoubleClick(x=x, y=y):
            return f"pyautogui.doubleClick(x={x}, y={y})"
        case RightClick(x=x, y=y):
            return f"pyautogui.rightClick(x={x}, y={y})"
        case Type(text=t):
            return f"pyautogui.write({_q(t)})"
        case Key(keys=[k]):
            return f"pyautogui.press({_q(k)})"
        case Key(keys=keys):
            return "pyautogui.hotkey(" + ", ".join(_q(k) for k in keys) + ")"
        case Scroll(direction=d, x=x, y=y):
            return f"pyautogui.scroll({3 if d == 'up' else -3}, x={x}, y={y})"
        case Wait():
            return "computer.wait()"
        case Done(answer=None):
            return "computer.terminate(status='success')"
        case Done(answer=ans):
            return f"computer.terminate(status='success', answer={_q(ans)})"
    raise ValueError(f"no OpenCUA words for {a}")


def reply_for(layout: str, action: Action) -> str:
    if layout == "uitars":
        return f"Thought: I will {action.type.replace('_', ' ')} now.\nAction: {uitars_action(action)}"
    if layout == "qwen":
        return f"Action: {action.type.replace('_', ' ')} as the task says.\n{qwen_action(action)}"
    return (f"## Thought:\nThe task says what to do next.\n\n## Action:\n{action.type.replace('_', ' ')}\n\n"
            f"## Code:\n```python\n{opencua_action(action)}\n```")


def to_space(action: Action, shot: tuple[int, int], received: tuple[int, int], space: str) -> Action:
    """Screenshot pixels → the model's space for the image received (``received`` size)."""
    W, H = shot

    def conv(x: float, y: float) -> tuple[int, int]:
        if space == "abs_resized":
            return round(x * received[0] / W), round(y * received[1] / H)
        if space == "rel_999":
            return round(x * 999 / W), round(y * 999 / H)
        raise ValueError(space)

    data = action.model_dump()
    if data.get("x") is not None:
        data["x"], data["y"] = conv(data["x"], data["y"])
    return type(action).model_validate(data)


# ---- the server -------------------------------------------------------------------------------

@dataclass
class Seen:
    """One request as the stand-in received it."""

    images: list[tuple[int, int]]
    roles: list[str]
    texts: list[str]  # every text part, in order
    body: dict = field(repr=False, default_factory=dict)
    answer: str | bytes | None = None  # what the stand-in answered (the reply, or the raw body)

    def messages(self) -> list[tuple[str, list[str], int]]:
        """(role, its text parts, its image count) per message, in order."""
        out = []
        for m in self.body["messages"]:
            parts = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
            out.append((m["role"], [p["text"] for p in parts if p["type"] == "text"],
                        sum(p["type"] == "image_url" for p in parts)))
        return out


# How the server misbehaves (``mode``): answers normally; never answers in time ("hang": it
# sleeps ``hang_s`` first); drips its answer a byte every ``drip_s`` seconds ("drip"); or
# promises a longer body and closes the connection half way through it ("cut").
Mode = str
MODES = ("normal", "hang", "drip", "cut")


class StandIn:
    """``reply(request_index, seen) -> str | bytes`` scripts the answers (bytes: the raw HTTP
    body, sent as it is); by default the oracle's action. ``status`` is the HTTP status of every
    answer; ``mode`` a way to misbehave (``MODES``)."""

    def __init__(self, layout: str = "uitars", space: str = "abs_resized", oracle: Oracle | None = None,
                 reply: Callable[[int, Seen], str | bytes] | None = None, status: int = 200,
                 mode: Mode = "normal", hang_s: float = 5.0, drip_s: float = 0.2) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.layout, self.space, self.oracle = layout, space, oracle
        self.seen: list[Seen] = []
        self.headers: list[dict[str, str]] = []  # each request's HTTP headers
        self._reply = reply
        self.status, self.mode, self.hang_s, self.drip_s = status, mode, hang_s, drip_s
        self._closing = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                standin.headers.append(dict(self.headers))
                seen = standin._record(body)
                text = seen.answer = standin._answer(seen)
                payload = text if isinstance(text, bytes) else json.dumps({
                    "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100 + 10 * len(seen.images), "completion_tokens": 20}}).encode()
                try:
                    if standin.mode == "hang" and standin._closing.wait(standin.hang_s):
                        return
                    self.send_response(standin.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload) * (2 if standin.mode == "cut" else 1)))
                    self.end_headers()
                    if standin.mode == "drip":
                        for i in range(len(payload)):
                            if standin._closing.wait(standin.drip_s):
                                return
                            self.wfile.write(payload[i:i + 1])
                            self.wfile.flush()
                    else:
                        self.wfile.write(payload)
                    if standin.mode == "cut":
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _record(self, body: dict) -> Seen:
        images, roles, texts = [], [], []
        for m in body["messages"]:
            roles.append(m["role"])
            parts = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
            for p in parts:
                if p["type"] == "image_url":
                    data = p["image_url"]["url"].split(",", 1)[1]
                    images.append(Image.open(io.BytesIO(base64.b64decode(data))).size)
                else:
                    texts.append(p["text"])
        seen = Seen(images, roles, texts, body)
        self.seen.append(seen)
        return seen

    def _answer(self, seen: Seen) -> str | bytes:
        if self._reply is not None:
            return self._reply(len(self.seen) - 1, seen)
        assert self.oracle is not None and self.oracle.action is not None
        action = to_space(self.oracle.action, self.oracle.shot, seen.images[-1], self.space)
        return reply_for(self.layout, action)

    def close(self) -> None:
        self._closing.set()  # a hanging or dripping answer stops now
        self.server.shutdown()
        self.server.server_close()
