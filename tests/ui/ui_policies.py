"""A small policy for the app's tests (``app.py --plugin ui_policies:AskUserPolicy``): it asks
the user first, then ends the task with the user's answer.

Turn 1: ``CallUser(question=QUESTION)``, with a thought and a raw output that try HTML and
Markdown injection, a rejected reply with the parser's message, and the screenshots it "sent".
After a critique of ``error_type == "user_answer"`` (the app's Answer button) it checks that
the answer arrived as the critique's reason and returns ``Done(answer=<that text>)``. Any other
critique (a rejection) makes it ask again.
"""

from __future__ import annotations

from cua.core import RejectedReply, TurnRecord, Usage
from cua.core.actions import CallUser, Done
from cua.policies.base import PolicyInput, Proposal, Turn

QUESTION = "Which name should I type? <img src=x onerror=alert(1)> [click me](http://evil.example/)"
THOUGHT = ("I cannot tell which user to log in as. <script>alert('x')</script> **bold?** "
           "![pixel](http://evil.example/p.png)")
RAW_OUTPUT = ("Thought: " + THOUGHT + "\n```\n</code></pre><img src=x onerror=alert(2)>\n```\n"
              "Action: call_user()")
REJECTED_RAW = "Action: clik(start_box='<b>(1,2)</b>')"
REJECTED_ERROR = "unknown action 'clik' <i>here</i>"
SENT_SIZE = (330, 240)  # half the MiniWoB screenshot: the thumbnails show the size sent


class AskUserPolicy:
    """Asks the user, then says Done with their answer (see the module's docstring)."""

    name = "ask-user"
    image_window = 2

    def __init__(self, question: str = QUESTION) -> None:
        self.question = question
        self.components = {"model": "scripted"}

    def act(self, inp: PolicyInput) -> Turn:
        earlier = [r.screenshot for r in inp.history if r.turn is not None][-(self.image_window - 1):]
        record = TurnRecord(index=inp.turn_index, policy=self.name, images=[*earlier, inp.screenshot_name],
                            image_size=SENT_SIZE, feedback=str(inp.critique) if inp.critique else inp.feedback,
                            usage=Usage(calls=1, prompt_tokens=1200, completion_tokens=40, images=len(earlier) + 1,
                                        image_tokens=300, latency_s=0.01))
        verdict = getattr(inp.critique, "verdict", None)
        if verdict is not None and verdict.error_type == "user_answer":
            answer = verdict.reason
            if not answer.strip():
                record.error = "the user's answer did not arrive"
                return Turn([], record)
            record.feedback = f"user_resp: {answer}"
            record.thought = f"The user answered {answer!r}: that is all I needed."
            record.raw_output = f"Thought: {record.thought}\nAction: finished(content={answer!r})"
            record.summary = "finished with the user's answer"
            action = Done(answer=answer)
        else:
            record.thought = THOUGHT
            record.raw_output = RAW_OUTPUT
            record.rejected = [RejectedReply(raw=REJECTED_RAW, error=REJECTED_ERROR)]
            record.summary = "asked the user"
            action = CallUser(question=self.question)
        record.actions = [action]
        return Turn([Proposal(action)], record, {"model": 0.01})
