"""WebArenaEnv: a BrowserEnv that opens a WebArena task on the user's hosted sites and scores
it with WebArena's evaluators on the live page and the agent's answer.

``task.config["webarena"]`` holds the resolved ``WebArenaTask`` (placeholders filled) or a
``VerifiedTask`` (WebArena-Verified: scored from the agent's JSON answer and the episode's
network trace, ``envs.webarena.verified``) and
``task.config["storage_state"]`` the Playwright login file, when the task runs logged in
(``cua.webarena_suite`` builds both). Each step's info records ``url_after`` (the page's URL
once the action has settled) and, for ``Done``, ``answer``: what offline rescoring reads. A final
``Fail(by="agent")`` answers "N/A" (BrowserGym's ``report_infeasible``, what WebArena's
infeasible tasks expect); ``Fail(by="runtime")`` and ``CallUser`` answer "" (no answer).
A site that does not answer is a PageLoadError (infrastructure), never an agent failure.

For a Verified task each step's info also carries ``network``: the HAR entries of the requests
that finished since the previous step (``envs.webarena.netlog``), login secrets masked except
the ones the task's evaluators read (``envs.webarena.redact``). The live score reads exactly
those entries, so offline rescoring from ``steps.jsonl`` sees the same trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cua.core import Action, CallUser, Done, EnvError, Fail, Observation, PageLoadError, Task
from envs.base import StepResult, check_supported
from envs.browser import BrowserConfig, BrowserEnv
from envs.webarena.evaluators import (
    Evaluation,
    HtmlContext,
    Judge,
    ShopApi,
    evaluate_task,
)
from envs.webarena.netlog import NetworkRecorder
from envs.webarena.redact import TraceRedactor
from envs.webarena.sites import SiteConfig
from envs.webarena.task import UnsupportedTaskError, VerifiedTask, WebArenaTask
from envs.webarena.verified import evaluate_verified

INFEASIBLE_ANSWER = "N/A"
# Chromium fills responseStatus in Navigation Timing: a gateway's 502 is "the site is down".
_STATUS_JS = "() => { const n = performance.getEntriesByType('navigation')[0]; return n ? (n.responseStatus || 0) : 0; }"
# Playwright storage state's localStorage, put back for its origin before any page script runs.
_LOCAL_STORAGE_JS = """(() => { const all = %s; const items = all[location.origin];
  if (items) { for (const [k, v] of items) { try { localStorage.setItem(k, v); } catch (e) {} } } })();"""


class _LivePage:
    """program_html's view of the env's page (navigation goes through the env's guards)."""

    def __init__(self, env: WebArenaEnv) -> None:
        self._env = env

    @property
    def url(self) -> str:
        return self._env.page.url

    def goto(self, url: str) -> None:
        self._env.open_site(url)

    def content(self) -> str:
        return self._env.page.content()

    def evaluate(self, expression: str, arg: Any = None) -> Any:
        return self._env.page.evaluate(expression, arg)


class WebArenaEnv(BrowserEnv):
    name = "webarena"

    def __init__(self, config: BrowserConfig | None = None, sites: SiteConfig | None = None,
                 judge: Judge | None = None, answer_patterns: bool = True) -> None:
        super().__init__(config)
        self.sites = sites or SiteConfig()
        self.judge = judge
        # WebArena-Verified: False reads the agent's answer as text, never as a regex (training rewards).
        self.answer_patterns = answer_patterns
        self.answer = ""  # upstream: a trajectory without a stop action is scored with ""
        self.last_evaluation: Evaluation | None = None
        self._recorder: NetworkRecorder | None = None
        self.trace: list[dict[str, Any]] = []  # HAR entries handed out in step infos so far

    def spec(self) -> WebArenaTask | VerifiedTask:
        spec = self.task.config.get("webarena") if self.task else None
        if not isinstance(spec, (WebArenaTask, VerifiedTask)):
            raise EnvError("WebArenaEnv needs a task from the webarena suite (task.config['webarena'])")
        return spec

    def reset(self, task: Task) -> Observation:
        self.task, self.answer, self.last_evaluation = task, "", None
        spec = self.spec()
        self._open("about:blank")  # a fresh context: no cookies from the last episode
        self.trace, self._recorder = [], None
        if isinstance(spec, VerifiedTask):
            # Login secrets are masked unless this task's evaluators read them (envs.webarena.redact).
            self._recorder = NetworkRecorder(TraceRedactor.for_task(e.model_dump() for e in spec.eval))
            self._recorder.attach(self.page.context)
        storage = task.config.get("storage_state")
        if storage:
            self._load_storage_state(Path(storage))
        self.open_site(spec.start_urls[0])
        obs = self.observe()
        obs.instruction = task.instruction
        obs.extra["blocked"] = self._drain_blocked()
        return obs

    def open_site(self, url: str) -> None:
        """Go to ``url``; refused, timed out or a 5xx answer → PageLoadError (infrastructure)."""
        with self._guard("open"):
            self._goto(url)
            status = int(self.page.evaluate(_STATUS_JS) or 0)
        if status >= 500:
            raise PageLoadError(f"{url} answered HTTP {status}: the site is not serving")

    def _load_storage_state(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise EnvError(f"cannot read the login state {path}: {e}") from e
        context = self.page.context
        with self._guard("login"):
            if state.get("cookies"):
                context.add_cookies(state["cookies"])
            origins = {o["origin"]: [[i["name"], i["value"]] for i in o.get("localStorage", [])]
                       for o in state.get("origins", []) if "origin" in o}
            if origins:
                context.add_init_script(_LOCAL_STORAGE_JS % json.dumps(origins))

    def step(self, action: Action) -> StepResult:
        check_supported(self, action)
        result = super().step(action)
        if isinstance(action, Done):
            self.answer = action.answer or ""
        elif isinstance(action, Fail) and action.by == "agent":
            # BrowserGym's report_infeasible: WebArena's infeasible tasks expect "N/A".
            self.answer = INFEASIBLE_ANSWER
            result.info["answer"] = INFEASIBLE_ANSWER
        elif isinstance(action, (Fail, CallUser)):
            self.answer = ""  # the runtime gave up, or a person was asked: no answer
        with self._guard("step"):
            result.info["url_after"] = self.page.url
            if self._recorder is not None:
                entries = self._recorder.drain()
                result.info["network"] = entries
                self.trace.extend(entries)
        return result

    def evaluate(self) -> float:
        spec = self.spec()
        if isinstance(spec, VerifiedTask):
            result = evaluate_verified(spec.model_dump(mode="json"), self.answer, self.trace, self.sites.urls(),
                                       answer_patterns=self.answer_patterns)
            parts = {f"{i}:{r['evaluator_name']}": r["score"] for i, r in enumerate(result["evaluators_results"])}
            self.last_evaluation = Evaluation(score=result["score"], parts=parts, details=result)
            return float(result["score"])
        shopping = self.sites.urls().get("__SHOPPING__")
        shop = ShopApi(shopping, *self.sites.shop_admin()) if shopping else None
        ctx = HtmlContext(page=_LivePage(self), shop=shop, settle_s=self.sites.html_settle_s)
        try:
            with self._guard("evaluate"):
                evaluation = evaluate_task(spec, self.answer, ctx, self.judge)
        except UnsupportedTaskError as e:
            raise EnvError(f"task {self.task.id if self.task else '?'} cannot be scored here: {e}") from e
        self.last_evaluation = evaluation
        return evaluation.score
