"""The project's own action JSON (``cua.core.actions.ACTION_ADAPTER``), one object or a list."""

from __future__ import annotations

import json

from cua.core.actions import ACTION_ADAPTER, Action
from cua.core.codecs.common import ParsedOutput, load_json, make, unfence


def parse(text: str) -> ParsedOutput:
    body, thought = unfence(text, "json")
    data = load_json(body, text)
    items = data if isinstance(data, list) else [data]
    actions = [make(ACTION_ADAPTER.validate_python, json.dumps(item), item) for item in items]
    return ParsedOutput(actions, thought, text)


def emit(action: Action) -> str:
    # '`' escaped so a ``` inside a string cannot close a code fence around the JSON.
    return ACTION_ADAPTER.dump_json(action).decode().replace("`", "\\u0060")
