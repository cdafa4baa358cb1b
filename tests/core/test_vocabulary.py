"""Core vocabulary: bad input gets a clear error naming the problem."""

from __future__ import annotations

import pytest
from PIL import Image
from pydantic import ValidationError

from cua.core import ACTION_ADAPTER, CuaError, InvalidObservationError, Key, Observation
from cua.core.registry import Registry, UnknownComponentError, parse_spec


def test_zero_size_screenshot_is_rejected():
    with pytest.raises(InvalidObservationError, match="zero size"):
        Observation(screenshot=Image.new("RGB", (0, 10)))


def test_action_json_validation_names_the_field():
    with pytest.raises(ValidationError, match="unknown key"):
        Key(keys=["ctrl", "definitely-not-a-key"])
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_python({"type": "click", "x": 1})  # y missing
    with pytest.raises(ValidationError):
        ACTION_ADAPTER.validate_python({"type": "shell", "cmd": "rm -rf /"})
    assert ACTION_ADAPTER.validate_python({"type": "key", "keys": ["Return"]}) == Key(keys=["enter"])


def test_component_specs():
    assert parse_spec("ocr:threshold=0.6, lang=en") == ("ocr", {"threshold": "0.6", "lang": "en"})
    with pytest.raises(CuaError, match="expected key=value"):
        parse_spec("ocr:oops")
    reg: Registry[object] = Registry("widget")
    reg.register("alpha")(lambda size="1": ("alpha", size))
    assert reg.make("alpha:size=3") == ("alpha", "3")
    with pytest.raises(UnknownComponentError, match="did you mean alpha"):
        reg.make("alpah")
    with pytest.raises(CuaError, match="bad arguments for widget 'alpha'"):
        reg.make("alpha:colour=red")
