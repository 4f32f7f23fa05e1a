"""`fiber_tree`: the fibers of a `Trace` as a `Picture`, each fiber under its parent,
coloured by outcome and labelled with its lifetime, how it ended and its resources."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from ._effect_tree import RunIndex, resource_line
from ._story import fiber_label
from ._text import fmt_duration
from ._trace import FiberInfo, Trace
from ._tree_picture import (
    CATEGORY, MAX_NODES, MUTED, OUTCOME, Arrow, Box, Line, Picture, check_limit, clean, detail_line,
    SMALL, title_line, to_digraph,
)

if TYPE_CHECKING:
    from graphviz import Digraph  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = ["fiber_tree"]

MAX_CHILDREN: Final = 40  # children shown under one parent before summarising


def fiber_box(f: FiberInfo, index: RunIndex, name: str, root: bool) -> Box:
    fill, border, mark = OUTCOME[f.outcome]
    title = fiber_label(f, root) + (" \u00b7 daemon" if f.daemon else "")
    lines = [title_line(clean(title, 48))]
    if f.end is None:
        lines.append(detail_line(f"started {fmt_duration(f.start)} \u00b7 never ended"))
    else:
        lines.append(detail_line(f"{fmt_duration(f.start)} \u2192 {fmt_duration(f.end)} "
                                 f"({fmt_duration(round(f.end - f.start, 9))})"))
    if f.outcome == "success":
        outcome = f"{mark} success"
    elif f.outcome == "failure":
        outcome = f"{mark} failed: {clean(index.errors.get(f.id, '?'), 40)}"
    elif f.outcome == "interrupted":
        by = index.cancelled_by.get(f.id)
        outcome = f"{mark} interrupted" + (f" by #{by}" if isinstance(by, int) else
                                             f" by {clean(str(by), 20)}" if by else "")
    else:
        outcome = f"{mark} never ended"
    lines.append(Line(outcome, bold=True, color=border, size=SMALL))
    resources = index.resources.get(f.id, [])
    if resources:
        released = sum(r.released is not None for r in resources)
        lines.append(detail_line(f"resources: {len(resources)} acquired, {released} released"))
        for r in resources[:3]:
            lines.append(resource_line(r))
        if len(resources) > 3:
            lines.append(detail_line(f"\u2026 and {len(resources) - 3} more"))
    return Box(name, lines, fill, border, dashed=f.outcome is None, penwidth=1.6)


def build_fiber_tree(trace: Trace, max_nodes: int, max_children: int) -> Picture:
    index = RunIndex(trace)
    fibers = index.fiber_list
    by_id = {f.id: f for f in fibers}
    pic = Picture("fiber_tree")
    roots = [f for f in fibers if f.parent is None or f.parent not in by_id]
    queue: deque[tuple[FiberInfo, str | None]] = deque((f, None) for f in roots)
    held_back: dict[str | None, list[FiberInfo]] = {}
    while queue:
        f, parent = queue.popleft()
        if len(pic.boxes) >= max_nodes:
            held_back.setdefault(parent, []).append(f)
            continue
        name = f"f{f.id}"
        pic.boxes.append(fiber_box(f, index, name, parent is None))
        if parent is not None:
            pic.arrows.append(Arrow(parent, name))
        kids = [by_id[c] for c in f.children if c in by_id]
        for k, child in enumerate(kids):
            if k < max_children:
                queue.append((child, name))
            else:
                held_back.setdefault(name, []).append(child)
    for n, (parent, rest) in enumerate(held_back.items()):
        counts: dict[str, int] = {}
        for f in rest:
            key = f.outcome or "never ended"
            counts[key] = counts.get(key, 0) + 1
        name = f"more{n}"
        lines = [Line(f"\u2026 {len(rest):,} more fibers", bold=True, size=11.0, color=MUTED),
                 detail_line(", ".join(f"{v:,} {k}" for k, v in sorted(counts.items()))),
                 detail_line("(and their children)")]
        pic.boxes.append(Box(name, lines, CATEGORY["elided"][0], CATEGORY["elided"][1], dashed=True))
        if parent is not None:
            pic.arrows.append(Arrow(parent, name, dashed=True))
    total = len(fibers)
    pic.caption.append(
        f"{total:,} fiber{'s' if total != 1 else ''} \u00b7 {OUTCOME['success'][2]} success \u00b7 "
        f"{OUTCOME['failure'][2]} failure \u00b7 {OUTCOME['interrupted'][2]} interrupted \u00b7 "
        f"{OUTCOME[None][2]} never ended (dashed)")
    if trace.dropped:
        pic.caption.append(f"{trace.dropped:,} events dropped (a bounded recorder keeps the last ones)")
    if trace.truncated:
        pic.caption.append("truncated: the trace file ends early")
    if held_back:
        shown = sum(1 for b in pic.boxes if b.name.startswith("f"))
        pic.caption.append(f"showing {shown:,} of {total:,} fibers "
                           f"(max_nodes={max_nodes}, max_children={max_children})")
    return pic


def fiber_tree(trace: Trace, *, max_nodes: int = MAX_NODES, max_children: int = MAX_CHILDREN) -> Digraph:
    """The fibers of ``trace`` as a `graphviz.Digraph`: each fiber under its parent,
    coloured by outcome (green success, red failure, amber interrupted, grey dashed never
    ended), labelled with its name and id, lifetime, how it ended, and the resources it
    acquired (and whether they were released). At most ``max_children`` children are drawn
    under one fiber and ``max_nodes`` boxes in all; the rest are summarised with counts."""
    if not isinstance(trace, Trace):
        raise TypeError(f"fiber_tree expects a Trace, got {type(trace).__name__}")
    check_limit(max_nodes, "max_nodes")
    check_limit(max_children, "max_children")
    return to_digraph(build_fiber_tree(trace, max_nodes, max_children))
