"""Accessible elements with their boxes, read over CDP as BrowserGym does: one
``DOMSnapshot.captureSnapshot`` for the layout boxes of every document (iframes included) and
one ``Accessibility.getFullAXTree`` per frame for roles and names, joined on the backend DOM
node id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cua.core import UIElement
from cua.core.geometry import Box

CssBox = tuple[float, float, float, float]  # x, y, width, height in viewport CSS pixels

# Roles kept even without a name (an empty text box is still a target).
_INTERACTIVE_ROLES = frozenset({
    "button", "link", "textbox", "searchbox", "combobox", "checkbox", "radio", "switch",
    "slider", "spinbutton", "option", "menuitem", "menuitemcheckbox", "menuitemradio", "tab",
    "treeitem", "listbox", "MenuListOption", "MenuListPopup",
})
# Structural roles that never are a target by themselves.
_SKIP_ROLES = frozenset({
    "RootWebArea", "WebArea", "InlineTextBox", "LineBreak", "Iframe", "IframePresentational",
    "none", "presentation",
})


def ax_elements(
    nodes: list[dict[str, Any]], boxes: dict[int, CssBox], viewport: tuple[int, int],
    device_scale_factor: float,
) -> Iterator[UIElement]:
    """The accessible elements worth grounding onto, boxes in screenshot pixels, clipped to
    the viewport."""
    vw, vh = viewport
    dsf = device_scale_factor
    for node in nodes:
        role = node.get("role", {}).get("value", "")
        name = " ".join(str(node.get("name", {}).get("value", "")).split())
        props = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
        if node.get("ignored") or role in _SKIP_ROLES:
            continue
        if not name and role not in _INTERACTIVE_ROLES:
            continue
        if role == "StaticText" and "editable" in props:
            continue  # the text inside a text box: the box itself carries it as value
        box = boxes.get(node.get("backendDOMNodeId", -1))
        if box is None:
            continue
        x1, y1 = max(box[0], 0.0), max(box[1], 0.0)
        x2, y2 = min(box[0] + box[2], vw), min(box[1] + box[3], vh)
        if x2 <= x1 or y2 <= y1:
            continue  # zero size or outside the viewport
        value = node.get("value", {}).get("value")
        if "checked" in props:
            value = str(props["checked"])
        yield UIElement(
            role=role, name=name, box=Box(x1=x1 * dsf, y1=y1 * dsf, x2=x2 * dsf, y2=y2 * dsf),
            focused=bool(props.get("focused")), editable="editable" in props,
            value=None if value is None else str(value),
        )


def snapshot_boxes(
    snap: dict[str, Any],
) -> tuple[dict[int, CssBox], list[str]]:
    """Viewport CSS boxes by backend node id over all documents, and each document's frame id.

    Layout bounds are relative to their document: subtract the document's scroll offset and,
    for an iframe's document, add where the iframe's content box lies in the viewport.
    """
    docs, strings = snap["documents"], snap["strings"]
    frame_origins: dict[int, tuple[float, float]] = {}  # viewport CSS origin of each iframe doc
    boxes: dict[int, CssBox] = {}
    stack = [0]
    while stack:
        d = stack.pop()
        doc = docs[d]
        layout, nodes = doc["layout"], doc["nodes"]
        bounds_of = dict(zip(layout["nodeIndex"], layout["bounds"]))
        inner_of = dict(zip(layout["nodeIndex"], layout["clientRects"]))
        content = nodes.get("contentDocumentIndex", {"index": [], "value": []})
        stack.extend(content["value"])
        ox, oy = -doc.get("scrollOffsetX", 0), -doc.get("scrollOffsetY", 0)
        if d in frame_origins:
            ox, oy = ox + frame_origins[d][0], oy + frame_origins[d][1]
        for node_idx, child in zip(content["index"], content["value"]):
            # the child document starts inside the iframe's border (clientRect = clientLeft/Top)
            fx, fy = bounds_of.get(node_idx, (0.0, 0.0))[:2]
            bx, by = (inner_of.get(node_idx) or (0.0, 0.0))[:2]
            frame_origins[child] = (ox + fx + bx, oy + fy + by)
        backend = nodes["backendNodeId"]
        for node_idx, (x, y, w, h) in bounds_of.items():
            boxes[backend[node_idx]] = (x + ox, y + oy, w, h)
    frames = [strings[doc["frameId"]] if "frameId" in doc else "" for doc in docs]
    return boxes, frames
