"""OSWorld's metrics that need nothing but local files and values, with OSWorld's semantics.

Ported from xlang-ai/OSWorld ``desktop_env/evaluators/metrics/general.py`` (exact_match,
match_in_list, is_in_list, check_include_exclude, literal_match, fuzzy_match, diff_text_file,
check_csv, check_list, check_json, check_direct_json_object, file_contains, check_line_number,
compare_terminal_and_txt, is_included_all_json_objects), ``metrics/table.py`` (compare_csv),
``metrics/vscode.py`` (compare_text_file) and ``metrics/utils.py`` (_match_record,
_match_value_to_rule), as read in the karakuri-ai/OSWorld-JP and ljxpython/OSWorldUse copies.
The Chrome metrics are in chrome_metrics.py.
Where OSWorld returns 0 for a missing input the port does too; where OSWorld lets an exception
escape (a missing gold file, a bad regex) so does the port: evaluate() reports it as an error.
"""

from __future__ import annotations

import csv
import difflib
import json
import operator
import re
from collections.abc import Callable
from functools import reduce
from pathlib import Path
from typing import Any

from envs.osworld.chrome_metrics import CHROME_METRICS

Metric = Callable[..., float]

# Every metric name OSWorld's ``metrics/__init__.py`` exports (ljxpython/OSWorldUse snapshot,
# 2026-05): a func outside this set is unknown to OSWorld itself, not merely missing here.
OSWORLD_METRIC_NAMES: frozenset[str] = frozenset({
    "check_gnome_favorite_apps", "is_utc_0", "check_text_enlarged", "check_moved_jpgs",
    "is_in_vm_clickboard", "is_expected_tabs", "is_expected_bookmarks", "compare_pdfs",
    "compare_htmls", "compare_archive", "is_cookie_deleted", "is_shortcut_on_desktop",
    "check_font_size", "check_enabled_experiments", "check_history_deleted",
    "is_expected_search_query", "is_expected_active_tab", "is_expected_url_pattern_match",
    "is_added_to_steam_cart", "is_expected_installed_extensions", "compare_pdf_images",
    "is_expected_active_tab_approximate", "compare_font_names", "compare_subscript_contains",
    "has_page_numbers_in_footers", "compare_docx_lines", "evaluate_colored_words_in_tables",
    "check_highlighted_words", "evaluate_strike_through_last_paragraph", "evaluate_conversion",
    "evaluate_spacing", "check_italic_font_size_14", "evaluate_alignment",
    "get_unique_train_ids", "check_no_duplicates", "compare_init_lines", "find_default_font",
    "contains_page_break", "compare_docx_files", "compare_docx_tables", "compare_line_spacing",
    "compare_insert_equation", "compare_highlighted_text", "is_first_line_centered",
    "check_tabstops", "compare_contains_image", "compare_docx_files_and_ignore_new_lines",
    "compare_docx_images", "compare_image_text", "compare_references",
    "compare_unique_train_records", "check_csv", "check_accessibility_tree", "run_sqlite3",
    "check_json", "check_list", "exact_match", "match_in_list", "is_in_list", "fuzzy_match",
    "check_include_exclude", "check_direct_json_object", "compare_time_in_speedtest_results",
    "is_included_all_json_objects", "is_gold_text_included_in_pdf", "check_line_number",
    "file_contains", "compare_terminal_and_txt", "fuzzy_place_math", "compare_python_pure_text",
    "diff_text_file", "literal_match", "check_structure_sim_resized",
    "check_structure_sim_with_threshold", "check_brightness_decrease_and_structure_sim",
    "check_contrast_increase_and_structure_sim", "check_saturation_increase_and_structure_sim",
    "check_image_size", "check_image_mirror", "check_palette_and_structure_sim",
    "check_textbox_on_leftside", "check_green_background",
    "check_file_exists_and_structure_sim", "check_triangle_position", "check_structure_sim",
    "check_config_status", "compare_image_list", "increase_saturation", "decrease_brightness",
    "check_file_exists", "compare_triangle_positions", "check_sharper", "check_image_file_size",
    "check_libre_locale", "compare_epub", "check_mp3_meta", "check_pdf_pages",
    "check_presenter_console_disable", "check_image_stretch_and_center",
    "check_slide_numbers_color", "compare_pptx_files", "check_strikethrough",
    "check_slide_orientation_Portrait", "evaluate_presentation_fill_to_rgb_distance",
    "check_left_panel", "check_transition", "check_page_number_colors",
    "check_auto_saving_time", "compare_table", "compare_csv",
    "compare_conference_city_in_order", "check_thunderbird_prefs", "check_thunderbird_filter",
    "check_thunderbird_folder", "is_vlc_playing", "is_vlc_recordings_folder",
    "is_vlc_fullscreen", "compare_images", "compare_audios", "compare_videos",
    "check_qt_bgcone", "check_one_instance_when_started_from_file", "check_qt_minimal_view",
    "check_qt_max_volume", "check_qt_slider_colours", "check_global_key_play_pause",
    "check_play_and_exit", "compare_text_file", "compare_config", "compare_answer",
    "compare_result_files", "is_extension_installed", "check_json_settings",
    "check_json_keybindings", "check_python_file_by_test_suite",
    "check_python_file_by_gold_file", "check_html_background_image", "compare_zip_files",
    "infeasible",
})


# --- helpers from metrics/utils.py ---------------------------------------------------------
def _match_record(pattern: dict[str, Any], item: dict[str, Any]) -> bool:
    return all(k in item and item[k] == val for k, val in pattern.items())


_COMPARE = {"eq": operator.eq, "ne": operator.ne, "le": operator.le, "lt": operator.lt,
            "ge": operator.ge, "gt": operator.gt}


def _regex_flags(names: list[str]) -> re.RegexFlag:
    # OSWorld does getattr(re, name); only real flag names are accepted from a task file here.
    flags = []
    for name in names:
        flag = getattr(re, name, None)
        if not isinstance(flag, re.RegexFlag):
            raise ValueError(f"unknown regex flag {name!r} in match method")  # noqa: TRY004 - a bad value
        flags.append(flag)
    return reduce(operator.or_, flags, re.RegexFlag(0))


def _match_value_to_rule(value: Any, rule: dict[str, Any]) -> bool:
    method: str = rule["method"]
    if method.startswith("re"):  # "re", "re.I", "re.I.M": re.search with those flags
        return re.search(rule["ref"], value, _regex_flags(method.split(".")[1:])) is not None
    if method in _COMPARE:
        return bool(_COMPARE[method](value, rule["ref"]))
    if method.startswith("approx"):  # approx:THRESHOLD
        threshold = float(method.split(":")[1])
        try:
            value = float(value)
        except (ValueError, TypeError):
            return False
        return abs(value - rule["ref"]) <= threshold
    if method.startswith("range."):  # range.te [0, 2] → 0 < x <= 2
        left, right = method[6], method[7]
        return bool(_COMPARE["l" + left](rule["ref"][0], value)
                    and _COMPARE["l" + right](value, rule["ref"][1]))
    if method in ("str_list_eq", "str_set_eq"):
        container = list if method == "str_list_eq" else set
        return container(value.strip("\"'").split(",")) == container(rule["ref"])
    raise NotImplementedError(f"match method {method!r}")  # spreadsheet_range needs openpyxl


# --- metrics/general.py ----------------------------------------------------------------------
def exact_match(result: Any, rules: dict[str, Any]) -> float:
    return 1.0 if result == rules["expected"] else 0.0


def match_in_list(result: Any, rules: dict[str, Any]) -> float:
    return 1.0 if result in rules["expected"] else 0.0


def is_in_list(result: Any, rules: dict[str, Any]) -> float:
    return 1.0 if rules["expected"] in result else 0.0


def check_include_exclude(result: str | None, rules: dict[str, list[str]]) -> float:
    if result is None:
        return 0.0
    include, exclude = rules.get("include", []), rules.get("exclude", [])
    ok = all(r in result for r in include) and all(r not in result for r in exclude)
    return 1.0 if ok else 0.0


def literal_match(result: Any, expected: Any, **options: Any) -> float:
    literal_type = options.get("type", "str")
    ignore_case = options.get("ignore_case", False)
    if literal_type == "str":
        a, b = str(result), str(expected)
        return float(a.lower() == b.lower() if ignore_case else a == b)
    if literal_type == "list":
        if (not isinstance(result, (list, tuple)) or not isinstance(expected, (list, tuple))
                or len(result) != len(expected)):
            return 0.0
        norm = (lambda s: str(s).lower()) if ignore_case else str
        return float([norm(s) for s in result] == [norm(s) for s in expected])
    raise NotImplementedError(f"literal_match type {literal_type!r} not supported")


def _indel_ratio(a: str, b: str) -> float:
    """rapidfuzz ``fuzz.ratio / 100``: 1 - InDel distance / (len a + len b) = 2·LCS / (|a|+|b|)."""
    if not a and not b:
        return 1.0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return 2.0 * prev[-1] / (len(a) + len(b))


def fuzzy_match(result: Any, rules: dict[str, Any]) -> float:
    if not isinstance(result, str):  # rapidfuzz raises on non-strings too (None excepted)
        if result is None:
            return 0.0
        raise TypeError(f"fuzzy_match needs a string result, got {type(result).__name__}")
    return _indel_ratio(result, rules["expected"])


def diff_text_file(result: str | None, expect: str) -> float:
    if result is None:
        return 0.0
    a = Path(result).read_text().splitlines()
    b = Path(expect).read_text().splitlines()
    return difflib.SequenceMatcher(a=a, b=b).ratio()


def check_csv(result: str | None, rules: dict[str, list[dict[str, str]]]) -> float:
    if result is None:
        return 0.0
    expect = rules.get("expect", [])
    found = [False] * len(expect)
    no_unexpected = True
    with open(result, newline="") as f:
        for record in csv.DictReader(f):
            for i, r in enumerate(expect):
                found[i] = found[i] or _match_record(r, record)
            no_unexpected = no_unexpected and not any(
                _match_record(r, record) for r in rules.get("unexpect", []))
    return float(all(found) and no_unexpected)


def check_list(result: str | None, rules: dict[str, list[str]]) -> float:
    if result is None:
        return 0.0
    expect = [re.compile(p) for p in rules.get("expect", [])]
    unexpect = [re.compile(p) for p in rules.get("unexpect", [])]
    found = [False] * len(expect)
    no_unexpected = True
    with open(result) as f:
        for line in f:
            for i, r in enumerate(expect):
                found[i] = found[i] or r.search(line) is not None
            no_unexpected = no_unexpected and all(r.search(line) is None for r in unexpect)
    return float(all(found) and no_unexpected)


def check_json(result: str | None, rules: dict[str, Any], is_yaml: bool = False) -> float:
    if result is None or not Path(result).exists():
        return 0.0
    try:
        text = Path(result).read_text(encoding="utf-8")
        if is_yaml:
            import yaml  # only YAML tasks need it

            data = yaml.safe_load(text)
            if data is None:
                return 0.0
        else:
            data = json.loads(text)
    except Exception:  # noqa: BLE001 - OSWorld: an unreadable or unparsable file scores 0
        return 0.0
    metric = True
    for r in rules.get("expect", {}):
        value = data
        try:
            for k in r["key"]:
                value = value[k]
        except (KeyError, TypeError, IndexError):
            return 0.0
        try:
            metric = metric and _match_value_to_rule(value, r)
        except Exception:  # noqa: BLE001 - OSWorld logs "Error processing expect rule" → 0
            return 0.0
    for r in rules.get("unexpect", {}):
        value = data
        for k in r["key"]:
            try:
                value = value[k]
            except (KeyError, TypeError, IndexError):
                value = None
                break
        try:
            metric = metric and not _match_value_to_rule(value, r)
        except Exception:  # noqa: BLE001
            return 0.0
    return float(metric)


def check_direct_json_object(result: Any, rules: dict[str, Any]) -> float:
    if isinstance(result, str):
        # OSWorld: strip, replace ' with ", then json.loads (its exception escapes).
        result = json.loads(result.strip().replace("'", '"'))
    if result is None:
        return 0.0
    expected = rules.get("expected", {})
    if expected and any(v == "__EVALUATION_FAILED__" for v in expected.values()):
        return 0.0
    try:
        if not rules.get("expect_in_result", False):
            expected = rules["expected"]
            for key in expected:
                want, got = expected.get(key), result.get(key)
                if expected.get("ignore_list_order", False):
                    if sorted(want) != sorted(got):
                        return 0.0
                elif want != got:
                    return 0.0
            return 1.0
        for key, want in rules["expected"].items():
            got = result.get(key)
            if isinstance(want, list):
                if not any((isinstance(got, list) and w in got) or (isinstance(got, str) and w == got)
                           for w in want):
                    return 0.0
            elif isinstance(want, str):
                if want not in got:
                    return 0.0
            else:
                return 0.0
        return 1.0
    except Exception:  # noqa: BLE001 - OSWorld: "result is not a valid json object" → 0
        return 0.0


def file_contains(file_path: str | None, config: dict[str, list[str]]) -> float:
    if not file_path:
        return 0.0
    try:
        text = Path(file_path).read_text()
        return 0.0 if any(t not in text for t in config["expected"]) else 1.0
    except Exception:  # noqa: BLE001 - OSWorld: "file not found or not readable" → 0
        return 0.0


_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)")


def check_line_number(file_path: str | None, line_number: dict[str, Any]) -> float:
    if file_path is None or not Path(file_path).is_file():
        return 0.0
    try:
        with open(file_path) as f:
            count = sum(1 for line in f if _TIME.search(line))
        return 1.0 if count == int(line_number["expected"]) else 0.0
    except Exception:  # noqa: BLE001
        return 0.0


def compare_terminal_and_txt(txt_file_path: str | None, terminal_output: str | None) -> float:
    if not txt_file_path or not terminal_output:
        return 0.0
    return 1.0 if terminal_output == Path(txt_file_path).read_text() else 0.0


def is_included_all_json_objects(gold_file_path: str | None, result_file_path: str | None) -> float:
    if not gold_file_path or not result_file_path:
        return 0.0
    gold = json.loads(Path(gold_file_path).read_text())
    got = json.loads(Path(result_file_path).read_text())
    return 0.0 if any(k not in got or gold[k] != got[k] for k in gold) else 1.0


# --- metrics/table.py, metrics/vscode.py ------------------------------------------------------
def compare_csv(result: str | None, expected: str, **options: Any) -> float:
    if result is None:
        return 0.0
    a = Path(result).read_text().splitlines()
    b = Path(expected).read_text().splitlines()
    if not options.get("strict", True):
        a, b = [s.strip() for s in a], [s.strip() for s in b]
    if options.get("ignore_case", False):
        a, b = [s.lower() for s in a], [s.lower() for s in b]
    return float(a == b)


def _squash_blanks(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[\t\n]", " ", text).strip())


def compare_text_file(actual: str | None, expected: str, **options: Any) -> float:
    if not actual:
        return 0.0
    a, b = Path(actual).read_text(), Path(expected).read_text()
    if options.get("ignore_blanks", False):
        a, b = _squash_blanks(a), _squash_blanks(b)
    if options.get("ignore_case", False):
        a, b = a.lower(), b.lower()
    return 1.0 if a == b else 0.0


METRICS: dict[str, Metric] = CHROME_METRICS | {f.__name__: f for f in (
    exact_match, match_in_list, is_in_list, check_include_exclude, literal_match, fuzzy_match,
    diff_text_file, check_csv, check_list, check_json, check_direct_json_object, file_contains,
    check_line_number, compare_terminal_and_txt, is_included_all_json_objects, compare_csv,
    compare_text_file,
)}
assert set(METRICS) <= OSWORLD_METRIC_NAMES, set(METRICS) - OSWORLD_METRIC_NAMES
