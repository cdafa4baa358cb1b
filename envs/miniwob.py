"""MiniWoB++ (the HTML tasks bundled in the ``miniwob`` package) in a BrowserEnv.

Does what ``miniwob/selenium_instance.py`` does, without selenium: load the task page, seed
``Math.random`` with ``Math.seedrandom(seed)``, set the data mode, ``core.startEpisodeReal()``,
wait for ``WOB_TASK_READY``, read ``core.getUtterance()``; after each action read
``WOB_DONE_GLOBAL``, ``WOB_REWARD_GLOBAL`` (time-penalised, in [-1, 1]),
``WOB_RAW_REWARD_GLOBAL`` and ``WOB_REWARD_REASON``. Success is ``raw reward > 0``, as
BrowserGym counts it. The pages are served over loopback http (flight.* tasks refuse
``file://``), and only that origin is allowed.
"""

from __future__ import annotations

import difflib
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import gymnasium
import miniwob
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cua.core import Action, EnvError, Observation, TaskNotFoundError
from envs.base import StepResult, Task, check_supported
from envs.browser import BrowserConfig, BrowserEnv

HTML_DIR = Path(miniwob.__file__).parent / "html"
# The 160x210 task area, the score panel at x 165..325, and 30 px below the task area for the
# widgets that spill over it (drag-shapes' Submit, simon-says, jQuery pop-ups start there).
MINIWOB_VIEWPORT = (330, 240)
# Flight sites: a 375x667 phone-sized iframe plus the query and score panels at x 380..540.
FLIGHT_VIEWPORT = (545, 667)
# Twice the CSS pixels: the pages use 10 px text, unreadable to OCR and VLMs at DSF 1.
MINIWOB_DSF = 2.0
_FLIGHT = "flight."

_START_JS = """([seed, mode, maxMs]) => {
  if (seed !== null) Math.seedrandom(seed);
  core.setDataMode(mode);
  if (maxMs !== null) core.EPISODE_MAX_TIME = maxMs;
  core.startEpisodeReal();
  // Clicking the START cover would begin a new, unseeded episode: make it inert.
  if (core.cover_div) core.cover_div.onclick = null;
  return core.EPISODE_MAX_TIME;
}"""
_STATE_JS = """() => ({done: WOB_DONE_GLOBAL, env_reward: WOB_REWARD_GLOBAL,
  raw_reward: WOB_RAW_REWARD_GLOBAL, reason: WOB_REWARD_REASON})"""


def miniwob_task_names() -> list[str]:
    """Every task of the package: the pages of ``html/miniwob/`` and the ``flight.*`` sites."""
    return list(_task_names())


@functools.cache
def _task_names() -> tuple[str, ...]:
    names = [p.stem for p in (HTML_DIR / "miniwob").glob("*.html")]
    names += [_FLIGHT + p.parent.name for p in (HTML_DIR / "flight").glob("*/wrapper.html")]
    return tuple(sorted(names))


@functools.cache
def nondeterministic_tasks() -> frozenset[str]:
    """Tasks the package registers as ``nondeterministic`` (same seed, not always same page)."""
    prefix, suffix = "miniwob/", "-v1"
    return frozenset(
        env_id[len(prefix):-len(suffix)]
        for env_id, spec in gymnasium.envs.registry.items()
        if env_id.startswith(prefix) and env_id.endswith(suffix) and spec.nondeterministic
    )


def check_task_name(name: str) -> str:
    """The bare task name (``miniwob/`` prefix dropped); TaskNotFoundError with suggestions."""
    bare = name.removeprefix("miniwob/")
    if bare in _task_names():
        return bare
    close = difflib.get_close_matches(bare, _task_names(), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise TaskNotFoundError(f"unknown MiniWoB task {name!r}{hint}")


def make_task(name: str, seed: int | None = None) -> Task:
    bare = check_task_name(name)
    return Task(
        id=f"miniwob/{bare}", seed=seed,
        config={"nondeterministic": bare in nondeterministic_tasks()},
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass  # one line per asset on stderr helps nobody


class MiniWoBEnv(BrowserEnv):
    """MiniWoB++ tasks; ``reward`` is the page's (time-penalised) reward, once, when it ends."""

    name = "miniwob"

    def __init__(self, config: BrowserConfig | None = None, data_mode: str = "train") -> None:
        super().__init__(config or BrowserConfig(
            viewport=MINIWOB_VIEWPORT, device_scale_factor=MINIWOB_DSF, settle_ms=50,
        ))
        self.data_mode = data_mode
        self._server: ThreadingHTTPServer | None = None
        self._reward_reported = False

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/`` of this env's page server (started on first use)."""
        if self._server is None:
            handler = functools.partial(_QuietHandler, directory=str(HTML_DIR))
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(
                target=self._server.serve_forever, name="miniwob-http", daemon=True
            ).start()
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def reset(self, task: Task) -> Observation:
        if task.suite not in ("", "miniwob"):
            raise TaskNotFoundError(f"{task.id!r} is not a MiniWoB task")
        name = check_task_name(task.name)
        base = self.base_url
        self._allowed = [base]
        self.task = task
        if name.startswith(_FLIGHT):
            url = f"{base}flight/{name.removeprefix(_FLIGHT)}/wrapper.html"
            vw, vh = self.config.viewport
            viewport = (max(vw, FLIGHT_VIEWPORT[0]), max(vh, FLIGHT_VIEWPORT[1]))
            self._open(url, viewport, fresh=False)
        else:
            # Reloading the page is a clean episode already; a new context would add 0.2 s.
            self._open(f"{base}miniwob/{name}.html", fresh=False)
        with self._guard("reset"):
            max_ms = None if task.time_limit_s is None else round(task.time_limit_s * 1000)
            limit_ms = self.page.evaluate(_START_JS, [task.seed, self.data_mode, max_ms])
            try:
                self.page.wait_for_function("() => WOB_TASK_READY === true")
            except PlaywrightTimeout as e:
                raise EnvError(f"MiniWoB task {name!r} never became ready") from e
            response = self.page.evaluate("() => core.getUtterance()")
        self._reward_reported = False
        utterance = response["utterance"] if isinstance(response, dict) else str(response)
        task.instruction = utterance
        obs = self.observe()
        obs.instruction = utterance
        obs.extra.update(time_limit_s=limit_ms / 1000, blocked=self._drain_blocked())
        if isinstance(response, dict):
            obs.extra["fields"] = response.get("fields", {})
        return obs

    def step(self, action: Action) -> StepResult:
        check_supported(self, action)
        if self._state()["done"]:
            # As selenium_instance does: no action once the page has ended the episode.
            info = {"skipped": "the episode is over", "blocked": self._drain_blocked()}
            result = StepResult(self.observe(), info=info)
        else:
            result = super().step(action)
        state = self._state()
        if state["done"] and not self._reward_reported:
            result.reward = float(state["env_reward"])
            self._reward_reported = True
        result.done = result.done or bool(state["done"])
        result.info.update(
            episode_done=bool(state["done"]), env_reward=float(state["env_reward"]),
            raw_reward=float(state["raw_reward"]), reason=state["reason"],
        )
        return result

    def evaluate(self) -> float:
        return 1.0 if float(self._state()["raw_reward"]) > 0 else 0.0

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._server is not None:
                self._server.shutdown()
                self._server.server_close()
                self._server = None

    def _state(self) -> dict[str, Any]:
        """The task page's state (whatever tab is active; a closed task tab ends the episode)."""
        page = self._task_page or self.page  # no page yet: the EnvError saying reset() first
        if page.is_closed():
            return {"done": True, "env_reward": -1.0, "raw_reward": -1.0,
                    "reason": "the task's tab was closed"}
        with self._guard("read the MiniWoB state"):
            return page.evaluate(_STATE_JS)
