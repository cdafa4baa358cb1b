// Sign-in / sign-up / password-reset pages with validation, as SaaS products have them.
"use strict";
(function () {
  const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  function header(s, c, h) {
    return `<header class="topbar"><div class="brand"><span class="logo"></span>${h.esc(c.brand)}</div>` +
      `<span class="spacer"></span><nav>${c.nav.map((n) => h.link({ sid: `nav-${h.slug(n)}`, text: n, act: "noop",
        fn: `open the ${n} page` })).join("")}</nav>` +
      h.iconButton({ sid: "help", label: "Help", icon: "info", act: "noop", fn: "open help" }) + `</header>`;
  }

  function login(s, c, h) {
    const t = c.copy;
    const f = s.form;
    const pw = h.field({ sid: "password", label: t.password, bind: "form.password", value: f.password,
      type: s.ui.showPassword ? "text" : "password", error: s.errors.password, enter: "signIn",
      fn: "enter your password",
      suffix: h.iconButton({ sid: "toggle-password", label: s.ui.showPassword ? "Hide password" : "Show password",
        icon: "eye", act: "toggle", arg: "ui.showPassword", fn: "show or hide the password", cls: "pw-eye" }) });
    return `<div class="card auth-card stack"><h1>${h.esc(t.loginTitle)}</h1>` +
      `<p class="muted">${h.esc(t.loginSub)}</p>` +
      (s.errors.form ? `<div class="banner warn" role="alert">${h.icon("info", "tone-danger")}${h.esc(s.errors.form)}</div>` : "") +
      h.field({ sid: "email", label: t.email, bind: "form.email", value: f.email, error: s.errors.email,
        placeholder: "you@example.com", fn: "enter your email address" }) + pw +
      `<div class="row" style="justify-content:space-between">` +
      h.checkbox({ sid: "remember", label: t.remember, path: "form.remember", checked: f.remember, fn: "stay signed in on this device" }) +
      h.link({ sid: "forgot", text: t.forgot, act: "go", arg: "reset", fn: "reset a forgotten password" }) + `</div>` +
      h.button({ sid: "sign-in", text: t.signIn, act: "signIn", fn: "sign in with the details entered", cls: "wide" }) +
      (c.social ? `<div class="row wrap">` + c.social.map((n) => h.button({ sid: `sso-${h.slug(n)}`,
        text: `Continue with ${n}`, variant: "secondary", act: "noop", fn: `sign in through ${n}` })).join("") + `</div>` : "") +
      `<p class="muted">${h.esc(t.noAccount)} ${h.link({ sid: "to-signup", text: t.signUpLink, act: "go", arg: "signup",
        fn: "open the sign-up form" })}</p></div>`;
  }

  function signup(s, c, h) {
    const t = c.copy;
    const f = s.form;
    const e = s.errors;
    return `<div class="card auth-card stack"><h1>${h.esc(t.signupTitle)}</h1>` +
      `<p class="muted">${h.esc(t.signupSub)}</p>` +
      h.field({ sid: "name", label: t.name, bind: "form.name", value: f.name, error: e.name, fn: "enter your full name" }) +
      h.field({ sid: "email", label: t.email, bind: "form.email", value: f.email, error: e.email, fn: "enter your email address" }) +
      h.field({ sid: "password", label: t.password, bind: "form.password", value: f.password, type: "password",
        error: e.password, fn: "choose a password" }) +
      `<div class="muted hint">${h.esc(t.pwRule)}</div>` +
      h.field({ sid: "confirm", label: t.confirm, bind: "form.confirm", value: f.confirm, type: "password",
        error: e.confirm, fn: "repeat the password" }) +
      h.dropdown({ sid: "country", label: t.country, path: "form.country", value: f.country, placeholder: t.countryPh,
        options: c.countries.map((x) => ({ value: x, label: x, fn: `choose ${x} as your country` })),
        fn: "choose your country" }, s) +
      h.radios({ sid: "plan", label: t.plan, path: "form.plan", value: f.plan, cls: "inline",
        options: c.plans.map((p) => ({ value: p.value, label: p.label, note: p.note, fn: `pick the ${p.label} plan` })) }) +
      `<div class="switch-row">` + h.switch({ sid: "newsletter", label: t.newsletter, path: "form.newsletter",
        checked: f.newsletter, fn: "subscribe to the newsletter" }) + `</div>` +
      h.checkbox({ sid: "terms", label: t.terms, path: "form.terms", checked: f.terms, fn: "accept the terms of service" }) +
      (e.terms ? `<div class="err" role="alert">${h.esc(e.terms)}</div>` : "") +
      h.button({ sid: "create-account", text: t.signUp, act: "signUp", fn: "create the account", cls: "wide" }) +
      `<p class="muted">${h.esc(t.haveAccount)} ${h.link({ sid: "to-login", text: t.signInLink, act: "go", arg: "login",
        fn: "open the sign-in form" })}</p></div>`;
  }

  function reset(s, c, h) {
    const t = c.copy;
    return `<div class="card auth-card stack"><h1>${h.esc(t.resetTitle)}</h1><p class="muted">${h.esc(t.resetSub)}</p>` +
      (s.resets.length ? `<div class="banner ok" role="status">${h.icon("check", "tone-success")}${h.esc(t.resetSent)}</div>` : "") +
      h.field({ sid: "reset-email", label: t.email, bind: "form.resetEmail", value: s.form.resetEmail, error: s.errors.resetEmail,
        fn: "enter the email of the account to recover" }) +
      h.button({ sid: "send-reset", text: t.resetBtn, act: "sendReset", fn: "send a password reset link", cls: "wide" }) +
      `<p>${h.link({ sid: "back-to-login", text: t.back, act: "go", arg: "login", icon: "chevron-left", fn: "go back to sign in" })}</p></div>`;
  }

  function welcome(s, c, h) {
    return `<div class="card auth-card stack"><h1>${h.esc(c.copy.welcome)}</h1>` +
      `<p>${h.esc(s.session.user || "")}</p>` +
      h.button({ sid: "sign-out", text: "Sign out", variant: "secondary", act: "signOut", fn: "sign out" }) + `</div>`;
  }

  const PAGES = { login, signup, reset, welcome };

  Synth.register({
    render(s, c, h) {
      const page = PAGES[s.page](s, c, h);
      const aside = c.layout === "split"
        ? `<aside class="auth-aside"><h2>${h.esc(c.tagline)}</h2><ul>${c.perks.map((p) => `<li>${h.icon("check")} ${h.esc(p)}</li>`).join("")}</ul></aside>`
        : "";
      return `<div class="shell">${header(s, c, h)}<div class="auth-wrap ${c.layout}">${aside}${page}</div>` +
        `<footer class="auth-foot muted">${c.footer.map((n) => h.link({ sid: `foot-${h.slug(n)}`, text: n, act: "noop",
          fn: `read the ${n} page` })).join(" · ")}</footer></div>`;
    },
    actions: {
      noop() {},
      go(s, page) { s.page = page; s.errors = {}; },
      signIn(s, _a, _el) {
        const f = s.form;
        s.errors = {};
        if (!EMAIL.test(f.email.trim())) s.errors.email = "Enter a valid email address";
        if (!f.password) s.errors.password = "Enter your password";
        if (Object.keys(s.errors).length) return;
        const acct = s.accounts.find((a) => a.email === f.email.trim() && a.password === f.password);
        if (!acct) { s.errors.form = "Incorrect email or password"; s.attempts += 1; return; }
        s.session = { user: acct.email, remember: !!f.remember };
        s.page = "welcome";
      },
      signUp(s) {
        const f = s.form;
        const e = (s.errors = {});
        if (!f.name.trim()) e.name = "Enter your name";
        if (!EMAIL.test(f.email.trim())) e.email = "Enter a valid email address";
        else if (s.accounts.some((a) => a.email === f.email.trim())) e.email = "An account with this email already exists";
        if (f.password.length < 8 || !/\d/.test(f.password)) e.password = "Use 8 or more characters with a number";
        if (f.confirm !== f.password) e.confirm = "Passwords do not match";
        if (!f.terms) e.terms = "Accept the terms to continue";
        if (Object.keys(e).length) return;
        s.accounts.push({ name: f.name.trim(), email: f.email.trim(), password: f.password, country: f.country,
          plan: f.plan, newsletter: !!f.newsletter });
        s.session = { user: f.email.trim(), remember: false };
        s.page = "welcome";
      },
      sendReset(s) {
        const email = s.form.resetEmail.trim();
        s.errors = {};
        if (!EMAIL.test(email)) { s.errors.resetEmail = "Enter a valid email address"; return; }
        s.resets.push(email);
      },
      signOut(s) { s.session = { user: null, remember: false }; s.page = "login"; },
    },
  });
})();
