// A data table (an inventory admin page): sort by column, search, status filter, pages,
// inline cell editing (double-click, Enter to save), an edit dialog and delete with confirm.
"use strict";
(function () {
  const status = (r) => (r.stock === 0 ? "Out of stock" : r.stock < 10 ? "Low stock" : "In stock");
  const tone = { "Out of stock": "bad", "Low stock": "warn", "In stock": "ok" };

  function visible(s, c) {
    const q = s.query.trim().toLowerCase();
    let rows = s.rows.filter((r) => (!q || r.sku.toLowerCase().includes(q) || r.name.toLowerCase().includes(q)) &&
      (s.status === "All" || status(r) === s.status));
    if (s.sort.col) {
      const k = s.sort.col;
      const d = s.sort.dir === "desc" ? -1 : 1;
      rows = rows.slice().sort((a, b) => (a[k] < b[k] ? -d : a[k] > b[k] ? d : 0));
    }
    return rows;
  }

  function cell(s, c, h, r, col) {
    const ed = s.editing;
    if (ed && s.ui.open === "edit" && ed.sku === r.sku && ed.col === col.key) {  // a click elsewhere closes it
      return `<td data-popup="edit">${h.field({ sid: "edit-input", label: `${col.label} of ${r.sku}`, hideLabel: true,
        bind: "editing.value", value: ed.value, enter: "commit", error: ed.error, fn: `type the new ${col.label.toLowerCase()}` })}</td>`;
    }
    const text = col.key === "price" ? `${c.currency}${r.price.toFixed(2)}` : col.key === "status"
      ? `<span class="pill ${tone[status(r)]}">${status(r)}</span>` : h.esc(r[col.key]);
    return `<td${h.attrs({ "data-sid": col.editable ? `cell-${r.sku}-${col.key}` : null, "data-dbl": col.editable ? "editCell" : null,
      "data-arg": col.editable ? `${r.sku}|${col.key}` : null, class: col.editable ? "editable" : null,
      title: col.editable ? "Double-click to edit" : null,
      "data-fn": col.editable ? `change the ${col.label.toLowerCase()} of ${r.name}` : null })}>${text}</td>`;
  }

  function table(s, c, h) {
    const t = c.copy;
    const rows = visible(s, c);
    const pages = Math.max(1, Math.ceil(rows.length / c.pageSize));
    const page = Math.min(s.page, pages);
    const shown = rows.slice((page - 1) * c.pageSize, page * c.pageSize);
    const head = c.columns.map((col) => {
      const sorted = s.sort.col === col.key ? s.sort.dir : null;
      return `<th${h.attrs({ "aria-sort": sorted ? (sorted === "asc" ? "ascending" : "descending") : "none" })}>` +
        (col.sortable ? h.button({ sid: `sort-${col.key}`, text: col.label, variant: "ghost", act: "sort", arg: col.key,
          cls: "th-btn", icon: "sort", fn: `sort by ${col.label.toLowerCase()}` }) : h.esc(col.label)) + `</th>`;
    }).join("") + `<th>${h.esc(t.actions)}</th>`;
    const body = shown.map((r, i) => `<tr data-row="${i + 1}" data-list="table">` +
      c.columns.map((col) => cell(s, c, h, r, col)).join("") + `<td class="row-actions">` +
      h.iconButton({ sid: `edit-${r.sku}`, label: `Edit ${r.sku}`, icon: "pencil", act: "openEdit", arg: r.sku,
        fn: `edit ${r.name}` }) +
      h.iconButton({ sid: `delete-${r.sku}`, label: `Delete ${r.sku}`, icon: "trash", tone: "danger", act: "askDelete", arg: r.sku,
        fn: `delete ${r.name}` }) + `</td></tr>`).join("");
    const pager = `<div class="row pager"><span class="muted">${h.esc(t.showing)} ${shown.length ? (page - 1) * c.pageSize + 1 : 0}–` +
      `${(page - 1) * c.pageSize + shown.length} ${h.esc(t.of)} ${rows.length}</span><span class="spacer"></span>` +
      h.iconButton({ sid: "page-prev", label: t.prev, icon: "chevron-left", act: "page", arg: String(page - 1), disabled: page <= 1,
        fn: "go to the previous page" }) +
      Array.from({ length: pages }, (_, i) => h.button({ sid: `page-${i + 1}`, text: String(i + 1), aria: `Page ${i + 1}`,
        variant: i + 1 === page ? "primary" : "ghost", act: "page", arg: String(i + 1), cls: "page-btn",
        fn: `go to page ${i + 1}` })).join("") +
      h.iconButton({ sid: "page-next", label: t.next, icon: "chevron-right", act: "page", arg: String(page + 1),
        disabled: page >= pages, fn: "go to the next page" }) + `</div>`;
    return `<div class="card table-card"><div class="row filters-row">` +
      h.field({ sid: "table-search", label: t.search, hideLabel: true, bind: "query", value: s.query, live: "searched",
        placeholder: t.search, prefix: h.icon("search", "tone-text"), cls: "search", fn: "search the table" }) +
      h.dropdown({ sid: "status-filter", label: t.status, path: "status", value: s.status, cls: "inline-dd",
        options: ["All", "In stock", "Low stock", "Out of stock"].map((x) => ({ value: x, label: x, fn: `show ${x.toLowerCase()} items` })),
        fn: "filter by stock status" }, s) +
      `<span class="spacer"></span>` + h.button({ sid: "export", text: t.export, icon: "download", variant: "secondary",
        act: "noop", fn: "download the table" }) + `</div>` +
      `<table class="data"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>` +
      (shown.length ? "" : `<p class="muted">${h.esc(t.none)}</p>`) + pager + `</div>`;
  }

  function modal(s, c, h) {
    const t = c.copy;
    if (s.ui.modal === "edit") {
      const r = s.rows.find((x) => x.sku === s.dialog.sku);
      return h.modal({ title: `${t.edit} ${r.sku}`, body: `<p class="muted">${h.esc(r.name)}</p>` +
        h.field({ sid: "modal-stock", label: t.stock, bind: "dialog.stock", value: s.dialog.stock, fn: "enter the stock level" }) +
        h.field({ sid: "modal-price", label: t.price, bind: "dialog.price", value: s.dialog.price, error: s.dialog.error,
          fn: "enter the price" }),
        foot: h.button({ sid: "modal-cancel", text: "Cancel", variant: "secondary", act: "modalClose", fn: "close without saving" }) +
          h.button({ sid: "modal-save", text: t.save, act: "saveEdit", fn: "save the row" }) });
    }
    if (s.ui.modal === "delete") {
      return h.modal({ title: t.confirmTitle, body: `<p>${h.esc(t.confirmText)} <b>${h.esc(s.dialog.sku)}</b>?</p>`,
        foot: h.button({ sid: "cancel-delete", text: "Cancel", variant: "secondary", act: "modalClose", fn: "keep the row" }) +
          h.button({ sid: "confirm-delete", text: t.delete, variant: "danger", act: "doDelete", fn: "delete the row for good" }) });
    }
    return "";
  }

  const num = (v) => (String(v).trim() === "" ? NaN : Number(String(v).replace(/[^0-9.\-]/g, "")));

  Synth.register({
    render(s, c, h) {
      return `<div class="shell"><header class="topbar"><div class="brand"><span class="logo"></span>${h.esc(c.brand)}</div>` +
        `<nav>${c.nav.map((n, i) => h.link({ sid: `nav-${h.slug(n)}`, text: n, act: "noop", current: i === 1, fn: `open ${n}` })).join("")}</nav>` +
        `<span class="spacer"></span>` + h.iconButton({ sid: "help", label: "Help", icon: "info", act: "noop", fn: "open help" }) +
        h.iconButton({ sid: "account", label: "Account", icon: "user", act: "noop", round: true, fn: "open your account" }) +
        `</header><main class="main"><div class="row"><h1>${h.esc(c.copy.title)}</h1></div>${table(s, c, h)}</main>` +
        modal(s, c, h) + h.toast(s) + `</div>`;
    },
    actions: {
      noop() {},
      searched(s) { s.page = 1; },
      sort(s, col) {
        s.sort = s.sort.col === col ? { col, dir: s.sort.dir === "asc" ? "desc" : "asc" } : { col, dir: "asc" };
      },
      page(s, n) { s.page = Math.max(1, Number(n)); s.editing = null; },
      editCell(s, arg) {
        const [sku, col] = arg.split("|");
        const r = s.rows.find((x) => x.sku === sku);
        s.editing = { sku, col, value: String(r[col]), error: null };
        s.ui.open = "edit";
        s.ui.focus = "edit-input";
      },
      commit(s) {
        const ed = s.editing;
        const v = num(ed.value);
        if (Number.isNaN(v) || v < 0 || (ed.col === "stock" && !Number.isInteger(v))) { ed.error = "Enter a valid number"; return; }
        s.rows.find((x) => x.sku === ed.sku)[ed.col] = v;
        s.editing = null;
        s.ui.open = null;
        s.ui.toast = "Saved";
      },
      openEdit(s, sku) {
        const r = s.rows.find((x) => x.sku === sku);
        s.dialog = { sku, stock: String(r.stock), price: r.price.toFixed(2), error: null };
        s.ui.modal = "edit";
      },
      saveEdit(s) {
        const d = s.dialog;
        const stock = num(d.stock), price = num(d.price);
        if (!Number.isInteger(stock) || stock < 0 || Number.isNaN(price) || price < 0) { d.error = "Check the numbers"; return; }
        const r = s.rows.find((x) => x.sku === d.sku);
        r.stock = stock;
        r.price = price;
        s.ui.modal = null;
        s.ui.toast = "Saved";
      },
      askDelete(s, sku) { s.dialog = { sku }; s.ui.modal = "delete"; },
      doDelete(s) { s.rows = s.rows.filter((x) => x.sku !== s.dialog.sku); s.ui.modal = null; s.ui.toast = "Deleted"; },
    },
  });
})();
