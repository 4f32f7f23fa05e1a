"""The timeline picture: a standalone, deterministic SVG drawn from a `Trace`.

One lane per fiber, in fiber-tree order; a bar from fork to exit coloured by outcome, paler
where the fiber was waiting; fork arrows (parent to child) and cancel arrows (canceller to
target); acquire/release markers; failures marked with their error; the scopes of zip_par,
race, for_each_par drawn as brackets around their children; a time axis in the trace's
clock; a legend. A renderer is a pure function of the trace: same trace, same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from ._events import visible

if TYPE_CHECKING:
    from ._events import TraceEvent
    from ._trace import FiberInfo, Trace

__all__ = ["to_svg"]

# Layout (pixels).
WIDTH: Final = 1100
LABEL_W: Final = 250
RIGHT_PAD: Final = 180
TOP: Final = 84
LANE_H: Final = 28
BAR_H: Final = 12
INDENT: Final = 14
# Siblings of one scope beyond this many are drawn as one summary lane.
MAX_SIBLINGS: Final = 24
# Lanes beyond this many are not drawn (the picture says how many were left out).
MAX_LANES: Final = 400

COLORS: Final = {
    "success": "#2f9e5f",
    "failure": "#d64545",
    "interrupted": "#e0892b",
    None: "#8d95a1",  # never ended
}
CANCEL: Final = "#c2410c"
FORK: Final = "#7b8794"
RESOURCE: Final = "#2563eb"
TEXT: Final = "#1f2933"
MUTED: Final = "#616e7c"
FONT: Final = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
MONO_CHAR_W: Final = 6.1  # width of one 10px monospace character
MONO: Final = "DejaVu Sans Mono, Menlo, Consolas, monospace"


def esc(text: object) -> str:
    """Escape text for XML content and attribute values (user text is only ever text);
    control and bidirectional formatting characters are shown as escapes (`visible`)."""
    s = visible(str(text))
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def num(x: float) -> str:
    """Fixed formatting of coordinates, so output is byte-identical across runs."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def fmt_time(seconds: float) -> str:
    if seconds == 0:
        return "0"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.3g}\u00b5s"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.3g}ms"
    return f"{seconds:.3g}s"


@dataclass
class Lane:
    """One row of the picture: a fiber, or a collapsed group of sibling fibers."""

    fiber: FiberInfo | None
    depth: int
    label: str
    start: float
    end: float | None
    outcome: str | None
    ids: list[int] = field(default_factory=list)  # fibers drawn on this lane
    note: str = ""


def nice_step(span: float, target_ticks: int = 8) -> float:
    raw = span / target_ticks
    power: float = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def build_lanes(fibers: list[FiberInfo]) -> tuple[list[Lane], dict[int, int], str]:
    """Lanes in tree order, collapsing large sibling groups; maps fiber id -> lane index."""
    by_id = {f.id: f for f in fibers}
    lanes: list[Lane] = []
    lane_of: dict[int, int] = {}
    collapsed = 0
    # Depth-first, iteratively: an entry is a fiber to draw, or a ready summary lane.
    stack: list[tuple[FiberInfo | Lane, int]] = [
        (f, 0) for f in reversed(fibers) if f.parent is None or f.parent not in by_id]
    while stack:
        item, depth = stack.pop()
        if len(lanes) >= MAX_LANES:
            continue
        if isinstance(item, Lane):
            for fid in item.ids:
                lane_of[fid] = len(lanes)
            lanes.append(item)
            continue
        f = item
        lane_of[f.id] = len(lanes)
        label = f.label if f.name or f.parent is not None else f"{f.label} main"
        lanes.append(Lane(f, depth, label, f.start, f.end, f.outcome, [f.id]))
        kids = [by_id[c] for c in f.children if c in by_id]
        if len(kids) > MAX_SIBLINGS:
            group = _summary_lane(kids[3:], depth + 1, by_id)
            collapsed += len(group.ids)
            stack.append((group, depth + 1))  # drawn after the first three siblings
            kids = kids[:3]
        stack.extend((k, depth + 1) for k in reversed(kids))
    notes = []
    if collapsed:
        notes.append(f"{collapsed} fibers drawn collapsed into summary lanes")
    if len(lane_of) < len(fibers):
        notes.append(f"{len(fibers) - len(lane_of)} fibers not drawn (lane limit {MAX_LANES})")
    return lanes, lane_of, "; ".join(notes)


def _summary_lane(rest: list[FiberInfo], depth: int, by_id: dict[int, FiberInfo]) -> Lane:
    """One lane for many siblings and all their descendants, with counts by outcome."""
    ends = [k.end for k in rest]
    lane = Lane(None, depth, "", min(k.start for k in rest),
                None if any(e is None for e in ends) else max(e for e in ends if e is not None), None, [])
    outcomes: dict[str, int] = {}
    todo = list(rest)
    while todo:
        k = todo.pop()
        lane.ids.append(k.id)
        key = k.outcome or "still running"
        outcomes[key] = outcomes.get(key, 0) + 1
        todo.extend(by_id[c] for c in k.children if c in by_id)
    counts = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
    lane.label = f"+{len(rest)} more: {short(rest[0].name or rest[0].label, 18)}…"
    lane.note = f"{len(lane.ids)} fibers collapsed: {counts}"
    lane.outcome = next((o for o in ("failure", "interrupted", "success") if o in outcomes), None)
    return lane


class _Canvas:
    """Geometry shared by the drawing steps, and the SVG being written."""

    def __init__(self, trace: Trace, width: int) -> None:
        self.trace = trace
        self.events = trace.events
        self.fibers = trace.fibers()  # one pass over the events; reused by every step
        self.lanes, self.lane_of, self.collapsed = build_lanes(self.fibers)
        self.t0 = min((e.ts for e in self.events), default=0.0)
        self.t1 = max((e.ts for e in self.events), default=0.0)
        self.span = self.t1 - self.t0 if self.t1 > self.t0 else 1.0
        self.width = width
        self.plot_x0 = LABEL_W
        self.plot_x1 = width - RIGHT_PAD
        self.out: list[str] = []

    def add(self, text: str) -> None:
        self.out.append(text)

    def x(self, ts: float) -> float:
        return self.plot_x0 + (ts - self.t0) / self.span * (self.plot_x1 - self.plot_x0)

    def y(self, lane: int) -> float:
        return TOP + lane * LANE_H + LANE_H / 2

    def rel(self, ts: float) -> str:
        return fmt_time(ts - self.t0)


def to_svg(trace: Trace, *, title: str | None = None, width: int = WIDTH) -> str:
    """The timeline of ``trace`` as a standalone SVG document (a string)."""
    c = _Canvas(trace, width)
    legend_y = TOP + len(c.lanes) * LANE_H + 44
    height = legend_y + 60
    c.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{num(height)}" '
          f'viewBox="0 0 {width} {num(height)}" font-family="{FONT}" font-size="12">')
    c.add(_DEFS)
    c.add(f'<rect width="{width}" height="{num(height)}" fill="#ffffff"/>')
    _header(c, title)
    _axis(c)
    _lanes(c)
    _scopes(c)
    _arrows_and_markers(c)
    _legend(c, legend_y)
    c.add("</svg>")
    return "\n".join(c.out) + "\n"


_DEFS: Final = (
    "<defs>"
    f'<marker id="fork-head" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">'
    f'<path d="M0,0 L8,4 L0,8 z" fill="{FORK}"/></marker>'
    f'<marker id="cancel-head" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" markerHeight="8" orient="auto">'
    f'<path d="M0,0 L8,4 L0,8 z" fill="{CANCEL}"/></marker>'
    "</defs>"
)


def _header(c: _Canvas, title: str | None) -> None:
    trace = c.trace
    heading = title if title is not None else _default_title(c.fibers)
    c.add(f'<text x="16" y="26" font-size="16" font-weight="bold" fill="{TEXT}">{esc(short(heading, 110))}</text>')
    clock = "virtual time (TestClock)" if trace.clock == "TestClock" else f"time ({trace.clock} clock)"
    sub = f"{len(c.fibers)} fibers, {len(c.events)} events, {clock}"
    if trace.dropped:
        sub += f"; {trace.dropped:,} events dropped (a bounded recorder keeps the last ones)"
    if trace.truncated:
        sub += "; truncated: the trace file ends early"
    if c.collapsed:
        sub += f"; {c.collapsed}"
    c.add(f'<text x="16" y="44" fill="{MUTED}">{esc(short(sub, 160))}</text>')


def _axis(c: _Canvas) -> None:
    step = nice_step(c.span)
    axis_y = TOP - 6
    bottom = TOP + len(c.lanes) * LANE_H
    c.add(f'<line x1="{c.plot_x0}" y1="{axis_y}" x2="{c.plot_x1}" y2="{axis_y}" stroke="#cbd2d9"/>')
    ticks = min(int(c.span / step + 1e-9) + 1, 200)
    for k in range(ticks):
        t = c.t0 + k * step
        tx = c.x(t)
        c.add(f'<line x1="{num(tx)}" y1="{axis_y - 4}" x2="{num(tx)}" y2="{num(bottom)}" stroke="#eef1f4"/>')
        c.add(f'<text x="{num(tx)}" y="{axis_y - 8}" text-anchor="middle" fill="{MUTED}" font-size="10">'
              f"{esc(c.rel(t))}</text>")


def _lanes(c: _Canvas) -> None:
    for i, lane in enumerate(c.lanes):
        y = c.y(i)
        if i % 2 == 0:
            c.add(f'<rect x="0" y="{num(y - LANE_H / 2)}" width="{c.width}" height="{LANE_H}" fill="#f8f9fb"/>')
        label_x = 16 + lane.depth * INDENT
        if lane.depth:
            c.add(f'<path d="M{num(label_x - 9)},{num(y - LANE_H / 2)} V{num(y)} H{num(label_x - 3)}" '
                  f'fill="none" stroke="#cbd2d9"/>')
        style = ' font-style="italic"' if lane.fiber is None else ""
        c.add(f'<text x="{num(label_x)}" y="{num(y + 4)}" fill="{TEXT}"{style}>'
              f"<title>{esc(lane.note or lane.label)}</title>{esc(short(lane.label, 30 - lane.depth))}</text>")
    waits = _waits(c.events, c.t1)
    for i, lane in enumerate(c.lanes):
        y = c.y(i)
        end = lane.end if lane.end is not None else c.t1
        color = COLORS.get(lane.outcome, COLORS[None])
        bx0 = c.x(lane.start)
        bx1 = max(c.x(end), bx0 + 2)
        # the whole life in a pale tint (waiting), the running stretches in full colour
        c.add(f"<g><title>{esc(_bar_title(lane, lane.label, c))}</title>"
              f'<rect x="{num(bx0)}" y="{num(y - BAR_H / 2)}" width="{num(bx1 - bx0)}" height="{BAR_H}" '
              f'rx="3" fill="{color}" fill-opacity="0.28" stroke="{color}" stroke-width="1"/>')
        fiber_waits = waits.get(lane.fiber.id, []) if lane.fiber is not None else []
        for rs, re_ in _running(lane.start, end, fiber_waits) if lane.fiber is not None else [(lane.start, end)]:
            rx0, rx1 = c.x(rs), max(c.x(re_), c.x(rs) + 1.5)
            c.add(f'<rect x="{num(rx0)}" y="{num(y - BAR_H / 2)}" width="{num(rx1 - rx0)}" height="{BAR_H}" '
                  f'rx="2" fill="{color}"' + (' fill-opacity="0.6"' if lane.fiber is None else "") + "/>")
        for ws, we, on in fiber_waits:
            if c.x(we) - c.x(ws) >= 6:
                tip = f"waiting on {on} from {c.rel(ws)} to {c.rel(we)}"
                c.add(f'<rect x="{num(c.x(ws))}" y="{num(y - BAR_H / 2)}" width="{num(c.x(we) - c.x(ws))}" '
                      f'height="{BAR_H}" fill="transparent"><title>{esc(tip)}</title></rect>')
        c.add("</g>")
        if lane.fiber is None:
            c.add(f'<text x="{num(bx1 + 6)}" y="{num(y + 4)}" fill="{MUTED}" font-size="10">{esc(short(lane.note, 60))}</text>')
        elif lane.end is None:
            c.add(f'<text x="{num(bx1 + 4)}" y="{num(y + 4)}" fill="{MUTED}" font-size="10">never ended</text>')


def _default_title(fibers: list[FiberInfo]) -> str:
    ids = {f.id for f in fibers}
    names = [f.name for f in fibers if f.name and (f.parent is None or f.parent not in ids)]
    return "effectpy timeline" + (f": {', '.join(names[:3])}" if names else "")


def _bar_title(lane: Lane, label: str, c: _Canvas) -> str:
    f = lane.fiber
    if f is None:
        return lane.note
    return (f"{label}: {f.outcome or 'never ended'}\n"
            f"forked at {c.rel(f.start)}" + (f" by #{f.parent}" if f.parent else "")
            + (f", ended at {c.rel(f.end)}" if f.end is not None else ""))


def _running(start: float, end: float, waits: list[tuple[float, float, str]]) -> list[tuple[float, float]]:
    """The stretches of [start, end] outside the waits (the waits are in time order)."""
    out: list[tuple[float, float]] = []
    t = start
    for ws, we, _ in waits:
        if ws > t:
            out.append((t, ws))
        t = max(t, we)
    if end > t:
        out.append((t, end))
    return out or [(start, start)]


def _waits(events: tuple[TraceEvent, ...], t_end: float) -> dict[int, list[tuple[float, float, str]]]:
    out: dict[int, list[tuple[float, float, str]]] = {}
    open_: dict[int, tuple[float, str]] = {}
    for e in events:
        if e.kind == "suspend":
            open_[e.fiber] = (e.ts, str(e.data.get("on", "")))
        elif e.kind in ("resume", "exit") and e.fiber in open_:
            start, on = open_.pop(e.fiber)
            out.setdefault(e.fiber, []).append((start, e.ts, on))
    for fid, (start, on) in open_.items():
        out.setdefault(fid, []).append((start, t_end, on))
    return out


def _scopes(c: _Canvas) -> None:
    """Brackets around the children forked inside each zip_par / race / ... scope."""
    open_scopes: dict[int, tuple[TraceEvent, list[int]]] = {}
    current: dict[int, int] = {}  # fiber -> the scope it is running
    for e in c.events:
        if e.kind == "scope_open" and e.data.get("kind") != "scoped":
            open_scopes[int(e.data["scope"])] = (e, [])
            current[e.fiber] = int(e.data["scope"])
        elif e.kind == "fork" and e.parent is not None and current.get(e.parent) in open_scopes:
            open_scopes[current[e.parent]][1].append(e.fiber)
        elif e.kind == "scope_close" and int(e.data.get("scope", -1)) in open_scopes:
            opened, kids = open_scopes.pop(int(e.data["scope"]))
            current.pop(e.fiber, None)
            rows = sorted({c.lane_of[k] for k in kids if k in c.lane_of})
            if not rows:
                continue
            y0 = c.y(rows[0]) - LANE_H / 2 + 2
            y1 = c.y(rows[-1]) + LANE_H / 2 - 2
            bx0 = c.x(opened.ts) - 5
            bx1 = c.x(e.ts) + 5
            kind = str(opened.data.get("kind"))
            tip = f"{kind} scope of #{opened.fiber}: {len(kids)} branches, {c.rel(opened.ts)} to {c.rel(e.ts)}"
            mid = (y0 + y1) / 2
            c.add(f"<g><title>{esc(tip)}</title>"
                  f'<path d="M{num(bx0 + 4)},{num(y0)} H{num(bx0)} V{num(y1)} H{num(bx0 + 4)} '
                  f'M{num(bx1 - 4)},{num(y0)} H{num(bx1)} V{num(y1)} H{num(bx1 - 4)}" fill="none" '
                  f'stroke="#9aa5b1" stroke-width="1.5"/>'
                  f'<text x="{num(bx0 - 3)}" y="{num(mid)}" font-size="9" fill="{MUTED}" text-anchor="middle" '
                  f'transform="rotate(-90 {num(bx0 - 3)} {num(mid)})">{esc(kind)}</text></g>')


# Marker kinds; on one lane, markers closer than this are spread out in event order, so
# the order of e.g. cancel -> release at the same instant stays visible.
MARKERS: Final = frozenset({"cancel", "acquire", "release", "fail", "die", "timeout", "retry"})
MARKER_GAP: Final = 14.0  # room for a marker and its short label ("r12")


def _arrows_and_markers(c: _Canvas) -> None:
    lanes, lane_of = c.lanes, c.lane_of
    last_marker: dict[int, float] = {}
    summary_forks: set[tuple[int, int]] = set()  # (lane, pixel) already drawn for a summary lane
    for e in c.events:
        lane = lane_of.get(e.fiber)
        if lane is None:
            continue
        y = c.y(lane)
        ex = c.x(e.ts)
        summary = lanes[lane].fiber is None  # a collapsed group: counts only, no markers
        if e.kind in MARKERS and not summary:
            previous = last_marker.get(lane)
            if previous is not None and ex < previous + MARKER_GAP:
                ex = previous + MARKER_GAP
            last_marker[lane] = ex
        if e.kind == "fork" and e.parent is not None and e.parent in lane_of:
            if summary:
                pixel = (lane, round(ex))
                if lane_of[e.parent] == lane or pixel in summary_forks:
                    continue  # one arrow per pixel is enough for a collapsed group
                summary_forks.add(pixel)
            py = c.y(lane_of[e.parent])
            c.add(f'<line x1="{num(ex)}" y1="{num(py + BAR_H / 2)}" x2="{num(ex)}" y2="{num(y - BAR_H / 2 - 1)}" '
                  f'stroke="{FORK}" stroke-width="1" marker-end="url(#fork-head)"/>')
        elif e.kind == "cancel" and not summary:
            who = f"#{e.by}" if isinstance(e.by, int) else str(e.by)
            tip = f"#{e.fiber} cancelled by {who} at {c.rel(e.ts)}: {e.data.get('reason', '')}"
            if isinstance(e.by, int) and e.by in lane_of and lane_of[e.by] != lane:
                by_y = c.y(lane_of[e.by])
                d = 1 if y > by_y else -1
                c.add(f'<line x1="{num(ex)}" y1="{num(by_y + d * BAR_H / 2)}" x2="{num(ex)}" '
                      f'y2="{num(y - d * (BAR_H / 2 + 1))}" stroke="{CANCEL}" stroke-width="1.5" '
                      f'stroke-dasharray="4 3" marker-end="url(#cancel-head)"><title>{esc(tip)}</title></line>')
            c.add(f'<g><title>{esc(tip)}</title><path d="M{num(ex - 4)},{num(y - 4)} L{num(ex + 4)},{num(y + 4)} '
                  f'M{num(ex + 4)},{num(y - 4)} L{num(ex - 4)},{num(y + 4)}" stroke="{CANCEL}" stroke-width="2.2"/></g>')
        elif e.kind in ("acquire", "release") and not summary:
            rid = e.data.get("resource")
            tip = (f"acquire r{rid} {e.data.get('value', '')} at {c.rel(e.ts)}" if e.kind == "acquire"
                   else f"release r{rid} at {c.rel(e.ts)} (the use ended: {e.data.get('exit')})")
            if e.kind == "acquire":
                mark = f'<circle cx="{num(ex)}" cy="{num(y - BAR_H / 2 - 4)}" r="3.5" fill="{RESOURCE}"/>'
            else:
                mark = (f'<rect x="{num(ex - 3.5)}" y="{num(y - BAR_H / 2 - 7.5)}" width="7" height="7" '
                        f'fill="#ffffff" stroke="{RESOURCE}" stroke-width="1.6"/>')
            c.add(f"<g><title>{esc(tip)}</title>{mark}"
                  f'<text x="{num(ex + 5)}" y="{num(y - BAR_H / 2 - 3)}" font-size="9" fill="{RESOURCE}">'
                  f"r{esc(rid)}</text></g>")
        elif e.kind in ("fail", "die") and not summary:
            error = str(e.data.get("error", e.kind))
            tip = f"{e.kind} at {c.rel(e.ts)}: {error}\n{e.data.get('cause', '')}"
            label = short(error, 40)
            # keep the label inside the picture: to the left of the marker if it would overflow
            fits = ex + 8 + MONO_CHAR_W * len(label) <= c.width - 4
            lx, anchor = (ex + 8, "start") if fits else (ex - 8, "end")
            c.add(f'<g><title>{esc(tip)}</title><circle cx="{num(ex)}" cy="{num(y)}" r="5.5" fill="#ffffff" '
                  f'stroke="{COLORS["failure"]}" stroke-width="2"/>'
                  f'<text x="{num(ex)}" y="{num(y + 3.5)}" text-anchor="middle" font-size="9" font-weight="bold" '
                  f'fill="{COLORS["failure"]}">!</text>'
                  f'<text x="{num(lx)}" y="{num(y + LANE_H / 2 - 2)}" text-anchor="{anchor}" font-size="10" '
                  f'font-family="{MONO}" fill="{COLORS["failure"]}">{esc(label)}</text></g>')
        elif e.kind == "retry" and not summary:
            tip = (f"retry #{e.data.get('attempt')} at {c.rel(e.ts)} after {e.data.get('error')}, "
                   f"next try in {_seconds(e.data.get('delay'))}")
            c.add(f'<g><title>{esc(tip)}</title><text x="{num(ex)}" y="{num(y - BAR_H / 2 - 2)}" '
                  f'text-anchor="middle" font-size="11" font-weight="bold" fill="{RESOURCE}">\u21bb</text></g>')
        elif e.kind == "timeout" and not summary:
            tip = f"timed out after {e.data.get('after')}s"
            c.add(f'<g><title>{esc(tip)}</title><circle cx="{num(ex)}" cy="{num(y - BAR_H / 2 - 4)}" r="4" '
                  f'fill="#ffffff" stroke="{CANCEL}" stroke-width="1.4"/><path d="M{num(ex)},{num(y - BAR_H / 2 - 6.5)} '
                  f'V{num(y - BAR_H / 2 - 4)} H{num(ex + 2)}" stroke="{CANCEL}" fill="none"/></g>')


def _seconds(value: object) -> str:
    """A delay from an event's data (a number, or null for never)."""
    return fmt_time(value) if isinstance(value, (int, float)) else "never"


def _legend(c: _Canvas, y: float) -> None:
    add = c.add
    add(f'<text x="16" y="{num(y - 14)}" font-weight="bold" fill="{TEXT}">Legend</text>')
    lx = 16
    for label, color in (("success", COLORS["success"]), ("failure", COLORS["failure"]),
                         ("interrupted", COLORS["interrupted"]), ("never ended", COLORS[None])):
        add(f'<rect x="{lx}" y="{num(y - 4)}" width="22" height="{BAR_H}" rx="3" fill="{color}"/>'
            f'<text x="{lx + 28}" y="{num(y + 6)}" fill="{TEXT}">{label}</text>')
        lx += 28 + 7 * len(label) + 18
    add(f'<rect x="{lx}" y="{num(y - 4)}" width="22" height="{BAR_H}" rx="3" fill="{COLORS["success"]}" '
        f'fill-opacity="0.28" stroke="{COLORS["success"]}"/>'
        f'<rect x="{lx}" y="{num(y - 4)}" width="7" height="{BAR_H}" rx="2" fill="{COLORS["success"]}"/>'
        f'<text x="{lx + 28}" y="{num(y + 6)}" fill="{TEXT}">pale: waiting, solid: running</text>')
    y2 = y + 24
    lx = 16
    add(f'<line x1="{lx + 6}" y1="{num(y2 - 8)}" x2="{lx + 6}" y2="{num(y2 + 6)}" stroke="{FORK}" marker-end="url(#fork-head)"/>'
        f'<text x="{lx + 16}" y="{num(y2 + 4)}" fill="{TEXT}">fork</text>')
    lx += 62
    add(f'<line x1="{lx + 6}" y1="{num(y2 - 8)}" x2="{lx + 6}" y2="{num(y2 + 6)}" stroke="{CANCEL}" stroke-width="1.5" '
        f'stroke-dasharray="4 3" marker-end="url(#cancel-head)"/>'
        f'<path d="M{lx + 14},{num(y2 - 4)} L{lx + 22},{num(y2 + 4)} M{lx + 22},{num(y2 - 4)} L{lx + 14},{num(y2 + 4)}" '
        f'stroke="{CANCEL}" stroke-width="2.2"/><text x="{lx + 28}" y="{num(y2 + 4)}" fill="{TEXT}">cancel</text>')
    lx += 92
    add(f'<circle cx="{lx + 6}" cy="{num(y2)}" r="3.5" fill="{RESOURCE}"/>'
        f'<text x="{lx + 14}" y="{num(y2 + 4)}" fill="{TEXT}">acquire</text>')
    lx += 76
    add(f'<rect x="{lx + 2.5}" y="{num(y2 - 3.5)}" width="7" height="7" fill="#ffffff" stroke="{RESOURCE}" stroke-width="1.6"/>'
        f'<text x="{lx + 16}" y="{num(y2 + 4)}" fill="{TEXT}">release</text>')
    lx += 76
    add(f'<circle cx="{lx + 6}" cy="{num(y2)}" r="5.5" fill="#ffffff" stroke="{COLORS["failure"]}" stroke-width="2"/>'
        f'<text x="{lx + 6}" y="{num(y2 + 3.5)}" text-anchor="middle" font-size="9" font-weight="bold" '
        f'fill="{COLORS["failure"]}">!</text><text x="{lx + 16}" y="{num(y2 + 4)}" fill="{TEXT}">failure</text>')
    lx += 76
    add(f'<circle cx="{lx + 6}" cy="{num(y2)}" r="4" fill="#ffffff" stroke="{CANCEL}" stroke-width="1.4"/>'
        f'<text x="{lx + 16}" y="{num(y2 + 4)}" fill="{TEXT}">timeout</text>')
    lx += 80
    add(f'<text x="{lx + 6}" y="{num(y2 + 4)}" text-anchor="middle" font-size="11" font-weight="bold" '
        f'fill="{RESOURCE}">\u21bb</text><text x="{lx + 16}" y="{num(y2 + 4)}" fill="{TEXT}">retry</text>')
    lx += 64
    add(f'<path d="M{lx + 4},{num(y2 - 6)} H{lx} V{num(y2 + 6)} H{lx + 4}" fill="none" stroke="#9aa5b1" stroke-width="1.5"/>'
        f'<text x="{lx + 10}" y="{num(y2 + 4)}" fill="{TEXT}">scope of zip_par, race, for_each_par</text>')
