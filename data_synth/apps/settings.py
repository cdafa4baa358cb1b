"""A settings panel: tabs, switches, dropdowns, radio groups, a slider, swatches, modals.

Changes are a draft until "Save changes": validators read the SAVED settings, so a task is
only done once it is saved, and settings the task does not mention must keep their values.
"""

from __future__ import annotations

from typing import Any

from data_synth import lexicon
from data_synth.apps.base import (
    Ctx,
    Draft,
    base_state,
    choose,
    click,
    fill,
    open_menu,
    slide,
    slug,
    template,
    then_join,
)
from data_synth.rng import Rand
from data_synth.spec import PlanStep
from data_synth.validators import Check, eq

FAMILY = "settings"
LANGUAGES = ("English", "German", "French", "Spanish", "Italian", "Portuguese", "Dutch", "Swedish", "Polish", "Turkish")
TIMEZONES = ("UTC−10:00 Honolulu", "UTC−08:00 Los Angeles", "UTC−07:00 Denver", "UTC−06:00 Chicago",
             "UTC−05:00 New York", "UTC−03:00 São Paulo", "UTC±00:00 London", "UTC+01:00 Paris",
             "UTC+01:00 Berlin", "UTC+02:00 Athens", "UTC+03:00 Istanbul", "UTC+04:00 Dubai",
             "UTC+05:30 Mumbai", "UTC+07:00 Bangkok", "UTC+08:00 Singapore", "UTC+09:00 Tokyo",
             "UTC+10:00 Sydney", "UTC+12:00 Auckland")
SWITCHES = (("email", "Email notifications", "News about your account"), ("push", "Push notifications", "On this device"),
            ("weekly", "Weekly digest", "A summary every Monday"), ("mentions", "Mentions", "When someone mentions you"),
            ("product", "Product updates", "New features and tips"), ("sms", "SMS alerts", "Security alerts by text"))
PRIVACY = (("profilePublic", "Public profile"), ("onlineStatus", "Show online status"), ("searchable", "Let others find me by email"))
ACCENTS = (("Blue", "#2563eb"), ("Green", "#16a34a"), ("Purple", "#7c3aed"), ("Orange", "#ea580c"), ("Pink", "#db2777"),
           ("Teal", "#0d9488"))


def _app(ctx: Ctx) -> dict[str, Any]:
    r = ctx.rng.child("app")
    switches = r.sample(SWITCHES, 4)
    draft: dict[str, Any] = {
        "displayName": lexicon.person(r)[0], "language": "English", "timezone": r.choice(TIMEZONES),
        "dateFormat": "DD/MM/YYYY", "digest": "Weekly", "theme": "System", "accent": "Blue",
        "fontSize": r.int(13, 16), "density": "Comfortable", "twofa": False,
        **{k: r.chance(0.5) for k, _, _ in switches}, **{k: r.chance(0.5) for k, _ in PRIVACY},
    }
    copy = {
        "title": r.choice(("Settings", "Account settings", "Preferences")), "profile": "Profile",
        "displayName": r.choice(("Display name", "Name")), "language": "Language", "timezone": "Time zone",
        "dateFormat": "Date format", "notifications": "Notifications", "digest": "Digest frequency",
        "appearance": "Appearance", "theme": "Theme", "accent": "Accent colour", "fontSize": r.choice(("Font size", "Text size")),
        "density": "Density", "security": "Privacy & security", "twofa": "Two-factor authentication",
        "twofaOn": "On: you will be asked for a code when signing in.", "twofaOff": "Off: protect your account with a second step.",
        "enable2fa": r.choice(("Enable", "Turn on", "Set up")), "codeHint": "Enter the code from your authenticator app:",
        "code": "Verification code", "verify": r.choice(("Verify", "Confirm")),
        "deleteTitle": "Delete account", "deleteHint": "Permanently remove your account and data.",
        "deleteBtn": "Delete account", "deleteConfirm": "This cannot be undone.",
        "save": r.choice(("Save changes", "Save", "Apply")), "discard": r.choice(("Discard", "Cancel", "Reset")),
        "unsaved": "You have unsaved changes.", "saved": "Settings saved",
    }
    tabs = [{"value": "general", "label": "General", "icon": "gear"},
            {"value": "notifications", "label": "Notifications", "icon": "bell"},
            {"value": "appearance", "label": "Appearance", "icon": "sun"},
            {"value": "security", "label": r.choice(("Security", "Privacy")), "icon": "shield"}]
    return {
        "title": f"{copy['title']} — {lexicon.brand(r)}", "brand": lexicon.brand(r.child("brand")), "copy": copy,
        "tabs": tabs, "tabNav": "side" if ctx.theme.nav == "side" else "top",
        "languages": list(LANGUAGES), "timezones": list(TIMEZONES), "dateFormats": ["DD/MM/YYYY", "MM/DD/YYYY", "YYYY-MM-DD"],
        "digests": ["Daily", "Weekly", "Monthly"], "themes": ["Light", "Dark", "System"],
        "densities": ["Compact", "Comfortable", "Spacious"],
        "accents": [{"name": n, "hex": h} for n, h in ACCENTS],
        "switches": [{"key": k, "label": lab, "hint": hint} for k, lab, hint in switches],
        "privacy": [{"key": k, "label": lab} for k, lab in PRIVACY],
        "code": f"{r.int(100000, 999999)}",
        "state": base_state(tab="general", draft=draft, saved=dict(draft), deleted=False,
                            ui={"code": "", "codeError": None}),
    }


def _tab(app: dict[str, Any], value: str, current: str) -> list[PlanStep]:
    if value == current:
        return []
    label = next(t["label"] for t in app["tabs"] if t["value"] == value)
    kind = "link" if app["tabNav"] == "side" else "tab"
    return [click(label, f"tab-{value}", kind, changes_state=False)]


def _saved(key: str, value: Any, what: str) -> Check:
    return eq(["saved", key], value, what)


def _kept(app: dict[str, Any], changed: set[str], r: Rand, n: int = 2) -> list[Check]:
    """Settings the task does not mention keep their values (side effects fail the task)."""
    draft = app["state"]["draft"]
    keys = [k for k in sorted(draft) if k not in changed]
    return [_saved(k, draft[k], f"{k} unchanged") for k in r.sample(keys, n)]


@template(FAMILY, "toggle", ("easy",), "flip one notification switch and save")
def toggle(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx)
    w = r.choice(app["switches"])
    now = app["state"]["draft"][w["key"]]
    plan = [*_tab(app, "notifications", "general"), click(w["label"], f"sw-{w['key']}", "switch"),
            click(app["copy"]["save"], "save")]
    checks = [_saved(w["key"], not now, f"{w['label']} {'off' if now else 'on'}"),
              *_kept(app, {w["key"]}, r.child("kept"))]
    return Draft(then_join(plan), plan, checks, app, distractors=len(app["switches"]) - 1)


@template(FAMILY, "preferences", ("medium",), "change language, theme and text size, then save")
def preferences(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx)
    d = app["state"]["draft"]
    language = r.choice(LANGUAGES[1:])
    theme = r.choice(("Light", "Dark"))
    size = r.choice([v for v in range(10, 25, 2) if v != d["fontSize"]])
    accent = r.choice([a for a, _ in ACCENTS if a != "Blue"])
    c = app["copy"]
    plan = [open_menu(c["language"], "language"), choose(language, f"language-opt-{slug(language)}"),
            *_tab(app, "appearance", "general"), choose(theme, f"theme-{slug(theme)}"),
            slide(c["fontSize"], size, 10, 24, "font-size", " px"),
            click(accent, f"accent-{accent.lower()}", "button", target=f"the {accent.lower()} colour swatch"),
            click(c["save"], "save")]
    checks = [_saved("language", language, f"language {language}"), _saved("theme", theme, f"{theme} theme"),
              _saved("fontSize", size, f"text size {size}"), _saved("accent", accent, f"{accent} accent"),
              *_kept(app, {"language", "theme", "fontSize", "accent"}, r.child("kept"))]
    instruction = (f"Switch the interface to {language}, use the {theme.lower()} theme with a {accent.lower()} accent "
                   f"and {size} px text, and save.")
    return Draft(instruction, plan, checks, app, distractors=6, nested_menus=True,
                 features=["dropdown", "tabs", "slider", "swatch"])


@template(FAMILY, "security", ("hard",), "profile, time zone, notifications and two-factor sign-in, then save")
def security(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx)
    d = app["state"]["draft"]
    c = app["copy"]
    name = lexicon.person(r.child("name"))[0]
    tz = r.choice([t for t in TIMEZONES[8:] if t != d["timezone"]])  # far down the list: scrolling it
    on, off = [w for w in app["switches"] if not d[w["key"]]][:1], [w for w in app["switches"] if d[w["key"]]][:1]
    flips = on + off
    digest = r.choice(("Daily", "Monthly"))
    plan = [fill(c["displayName"], name, "display-name", clear=True), open_menu(c["timezone"], "timezone"),
            choose(tz, f"timezone-opt-{slug(tz)}"), *_tab(app, "notifications", "general"),
            *(click(w["label"], f"sw-{w['key']}", "switch") for w in flips), choose(digest, f"digest-{slug(digest)}"),
            *_tab(app, "security", "notifications"), click(c["enable2fa"], "enable-2fa", changes_state=False),
            fill(c["code"], app["code"], "twofa-code"), click(c["verify"], "twofa-verify"), click(c["save"], "save")]
    checks = [_saved("displayName", name, f"display name {name}"), _saved("timezone", tz, f"time zone {tz}"),
              _saved("digest", digest, f"{digest} digest"), _saved("twofa", True, "two-factor on"),
              *(_saved(w["key"], not d[w["key"]], f"{w['label']} flipped") for w in flips),
              eq(["deleted"], False, "account not deleted"),
              *_kept(app, {"displayName", "timezone", "digest", "twofa", *(w["key"] for w in flips)}, r.child("kept"))]
    flip_words = " and ".join(f"turn {'on' if w in on else 'off'} {w['label']}" for w in flips)
    instruction = (f"Rename the profile to {name}, set the time zone to {tz}, {flip_words}, get the digest "
                   f"{digest.lower()}, and turn on two-factor authentication with the code the dialog shows. Save "
                   "everything and do not delete the account.")
    return Draft(instruction, plan, checks, app, distractors=10, scroll=True, nested_menus=True,
                 features=["dropdown", "tabs", "modal", "clear-prefilled", "switch"])
