"""The mind of the agent, as the app shows it: a step's policy turn (thought, raw output, every
parsed action with the executed one marked, rejected replies, feedback, usage, the screenshots
sent to the model) in the live view's Markdown, the trajectory browser and the HTML report.
Model text is untrusted: HTML, Markdown links / images and code fences in it show as text."""

from __future__ import annotations

import re

import pytest
from PIL import Image

import app
from cua.core import (
    Attempt,
    EpisodeResult,
    RejectedReply,
    StepRecord,
    TurnRecord,
    Usage,
    Verdict,
)
from cua.core.actions import CallUser, Click, Done, Type
from cua.core.store import EpisodeWriter, load_episode
from cua.ui import render
from cua.ui.human import Proposal, proposal_markdown
from cua.ui.trajectories import html_report, sent_images

INJECT_HTML = "<img src=x onerror=alert(1)>"
INJECT_SCRIPT = "<script>alert('pwned')</script>"
INJECT_LINK = "[click me](http://evil.example/steal)"
INJECT_PIXEL = "![pixel](http://evil.example/p.png)"
THOUGHT = f"The Save button is greyed out. {INJECT_HTML} {INJECT_LINK}\n# not a heading\n- not a list\n$$x^2$$"
RAW = f"Thought: {THOUGHT}\n```\n</code></pre>{INJECT_SCRIPT}\n```\nAction: click(start_box='(10,20)')"
SENT = (330, 240)


def _turn(**kw) -> TurnRecord:
    base = {"index": 0, "policy": "native:ui-tars-1.5", "thought": THOUGHT, "raw_output": RAW,
            "response": "Action: click", "summary": "clicked Save",
            "actions": [Click(x=100, y=50), Type(text=f"hi {INJECT_PIXEL}")],
            "rejected": [RejectedReply(raw=f"Action: clik() {INJECT_HTML}", error="unknown action 'clik' <b>x</b>")],
            "images": ["step_0000.png", "step_0001.png"], "image_size": SENT, "feedback": f"user_resp: {INJECT_LINK}",
            "usage": Usage(calls=2, prompt_tokens=2345, completion_tokens=67, images=2, image_tokens=600,
                           request_bytes=204800, latency_s=1.25)}
    base.update(kw)
    return TurnRecord(**base)


def _episode(folder):
    """Step 0: an earlier turn; step 1: the turn above (its first action runs); step 2: its
    second action runs (no turn of its own)."""
    w = EpisodeWriter(folder)
    turn = _turn()
    click, typed = turn.actions
    first = TurnRecord(index=0, policy="native:ui-tars-1.5", thought="look first", actions=[Click(x=5, y=5)],
                       images=["step_0000.png"], image_size=SENT, usage=Usage(calls=1, images=1))
    w.write_step(StepRecord(index=0, screenshot="step_0000.png", action=Click(x=5, y=5), turn=first, turn_index=0,
                            attempts=[Attempt(turn=first, action=Click(x=5, y=5), verdict=Verdict(approve=True))]),
                 Image.new("RGB", (660, 480), (200, 0, 0)))
    turn = turn.model_copy(update={"index": 1})
    w.write_step(StepRecord(index=1, screenshot="step_0001.png", action=click, turn=turn, turn_index=1,
                            attempts=[Attempt(turn=turn, action=click,
                                              verdict=Verdict(approve=True, reason=INJECT_HTML, critic="cpu"))]),
                 Image.new("RGB", (660, 480), (0, 200, 0)))
    w.write_step(StepRecord(index=2, screenshot="step_0002.png", action=typed, turn_index=1,
                            attempts=[Attempt(action=typed, verdict=Verdict(approve=True))]),
                 Image.new("RGB", (660, 480), (0, 0, 200)))
    w.write_step(StepRecord(index=3, screenshot="step_0003.png", action=Done(answer=INJECT_HTML), turn_index=2,
                            turn=TurnRecord(index=2, actions=[Done(answer=INJECT_HTML)])),
                 Image.new("RGB", (660, 480), "white"))
    w.finish(EpisodeResult(task_id="web/save", seed=0, status="failure", steps=4, turns=3, termination="done",
                           answer=INJECT_HTML, stack={"policy": "native:ui-tars-1.5", "model": "ui-tars", "critic": "cpu"}))
    return load_episode(folder)


def _html(markdown: str) -> str:
    """The Markdown rendered by a CommonMark renderer that passes raw HTML through (as the
    page's would, before its sanitiser): what a model wrote must not become markup."""
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark", {"html": True}).render(markdown)


def _no_markup_from_the_model(html: str) -> None:
    assert "<img" not in html and "<script" not in html and "<a " not in html, html
    assert "<h1" not in html and "<li>not a list" not in html and "<b>" not in html


def test_step_markdown_shows_the_turn_and_escapes_model_text(tmp_path):
    episode = _episode(tmp_path / "ep")
    md = render.step_markdown(episode.steps[1], episode.steps[:1])
    for part in ("Thought", "Raw model output", "Actions of the turn** (2)", "Rejected reply 1", "unknown action",
                 "Feedback given to the model", "2345 prompt + 67 completion tokens", "2 images (600 image tokens)",
                 "request 200 KiB", "1.25 s", "Sent to the model", "at 330×240", "Coordinate chain", "critic (cpu)"):
        assert part in md, part
    marked = [line for line in md.splitlines() if "executed in this step" in line]
    assert len(marked) == 1 and marked[0].startswith("1\\. `click(")  # the first action ran here
    html = _html(md)
    _no_markup_from_the_model(html)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text
    assert "[click me](http" in re.sub(r"\\", "", html.replace("&quot;", '"'))  # the link's text, as typed
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;" in html  # the fence in the raw output did not close ours
    assert "$$x^2$$" in html.replace("\\$", "$")


def test_a_queued_action_shows_its_turn_with_that_action_marked(tmp_path):
    episode = _episode(tmp_path / "ep")
    turn, pos, asked_at = render.find_turn(episode.steps[2], episode.steps[:2])
    assert turn == episode.steps[1].turn and pos == 1 and asked_at == 1
    md = render.step_markdown(episode.steps[2], episode.steps[:2])
    assert "asked at step 1" in md
    marked = [line for line in md.splitlines() if "executed in this step" in line]
    assert len(marked) == 1 and "type(" in marked[0]


def test_sent_images_are_thumbnails_from_the_episode_at_the_size_sent(tmp_path):
    episode = _episode(tmp_path / "ep")
    shots = sent_images(episode.folder, episode.steps[1].turn)
    assert [c.split(" —")[0] for _, c in shots] == ["step_0000.png", "step_0001.png (current)"]
    assert all(img.size == SENT for img, _ in shots)
    assert shots[0][0].getpixel((5, 5))[0] > 150 and shots[1][0].getpixel((5, 5))[1] > 150  # red, then green
    # a proposal waiting for the user: the current screenshot is not on disk yet
    pending = _turn(images=["step_0001.png", "step_0009.png"])
    shots = sent_images(episode.folder, pending, current=Image.new("RGB", (660, 480), (1, 2, 3)))
    assert shots[1][0].getpixel((5, 5)) == (1, 2, 3) and "(current)" in shots[1][1]
    # a doctored name leading out of the episode is not read
    (tmp_path / "secret.png").write_bytes(b"")
    Image.new("RGB", (40, 40), (255, 0, 0)).save(tmp_path / "secret.png")
    shots = sent_images(episode.folder, _turn(images=["../secret.png"]))
    assert "refused" in shots[0][1] and shots[0][0].getpixel((5, 5)) != (255, 0, 0)


def test_browser_shows_the_turn_and_its_sent_screenshots(tmp_path):
    episode = _episode(tmp_path / "ep")
    result, _warn, _slider, image, details, _evidence, sent = app.show_episode(str(episode.folder), "all steps")
    assert image is not None and "look first" in details and len(sent) == 1
    assert "ended: **done**" in result and "answer:" in result and "<img" not in _html(result)
    image, details, _evidence, sent = app.show_step(str(episode.folder), "all steps", 1)
    assert "Raw model output" in details and [img.size for img, _ in sent] == [SENT, SENT]
    _image, details, _evidence, sent = app.show_step(str(episode.folder), "all steps", 2)
    assert "asked at step 1" in details and len(sent) == 2  # a queued action: its turn's screenshots
    _shot, md_a, _shot_b, _md_b = app.compare_step(str(episode.folder), str(episode.folder), 2)
    assert "asked at step 1" in md_a


def test_html_report_shows_the_turn_escaped_with_thumbnails(tmp_path):
    episode = _episode(tmp_path / "ep")
    text = html_report(episode.folder)
    assert "<img src=x" not in text and "<script>alert" not in text and "href=" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text and "&lt;script&gt;alert(" in text
    assert "Raw model output" in text and "Rejected reply 1" in text and "unknown action" in text
    assert "2345 prompt + 67 completion tokens" in text and "executed in this step" in text
    assert "asked at step 1" in text
    assert text.count("class='sent'") >= 5  # 1 + 2 + 2 thumbnails (+ their containers)
    assert "ended: <b>done</b>" in text and "class='answer'>&lt;img" in text
    assert text.count("data:image/png;base64,") >= 4 + 5  # the steps' screenshots and the thumbnails


def test_proposal_of_call_user_shows_the_question_and_the_turn():
    turn = _turn(actions=[CallUser(question=f"Which account? {INJECT_HTML}")])
    p = Proposal(step=3, attempt=0, action=turn.actions[0], intent=None, grounding=None,
                 verdict=Verdict(approve=True, critic="approve-all"), screenshot=Image.new("RGB", (10, 10)), turn=turn)
    assert p.asks_user and p.question.startswith("Which account?")
    md = proposal_markdown(p)
    assert "the policy asks for you" in md and "Raw model output" in md and "proposed now" in md
    assert "needs_user" in md and "Answer" in md
    _no_markup_from_the_model(_html(md))


def test_status_at_the_end_says_how_the_episode_ended():
    r = EpisodeResult(task_id="t", status="needs_user", termination="needs_user", reason=f"Who? {INJECT_HTML}")
    text = render.ending_markdown(r)
    assert "not graded (needs the user)" in text and "question:" in text
    _no_markup_from_the_model(_html(text))
    r = EpisodeResult(task_id="t", status="success", termination="done", answer="42")
    assert render.ending_markdown(r) == "ended: **done** · validator: passed · answer: `42`"
