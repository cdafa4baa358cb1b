// A web shop: catalogue with category filter, search and sort; product page; cart; checkout.
"use strict";
(function () {
  const money = (c, v) => `${c.currency}${v.toFixed(2)}`;
  const byId = (c, id) => c.products.find((p) => p.id === id);
  const count = (s) => s.cart.reduce((n, i) => n + i.qty, 0);

  function picture(p, h, big) {
    return `<div class="pic ${big ? "big" : ""}" style="background:${p.tint}">` +
      `<svg viewBox="0 0 60 60" aria-hidden="true"><rect x="14" y="14" width="32" height="32" rx="${p.round ? 16 : 6}"` +
      ` fill="${p.swatch}" stroke="rgba(0,0,0,.25)"/></svg>${p.badge ? `<span class="tag">${h.esc(p.badge)}</span>` : ""}</div>`;
  }

  function topbar(s, c, h) {
    const t = c.copy;
    return `<header class="topbar"><div class="brand"><span class="logo"></span>${h.esc(c.brand)}</div>` +
      h.field({ sid: "search", label: t.search, hideLabel: true, bind: "filters.query", value: s.filters.query,
        placeholder: t.search, live: "searched", cls: "search", fn: "search the catalogue",
        prefix: h.icon("search", "tone-text") }) +
      `<span class="spacer"></span>` +
      h.iconButton({ sid: "account", label: "Account", icon: "user", act: "noop", fn: "open your account" }) +
      h.iconButton({ sid: "wishlist", label: t.wishlist, icon: "heart", act: "noop", fn: "see saved items",
        badge: s.wishlist.length || null }) +
      h.iconButton({ sid: "cart-button", label: t.cart, icon: "cart", act: "go", arg: "cart", tone: "primary",
        fn: `open the ${t.cart.toLowerCase()}`, badge: count(s) || null }) + `</header>`;
  }

  function visible(s, c) {
    const f = s.filters;
    const q = f.query.trim().toLowerCase();
    // a search looks through every category, as shops do
    let items = c.products.filter((p) => (q ? p.name.toLowerCase().includes(q) : f.category === "All" || p.category === f.category));
    if (f.sort === "price-asc") items = items.slice().sort((a, b) => a.price - b.price);
    if (f.sort === "price-desc") items = items.slice().sort((a, b) => b.price - a.price);
    if (f.sort === "rating") items = items.slice().sort((a, b) => b.rating - a.rating);
    return items;
  }

  function catalog(s, c, h) {
    const t = c.copy;
    const cats = ["All", ...c.categories];
    const filters = `<div class="filters ${c.filterStyle}"><h3>${h.esc(t.categories)}</h3>` +
      cats.map((cat) => h.link({ sid: `cat-${h.slug(cat)}`, text: cat, act: "category", arg: cat,
        current: !s.filters.query.trim() && s.filters.category === cat, fn: `show ${cat === "All" ? "all products" : cat + " products"}` })).join("") + `</div>`;
    const items = visible(s, c);
    const cards = items.map((p) => `<article class="card product">${picture(p, h)}` +
      `<div class="pbody">${h.link({ sid: `prod-${p.id}`, text: p.name, act: "open", arg: p.id, cls: "pname",
        fn: `open the ${p.name} page` })}` +
      `<div class="row"><span class="price">${money(c, p.price)}</span><span class="muted rating">★ ${p.rating.toFixed(1)} (${p.reviews})</span></div>` +
      `<div class="row">` + (c.addStyle === "icon"
        ? h.iconButton({ sid: `add-${p.id}`, label: `Add ${p.name} to ${t.cart.toLowerCase()}`, icon: "cart", tone: "primary",
          round: true, act: "add", arg: p.id, fn: `add ${p.name} to the ${t.cart.toLowerCase()}` })
        : h.button({ sid: `add-${p.id}`, text: t.add, act: "add", arg: p.id, variant: "secondary",
          fn: `add ${p.name} to the ${t.cart.toLowerCase()}` })) +
      h.iconButton({ sid: `save-${p.id}`, label: `Save ${p.name}`, icon: "heart", act: "wish", arg: p.id,
        pressed: s.wishlist.includes(p.id) ? "true" : "false", fn: `save ${p.name} for later` }) +
      `</div></div></article>`).join("");
    const sort = h.dropdown({ sid: "sort", label: t.sortBy, path: "filters.sort", value: s.filters.sort, cls: "inline-dd",
      options: c.sorts.map((o) => ({ value: o.value, label: o.label, fn: `sort by ${o.label.toLowerCase()}` })),
      fn: "change the sort order" }, s);
    return `<div class="shop ${c.filterStyle}">${filters}<section class="catalog">` + banner(s, c, h) +
      `<div class="row catalog-head"><h1>${h.esc(s.filters.query.trim() ? `Results for “${s.filters.query.trim()}”`
        : s.filters.category === "All" ? t.allProducts : s.filters.category)}</h1>` +
      `<span class="muted">${items.length} ${h.esc(t.items)}</span><span class="spacer"></span>${sort}</div>` +
      (items.length ? `<div class="grid products cols-${c.cols}">${cards}</div>` : `<p class="muted">${h.esc(t.noResults)}</p>`) +
      `</section></div>`;
  }

  function banner(s, c, h) {
    return s.ui.added ? `<div class="banner ok" role="status">${h.icon("check", "tone-success")}` +
      `<span>${h.esc(s.ui.added)}</span><span class="spacer"></span>` +
      h.link({ sid: "banner-view-cart", text: c.copy.viewCart, act: "go", arg: "cart", fn: `view the ${c.copy.cart.toLowerCase()}` }) +
      `</div>` : "";
  }

  function product(s, c, h) {
    const p = byId(c, s.product);
    const t = c.copy;
    return `<div class="product-page">` + banner(s, c, h) +
      h.link({ sid: "back", text: t.back, act: "go", arg: "catalog", icon: "chevron-left", fn: "go back to the catalogue" }) +
      `<div class="row top">${picture(p, h, true)}<div class="stack pinfo"><h1>${h.esc(p.name)}</h1>` +
      `<div class="price big">${money(c, p.price)}</div><p class="muted">${h.esc(p.blurb)}</p>` +
      `<div class="row"><span class="lbl">${h.esc(t.quantity)}</span>` +
      h.iconButton({ sid: "qty-dec", label: "Decrease quantity", icon: "minus", act: "qty", arg: "-1", round: true,
        fn: "lower the quantity", disabled: s.qty <= 1 }) +
      `<span class="qty" aria-live="polite">${s.qty}</span>` +
      h.iconButton({ sid: "qty-inc", label: "Increase quantity", icon: "plus", act: "qty", arg: "1", round: true,
        fn: "raise the quantity" }) + `</div>` +
      `<div class="row">` + h.button({ sid: "add-to-cart", text: t.add, act: "addQty", arg: p.id, icon: "cart",
        fn: `add ${p.name} to the ${t.cart.toLowerCase()}` }) +
      h.iconButton({ sid: "save-item", label: `Save ${p.name}`, icon: "heart", act: "wish", arg: p.id, round: true,
        fn: `save ${p.name} for later`, pressed: s.wishlist.includes(p.id) ? "true" : "false" }) +
      `</div></div></div></div>`;
  }

  function cart(s, c, h) {
    const t = c.copy;
    const rows = s.cart.map((i, n) => {
      const p = byId(c, i.id);
      return `<tr data-row="${n + 1}" data-list="cart"><td>${h.esc(p.name)}</td><td>${money(c, p.price)}</td><td><div class="row">` +
        h.iconButton({ sid: `cart-dec-${p.id}`, label: `Decrease quantity of ${p.name}`, icon: "minus", act: "cartQty",
          arg: `${p.id}|-1`, fn: `remove one ${p.name}`, disabled: i.qty <= 1 }) +
        `<span class="qty">${i.qty}</span>` +
        h.iconButton({ sid: `cart-inc-${p.id}`, label: `Increase quantity of ${p.name}`, icon: "plus", act: "cartQty",
          arg: `${p.id}|1`, fn: `add one more ${p.name}` }) + `</div></td><td>${money(c, p.price * i.qty)}</td><td>` +
        h.iconButton({ sid: `cart-remove-${p.id}`, label: `Remove ${p.name}`, icon: "trash", tone: "danger", act: "remove",
          arg: p.id, fn: `remove ${p.name} from the ${t.cart.toLowerCase()}` }) + `</td></tr>`;
    }).join("");
    const total = s.cart.reduce((n, i) => n + byId(c, i.id).price * i.qty, 0);
    return `<div class="cart-page"><h1>${h.esc(t.yourCart)}</h1>` +
      (s.cart.length ? `<table class="data"><thead><tr><th>${h.esc(t.item)}</th><th>${h.esc(t.price)}</th><th>${h.esc(t.quantity)}</th>` +
        `<th>${h.esc(t.total)}</th><th></th></tr></thead><tbody>${rows}</tbody></table>` +
        `<div class="row summary"><span class="spacer"></span><span>${h.esc(t.subtotal)}: <b>${money(c, total)}</b></span>` +
        h.button({ sid: "checkout", text: t.checkout, act: "go", arg: "checkout", fn: "go to checkout" }) + `</div>`
        : `<p class="muted">${h.esc(t.empty)}</p>`) +
      `<p>${h.link({ sid: "continue", text: t.continue, act: "go", arg: "catalog", icon: "chevron-left", fn: "keep shopping" })}</p></div>`;
  }

  function checkout(s, c, h) {
    const t = c.copy;
    const k = s.checkout;
    const e = s.errors;
    return `<div class="checkout-page row top"><div class="card stack grow"><h1>${h.esc(t.checkoutTitle)}</h1>` +
      `<h2>${h.esc(t.shipTo)}</h2>` +
      h.field({ sid: "ship-name", label: t.fullName, bind: "checkout.name", value: k.name, error: e.name, fn: "enter the recipient's name" }) +
      h.field({ sid: "ship-address", label: t.address, bind: "checkout.address", value: k.address, error: e.address, fn: "enter the street address" }) +
      `<div class="row">` + h.field({ sid: "ship-city", label: t.city, bind: "checkout.city", value: k.city, error: e.city, fn: "enter the city" }) +
      h.field({ sid: "ship-zip", label: t.zip, bind: "checkout.zip", value: k.zip, error: e.zip, fn: "enter the postal code" }) + `</div>` +
      h.radios({ sid: "shipping", label: t.method, path: "checkout.shipping", value: k.shipping,
        options: c.shipping.map((m) => ({ value: m.value, label: m.label, note: `${money(c, m.price)} · ${m.days}`,
          fn: `ship by ${m.label} delivery` })) }) +
      h.button({ sid: "place-order", text: t.placeOrder, act: "place", fn: "place the order", cls: "wide" }) +
      `</div><aside class="card summary-card"><h3>${h.esc(t.summary)}</h3>` +
      s.cart.map((i) => `<div class="row"><span>${i.qty} × ${h.esc(byId(c, i.id).name)}</span></div>`).join("") + `</aside></div>`;
  }

  function done(s, c, h) {
    const o = s.orders[s.orders.length - 1];
    return `<div class="card stack"><h1>${h.esc(c.copy.thanks)}</h1><p>Order #${o.number} · ${o.items.length} items · ${h.esc(o.shipping)}</p>` +
      h.link({ sid: "continue", text: c.copy.continue, act: "go", arg: "catalog", fn: "keep shopping" }) + `</div>`;
  }

  const VIEWS = { catalog, product, cart, checkout, done };
  const REQUIRED = ["name", "address", "city", "zip"];

  Synth.register({
    render(s, c, h) {
      return `<div class="shell">${topbar(s, c, h)}<main class="main">${VIEWS[s.view](s, c, h)}</main>${h.toast(s)}</div>`;
    },
    actions: {
      noop() {},
      go(s, view) { s.view = view; s.errors = {}; s.ui.added = null; },
      searched(s) { s.view = "catalog"; s.ui.added = null; },
      category(s, cat) { s.filters.category = cat; s.filters.query = ""; s.view = "catalog"; s.ui.added = null; },
      open(s, id) { s.view = "product"; s.product = id; s.qty = 1; s.ui.added = null; },
      qty(s, d) { s.qty = Math.max(1, s.qty + Number(d)); },
      add(s, id, _el) { addItem(s, id, 1); },
      addQty(s, id) { addItem(s, id, s.qty); },
      wish(s, id) { s.wishlist = s.wishlist.includes(id) ? s.wishlist.filter((x) => x !== id) : [...s.wishlist, id]; },
      cartQty(s, arg) {
        const [id, d] = arg.split("|");
        const item = s.cart.find((i) => i.id === id);
        item.qty = Math.max(1, item.qty + Number(d));
      },
      remove(s, id) { s.cart = s.cart.filter((i) => i.id !== id); },
      place(s) {
        const k = s.checkout;
        s.errors = {};
        for (const f of REQUIRED) if (!String(k[f]).trim()) s.errors[f] = "Required";
        if (!s.cart.length) s.errors.name = "Your cart is empty";
        if (Object.keys(s.errors).length) return;
        s.orders.push({ number: 1000 + s.orders.length + Synth.cfg.orderBase, items: s.cart.map((i) => ({ ...i })),
          shipping: k.shipping, name: k.name.trim(), address: k.address.trim(), city: k.city.trim(), zip: k.zip.trim() });
        s.cart = [];
        s.view = "done";
      },
    },
  });

  function addItem(s, id, qty) {
    const p = byId(Synth.cfg, id);
    const item = s.cart.find((i) => i.id === id);
    if (item) item.qty += qty; else s.cart.push({ id, name: p.name, qty });
    s.ui.added = `Added ${qty} × ${p.name} to your ${Synth.cfg.copy.cart.toLowerCase()}.`;
  }
})();
