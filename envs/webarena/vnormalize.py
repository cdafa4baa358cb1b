"""Schema-driven normalisation and structural comparison of WebArena-Verified values.

Ported from ``webarena-verified`` 1.2.3 ``core/evaluation/value_normalizer.py``
(ValueNormalizer: a JSON schema's ``format`` or ``type`` names the value type; a list where a
single value is expected is a set of alternatives; ``strict`` raises on a value that does not
normalise, non-strict keeps it raw), ``core/evaluation/value_comparator.py`` (ValueComparator:
objects key by key, arrays in order or by greedy unordered matching, values by the types'
equality) and ``core/utils/jsonpath_utils.py`` (the JSONPath subset the dataset uses).
"""

from __future__ import annotations

import json
import re
from typing import Any

from envs.webarena import safe_regex
from envs.webarena.vtypes import (
    NormalizedString,
    NormalizedType,
    is_regexp,
    type_registry,
)

Assertion = dict[str, Any]


def _type_class(type_name: str) -> type[NormalizedType]:
    registry = type_registry()
    if type_name not in registry:
        raise ValueError(f"Unknown type name: {type_name!r}")
    return registry[type_name]


def extract_type(schema: dict[str, Any]) -> tuple[str | dict[str, Any], bool]:
    """(type name or object schema, is_array)."""
    if not isinstance(schema, dict):
        raise ValueError(f"Schema must be a dict, got {type(schema).__name__}")
    kind = schema.get("type")
    if kind == "array":
        return extract_type(schema.get("items", {}))[0], True
    if kind == "object":
        return schema, False
    return schema.get("format") or kind or "string", False


def normalize(value: Any, schema: dict[str, Any] | None, strict: bool = True, **kw: Any) -> Any:
    if not value:
        return None
    if not schema:
        schema = {"type": "object"} if isinstance(value, dict) else {"type": "array"} if isinstance(value, (list, tuple)) else {}
    kind, is_array = extract_type(schema)
    if isinstance(kind, dict):
        return _object_or_array(value, kind, strict, **kw)
    if is_array:
        if not isinstance(value, (list, tuple)):
            if strict:
                raise ValueError(f"Schema expects array but got {type(value).__name__}: {value!r}")
            return value
        return _array(value, kind, strict, **kw)
    return normalize_single(value, kind, strict, **kw)


def normalize_single(value: Any, type_name: str, strict: bool, **kw: Any) -> Any:
    cls = _type_class(type_name)
    try:
        return cls(value, **kw)
    except safe_regex.RegexBudgetError:
        raise
    except Exception:
        if strict:
            raise
        return value


def normalize_array(value: Any, schema: dict[str, Any] | None, strict: bool = True, **kw: Any) -> tuple[Any, ...] | None:
    """ValueNormalizer.normalize_array (what retrieved_data goes through)."""
    if not strict:
        value = _list_from_json(value)
        if not isinstance(value, (list, tuple)):
            value = (value,)
    if not isinstance(value, (list, tuple)):
        if strict:
            raise ValueError(f"Property '{value}' schema expects array but got {type(value).__name__}")
        return None
    if schema is None:
        items: dict[str, Any] | None = None
        items_type = "string"
    else:
        if schema.get("type", "array") != "array":
            raise ValueError(f"Schema type must be 'array', got: {schema.get('type')!r}")
        items = schema.get("items", {})
        items_type = items.get("type", "string")
    if items_type == "object":
        assert items is not None
        return tuple(_object_or_array(item, items, strict, **kw) for item in value)
    return tuple(_simple(item, items, strict, **kw) for item in value)


def _simple(value: Any, item_schema: dict[str, Any] | None, strict: bool, **kw: Any) -> Any:
    type_name = "string" if item_schema is None else (item_schema.get("format") or item_schema.get("type", "string"))
    cls = _type_class(type_name)
    try:
        return cls(value, **kw)
    except safe_regex.RegexBudgetError:
        raise
    except Exception as e:
        if strict:
            raise ValueError(f"Failed to normalize value {value!r} with type {cls.__name__!r}") from e
        return value


def _list_from_json(value: Any) -> Any:
    """A string holding a JSON array → that array; anything else unchanged."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, (list, tuple)):
            return parsed
    return value


def _array(value: Any, type_name: str | dict[str, Any], strict: bool, **kw: Any) -> Any:
    value = _list_from_json(value)
    if not isinstance(value, (list, tuple)):
        if strict:
            raise ValueError(f"Property '{value}' schema expects array but got {type(value).__name__}")
        return value
    if isinstance(type_name, dict):
        return _object_or_array(value, type_name, strict, **kw)
    cls = _type_class(type_name)
    out = []
    for i, item in enumerate(value):
        try:
            out.append(cls(item, **kw))
        except safe_regex.RegexBudgetError:
            raise
        except Exception as e:
            if strict:
                raise ValueError(f"Failed to normalize array element at index {i}: {item!r}") from e
            out.append(item)
    return tuple(out)


def _object_or_array(value: Any, schema: dict[str, Any], strict: bool, **kw: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_object(v, schema, strict, **kw) for v in value)
    return _object(value, schema, strict, **kw)


def _object(obj: Any, schema: dict[str, Any], strict: bool, **kw: Any) -> Any:
    if isinstance(obj, str):
        try:
            parsed = json.loads(obj)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            obj = parsed
    if not isinstance(obj, dict):
        if strict:
            raise ValueError(f"Expected dict for object normalization, got {type(obj).__name__}: {obj!r}")
        return obj
    properties = schema.get("properties", {})
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if value is None:
            out[name] = None
            continue
        prop = properties.get(name)
        try:
            if prop is None:
                out[name] = NormalizedString(value, **kw)
                continue
            kind, is_array = extract_type(prop)
            if is_array:
                out[name] = _array(value, kind, strict, **kw)
            elif isinstance(kind, str) and kind in type_registry():
                out[name] = type_registry()[kind](value, **kw)
            elif isinstance(kind, dict):
                out[name] = _object(value, kind, strict, **kw)
            else:
                out[name] = NormalizedString(value, **kw)
        except safe_regex.RegexBudgetError:
            raise
        except Exception as e:
            if strict:
                raise ValueError(f"Failed to normalize property '{name}': {value!r}") from e
            out[name] = value
    return out


# ---- comparison (value_comparator.py) -----------------------------------------------------------


def _fail(name: str, *msgs: str) -> Assertion:
    return {"assertion_name": name, "status": "failure", "assertion_msgs": list(msgs), "error_msg": None}


def shown(value: Any) -> Any:
    """A normalised value as the results JSON shows it."""
    if isinstance(value, NormalizedType):
        return value.report()
    if isinstance(value, (list, tuple)):
        return [shown(v) for v in value]
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    return value


def compare(actual: Any, expected: Any, ordered: bool = False, path: str = "value",
            ignored_keys: set[str] | None = None, ignore_extra_keys: bool = False) -> list[Assertion]:
    """[] when ``actual`` matches ``expected``; otherwise the failed assertions."""
    if expected is None and actual is None:
        return []
    if expected is None or actual is None:
        return [_fail(f"{path}_none_mismatch", f"Expected {shown(expected)}, got {shown(actual)}")]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [_fail(f"{path}_invalid_format", f"Expected a structured object, but got: {type(actual).__name__}")]
        missing, extra = set(expected) - set(actual), set(actual) - set(expected)
        out: list[Assertion] = []
        msgs = ([f"Extra keys in actual object: {sorted(extra)}"] if extra and not ignore_extra_keys else []) + \
               ([f"Missing keys in actual object: {sorted(missing)}"] if missing else [])
        if msgs:
            out.append(_fail(f"{path}_keys_mismatch", *msgs))
        for k in sorted((set(expected) & set(actual)) - (ignored_keys or set())):
            out.extend(compare(actual[k], expected[k], ordered, f"{path}.{k}", ignored_keys, ignore_extra_keys))
        return out
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)):
            return [_fail(f"{path}_invalid_format", f"Expected an array, but got: {type(actual).__name__}")]
        return _ordered(actual, expected, path, ignored_keys, ignore_extra_keys) if ordered \
            else _unordered(actual, expected, path, ignored_keys, ignore_extra_keys)
    if expected != actual:
        return [_fail(f"{path}_mismatch", f"Expected {shown(expected)}, got {shown(actual)}")]
    return []


def _unordered(actual: Any, expected: Any, path: str, ignored: set[str] | None, extra_ok: bool) -> list[Assertion]:
    used = [False] * len(actual)
    missing = 0
    for i, exp in enumerate(expected):
        for j, act in enumerate(actual):
            if not used[j] and not compare(act, exp, False, f"{path}[{i}]", ignored, extra_ok):
                used[j] = True
                break
        else:
            missing += 1
    extra = used.count(False)
    if not missing and not extra:
        return []
    return [_fail(f"{path}_array_values_mismatch",
                  f"Array value mismatch (unordered). Matched ({len(expected) - missing}/{len(expected)}), "
                  f"Missing: {missing}, Extra: {extra}",
                  f"Expected: {shown(list(expected))}, Got: {shown(list(actual))}")]


def _ordered(actual: Any, expected: Any, path: str, ignored: set[str] | None, extra_ok: bool) -> list[Assertion]:
    out: list[Assertion] = []
    for i in range(min(len(expected), len(actual))):
        out.extend(compare(actual[i], expected[i], True, f"{path}[{i}]", ignored, extra_ok))
    if len(expected) != len(actual):
        out.append(_fail(f"{path}_array_values_mismatch", "Array value mismatch (ordered)",
                         f"Expected: {shown(list(expected))}, Got: {shown(list(actual))}"))
    return out


# ---- JSONPath subset (jsonpath_utils.py) --------------------------------------------------------

_STEP_RE = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")


def jsonpath_supported(path: str) -> bool:
    """Dotted names, [n] and ['name'] steps, and ``$.^regex$`` keys (no filters, no wildcards)."""
    if path.startswith("$.^") and path.endswith("$") or is_regexp(path):
        return True
    if not path.startswith("$"):
        return False
    rest, pos = path[1:], 0
    while pos < len(rest):
        m = _STEP_RE.match(rest, pos)
        if not m:
            return False
        pos = m.end()
    return True


def jsonpath_names(path: str) -> list[str]:
    """The key names a supported JSONPath steps through (``$.user['api_token']`` → user, api_token)."""
    return [m.group(1) or m.group(3) for m in _STEP_RE.finditer(path[1:]) if m.group(1) or m.group(3)]


def _walk(data: Any, path: str) -> list[Any]:
    current = [data]
    for m in _STEP_RE.finditer(path[1:]):
        name, index, quoted = m.group(1), m.group(2), m.group(3)
        nxt = []
        for node in current:
            if index is not None and isinstance(node, list) and int(index) < len(node):
                nxt.append(node[int(index)])
            elif index is None and isinstance(node, dict) and (name or quoted) in node:
                nxt.append(node[name or quoted])
        current = nxt
    return current


def _deserialize_nested(data: Any) -> Any:
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if isinstance(v, str):
                try:
                    out[k] = json.loads(v)
                except ValueError:
                    out[k] = v
            else:
                out[k] = _deserialize_nested(v)
        return out
    if isinstance(data, list):
        return [_deserialize_nested(v) for v in data]
    return data


def extract_jsonpath(data: Any, path: str, strict: bool) -> Any:
    if path.startswith("$.^") and path.endswith("$") or is_regexp(path):
        pattern = path[2:] if path.startswith("$.^") else path
        if not isinstance(data, dict):
            if strict:
                raise ValueError(f"Regex key matching requires dict data, got {type(data).__name__}")
            return None
        try:
            safe_regex.compile_pattern(pattern)
        except safe_regex.PatternError as e:  # upstream: ValueError when strict, no value otherwise
            if strict:
                raise ValueError(f"Invalid regex pattern '{pattern}': {e}") from e
            return None
        matches = [v for k, v in data.items() if safe_regex.match(pattern, k)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1 and not strict:
            return tuple(matches)
        if strict:
            raise ValueError(f"Regex pattern '{pattern}' matched {len(matches)} keys, expected exactly 1")
        return None
    if not jsonpath_supported(path):
        raise ValueError(f"JSONPath {path!r} is outside the supported subset")
    found = _walk(data, path) or _walk(_deserialize_nested(data), path)
    if len(found) == 1:
        return found[0]
    if strict:
        raise ValueError(f"JSONPath '{path}' matched {len(found)} values, expected exactly 1")
    return None
