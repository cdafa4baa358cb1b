"""A web shop: catalogue (categories, search, sort), product page, cart, checkout."""

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
    slug,
    template,
    then_join,
)
from data_synth.rng import Rand
from data_synth.validators import Check, eq

FAMILY = "shop"
SHIP_VALUES = ("standard", "express", "overnight")


def _tint(hex_colour: str, amount: float = 0.82) -> str:
    """A pale background of the product's colour."""
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    mix = [round(c + (255 - c) * amount) for c in (r, g, b)]
    return "#" + "".join(f"{c:02x}" for c in mix)


def _products(r: Rand, categories: list[str], n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    while len(out) < n:
        cat = categories[len(out) % len(categories)]
        colour, noun = r.choice(lexicon.COLOURS), r.choice(lexicon.PRODUCTS[cat])
        name = f"{colour} {noun}"
        if name in names:
            continue
        names.add(name)
        out.append({
            "id": slug(name), "name": name, "category": cat,
            "price": round(r.int(4, 119) + r.choice((0.99, 0.5, 0.0, 0.49)), 2),
            "rating": r.int(30, 50) / 10, "reviews": r.int(3, 900), "swatch": lexicon.SWATCH[colour],
            "tint": _tint(lexicon.SWATCH[colour]), "round": r.chance(0.4),
            "badge": r.choice((None, None, None, "New", "Sale", "Bestseller")),
            "blurb": r.choice(("Made to last, easy to love.", "A customer favourite.", "Designed in small batches.",
                               "Everyday quality at a fair price.")),
        })
    return r.shuffled(out)


def _app(ctx: Ctx, cart: list[dict[str, Any]] | None = None, n_products: int | None = None) -> dict[str, Any]:
    r = ctx.rng.child("app")
    categories = sorted(r.sample(list(lexicon.PRODUCTS), 4 if ctx.level == "hard" else 3))
    n = n_products or {"easy": 8, "medium": 12, "hard": 16}[ctx.level]
    cart_word = r.choice(("Cart", "Bag", "Basket"))
    copy = {
        "cart": cart_word, "add": r.choice((f"Add to {cart_word.lower()}", "Add")),
        "search": r.choice(("Search products", "Search", "What are you looking for?")),
        "wishlist": r.choice(("Wishlist", "Saved items")), "categories": r.choice(("Categories", "Shop by category")),
        "allProducts": r.choice(("All products", "Shop all", "Everything")), "items": "items",
        "noResults": "No products match.", "sortBy": "Sort by", "viewCart": f"View {cart_word.lower()}",
        "back": r.choice(("Back to shop", "All products", "Back")), "quantity": "Quantity",
        "yourCart": f"Your {cart_word.lower()}", "item": "Item", "price": "Price", "total": "Total",
        "subtotal": "Subtotal", "checkout": r.choice(("Checkout", "Proceed to checkout", "Go to checkout")),
        "empty": f"Your {cart_word.lower()} is empty.", "continue": "Continue shopping",
        "checkoutTitle": "Checkout", "shipTo": r.choice(("Shipping address", "Deliver to")),
        "fullName": r.choice(("Full name", "Recipient")), "address": r.choice(("Address", "Street address")),
        "city": "City", "zip": r.choice(("ZIP code", "Postal code", "Postcode")),
        "method": r.choice(("Shipping method", "Delivery")), "placeOrder": r.choice(("Place order", "Pay now", "Complete purchase")),
        "summary": "Order summary", "thanks": r.choice(("Thank you for your order!", "Order placed")),
    }
    products = _products(r.child("products"), categories, n)
    return {
        "title": f"{lexicon.brand(r)} — shop", "brand": lexicon.brand(r.child("brand")),
        "currency": r.choice(("$", "€", "£")), "copy": copy, "categories": categories, "products": products,
        "cols": 3 if ctx.viewport[0] < 1300 else r.choice((3, 4)), "addStyle": r.choice(("text", "icon")),
        "filterStyle": r.choice(("side", "top")), "orderBase": r.int(100, 8000),
        "sorts": [{"value": "featured", "label": "Featured"}, {"value": "price-asc", "label": "Price: low to high"},
                  {"value": "price-desc", "label": "Price: high to low"}, {"value": "rating", "label": "Top rated"}],
        "shipping": [{"value": "standard", "label": "Standard", "price": 4.99, "days": "5–7 days"},
                     {"value": "express", "label": "Express", "price": 12.99, "days": "2 days"},
                     {"value": "overnight", "label": r.choice(("Overnight", "Next day")), "price": 24.99, "days": "1 day"}],
        "state": base_state(view="catalog", product=None, qty=1, filters={"category": "All", "query": "", "sort": "featured"},
                            cart=cart or [], wishlist=[], errors={},
                            checkout={"name": "", "address": "", "city": "", "zip": "", "shipping": "standard"},
                            orders=[], ui={"added": None}),
    }


def _cart_is(items: list[tuple[str, int]], describe: str, path: list[Any] | None = None) -> Check:
    return Check(path=path or ["cart"], op="items", keys=["name", "qty"],
                 value=[{"name": n, "qty": q} for n, q in items], describe=describe)


@template(FAMILY, "cart", ("easy", "medium"), "put products in the cart")
def cart(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx)
    c, products = app["copy"], app["products"]
    if ctx.level == "easy":
        p = products[r.int(0, min(app["cols"], len(products)) - 1)]  # on the first row: no scrolling
        plan = [click(p["name"], f"prod-{p['id']}", "", changes_state=False), click(c["add"], "add-to-cart")]
        return Draft(then_join(plan), plan, [_cart_is([(p["name"], 1)], f"the {c['cart'].lower()} holds 1 × {p['name']}")],
                     app, distractors=len(products) - 1)
    p, other = r.sample(products, 2)
    app["state"]["cart"] = [{"id": other["id"], "name": other["name"], "qty": 1}]
    cat = p["category"]
    plan = [click(cat, f"cat-{slug(cat)}", "link", changes_state=False),
            click(p["name"], f"prod-{p['id']}", "", changes_state=False),
            click("Increase quantity", "qty-inc"), click(c["add"], "add-to-cart"),
            click(c["cart"], "cart-button", changes_state=False),
            click(f"Remove {other['name']}", f"cart-remove-{other['id']}")]
    instruction = (f"Make the {c['cart'].lower()} hold exactly 2 × {p['name']} and nothing else. "
                   f"{p['name']} is in the {cat} category.")
    return Draft(instruction, plan, [_cart_is([(p["name"], 2)], f"the {c['cart'].lower()} holds only 2 × {p['name']}")],
                 app, distractors=len(products) - 1, features=["quantity", "remove", "category-filter"])


def _address(r: Rand) -> dict[str, str]:
    name, _ = lexicon.person(r)
    return {"name": name, "address": f"{r.int(2, 240)} {r.choice(lexicon.STREETS)}",
            "city": r.choice(lexicon.CITIES), "zip": f"{r.int(10000, 99999)}"}


def _checkout_steps(c: dict[str, str], to: dict[str, str], ship: dict[str, Any]) -> list:
    return [click(c["checkout"], "checkout", changes_state=False),
            fill(c["fullName"], to["name"], "ship-name"), fill(c["address"], to["address"], "ship-address"),
            fill(c["city"], to["city"], "ship-city"), fill(c["zip"], to["zip"], "ship-zip"),
            choose(ship["label"], f"shipping-{ship['value']}"), click(c["placeOrder"], "place-order")]


def _order_checks(items: list[tuple[str, int]], to: dict[str, str], ship: dict[str, Any]) -> list[Check]:
    return [Check(path=["orders"], op="len", value=1, describe="one order placed"),
            _cart_is(items, "the order holds " + ", ".join(f"{q} × {n}" for n, q in items), ["orders", 0, "items"]),
            eq(["orders", 0, "shipping"], ship["value"], f"{ship['label']} shipping"),
            *(eq(["orders", 0, k], v, f"{k} is {v}") for k, v in to.items())]


@template(FAMILY, "checkout", ("medium", "hard"), "buy products and check out with a shipping method")
def checkout(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx)
    c, products = app["copy"], app["products"]
    to = _address(r.child("address"))
    ship = r.choice(app["shipping"][1:])
    if ctx.level == "medium":
        a, b = r.sample(products, 2)
        app["state"]["cart"] = [{"id": a["id"], "name": a["name"], "qty": 1}, {"id": b["id"], "name": b["name"], "qty": 2}]
        plan = [click(c["cart"], "cart-button", changes_state=False), *_checkout_steps(c, to, ship)]
        items = [(a["name"], 1), (b["name"], 2)]
        instruction = (f"Check out the {c['cart'].lower()} with {ship['label']} shipping to {to['name']}, "
                       f"{to['address']}, {to['city']} {to['zip']}.")
        return Draft(instruction, plan, _order_checks(items, to, ship), app, features=["checkout", "form"])
    a, b, d = r.sample(products, 3)
    app["state"]["cart"] = [{"id": d["id"], "name": d["name"], "qty": 1}]
    query = b["name"].split()[-1]
    if sum(query.lower() in p["name"].lower() for p in products) > 3:
        query = b["name"]
    plan = [click(a["category"], f"cat-{slug(a['category'])}", "link", changes_state=False),
            click(a["name"], f"prod-{a['id']}", "", changes_state=False),
            click("Increase quantity", "qty-inc"), click(c["add"], "add-to-cart"),
            fill(c["search"], query, "search"), click(b["name"], f"prod-{b['id']}", "", changes_state=False),
            click(c["add"], "add-to-cart"), click(c["cart"], "cart-button", changes_state=False),
            click(f"Remove {d['name']}", f"cart-remove-{d['id']}"), *_checkout_steps(c, to, ship)]
    items = [(a["name"], 2), (b["name"], 1)]
    instruction = (f"Buy 2 × {a['name']} (in {a['category']}) and 1 × {b['name']} (search for it), without the "
                   f"{d['name']} already in the {c['cart'].lower()}; ship {ship['label']} to {to['name']}, "
                   f"{to['address']}, {to['city']} {to['zip']}.")
    return Draft(instruction, plan, _order_checks(items, to, ship), app, distractors=len(products) - 2, scroll=True,
                 features=["search", "quantity", "remove", "checkout", "form"])
