"""WebArena's evaluators, with upstream's semantics.

Source: ``web-arena-x/webarena`` ``evaluation_harness/evaluators.py`` (StringEvaluator,
URLEvaluator, HTMLContentEvaluator, EvaluatorComb) and ``helper_functions.py`` (the LLM
judge prompts and the ``func:`` helpers). Scores of the listed ``eval_types`` are multiplied.
Deliberate departures, all about safety, none about scores: ``func:`` expressions are parsed
(``task.parse_func_call``) instead of ``eval()``-ed, and a helper's argument reaches in-page
JavaScript as a value rather than pasted into the script. ``locator`` strings stay JavaScript
that runs in the page (Playwright's ``page.evaluate``), which is the benchmark's definition.
"""

from __future__ import annotations

import collections
import html
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cua.core import EnvError
from envs.webarena.task import (
    ProgramHtmlTarget,
    Ref,
    UnsupportedTaskError,
    WebArenaEval,
    WebArenaTask,
    parse_func_call,
)
from envs.webarena.tokenize import word_tokenize

Judge = Callable[[str], str]  # prompt → reply; the cua layer sends it with WebArena's system message
JUDGE_SYSTEM_MESSAGE = "You are a helpful assistant"


class JudgeError(EnvError):
    """The LLM judge failed or replied off-script (upstream asserts; run.py drops the task)."""


# ---- string_match ---------------------------------------------------------------------------


def clean_answer(answer: str) -> str:
    answer = answer.strip()
    if answer.startswith("'") and answer.endswith("'") or answer.startswith('"') and answer.endswith('"'):
        answer = answer[1:-1]
    return answer.lower()


def exact_match(ref: str, pred: str) -> float:
    return float(clean_answer(pred) == clean_answer(ref))


def must_include(ref: str, pred: str, tokenize: bool = False) -> float:
    clean_ref, clean_pred = clean_answer(ref), clean_answer(pred)
    # Upstream: tokenise the prediction when the only reference is one character, so that
    # "0" does not count as found inside "10".
    if tokenize and len(clean_ref) == 1 and len(word_tokenize(clean_ref)) == 1:
        return float(clean_ref in word_tokenize(clean_pred))
    return float(clean_ref in clean_pred)


def fuzzy_match_prompt(pred: str, reference: str, question: str) -> str:
    """helper_functions.llm_fuzzy_match's user message, verbatim."""
    message = ("Help a teacher to grade the answer of a student given a question. Keep in mind that the "
               "student may use different phrasing or wording to answer the question. The goal is to "
               "evaluate whether the answer is semantically equivalent to the reference answer.\n")
    message += f"question: {question}\n"
    message += f"reference answer: {reference}\n"
    message += "all the string 'N/A' that you see is a special sequence that means 'not achievable'\n"
    message += f"student answer: {pred}\n"
    message += "Conclude the judgement by correct/incorrect/partially correct."
    return message


def ua_match_prompt(pred: str, reference: str, question: str) -> str:
    """helper_functions.llm_ua_match's user message, verbatim."""
    message = ("A task described in Task_1 cannot be completed for reason listed in Reason_1. A person tried "
               "to complete the task and failed, he reported his attempt in Report_1, check if Report_1 is "
               "refering to Reason_1, even implicitly. If match, return same, else, return different\n")
    message += f"Task_1 = {question}\n"
    message += f"Reason_1 = {reference}\n"
    message += f"Report_1 = {pred}\n"
    message += "return [same] or [different]"
    return message


def fuzzy_match(ref: str, pred: str, intent: str, judge: Judge) -> float:
    # Upstream StringEvaluator.fuzzy_match (web-arena-x/webarena evaluators.py, commit 1a628d69):
    # "llm_fuzzy_match was messing up when pred is blank", so a blank answer never reaches the judge.
    if len(pred) == 0:
        return 1.0 if len(ref) == 0 else 0.0
    reply = judge(fuzzy_match_prompt(pred, ref, intent)).lower()
    if "partially correct" in reply or "incorrect" in reply:  # before "correct": it is inside "incorrect"
        return 0.0
    if "correct" not in reply:
        raise JudgeError(f"fuzzy_match judge said neither correct nor incorrect: {reply[:200]!r}")
    return 1.0


def ua_match(ref: str, pred: str, intent: str, judge: Judge) -> float:
    reply = judge(ua_match_prompt(pred, ref, intent)).lower()
    if "different" in reply:
        return 0.0
    if "same" not in reply:
        raise JudgeError(f"ua_match judge said neither same nor different: {reply[:200]!r}")
    return 1.0


def string_score(ev: WebArenaEval, intent: str, answer: str, judge: Judge | None) -> float:
    """StringEvaluator.__call__: the answer is the last action's (``stop [answer]``; "" when
    the agent never stopped with one)."""
    pred = clean_answer(answer)
    score = 1.0
    for approach, value in (ev.reference_answers or {}).items():
        if approach == "exact_match":
            score *= exact_match(ref=value, pred=pred)
        elif approach == "must_include":
            for must_value in value:
                score *= must_include(ref=must_value, pred=pred, tokenize=len(value) == 1)
        elif approach == "fuzzy_match":
            if judge is None:
                raise UnsupportedTaskError("fuzzy_match needs an LLM judge")
            if value == "N/A":
                score *= exact_match(ref=value, pred=pred)
                if score != 1:  # upstream replaces (not multiplies) the score here
                    score = 1.0 * ua_match(ref=ev.string_note or "", pred=pred, intent=intent, judge=judge)
            else:
                for reference in value:
                    score *= fuzzy_match(ref=reference, pred=pred, intent=intent, judge=judge)
        else:
            raise UnsupportedTaskError(f"unknown reference_answers approach {approach!r}")
    return score


# ---- url_match ------------------------------------------------------------------------------


def _clean_url(url: str) -> str:
    return str(url).rstrip("/")


def _parse_url(url: str) -> tuple[str, dict[str, list[str]]]:
    parsed = urllib.parse.urlparse(url)
    return _clean_url(parsed.netloc + parsed.path), urllib.parse.parse_qs(parsed.query)


def url_score(ev: WebArenaEval, url: str) -> float:
    """URLEvaluator ("GOLD in PRED"): some reference base path is a substring of the
    predicted ``netloc + path``, and every reference query key has one of its values."""
    if ev.url_note != "GOLD in PRED":
        raise UnsupportedTaskError(f"unknown url_note {ev.url_note!r}")
    pred = _clean_url(url)
    ref_urls = [_clean_url(u) for u in (ev.reference_url or "").split(" |OR| ")]
    ref_base_paths: list[str] = []
    ref_queries: dict[str, set[str]] = collections.defaultdict(set)
    for ref in ref_urls:
        base, query = _parse_url(ref)
        ref_base_paths.append(base)
        for k, v in query.items():
            ref_queries[k].update(v)
    pred_base_path, pred_query = _parse_url(pred)
    base_score = float(any(ref in pred_base_path for ref in ref_base_paths))
    query_score = 1.0
    for k, values in ref_queries.items():
        query_score *= float(any(v in pred_query.get(k, []) for v in values))
    return base_score * query_score


# ---- program_html ---------------------------------------------------------------------------


class PageProbe(Protocol):
    """What program_html needs of the live page (the env wraps Playwright's page)."""

    @property
    def url(self) -> str: ...

    def goto(self, url: str) -> None: ...

    def content(self) -> str: ...

    def evaluate(self, expression: str, arg: Any = None) -> Any: ...


def reddit_get_post_url(url: str) -> str:
    """helper_functions.reddit_get_post_url: a comment URL → its post's URL."""
    parsed = urllib.parse.urlparse(url)
    tok_url = parsed.path.split("/")
    if len(tok_url) < 4 or tok_url[1] != "f":
        return url
    return f"{parsed.scheme}://{parsed.netloc}/f/{tok_url[2]}/{tok_url[3]}/"


_GITLAB_ROLE_JS = """(account) => {
  const elements = document.querySelectorAll("td[data-label='Account'] span.gl-avatar-labeled-sublabel");
  let index = -1;
  for (let i = 0; i < elements.length; i++) {
    if (elements[i].outerText === '@' + account) { index = i; break; }
  }
  return document.querySelectorAll("td.col-max-role span")[index].outerText;
}"""


def gitlab_get_project_memeber_role(page: PageProbe, account_name: str) -> str:
    """helper_functions.gitlab_get_project_memeber_role (upstream's spelling): the role
    column of the members table row of ``@account_name``; "" when absent."""
    try:
        return str(page.evaluate(_GITLAB_ROLE_JS, account_name))
    except Exception:  # noqa: BLE001 — upstream: any failure reads as ""
        return ""


@dataclass
class ShopApi:
    """The Magento REST calls of the shopping_* helpers (upstream uses the SHOPPING base URL
    and the shopping_site_admin account)."""

    base_url: str
    username: str
    password: str
    timeout_s: float = 30.0

    def _request(self, url: str, data: dict[str, Any] | None = None, token: str | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = json.dumps(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise EnvError(f"shopping REST API at {url} failed: {e}") from e

    def token(self) -> str:
        return str(self._request(f"{self.base_url}/rest/default/V1/integration/admin/token",
                                 {"username": self.username, "password": self.password}))

    def latest_order_url(self) -> str:
        params = urllib.parse.urlencode({
            "searchCriteria[sortOrders][0][field]": "created_at",
            "searchCriteria[sortOrders][0][direction]": "DESC",
            "searchCriteria[pageSize]": "1",
        })
        items = self._request(f"{self.base_url}/rest/V1/orders?{params}", token=self.token())["items"]
        return f"{self.base_url}/sales/order/view/order_id/{int(items[0]['increment_id'])}/"

    def _reviews(self, sku: str) -> list[dict[str, Any]]:
        return list(self._request(f"{self.base_url}/rest/V1/products/{urllib.parse.quote(sku)}/reviews",
                                  token=self.token()))

    def sku_latest_review_author(self, sku: str) -> str:
        reviews = self._reviews(sku)
        return str(reviews[-1]["nickname"]) if reviews else ""

    def sku_latest_review_rating(self, sku: str) -> str:
        reviews = self._reviews(sku)
        return str(reviews[-1]["ratings"][0]["percent"]) if reviews else ""


@dataclass
class HtmlContext:
    page: PageProbe
    shop: ShopApi | None = None
    settle_s: float = 3.0  # upstream: time.sleep(3) after each navigation
    log: list[dict[str, Any]] = field(default_factory=list)


def _call_helper(text: str, ctx: HtmlContext) -> str:
    """Run a ``func:`` helper by name with its parsed arguments (never Python eval)."""
    name, args = parse_func_call(text)
    values: list[Any] = []
    for a in args:
        if isinstance(a, Ref):
            if a.name not in ("__page__", "page"):
                raise UnsupportedTaskError(f"unknown name {a.name!r} in helper call {text!r}")
            values.append(ctx.page)
        else:
            values.append(a.replace("__last_url__", ctx.page.url))
    if name == "reddit_get_post_url" and len(values) == 1:
        return reddit_get_post_url(values[0])
    if name == "gitlab_get_project_memeber_role" and len(values) == 2:
        return gitlab_get_project_memeber_role(values[0], values[1])
    shop_helpers = {"shopping_get_latest_order_url": 0, "shopping_get_sku_latest_review_author": 1,
                    "shopping_get_sku_latest_review_rating": 1}
    if name in shop_helpers and len(values) == shop_helpers[name]:
        if ctx.shop is None:
            raise UnsupportedTaskError(f"{name} needs the shopping site configured")
        if name == "shopping_get_latest_order_url":
            return ctx.shop.latest_order_url()
        if name == "shopping_get_sku_latest_review_author":
            return ctx.shop.sku_latest_review_author(values[0])
        return ctx.shop.sku_latest_review_rating(values[0])
    raise UnsupportedTaskError(f"unknown func: helper {name!r} with {len(values)} argument(s)")


def _select(target: ProgramHtmlTarget, ctx: HtmlContext) -> str:
    locator = target.locator
    if not locator.strip():
        return ctx.page.content()
    if locator.startswith(("document.", "[...document.")):
        for prep in target.prep_actions or []:
            try:
                ctx.page.evaluate(f"() => {prep}")
            except Exception:  # noqa: BLE001 — upstream swallows prep failures
                break
        try:
            selected = str(ctx.page.evaluate(f"() => {locator}"))
            return selected or ""
        except Exception:  # noqa: BLE001 — upstream: "the page is wrong, return empty"
            return ""
    if locator.startswith("func:"):
        return str(_call_helper(locator.split("func:", 1)[1], ctx))
    raise UnsupportedTaskError(f"unknown locator {locator[:60]!r}")


def html_score(ev: WebArenaEval, ctx: HtmlContext) -> float:
    """HTMLContentEvaluator: per target, go to its URL (unless "last"), select content, check
    exact_match or must_include (" |OR| " alternatives inside one element); multiply."""
    score = 1.0
    for target in ev.program_html or []:
        target_url = target.url
        if target_url.startswith("func"):
            target_url = _call_helper(target_url.split("func:", 1)[1], ctx)
        if target_url != "last":
            ctx.page.goto(target_url)
            time.sleep(ctx.settle_s)
        selected = html.unescape(_select(target, ctx))
        contents = target.required_contents
        if "exact_match" in contents:
            cur = exact_match(ref=contents["exact_match"], pred=selected)
            score *= cur
        elif "must_include" in contents:
            cur = 1.0
            for content in contents["must_include"]:
                cur *= float(any(must_include(ref=alt, pred=selected, tokenize=False)
                                 for alt in content.split(" |OR| ")))
            score *= cur
        else:
            raise UnsupportedTaskError(f"unknown required_contents {list(contents)}")
        ctx.log.append({"url": target_url, "selected": selected[:500], "score": cur})
    return score


# ---- the combination ------------------------------------------------------------------------


@dataclass
class Evaluation:
    score: float
    parts: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


def evaluate_task(task: WebArenaTask, answer: str, ctx: HtmlContext | None, judge: Judge | None,
                  url: str | None = None) -> Evaluation:
    """EvaluatorComb: each listed evaluator in order, scores multiplied. ``url`` stands in for
    the live page's URL when there is no page (offline rescoring); with a page, url_match reads
    the page's URL when its turn comes, as upstream does."""
    parts: dict[str, float] = {}
    details: dict[str, Any] = {"answer": answer}
    score = 1.0
    for eval_type in task.eval.eval_types:
        if eval_type == "string_match":
            cur = string_score(task.eval, task.intent, answer, judge)
        elif eval_type == "url_match":
            current = ctx.page.url if ctx is not None else url
            if current is None:
                raise UnsupportedTaskError("url_match needs the final URL")
            details["url"] = current
            cur = url_score(task.eval, current)
        elif eval_type == "program_html":
            if ctx is None:
                raise UnsupportedTaskError("program_html needs the live site (not rescoreable offline)")
            cur = html_score(task.eval, ctx)
            details["program_html"] = ctx.log
        else:
            raise UnsupportedTaskError(f"eval_type {eval_type} is not supported")
        parts[eval_type] = cur
        score *= cur
    return Evaluation(score=score, parts=parts, details=details)
