"""WebArena and WebArena-Verified task JSON: models, loading, placeholders, support checks.

The official layout is ``web-arena-x/webarena`` ``config_files/test.raw.json`` (a list of
tasks whose URLs are placeholders such as ``__SHOPPING__``) or ``config_files/<id>.json`` (one
task per file). Placeholders are replaced in the raw text before parsing, as upstream's
``scripts/generate_test_data.py`` does: 60 of them sit inside expected page content, not only
in URL fields. WebArena-Verified (``ServiceNow/webarena-verified``
``assets/dataset/webarena-verified.json``) has ``start_urls`` and ``eval`` as a list of typed
evaluators (``envs.webarena.verified``); its placeholders are filled in ``start_urls`` only:
its evaluators compare in template space, derendering the addresses they see, as upstream does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cua.core import CuaError

# Upstream's replace order (generate_test_data.py), then __HOMEPAGE__ (env_config.py's HOMEPAGE).
# "__SHOPPING__" before "__SHOPPING_ADMIN__" is safe: the trailing "__" keeps one off the other.
PLACEHOLDERS: tuple[str, ...] = (
    "__GITLAB__", "__REDDIT__", "__SHOPPING__", "__SHOPPING_ADMIN__", "__WIKIPEDIA__", "__MAP__",
    "__HOMEPAGE__",
)
_PLACEHOLDER_RE = re.compile(r"__(GITLAB|REDDIT|SHOPPING_ADMIN|SHOPPING|WIKIPEDIA|MAP|HOMEPAGE)__")
START_URL_SEPARATOR = " |AND| "  # several start tabs (tasks 431-435); BrowserEnv has one page
EVAL_TYPES = ("string_match", "url_match", "program_html")
REFERENCE_APPROACHES = ("exact_match", "must_include", "fuzzy_match")
URL_NOTES = ("GOLD in PRED",)
# The helpers task files may name after "func:" (evaluation_harness/helper_functions.py);
# upstream's spelling "memeber" is the interface.
URL_HELPERS = ("reddit_get_post_url", "shopping_get_latest_order_url")
LOCATOR_HELPERS = (
    "gitlab_get_project_memeber_role", "shopping_get_sku_latest_review_author",
    "shopping_get_sku_latest_review_rating",
)


class UnsupportedTaskError(CuaError):
    """A task this adapter cannot score exactly as its benchmark does (reported, never scored 0)."""


def site_key(placeholder: str) -> str:
    """``__SHOPPING_ADMIN__`` → ``shopping_admin`` (the config key; upper case is the env var)."""
    return placeholder.strip("_").lower()


# ---- models ---------------------------------------------------------------------------------


class ProgramHtmlTarget(BaseModel):
    model_config = ConfigDict(extra="allow")

    url: str
    locator: str = ""
    required_contents: dict[str, Any]
    prep_actions: list[str] | None = None


class WebArenaEval(BaseModel):
    model_config = ConfigDict(extra="allow")

    eval_types: list[str]
    reference_answers: dict[str, Any] | None = None
    reference_url: str | None = None
    program_html: list[ProgramHtmlTarget] | None = None
    url_note: str = "GOLD in PRED"
    string_note: str | None = None


class WebArenaTask(BaseModel):
    """One record of test.raw.json (placeholders already replaced, or not)."""

    model_config = ConfigDict(extra="allow")

    task_id: int | str
    sites: list[str] = Field(default_factory=list)
    require_login: bool = False
    storage_state: str | None = None
    start_url: str
    intent: str
    eval: WebArenaEval
    geolocation: Any = None
    intent_template_id: int | None = None

    @property
    def start_urls(self) -> list[str]:
        return self.start_url.split(START_URL_SEPARATOR)


class VerifiedEvaluator(BaseModel):
    model_config = ConfigDict(extra="allow")

    evaluator: str
    expected: Any = None


class VerifiedTask(BaseModel):
    """One record of WebArena-Verified's dataset (``WebArenaVerifiedTask`` upstream)."""

    model_config = ConfigDict(extra="allow")

    task_id: int | str
    sites: list[str] = Field(default_factory=list)
    start_urls: list[str]
    intent: str
    eval: list[VerifiedEvaluator]
    intent_template_id: int | None = None
    revision: int | None = None


Flavor = Literal["webarena", "verified"]


@dataclass(frozen=True)
class RawTask:
    """A task as read from disk: its raw JSON (placeholders intact) and where it came from."""

    name: str
    flavor: Flavor
    raw: dict[str, Any]
    source: Path

    @property
    def placeholders(self) -> list[str]:
        found = set(_PLACEHOLDER_RE.findall(json.dumps(self.raw)))
        if self.flavor == "verified":  # its evaluators derender every address of the task's sites
            found |= {s.upper() for s in self.sites}
        return [p for p in PLACEHOLDERS if site_key(p).upper() in found]

    @property
    def sites(self) -> list[str]:
        return [str(s) for s in self.raw.get("sites") or []]

    def resolve(self, urls: dict[str, str]) -> WebArenaTask | VerifiedTask:
        """Fill the placeholders (``urls``: placeholder → base URL, no trailing slash) and parse.
        A Verified task gets them filled in ``start_urls`` only (its evaluators render and
        derender templates themselves)."""
        def fill(value: Any) -> Any:
            text = json.dumps(value)
            for p in PLACEHOLDERS:
                if p in urls:
                    text = text.replace(p, json.dumps(urls[p].rstrip("/"))[1:-1])
            return json.loads(text)

        data = fill(self.raw) if self.flavor == "webarena" else {**self.raw, "start_urls": fill(self.raw.get("start_urls"))}
        model: type[WebArenaTask | VerifiedTask] = WebArenaTask if self.flavor == "webarena" else VerifiedTask
        try:
            return model.model_validate(data)
        except ValidationError as e:
            raise CuaError(f"{self.source}: task {self.name} is not a valid {self.flavor} task: "
                           f"{e.errors()[0]['loc']} {e.errors()[0]['msg']}") from e


# ---- loading --------------------------------------------------------------------------------


def _flavor(record: dict[str, Any], where: str) -> Flavor:
    if "start_urls" in record and isinstance(record.get("eval"), list):
        return "verified"
    if "start_url" in record and isinstance(record.get("eval"), dict):
        return "webarena"
    raise CuaError(f"{where}: neither a WebArena task (start_url, eval{{}}) nor a "
                   "WebArena-Verified task (start_urls, eval[])")


def _records(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=lambda p: (not p.stem.isdigit(), int(p.stem) if p.stem.isdigit() else 0, p.name))
        if not files:
            raise CuaError(f"{path} holds no *.json task files")
        for f in files:
            yield from _records(f)
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise CuaError(f"cannot read WebArena tasks from {path}: {e}") from e
    items = data if isinstance(data, list) else [data]
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise CuaError(f"{path}[{i}]: a task must be a JSON object, got {type(item).__name__}")
        yield item, f"{path}[{i}]" if isinstance(data, list) else str(path)


def load_raw_tasks(path: str | Path) -> list[RawTask]:
    """test.raw.json, a folder of config_files/<id>.json, or a WebArena-Verified JSON file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CuaError(f"no WebArena task file or folder at {path}")
    tasks: list[RawTask] = []
    seen: set[str] = set()
    for record, where in _records(path):
        if "task_id" not in record:
            raise CuaError(f"{where}: task has no task_id")
        name = str(record["task_id"])
        if name in seen:
            raise CuaError(f"{where}: task_id {name} appears twice")
        seen.add(name)
        tasks.append(RawTask(name=name, flavor=_flavor(record, where), raw=record, source=path))
    return tasks


# ---- func: expressions ----------------------------------------------------------------------

_CALL_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Ref:
    """A bare name among a helper's arguments (``__page__`` / ``page``)."""

    name: str


def parse_func_call(text: str) -> tuple[str, list[str | Ref]]:
    """``"reddit_get_post_url('__last_url__')"`` → ``("reddit_get_post_url", ["__last_url__"])``.

    A helper call in a task file is data: string literals and bare names only, never
    evaluated as Python (upstream uses eval())."""
    m = _CALL_RE.match(text)
    if not m:
        raise UnsupportedTaskError(f"func: expression is not a helper call: {text!r}")
    name, i, args = m.group(1), m.end(), []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i < len(text) and text[i] == ")" and not args:
            i += 1
            break
        if i >= len(text):
            raise UnsupportedTaskError(f"unterminated helper call: {text!r}")
        if text[i] in "'\"":
            quote, i, buf = text[i], i + 1, []
            while i < len(text) and text[i] != quote:
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                buf.append(text[i])
                i += 1
            if i >= len(text):
                raise UnsupportedTaskError(f"unterminated string in helper call: {text!r}")
            args.append("".join(buf))
            i += 1
        else:
            ident = _IDENT_RE.match(text, i)
            if not ident:
                raise UnsupportedTaskError(f"helper arguments must be strings or names: {text!r}")
            args.append(Ref(ident.group(0)))
            i = ident.end()
        while i < len(text) and text[i].isspace():
            i += 1
        if i < len(text) and text[i] == ",":
            i += 1
            continue
        if i < len(text) and text[i] == ")":
            i += 1
            break
        raise UnsupportedTaskError(f"cannot parse helper call: {text!r}")
    if text[i:].strip():
        raise UnsupportedTaskError(f"text after helper call: {text!r}")
    return name, args


# ---- support --------------------------------------------------------------------------------


def unsupported_reason(task: WebArenaTask | VerifiedTask, has_judge: bool) -> str | None:
    """Why this adapter cannot score ``task`` exactly as the benchmark does (None: it can)."""
    if isinstance(task, VerifiedTask):
        from envs.webarena.verified import unsupported_reason as verified_reason

        if len(task.start_urls) > 1:
            return "several start_urls: BrowserEnv drives a single page"
        return verified_reason([e.model_dump() for e in task.eval])
    if len(task.start_urls) > 1:
        return "several start tabs (' |AND| ' in start_url): BrowserEnv drives a single page"
    ev = task.eval
    for t in ev.eval_types:
        if t not in EVAL_TYPES:
            return f"unknown evaluator {t!r} in eval_types (known: {', '.join(EVAL_TYPES)})"
    if "string_match" in ev.eval_types:
        answers = ev.reference_answers or {}
        if not answers:
            return "string_match without reference_answers"
        for approach in answers:
            if approach not in REFERENCE_APPROACHES:
                return f"unknown reference_answers approach {approach!r}"
        if "fuzzy_match" in answers and not has_judge:
            if answers["fuzzy_match"] != "N/A":
                return "fuzzy_match needs an LLM judge: configure judge (base_url, model) in $CUA_WEBARENA_SITES"
            return "fuzzy_match 'N/A' needs an LLM judge (llm_ua_match) for answers other than N/A"
    if "url_match" in ev.eval_types:
        if not ev.reference_url:
            return "url_match without reference_url"
        if ev.url_note not in URL_NOTES:
            return f"unknown url_note {ev.url_note!r}"
    if "program_html" in ev.eval_types:
        for target in ev.program_html or []:
            reason = _html_target_reason(target)
            if reason:
                return reason
    return None


def _html_target_reason(target: ProgramHtmlTarget) -> str | None:
    keys = list(target.required_contents)
    if "exact_match" not in keys and "must_include" not in keys:  # upstream raises on anything else
        return f"unknown required_contents {keys}"
    for field_name, text, known in (("url", target.url, URL_HELPERS), ("locator", target.locator, LOCATOR_HELPERS)):
        if not text.startswith("func"):
            continue
        try:
            name, _ = parse_func_call(text.split("func:", 1)[1] if "func:" in text else "")
        except UnsupportedTaskError as e:
            return f"program_html {field_name}: {e}"
        if name not in known:
            return f"unknown func: helper {name!r} in program_html {field_name}"
    loc = target.locator
    if loc.strip() and not loc.startswith(("document.", "[...document.", "func:")):
        return f"unknown locator {loc[:60]!r}"
    return None
