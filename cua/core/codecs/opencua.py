"""OpenCUA / EvoCUA-S1 code: pyautogui calls plus the ``computer.triple_click``, ``computer.wait``
and ``computer.terminate(status=..., answer=...)`` functions their system prompts offer.

The model writes its code in a fenced block (```python or ```code); the native policy hands over
the last block, as OpenCUA's agent reads it. Parsing is the pyautogui dialect's (never executed).
"""

from __future__ import annotations

from cua.core.actions import Action, Done, Fail, TripleClick, Wait
from cua.core.codecs import pyautogui
from cua.core.codecs.common import ParsedOutput, fmt, quote


def parse(text: str) -> ParsedOutput:
    return pyautogui.parse(text, computer=True)


def emit(action: Action) -> str:
    match action:
        case TripleClick(x=x, y=y):
            return f"computer.triple_click(x={fmt(x)}, y={fmt(y)})"
        case Wait():
            return "computer.wait()"
        case Done(answer=None):
            return "computer.terminate(status='success')"
        case Done(answer=answer):
            return f"computer.terminate(status='success', answer={quote(answer).replace('`', chr(92) + 'x60')})"
        case Fail():
            return "computer.terminate(status='failure')"
    return pyautogui.emit(action)
