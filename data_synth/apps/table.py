"""A data table (an inventory admin page): sort, search, status filter, pages, inline edit,
edit dialog, delete with confirmation."""

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
    press,
    template,
    then_join,
)
from data_synth.spec import PlanStep
from data_synth.validators import Check, eq, where

FAMILY = "table"


def _rows(ctx: Ctx, n: int) -> list[dict[str, Any]]:
    r = ctx.rng.child("rows")
    rows, names = [], set()
    base = r.int(1000, 8000)
    while len(rows) < n:
        cat = r.choice(sorted(lexicon.PRODUCTS))
        name = f"{r.choice(lexicon.COLOURS)} {r.choice(lexicon.PRODUCTS[cat])}"
        if name in names:
            continue
        names.add(name)
        stock = r.weighted((0, r.int(1, 9), r.int(10, 400)), (1, 2, 6))
        rows.append({"sku": f"SKU-{base + 7 * len(rows) + r.int(0, 6)}", "name": name, "category": cat,  # unique
                     "stock": stock, "price": round(r.int(3, 250) + r.choice((0.0, 0.5, 0.99)), 2)})
    return r.shuffled(rows)


def _app(ctx: Ctx, n: int) -> dict[str, Any]:
    r = ctx.rng.child("app")
    copy = {"title": r.choice(("Inventory", "Products", "Stock levels")), "search": r.choice(("Search SKU or name", "Search")),
            "status": "Status", "export": r.choice(("Export", "Download CSV")), "actions": "Actions",
            "showing": "Showing", "of": "of", "prev": "Previous page", "next": "Next page", "none": "No rows match.",
            "edit": "Edit", "stock": "Stock", "price": "Price", "save": r.choice(("Save", "Save changes", "Update")),
            "confirmTitle": "Delete item?", "confirmText": "This removes", "delete": r.choice(("Delete", "Remove"))}
    columns = [{"key": "sku", "label": "SKU", "sortable": True, "editable": False},
               {"key": "name", "label": r.choice(("Name", "Product")), "sortable": True, "editable": False},
               {"key": "category", "label": "Category", "sortable": True, "editable": False},
               {"key": "stock", "label": r.choice(("Stock", "In stock", "Qty")), "sortable": True, "editable": True},
               {"key": "price", "label": "Price", "sortable": True, "editable": True},
               {"key": "status", "label": "Status", "sortable": False, "editable": False}]
    return {"title": f"{copy['title']} — {lexicon.brand(r)}", "brand": lexicon.brand(r.child("brand")), "copy": copy,
            "currency": r.choice(("$", "€", "£")), "columns": columns, "pageSize": r.choice((8, 10)),
            "nav": ["Dashboard", copy["title"], "Orders", "Customers"],
            "state": base_state(rows=_rows(ctx, n), sort={"col": None, "dir": "asc"}, query="", status="All", page=1,
                                editing=None, dialog=None)}


def _col(app: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in app["columns"] if c["key"] == key)


def _row(sku: str, key: str, value: Any, what: str) -> Check:
    return eq(["rows", where(sku=sku), key], value, what)


def _edit_cell(app: dict[str, Any], sku: str, key: str, value: str) -> list[PlanStep]:
    label = _col(app, key)["label"]
    return [PlanStep(instruction=f"Double-click the {label} cell of {sku}", target=f"the {label} cell of {sku}",
                     selector=f'[data-sid="cell-{sku}-{key}"]', op="dblclick", changes_state=False),
            fill(f"{label} of {sku}", value, "edit-input", clear=True), press(["enter"], "the cell editor", "edit-input")]


@template(FAMILY, "sort", ("easy",), "sort the table by a column")
def sort(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 14)
    col = r.choice([c for c in app["columns"] if c["sortable"]])
    desc = r.chance(0.5)
    plan = [click(col["label"], f"sort-{col['key']}")] * (2 if desc else 1)
    checks = [eq(["sort"], {"col": col["key"], "dir": "desc" if desc else "asc"},
                 f"sorted by {col['label']} {'descending' if desc else 'ascending'}")]
    return Draft(then_join(plan), plan, checks, app, distractors=len(app["columns"]) - 1)


@template(FAMILY, "edit", ("medium",), "find a row and change its stock and price")
def edit(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 24)
    rows = app["state"]["rows"]
    row, other = r.sample(rows, 2)
    stock = r.choice([v for v in (0, 5, 12, 40, 75, 150) if v != row["stock"]])
    price = round(row["price"] + r.choice((-2.0, 1.5, 5.0, 10.0)), 2)
    price = price if price > 0 else row["price"] + 1
    c = app["copy"]
    plan = [fill(c["search"], row["sku"], "table-search"), *_edit_cell(app, row["sku"], "stock", str(stock)),
            click(f"Edit {row['sku']}", f"edit-{row['sku']}", changes_state=False),
            fill(c["price"], f"{price:.2f}", "modal-price", clear=True), click(c["save"], "modal-save")]
    checks = [_row(row["sku"], "stock", stock, f"{row['sku']} stock {stock}"),
              _row(row["sku"], "price", price, f"{row['sku']} price {price:.2f}"),
              _row(other["sku"], "stock", other["stock"], "other rows unchanged"), Check(path=["rows"], op="len", value=24)]
    instruction = f"Set the stock of {row['sku']} ({row['name']}) to {stock} and its price to {price:.2f}."
    return Draft(instruction, plan, checks, app, distractors=23, features=["search", "inline-edit", "modal"])


@template(FAMILY, "cleanup", ("hard",), "filter, delete, page through, edit and sort")
def cleanup(ctx: Ctx) -> Draft:
    r = ctx.rng
    app = _app(ctx, 30)
    c = app["copy"]
    rows = app["state"]["rows"]
    out = [x for x in rows if x["stock"] == 0] or rows[:1]
    gone = r.choice(out)
    gone["stock"] = 0
    # the row to edit sits on the last page of the unsorted table
    size = app["pageSize"]
    remaining = [x for x in rows if x is not gone]
    pages = -(-len(remaining) // size)
    target = r.choice(remaining[(pages - 1) * size:])
    value = r.choice([v for v in (3, 8, 25, 60) if v != target["stock"]])
    sort_col = r.choice(("name", "price"))
    plan = [open_menu(c["status"], "status-filter"), choose("Out of stock", "status-filter-opt-out-of-stock", changes_state=False),
            click(f"Delete {gone['sku']}", f"delete-{gone['sku']}", changes_state=False),
            click(c["delete"], "confirm-delete"), open_menu(c["status"], "status-filter"),
            choose("All", "status-filter-opt-all", changes_state=False),
            click(f"Page {pages}", f"page-{pages}", changes_state=False),
            *_edit_cell(app, target["sku"], "stock", str(value)),
            click(_col(app, sort_col)["label"], f"sort-{sort_col}")]
    checks = [Check(path=["rows", where(sku=gone["sku"])], op="absent", describe=f"{gone['sku']} deleted"),
              Check(path=["rows"], op="len", value=len(rows) - 1, describe="only that row deleted"),
              _row(target["sku"], "stock", value, f"{target['sku']} stock {value}"),
              eq(["sort"], {"col": sort_col, "dir": "asc"}, f"sorted by {sort_col}")]
    instruction = (f"Delete the out-of-stock item {gone['sku']}, set the stock of {target['sku']} (on the last page) to "
                   f"{value}, and finally sort the table by {_col(app, sort_col)['label']} ascending.")
    return Draft(instruction, plan, checks, app, distractors=29, scroll=True, nested_menus=True,
                 features=["filter", "delete", "confirm", "pagination", "inline-edit", "sort"])
