"""Sign-in, sign-up and password-reset pages with client-side validation."""

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
    slug,
    template,
    then_join,
)
from data_synth.rng import Rand
from data_synth.validators import Check, eq, where

FAMILY = "auth"


def _copy(r: Rand, brand: str) -> dict[str, str]:
    return {
        "email": r.choice(("Email", "Email address", "Work email")),
        "password": "Password",
        "confirm": r.choice(("Confirm password", "Repeat password")),
        "name": r.choice(("Full name", "Name", "Your name")),
        "remember": r.choice(("Remember me", "Keep me signed in", "Stay signed in")),
        "forgot": r.choice(("Forgot password?", "Forgot your password?", "Trouble signing in?")),
        "signIn": r.choice(("Sign in", "Log in", "Continue")),
        "signUp": r.choice(("Create account", "Sign up", "Get started")),
        "loginTitle": r.choice((f"Sign in to {brand}", "Welcome back", "Log in to your account")),
        "loginSub": r.choice(("Use your work account.", "Good to see you again.", "Enter your details below.")),
        "signupTitle": r.choice((f"Create your {brand} account", "Start your free trial", "Join us")),
        "signupSub": r.choice(("It takes less than a minute.", "No credit card required.", "Free for 14 days.")),
        "pwRule": "At least 8 characters, including a number.",
        "country": r.choice(("Country", "Country or region")),
        "countryPh": "Choose a country",
        "plan": r.choice(("Plan", "Choose a plan")),
        "newsletter": r.choice(("Send me product updates", "Subscribe to the newsletter", "Email me tips and news")),
        "terms": r.choice(("I agree to the Terms of Service", "I accept the terms and privacy policy")),
        "noAccount": "New here?", "haveAccount": "Already have an account?",
        "signUpLink": r.choice(("Create an account", "Sign up")),
        "signInLink": r.choice(("Sign in", "Log in")),
        "resetTitle": "Reset your password",
        "resetSub": "We will email you a link to choose a new password.",
        "resetBtn": r.choice(("Send reset link", "Email me a link", "Send instructions")),
        "resetSent": "Check your inbox for the reset link.",
        "back": "Back to sign in", "welcome": "You're signed in",
    }


def _app(ctx: Ctx, page: str, form: dict[str, Any], accounts: list[dict[str, Any]]) -> dict[str, Any]:
    r = ctx.rng.child("app")
    brand = lexicon.brand(r)
    countries = sorted(r.sample(lexicon.COUNTRIES, 20 if ctx.level == "hard" else 12))
    blank = {"email": "", "password": "", "remember": False, "name": "", "confirm": "",
             "country": countries[0], "plan": "free", "newsletter": False, "terms": False, "resetEmail": ""}
    return {
        "title": f"{brand} — account", "brand": brand, "copy": _copy(r, brand),
        "layout": r.choice(("center", "split")),
        "tagline": r.choice(("Everything your team needs, in one place.", "Work faster, together.")),
        "perks": r.sample(("Unlimited projects", "Single sign-on", "24/7 support", "99.9% uptime",
                           "Shared workspaces", "Audit log"), 3),
        "social": r.sample(("Google", "GitHub", "SSO", "Microsoft"), 2) if r.chance(0.6) else [],
        "nav": r.sample(("Product", "Pricing", "Docs", "Blog", "Customers"), 3),
        "footer": ["Privacy", "Terms", "Help"],
        "countries": countries,
        "plans": [{"value": "free", "label": "Free", "note": "$0"},
                  {"value": "pro", "label": "Pro", "note": f"${r.choice((8, 10, 12))}/mo"},
                  {"value": "team", "label": "Team", "note": f"${r.choice((20, 25, 30))}/mo"}],
        "state": base_state(page=page, form={**blank, **form}, errors={}, attempts=0, resets=[],
                            session={"user": None, "remember": False}, accounts=accounts,
                            ui={"showPassword": False}),
    }


def _accounts(r: Rand, n: int) -> list[dict[str, Any]]:
    return [{"name": name, "email": email, "password": lexicon.password(r), "country": "", "plan": "free",
             "newsletter": False} for name, email in lexicon.people(r, n)]


@template(FAMILY, "login", ("easy", "medium"), "sign in with given credentials")
def login(ctx: Ctx) -> Draft:
    r = ctx.rng
    accounts = _accounts(r.child("accounts"), 3)
    me = accounts[r.int(0, 2)]
    medium = ctx.level == "medium"
    other = next(a for a in accounts if a is not me)
    app = _app(ctx, "signup" if medium else "login", {"email": other["email"]} if medium else {}, accounts)
    c = app["copy"]
    plan = [fill(c["email"], me["email"], "email", clear=medium), fill("Password", me["password"], "password"),
            click(c["signIn"], "sign-in")]
    checks = [eq(["session", "user"], me["email"], f"signed in as {me['email']}")]
    if not medium:
        return Draft(then_join(plan), plan, checks, app, distractors=len(app["social"]))
    plan = [click(c["signInLink"], "to-login", "link", changes_state=False), *plan[:2],
            click(c["remember"], "remember", "checkbox"), plan[2]]
    checks.append(eq(["session", "remember"], True, f'"{c["remember"]}" was ticked'))
    instruction = (f'Sign in as {me["email"]} with the password "{me["password"]}" and tick '
                   f'"{c["remember"]}". You are on the sign-up page.')
    return Draft(instruction, plan, checks, app, distractors=len(app["social"]) + 1,
                 features=["navigate", "clear-prefilled"])


@template(FAMILY, "reset", ("easy",), "request a password-reset link")
def reset(ctx: Ctx) -> Draft:
    r = ctx.rng
    accounts = _accounts(r.child("accounts"), 2)
    me = accounts[0]
    app = _app(ctx, "login", {}, accounts)
    c = app["copy"]
    plan = [click(c["forgot"], "forgot", "link", changes_state=False),
            fill(c["email"], me["email"], "reset-email"), click(c["resetBtn"], "send-reset")]
    checks = [eq(["resets"], [me["email"]], f"one reset link sent to {me['email']}")]
    return Draft(then_join(plan), plan, checks, app, distractors=len(app["social"]))


@template(FAMILY, "signup", ("medium", "hard"), "create an account, fixing what the form rejects")
def signup(ctx: Ctx) -> Draft:
    r = ctx.rng
    hard = ctx.level == "hard"
    existing = _accounts(r.child("accounts"), 2)
    name, email = lexicon.person(r.child("me"))
    while any(a["email"] == email for a in existing):
        name, email = lexicon.person(r.child("me", email))
    pw = lexicon.password(r)
    bad_email = email.split("@")[0] + "@"  # what a half-finished autofill left behind
    app = _app(ctx, "signup", {"email": bad_email} if hard else {}, existing)
    c = app["copy"]
    countries = app["countries"]
    plan = [fill(c["name"], name, "name"), fill(c["email"], email, "email", clear=hard),
            fill(c["password"], pw, "password"), fill(c["confirm"], pw, "confirm")]
    who = [where(email=email)]
    checks: list[Check] = [eq(["session", "user"], email, f"signed in as {email}"),
                           eq(["accounts", *who, "name"], name, f"account named {name}"),
                           eq(["accounts", *who, "password"], pw, "password as given")]
    if hard:
        country = r.choice(countries[1:])
        plan_label = r.choice(("Pro", "Team"))
        plan += [open_menu(c["country"], "country"), choose(country, f"country-opt-{slug(country)}"),
                 choose(plan_label, f"plan-{plan_label.lower()}"),
                 click(c["newsletter"], "newsletter", "switch")]
        checks += [eq(["accounts", *who, "country"], country, f"country {country}"),
                   eq(["accounts", *who, "plan"], plan_label.lower(), f"{plan_label} plan"),
                   eq(["accounts", *who, "newsletter"], True, "newsletter on")]
        goal = (f'Create an account for {name} with the email {email} and the password "{pw}": '
                f'country {country}, the {plan_label} plan, and turn on "{c["newsletter"]}".')
    else:
        checks.append(eq(["accounts", *who, "plan"], "free", "Free plan kept"))
        goal = f'Sign up as {name} with the email {email} and the password "{pw}".'
    plan += [click(c["terms"], "terms", "checkbox"), click(c["signUp"], "create-account")]
    return Draft(goal + " Accept the terms.", plan, checks, app, distractors=2, scroll=hard,
                 nested_menus=hard, features=["validation"] + (["dropdown", "clear-prefilled"] if hard else []))
