"""Diagnostics in the timeline: each `Diagnostic` as a *flag*, the grammar's warning glyph
standing above its fiber's lane at its time (its message is the glyph's hover text), with a
few words beside it, placed like every label so that no two texts overlap; one that lasted
(a blocked loop, a slow interruption or cleanup) also gets a band behind the bar for as
long as it lasted. The widget draws the same flags from `payload` (`_browser`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from ._grammar import DIAGNOSTIC_INK, GLYPH_R, SPAN, SPAN_H, glyph
from ._layout import ABOVE, BELOW, NOTE_SIZE
from ._events import visible
from ._text import esc, fmt_duration, num

if TYPE_CHECKING:
    from ._diagnose import Diagnostic
    from ._story import Story
    from ._timeline import _Canvas
    from ._trace import Trace

__all__ = ["DRIFT", "Flag", "draw_flags", "flag_words", "label_flags", "payload", "place_flags", "wanted"]

RISE: Final = 12.0  # how far above its lane's middle a flag stands
GAP: Final = 2 * GLYPH_R + 2  # least distance between two flags of a lane
CLEAR: Final = GLYPH_R + 4  # from an arrow that comes down to the lane
DRIFT: Final = 3 * GAP  # how far right of its time a flag may be moved to make room
TITLE_MORE: Final = 10  # how many of the diagnostics a flag stands for its hover text lists


def wanted(trace: Trace, diagnostics: object) -> list[Diagnostic]:
    """The diagnostics a picture shows: True, those of ``trace.diagnose()``; False or
    None, none; or the `Diagnostic`s given (made with other thresholds, say)."""
    from ._diagnose import Diagnostic
    if diagnostics is True:
        return list(trace.diagnose())
    if diagnostics is False or diagnostics is None:
        return []
    if isinstance(diagnostics, (str, bytes)) or not isinstance(diagnostics, Sequence) or not all(
            isinstance(d, Diagnostic) for d in diagnostics):
        raise TypeError(f"diagnostics must be True, False, or a list of Diagnostic (from "
                        f"trace.diagnose()), got {type(diagnostics).__name__} {diagnostics!r}")
    return list(diagnostics)


def flag_words(d: Diagnostic, story: Story) -> str:
    """The few words written beside a flag (its message is its hover text); "" for a
    fiber that never ended, whose lane already ends with "never ended"."""
    labels = story.labels
    took = fmt_duration(d.seconds) if d.seconds is not None else ""
    if d.kind == "leak":
        f = story.by_id.get(d.fibers[0])
        if f is not None and f.daemon:
            return "leak: ran until the run ended"
        parent = labels.get(d.fibers[1], f"#{d.fibers[1]}") if len(d.fibers) > 1 else "its parent"
        return f"leak: outlived {parent}"
    if d.kind == "unreleased":
        return "never released"
    if d.kind == "blocked_loop":
        return f"blocked the loop {took}"
    if d.kind == "slow_interrupt":
        return f"slow interrupt: {took}"
    if d.kind == "slow_finalizer":
        return f"slow {'release' if d.resource is not None else 'cleanup'}: {took}"
    return ""


class Flag:
    """A diagnostic where it is drawn: its lane, its x, and the words beside it; ``more``:
    the diagnostics of that lane that had no room of their own (the flag stands for them too)."""

    __slots__ = ("diagnostic", "lane", "x", "words", "more")

    def __init__(self, diagnostic: Diagnostic, lane: int, x: float, words: str) -> None:
        self.diagnostic, self.lane, self.x, self.words = diagnostic, lane, x, words
        self.more: list[Diagnostic] = []

    def label(self) -> str:
        return f"{self.words} (and {len(self.more)} more)" if self.more and self.words else self.words

    def title(self) -> str:
        """Its hover text: its message, and those of the diagnostics it stands for (the
        first `TITLE_MORE`; trace.diagnose() lists them all)."""
        lines = [self.diagnostic.message, *(d.message for d in self.more[:TITLE_MORE])]
        if len(self.more) > TITLE_MORE:
            lines.append(f"... and {len(self.more) - TITLE_MORE} more: trace.diagnose() lists them all")
        return "\n".join(lines)


def place_flags(c: _Canvas, arrows: dict[int, list[float]]) -> list[Flag]:
    """Where each of the canvas's diagnostics goes: on the lane of the fiber at fault, at
    its time, moved right of the ``arrows`` that come down to that lane there (a fork's, an
    interruption's: the flag would hide their heads); flags of a lane closer than GAP spread
    out in time order, each at most DRIFT right of its time: one with no room left joins
    the flag before it on its lane. The bands of those that lasted are drawn now, under the
    bars (those of the flags joined too)."""
    last: dict[int, Flag] = {}
    out: list[Flag] = []
    for d in sorted(c.diagnostics, key=lambda d: d.at):
        lane = c.lane_of.get(d.fibers[0])
        if lane is None:
            continue  # a fiber the picture leaves out
        mid = c.lanes[lane].mid
        at = min(max(c.x(d.at), c.plot_x0), c.plot_x1)  # (given diagnostics may lie outside)
        if d.seconds:
            x1 = min(c.x(d.at + d.seconds), c.plot_x1)
            c.shapes.append(f'<rect class="eptl-diagnostic-span" x="{num(at)}" y="{num(mid - SPAN_H / 2)}" '
                            f'width="{num(max(x1 - at, 3))}" height="{num(SPAN_H)}" rx="2" '
                            f"{SPAN}><title>{esc(d.message)}</title></rect>")
        x = at
        for arrow in sorted(arrows.get(lane, ())):
            if abs(x - arrow) < CLEAR:
                x = arrow + CLEAR
        previous = last.get(lane)
        if previous is not None and x < previous.x + GAP:
            x = previous.x + GAP
            if x > at + DRIFT:
                previous.more.append(d)
                continue
        flag = last[lane] = Flag(d, lane, x, flag_words(d, c.story))
        out.append(flag)
        c.place.take((x - GLYPH_R, mid - RISE - GLYPH_R, x + GLYPH_R, mid - RISE + GLYPH_R))
    return out


def draw_flags(c: _Canvas, flags: list[Flag]) -> None:
    """The flags' glyphs, over everything else drawn on the lanes."""
    for f in flags:
        mid = c.lanes[f.lane].mid
        c.shapes.append(f'<g class="eptl-diagnostic"><title>{esc(f.title())}</title>'
                        f"{glyph('diagnostic', f.x, mid - RISE)}</g>")


def label_flags(c: _Canvas, flags: list[Flag], missed: dict[int, list[tuple[float, str]]]) -> None:
    """The flags' words, by their glyphs where there is room; the others join their lane's
    "+n" count (``missed``)."""
    g = GLYPH_R + 2
    for f in flags:
        if not f.words:
            continue
        mid = c.lanes[f.lane].mid
        spots = [(f.x + g, mid + ABOVE, "start"), (f.x - g, mid + ABOVE, "end"),
                 (f.x + g, mid + BELOW, "start"), (f.x - g, mid + BELOW, "end")]
        words = f.label()
        spot = c.place.place(words, NOTE_SIZE, spots, right=c.right)
        if spot is None:
            missed.setdefault(f.lane, []).append((f.x, words))
            continue
        c.text(spot[0], spot[1], words, NOTE_SIZE, anchor=spot[2], fill=DIAGNOSTIC_INK,
               tip=f.title(), halo=True)


def payload(diagnostics: list[Diagnostic], story: Story) -> list[dict[str, Any]]:
    """The diagnostics as the widget's browser side gets them (its *diagnostics* pane, and
    the flags on its lanes)."""
    return [{"kind": d.kind, "fibers": list(d.fibers), "at": d.at, "seconds": d.seconds, "seq": d.seq,
             "message": visible(d.message), "words": visible(flag_words(d, story))} for d in diagnostics]
