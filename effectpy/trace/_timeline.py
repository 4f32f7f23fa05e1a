"""The timeline picture: a standalone, deterministic SVG drawn from a `Trace`.

One lane per fiber, in fiber-tree order (effectpy's internal fibers folded into their
owner's lane, large sibling groups drawn as one lane of counts over time); a bar from fork
to exit coloured by outcome, paler where the fiber was waiting and hatched from an
interruption to the end of its finalizers; fork and interruption arrows; glyphs for
acquires, releases, failures (hollow when caught), timeouts and retries, with labels placed
so that no two texts overlap (a label with no room left joins a "+n" count whose hover
lists it); the scopes of zip_par, race, for_each_par and timeout as brackets, offset by
nesting; each root's result at the end of its lane; each diagnostic of the trace flagged
where it happened (`_flags`); a time axis; the legend. The glyphs, colours and legend are
`_grammar`'s, which the widget shares. A renderer is a pure function
of the trace: same trace, same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ._grammar import (
    CANCEL, COLORS, DEFS, FORK, GLYPH_R, GROUP, LEGEND, LEGEND_INTERNAL, MUTED, RESOURCE, SCOPE,
    SWATCHES, TEXT, glyph,
)
from ._flags import draw_flags, label_flags, place_flags, wanted
from ._layout import ABOVE, BELOW, CENTER, NOTE_SIZE, Lane, Placer, build_lanes
from ._story import Mark, Story, title_of
from ._text import FONT, MONO, esc, fit, fmt_duration, num, one_line, text_box, text_width

if TYPE_CHECKING:
    from ._diagnose import Diagnostic
    from ._layout import Group
    from ._trace import Trace

__all__ = ["to_svg"]

# Layout (pixels).
WIDTH: Final = 1100
LABEL_W: Final = 250
RIGHT_PAD: Final = 200
TOP: Final = 96
LANE_H: Final = 38
GROUP_H: Final = 76
BAR_H: Final = 10
INDENT: Final = 14
LABEL_SIZE: Final = 12.0
LEGEND_SIZE: Final = 11.0
# The last pixels of each lane are kept for its "+n" count of labels that found no room.
OVERFLOW_W: Final = 48.0
MARKER_GAP: Final = 2 * GLYPH_R + 2  # least distance between two glyphs of a lane
FAN: Final = 4.0  # the offset between interruptions one fiber sends at one instant
FAN_MAX: Final = 36.0
FORK_REACH: Final = 12  # lanes: a fork arrow to a child further below its parent is a stub
HALO: Final = ' stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke"'


def nice_step(span: float, target_ticks: int = 8) -> float:
    # at least a nanosecond: a span far below it (even a subnormal one) gets one tick
    raw = max(span / max(target_ticks, 1), 1e-9)
    power: float = 10.0 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


class _Canvas:
    """Geometry shared by the drawing steps, the placer, and the SVG being written."""

    def __init__(self, trace: Trace, width: int, diagnostics: list[Diagnostic], *,
                 domain: tuple[float, float] | None = None, legend: bool = True,
                 also_shown: frozenset[str] = frozenset()) -> None:
        """``domain``: the times the x axis spans (by default the trace's); ``legend``:
        whether the picture ends with its legend, which also explains ``also_shown`` (the
        legend's keys for what a picture drawn with this one shows)."""
        self.story = story = Story(trace)
        self.trace = trace
        self.lanes, self.lane_of, self.left_out = build_lanes(story)
        y = float(TOP)
        for lane in self.lanes:
            lane.top = y
            lane.height = GROUP_H if lane.group is not None else LANE_H
            y += lane.height
        self.bottom = y
        self.t0, self.t1 = domain if domain is not None else (story.t0, story.t1)
        self.end = story.t1  # where this trace ends (the axis may go on: side_by_side)
        self.span = self.t1 - self.t0 if self.t1 > self.t0 else 1.0
        self.width = width
        self.plot_x0 = LABEL_W
        self.plot_x1 = width - RIGHT_PAD
        self.right = width - OVERFLOW_W  # labels stay left of the overflow counts
        self.shapes: list[str] = []  # lines, bars and glyphs, drawn under the texts
        self.texts: list[str] = []
        self.reach: dict[int, float] = {}  # lane -> where its bar and glyphs end (x)
        self.curves = {i: _Curves(self, lane.group) for i, lane in enumerate(self.lanes) if lane.group is not None}
        self.diagnostics = diagnostics
        self.legend_rows = _legend_rows(self, _shown(self) | also_shown) if legend else []
        self.legend_top = self.bottom + 30
        self.height = self.legend_top + 24 * len(self.legend_rows) + 14 if legend else self.bottom + 14
        self.place = Placer(width, self.height)

    def x(self, ts: float) -> float:
        return self.plot_x0 + (ts - self.t0) / self.span * (self.plot_x1 - self.plot_x0)

    def rel(self, ts: float) -> str:
        return fmt_duration(round(ts - self.t0, 9))

    def text(self, x: float, baseline: float, content: str, size: float, *, anchor: str = "start",
             fill: str = TEXT, bold: bool = False, mono: bool = False, tip: str = "",
             halo: bool = False, italic: bool = False, take: bool = False) -> None:
        """Write a text (``take``: and mark its box as used; placed labels are marked by
        the placer already)."""
        if take:
            self.place.take(text_box(x, baseline, content, size, anchor=anchor, bold=bold, mono=mono))
        attrs = f'x="{num(x)}" y="{num(baseline)}" font-size="{num(size)}" fill="{fill}"'
        if anchor != "start":
            attrs += f' text-anchor="{anchor}"'
        if bold:
            attrs += ' font-weight="bold"'
        if italic:
            attrs += ' font-style="italic"'
        if mono:
            attrs += f' font-family="{MONO}"'
        if halo:
            attrs += HALO
        title = f"<title>{esc(tip)}</title>" if tip else ""
        self.texts.append(f"<text {attrs}>{title}{esc(content)}</text>")


def to_svg(trace: Trace, *, title: str | None = None, width: int = WIDTH,
           diagnostics: object = True) -> str:
    """The timeline of ``trace`` as a standalone SVG document (a string), flagging
    ``diagnostics``: True, those of ``trace.diagnose()``; False, none; or a list of them."""
    c = _Canvas(trace, width, wanted(trace, diagnostics))
    draw(c, title)
    return document(width, c.height, [*c.shapes, *c.texts])


def draw(c: _Canvas, title: str | None) -> None:
    """Everything the canvas shows, into its shapes and texts."""
    _header(c, title)
    _axis(c)
    _lane_rows(c)
    marks = _marks(c)
    flags = place_flags(c, _arrow_ends(c, marks))
    _bars(c, marks)
    _groups(c)
    _arrows(c, marks)
    draw_flags(c, flags)
    _labels(c, marks, lambda missed: label_flags(c, flags, missed))
    _scopes(c)
    if c.legend_rows:
        _legend(c, c.legend_rows, c.legend_top)


def document(width: int, height: float, body: list[str]) -> str:
    """A standalone SVG document of ``body`` (the timeline's patterns and arrowheads defined)."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{num(height)}" '
           f'viewBox="0 0 {width} {num(height)}" font-family="{FONT}" font-size="12">',
           "<defs>" + DEFS + _ARROWHEADS + "</defs>",
           f'<rect width="{width}" height="{num(height)}" fill="#ffffff"/>']
    out.extend(body)
    out.append("</svg>")
    return "\n".join(out) + "\n"


_ARROWHEADS: Final = (
    '<marker id="eptl-fork" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" markerHeight="7" orient="auto">'
    f'<path d="M0,0 L8,4 L0,8 z" fill="{FORK}"/></marker>'
    '<marker id="eptl-cancel" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="8" markerHeight="8" orient="auto">'
    f'<path d="M0,0 L8,4 L0,8 z" fill="{CANCEL}"/></marker>'
)


def _header(c: _Canvas, title: str | None) -> None:
    heading = fit(one_line(title_of(c.story.fibers, title)), 16, c.width - 32, bold=True)
    c.text(16, 28, heading, 16, bold=True, take=True)
    trace = c.trace
    clock = "virtual time (TestClock)" if trace.clock == "TestClock" else f"time ({trace.clock} clock)"
    shown = sum(1 for f in c.story.fibers if f.id not in c.story.owner)
    sub = f"{shown:,} fibers, {len(c.story.events):,} events, {clock}"
    folded = len(c.story.owner)
    if folded:
        sub += f"; {folded} internal {'fiber' if folded == 1 else 'fibers'} folded into their owners' lanes"
    grouped = sum(len(lane.group.ids) for lane in c.lanes if lane.group is not None)
    if grouped:
        sub += f"; {grouped:,} fibers drawn as group lanes"
    if c.left_out:
        sub += f"; {c.left_out:,} fibers not drawn (at most {len(c.lanes)} lanes)"
    if trace.dropped:
        sub += f"; {trace.dropped:,} events dropped (a bounded recorder keeps the last ones)"
    if trace.truncated:
        sub += "; truncated: the trace file ends early"
    c.text(16, 47, fit(sub, 11, c.width - 32), 11, fill=MUTED, tip=sub, take=True)


def _axis(c: _Canvas) -> None:
    axis_y = TOP - 8
    c.shapes.append(f'<line x1="{c.plot_x0}" y1="{axis_y}" x2="{c.plot_x1}" y2="{axis_y}" stroke="#cbd2d9"/>')
    plot = c.plot_x1 - c.plot_x0
    target = 8
    while True:  # as many ticks as fit, their labels never touching
        step = nice_step(c.span, target)
        ticks = min(int(c.span / step + 1e-9) + 1, 200)
        widest = max(text_width(c.rel(c.t0 + k * step), NOTE_SIZE) for k in range(ticks))
        if target == 1 or step / c.span * plot >= widest + 14:
            break
        target -= 1
    for k in range(ticks):
        tx = c.x(c.t0 + k * step)
        c.shapes.append(f'<line x1="{num(tx)}" y1="{axis_y - 4}" x2="{num(tx)}" y2="{num(c.bottom)}" stroke="#eef1f4"/>')
        label = c.rel(c.t0 + k * step)
        if c.place.place(label, NOTE_SIZE, [(tx, axis_y - 6, "middle")]) is not None:
            c.text(tx, axis_y - 6, label, NOTE_SIZE, anchor="middle", fill=MUTED)


def _lane_rows(c: _Canvas) -> None:
    """The stripes, and the labels in the left column (with their tree lines)."""
    for i, lane in enumerate(c.lanes):
        if i % 2 == 0:
            c.shapes.append(f'<rect x="0" y="{num(lane.top)}" width="{c.width}" height="{num(lane.height)}" fill="#f8f9fb"/>')
        mid = lane.mid
        x = 16 + lane.depth * INDENT
        if lane.depth:
            c.shapes.append(f'<path d="M{num(x - 9)},{num(lane.top)} V{num(mid)} H{num(x - 3)}" fill="none" stroke="#cbd2d9"/>')
        room = float(LABEL_W - 10 - x)
        badge = ""
        if lane.internal:
            badge = f"\u2699 {len(lane.internal)}"
            room -= text_width(badge, NOTE_SIZE) + 6
            names = ", ".join(c.story.labels[f] for f in lane.internal)
            c.text(LABEL_W - 10, mid + 4, badge, NOTE_SIZE, anchor="end", fill=MUTED,
                   tip=f"internal fibers folded into this lane: {names}", take=True)
        baseline = mid + 4 if lane.group is None else mid - 10
        label = fit(one_line(lane.label), LABEL_SIZE, room)
        c.text(x, baseline, label, LABEL_SIZE, tip=one_line(lane.label), italic=lane.group is not None, take=True)
        if lane.group is not None:  # two more lines: how they ended, and the most at once
            for line, y in zip(c.curves[i].words, (mid + 5, mid + 19)):
                c.text(x, y, fit(line, NOTE_SIZE, LABEL_W - 10 - x), NOTE_SIZE, fill=MUTED, tip=line, take=True)


# --- glyphs ------------------------------------------------------------------------------


class _Placed:
    """A mark where it is drawn."""

    __slots__ = ("mark", "x", "lane")

    def __init__(self, mark: Mark, x: float, lane: int) -> None:
        self.mark, self.x, self.lane = mark, x, lane


def _marks(c: _Canvas) -> list[_Placed]:
    """Where each glyph goes: at its time; interruptions one fiber sends at one instant fan
    out; on one lane, glyphs closer than MARKER_GAP are spread out in event order."""
    batch: dict[tuple[int | None, float], int] = {}
    sizes: dict[tuple[int | None, float], int] = {}
    for m in c.story.marks:
        if m.kind == "cancel" and isinstance(m.by, int):
            sizes[(m.by, m.ts)] = sizes.get((m.by, m.ts), 0) + 1
    last: dict[int, float] = {}
    out: list[_Placed] = []
    for m in c.story.marks:
        lane = c.lane_of.get(m.fiber)
        if lane is None or c.lanes[lane].group is not None:
            continue
        x = c.x(m.ts)
        if m.kind == "cancel" and isinstance(m.by, int):
            key = (m.by, m.ts)
            k = batch[key] = batch.get(key, -1) + 1
            x += k * min(FAN, FAN_MAX / max(sizes[key] - 1, 1))
        previous = last.get(lane)
        if previous is not None and x < previous + MARKER_GAP:
            x = previous + MARKER_GAP
        last[lane] = x
        out.append(_Placed(m, x, lane))
        mid = c.lanes[lane].mid
        c.place.take((x - GLYPH_R, mid - GLYPH_R, x + GLYPH_R, mid + GLYPH_R))
    return out


def _bars(c: _Canvas, marks: list[_Placed]) -> None:
    """Each fiber's bar (pale while it waits), hatched while it releases."""
    reach: dict[int, float] = {}  # lane -> the x of its last glyph
    for p in marks:
        reach[p.lane] = max(reach.get(p.lane, 0.0), p.x)
    story = c.story
    for i, lane in enumerate(c.lanes):
        f = lane.fiber
        if f is None:
            continue
        mid = lane.mid
        end = f.end if f.end is not None else c.end
        color = COLORS.get(f.outcome, COLORS[None])
        bx0 = c.x(f.start)
        bx1 = max(c.x(end), bx0 + 2)
        releasing = story.releasing(f.id)
        rx1 = bx1
        if releasing is not None and i in reach:
            rx1 = max(bx1, reach[i] + GLYPH_R)  # a cleanup at one instant still has its width
        c.reach[i] = max(rx1, reach.get(i, 0.0) + GLYPH_R)
        tip = _bar_tip(c, lane)
        parts = [f"<g><title>{esc(tip)}</title>"
                 f'<rect x="{num(bx0)}" y="{num(mid - BAR_H / 2)}" width="{num(rx1 - bx0)}" height="{BAR_H}" '
                 f'rx="3" fill="{color}" fill-opacity="0.28" stroke="{color}" stroke-width="1"/>']
        waits = story.waits.get(f.id, [])
        for rs, re_ in _running(f.start, end, waits):
            x0, x1 = c.x(rs), max(c.x(re_), c.x(rs) + 1.5)
            parts.append(f'<rect x="{num(x0)}" y="{num(mid - BAR_H / 2)}" width="{num(x1 - x0)}" '
                         f'height="{BAR_H}" rx="2" fill="{color}"/>')
        if releasing is not None:
            x0 = c.x(releasing[0])
            parts.append(f'<rect x="{num(x0)}" y="{num(mid - BAR_H / 2 - 1)}" width="{num(max(rx1 - x0, 3))}" '
                         f'height="{BAR_H + 2}" rx="2" fill="url(#eptl-releasing)" stroke="{COLORS["interrupted"]}">'
                         f"<title>{esc(_releasing_tip(c, f.id, releasing))}</title></rect>")
        parts.append("</g>")
        c.shapes.append("".join(parts))
        c.place.take((bx0, mid - BAR_H / 2 - 1, rx1, mid + BAR_H / 2 + 1))


def _bar_tip(c: _Canvas, lane: Lane) -> str:
    f = lane.fiber
    assert f is not None
    parent = f" by {c.story.labels.get(f.parent, f'#{f.parent}')}" if f.parent is not None else ""
    tip = f"{lane.label}: {f.outcome or 'never ended'}\nforked at {c.rel(f.start)}{parent}"
    if f.end is not None:
        tip += f", ended at {c.rel(f.end)} (after {fmt_duration(round(f.end - f.start, 9))})"
    if lane.internal:
        tip += "\ninternal fibers folded here: " + ", ".join(c.story.labels[i] for i in lane.internal)
    return tip


def _releasing_tip(c: _Canvas, fid: int, span: tuple[float, float]) -> str:
    released = [m.text for m in c.story.marks if m.fiber == fid and m.kind == "release" and span[0] <= m.ts <= span[1]]
    what = f": releasing {', '.join(released)}" if released else ""
    return (f"{c.story.labels[fid]} interrupted at {c.rel(span[0])}, finalizers ran until "
            f"{c.rel(span[1])} ({fmt_duration(round(span[1] - span[0], 9))}){what}")


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


class _Curves:
    """A group's fibers over time, per pixel column where something happened: the most that
    ran at once in the column, how many ran at its end, and how many had finished by then,
    by outcome (success, failure, interrupted)."""

    def __init__(self, c: _Canvas, group: Group) -> None:
        columns = int(c.plot_x1 - c.plot_x0)
        changes = sorted([(m.start, 1, 0) for m in group.members]
                         + [(m.end, -1, _FINISHED.get(m.outcome or "", 2)) for m in group.members if m.end is not None])
        self.points: list[tuple[int, int, int, tuple[int, int, int]]] = []
        finished = [0, 0, 0]
        live = peak = 0
        column = -1
        for t, d, outcome in changes:  # at one instant, ends (-1) come before starts
            k = min(columns, max(0, int((t - c.t0) / c.span * columns)))
            if k != column:
                if column >= 0:
                    self.points.append((column, peak, live, (finished[0], finished[1], finished[2])))
                column, peak = k, live
            live += d
            if d < 0:
                finished[outcome] += 1
            peak = max(peak, live)
        if column >= 0:
            self.points.append((column, peak, live, (finished[0], finished[1], finished[2])))
        self.peak = max((p[1] for p in self.points), default=0)
        counts = dict(zip(("success", "failure", "interrupted"), finished))
        counts["running"] = live
        words = [f"{counts[k]:,} {w}" for k, w in (("success", "success"), ("failure", "failed"),
                                                     ("interrupted", "interrupted"), ("running", "running"))
                 if counts[k]]
        self.words = (", ".join(words), f"at most {self.peak:,} at once")


_FINISHED: Final = {"success": 0, "failure": 1, "interrupted": 2}


def _groups(c: _Canvas) -> None:
    """A group lane: how many of its fibers run (above) and how many have finished, by
    outcome (below), over time, as steps at pixel resolution; a bound on parallelism shows
    as a plateau."""
    x0, x1 = c.plot_x0, c.plot_x1
    for i, lane in enumerate(c.lanes):
        group = lane.group
        if group is None:
            continue
        curves = c.curves[i]
        n = len(group.members)
        h = lane.height / 2 - 8
        run_base = lane.top + 6 + h
        done_base = lane.mid + 2 + h
        xs: list[float] = []
        values: list[float] = []
        for k, peak, after, _ in curves.points:
            xs += [float(x0 + k), float(x0 + k + 1)]
            values += [peak, after]
        top = max(curves.peak, 1)
        title = f"<title>{esc(lane.label + ': ' + '; '.join(curves.words))}</title>"
        c.shapes.append(f'<g>{title}<path d="{_area(xs, values, [0.0] * len(values), x0, x1, run_base, h / top)}" '
                        f'fill="{GROUP}" fill-opacity="0.35" stroke="{GROUP}" stroke-width="1"/>')
        ends = [float(x0 + k) for k, _, _, _ in curves.points]
        below = [0.0] * len(ends)
        for outcome, idx in _FINISHED.items():
            upper = [b + p[3][idx] for b, p in zip(below, curves.points)]  # stacked on the one below
            if upper != below:
                c.shapes.append(f'<path d="{_area(ends, upper, below, x0, x1, done_base, h / n)}" '
                                f'fill="{COLORS[outcome]}" fill-opacity="0.8"/>')
            below = upper
        c.shapes.append(f'<rect x="{num(x0)}" y="{num(done_base - h)}" width="{num(x1 - x0)}" height="{num(h)}" '
                        f'fill="none" stroke="#d9dee4"/></g>')
        c.place.take((x0, lane.top + 4, x1, lane.top + lane.height - 4))


def _area(xs: list[float], upper: list[float], lower: list[float], x0: float, x1: float,
          base: float, scale: float) -> str:
    """The path of the area between two step lines that change at ``xs`` (0 before the
    first change; at ``xs[i]`` they become ``upper[i]`` and ``lower[i]``), from x0 to x1."""
    out = [f"M{num(x0)},{num(base)}"]
    for x, v in zip(xs, upper):
        out.append(f"H{num(x)}V{num(base - v * scale)}")
    out.append(f"H{num(x1)}V{num(base - (lower[-1] if lower else 0) * scale)}")
    for i in range(len(xs) - 1, -1, -1):
        out.append(f"H{num(xs[i])}V{num(base - (lower[i - 1] if i else 0) * scale)}")
    out.append(f"H{num(x0)}Z")
    return "".join(out)


def _arrow_ends(c: _Canvas, marks: list[_Placed]) -> dict[int, list[float]]:
    """Lane -> the x of each fork or interruption arrow `_arrows` brings down to it."""
    ends: dict[int, list[float]] = {}
    for ts, parent, child in c.story.forks:
        lane, top = c.lane_of.get(child), c.lane_of.get(parent)
        if lane is not None and top is not None and lane != top and c.lanes[lane].group is None:
            ends.setdefault(lane, []).append(c.x(ts))
    for p in marks:
        m = p.mark
        if m.kind == "cancel" and isinstance(m.by, int) and m.by in c.lane_of and c.lane_of[m.by] != p.lane:
            ends.setdefault(p.lane, []).append(p.x)
    return ends


def _arrows(c: _Canvas, marks: list[_Placed]) -> None:
    """Fork arrows (parent to child, one per group) and interruption arrows (canceller to
    target), under the glyphs."""
    for ts, parent, child in c.story.forks:
        lane = c.lane_of.get(child)
        top = c.lane_of.get(parent)
        if lane is None or top is None or lane == top:
            continue
        group = c.lanes[lane].group
        if group is not None and child != group.members[0].id:
            continue  # one arrow for a whole group
        x = c.x(ts)
        cy = c.lanes[lane].mid if group is None else c.lanes[lane].top + 4
        y2 = cy - BAR_H / 2 - 1
        # from the parent's bar; from a child far below its parent, a stub (the tree lines
        # on the left say whose child it is), so that many children draw no wall of lines
        far = lane - top > FORK_REACH
        y1 = y2 - 14 if far else c.lanes[top].mid + BAR_H / 2
        dash = ' stroke-dasharray="2 2"' if far else ""
        c.shapes.append(f'<line x1="{num(x)}" y1="{num(y1)}" x2="{num(x)}" y2="{num(y2)}" '
                        f'stroke="{FORK}" stroke-width="1"{dash} marker-end="url(#eptl-fork)"/>')
    for p in marks:
        m = p.mark
        if m.kind != "cancel" or not isinstance(m.by, int) or m.by not in c.lane_of or c.lane_of[m.by] == p.lane:
            continue
        by_y = c.lanes[c.lane_of[m.by]].mid
        y = c.lanes[p.lane].mid
        d = 1 if y > by_y else -1
        c.shapes.append(f'<line x1="{num(p.x)}" y1="{num(by_y + d * BAR_H / 2)}" x2="{num(p.x)}" '
                        f'y2="{num(y - d * (GLYPH_R + 1))}" stroke="{CANCEL}" stroke-width="1.5" '
                        f'stroke-dasharray="4 3" marker-end="url(#eptl-cancel)"><title>{esc(c.story.tip(m))}</title></line>')
    for p in marks:
        c.shapes.append(f"<g><title>{esc(c.story.tip(p.mark))}</title>{glyph(p.mark.kind, p.x, c.lanes[p.lane].mid)}</g>")


# Labels are placed in this order (what matters most first).
_ORDER: Final = {"fail": 0, "die": 0, "caught": 1, "release": 2, "acquire": 4}


def _labels(c: _Canvas, marks: list[_Placed], flags: Callable[[dict[int, list[tuple[float, str]]]], None]) -> None:
    """The labels: each lane's last words, then ``flags`` places the diagnostics' words,
    then the marks' labels, most important first; "+n" counts for those with no room."""
    story = c.story
    right = c.right
    missed: dict[int, list[tuple[float, str]]] = {}  # lane -> (x, label) that found no room
    roots = {f.id for f in story.roots}
    # first each lane's last words: a root's result, or that the fiber never ended
    for i, lane in enumerate(c.lanes):
        f = lane.fiber
        if f is None:
            continue
        root = f.id in roots
        if not root and f.end is not None:
            continue
        text, outcome = story.result(f.id)
        if not root:
            text = "never ended"
        x = c.reach.get(i, c.x(f.end or c.end)) + 6
        mid = lane.mid
        color = COLORS.get(outcome, MUTED) if outcome != "success" else TEXT
        shown = fit(one_line(text), NOTE_SIZE, right - x, bold=root)
        spot = None
        if shown and (shown == text or len(shown) > 12):
            spot = c.place.place(shown, NOTE_SIZE, [(x, mid + CENTER, "start")], right=right, bold=root)
        if spot is None:
            shown = fit(one_line(text), NOTE_SIZE, right - c.plot_x0, bold=root)
            spot = c.place.place(shown, NOTE_SIZE, [(right, mid + BELOW, "end"), (right, mid + ABOVE, "end")],
                                 right=right, bold=root)
        if spot is not None:
            c.text(spot[0], spot[1], shown, NOTE_SIZE, anchor=spot[2], fill=color, bold=root,
                   tip=f"{story.labels[f.id]}: {text}", halo=True)
        else:
            missed.setdefault(i, []).append((x, text))
    flags(missed)
    # (a root's unhandled failure is its result, written at the end of its lane)
    ordered = sorted((p for p in marks if p.mark.text and p.mark.kind in _ORDER
                      and not (p.mark.kind in ("fail", "die") and p.mark.fiber in roots)),
                     key=lambda p: (_ORDER[p.mark.kind], p.mark.seq))
    for p in ordered:
        m = p.mark
        mid = c.lanes[p.lane].mid
        failure = m.kind in ("fail", "die", "caught")
        text = one_line(m.text)
        size = NOTE_SIZE
        shown = fit(text, size, 330, mono=failure)
        g = GLYPH_R + 2
        if failure:
            spots = [(p.x - g, mid + BELOW, "start"), (p.x + g, mid + BELOW, "end"),
                     (p.x - g, mid + ABOVE, "start"), (p.x + g, mid + ABOVE, "end")]
        else:
            spots = [(p.x + g, mid + ABOVE, "start"), (p.x - g, mid + ABOVE, "end"),
                     (p.x + g, mid + BELOW, "start"), (p.x - g, mid + BELOW, "end")]
        spot = c.place.place(shown, size, spots, right=right, mono=failure)
        if spot is None:
            missed.setdefault(p.lane, []).append((p.x, text))
            continue
        color = (COLORS["failure"] if m.kind in ("fail", "caught") else "#9b1c1c" if m.kind == "die"
                 else RESOURCE)
        c.text(spot[0], spot[1], shown, size, anchor=spot[2], fill=color, mono=failure, tip=c.story.tip(m), halo=True)
    for i, items in missed.items():
        _count(c, i, items)


def _count(c: _Canvas, lane_index: int, items: list[tuple[float, str]]) -> None:
    """Labels that found no room: a "+n" near the first of them, or at the lane's end."""
    mid = c.lanes[lane_index].mid
    tip = "\n".join(text for _, text in items)
    label = f"+{len(items)}"
    x = items[0][0]
    spot = c.place.place(label, NOTE_SIZE, [(x + GLYPH_R + 2, mid + ABOVE, "start"), (x - GLYPH_R - 2, mid + ABOVE, "end"),
                                            (x + GLYPH_R + 2, mid + BELOW, "start"), (x - GLYPH_R - 2, mid + BELOW, "end")],
                         right=c.right, bold=True)
    take = spot is None
    if spot is None:  # the column kept for these counts is always free
        spot = (c.width - 6, mid + CENTER, "end")
    c.text(spot[0], spot[1], label, NOTE_SIZE, anchor=spot[2], fill=MUTED, bold=True,
           tip=f"{len(items)} labels with no room here:\n{tip}", halo=True, take=take)


def _scopes(c: _Canvas) -> None:
    """A bracket around the lanes of each scope's children, offset by its nesting level,
    its kind written by its top corner."""
    for scope in c.story.scopes:
        rows = sorted({c.lane_of[k] for k in scope.children if k in c.lane_of and k not in c.story.owner})
        if not rows:
            continue
        last = max(c.lanes[r].last for r in rows)
        inset = 3 * min(scope.level, 4)
        y0 = c.lanes[rows[0]].top + 2 + inset
        y1 = c.lanes[last].top + c.lanes[last].height - 2 - inset
        bx0 = c.x(scope.opened) - 7 + inset
        closed = scope.closed if scope.closed is not None else c.end
        bx1 = max(c.x(closed) + 7 - inset, bx0 + 8)
        tip = (f"{scope.kind} scope of {c.story.labels.get(scope.fiber, '?')}: {len(scope.children)} "
               f"{'branch' if len(scope.children) == 1 else 'branches'}, {c.rel(scope.opened)} to {c.rel(closed)}")
        c.shapes.append(f"<g><title>{esc(tip)}</title>"
                        f'<path d="M{num(bx0 + 4)},{num(y0)} H{num(bx0)} V{num(y1)} H{num(bx0 + 4)} '
                        f'M{num(bx1 - 4)},{num(y0)} H{num(bx1)} V{num(y1)} H{num(bx1 - 4)}" fill="none" '
                        f'stroke="{SCOPE}" stroke-width="1.5"/></g>')
        label = scope.kind
        size = 9.0
        spots = [(bx0 - 2, y0 + 8, "end"), (bx0 + 5, y0 + 8, "start"), (bx0 - 2, y1 - 1, "end"),
                 (bx0 + 5, y1 - 1, "start")]
        spot = c.place.place(label, size, spots, right=c.right)
        if spot is not None:
            c.text(spot[0], spot[1], label, size, anchor=spot[2], fill=MUTED, tip=tip, halo=True)


def _legend_rows(c: _Canvas, shown: set[str]) -> list[list[tuple[str, str]]]:
    """The legend's entries for ``shown``, in rows that fit the width."""
    entries = [(key, words) for key, words in LEGEND if key in shown]
    if "internal" in shown:
        entries.append(("", LEGEND_INTERNAL))
    rows: list[list[tuple[str, str]]] = [[]]
    x = 16.0
    for key, words in entries:
        w = 30 + text_width(words, LEGEND_SIZE) + 18
        if x + w > c.width - 16 and rows[-1]:
            rows.append([])
            x = 16.0
        rows[-1].append((key, words))
        x += w
    return rows


def _shown(c: _Canvas) -> set[str]:
    """The legend's keys for what is drawn."""
    story = c.story
    keys = {"waiting"}
    for lane in c.lanes:
        if lane.fiber is not None:
            keys.add(lane.fiber.outcome or "running")
            if story.releasing(lane.fiber.id) is not None:
                keys.add("releasing")
        else:
            keys.add("group")
    keys.update(m.kind for m in story.marks if m.fiber in c.lane_of)
    if "cancel" in keys:
        keys.add("interrupt")
    if story.forks:
        keys.add("fork")
    if story.owner:
        keys.add("internal")
    if any(s.children for s in story.scopes):
        keys.add("scope")
    flagged = [d for d in c.diagnostics if d.fibers[0] in c.lane_of]
    if flagged:
        keys.add("diagnostic")
    if any(d.seconds for d in flagged):
        keys.add("diagnostic_span")
    return keys


def _legend(c: _Canvas, rows: list[list[tuple[str, str]]], top: float) -> None:
    c.text(16, top - 8, "Legend", LEGEND_SIZE, bold=True, take=True)
    y = top + 12
    for row in rows:
        x = 16.0
        for key, words in row:
            if key:
                c.shapes.append(f'<g transform="translate({num(x + 11)},{num(y - 4)})">{SWATCHES[key]}</g>')
                tx = x + 30
            else:
                tx = x
            c.text(tx, y, words, LEGEND_SIZE, take=True)
            x = tx + text_width(words, LEGEND_SIZE) + 18
        y += 24
