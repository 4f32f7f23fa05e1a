"""Two traces' timelines one above the other, on one time axis: `side_by_side`, for the
guide's "risky vs safe" pairs (plain asyncio that leaks, and its effectpy rewrite that
cleans up). Each is the SVG timeline's picture of its trace (its title, lanes, labels and
diagnostics' flags); both span the same times, so that a moment is at the same x in both,
and one legend under them explains what either shows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._flags import wanted
from ._story import title_of
from ._text import esc, fmt_duration, num
from ._timeline import WIDTH, _Canvas, _shown, document, draw

if TYPE_CHECKING:
    from ._diagnose import Diagnostic
    from ._trace import Trace

__all__ = ["Comparison", "side_by_side"]

GAP = 12  # px between the two pictures (a rule is drawn in the middle)


@dataclass(frozen=True)
class Comparison:
    """What `side_by_side` returns: ``svg``, one standalone SVG document of both timelines;
    ``headings``, the title of each; ``diagnostics``, each trace's (what its flags show).
    In a notebook it shows as its picture; its text form (``text``) is the shared axis's
    span, then each heading and its trace's summary without timings."""

    svg: str
    headings: tuple[str, str]
    diagnostics: tuple[tuple[Diagnostic, ...], tuple[Diagnostic, ...]]
    text: str

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<Comparison {self.headings[0]!r} / {self.headings[1]!r}>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"image/svg+xml": self.svg, "text/plain": self.text}

    def save_svg(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.svg, encoding="utf-8")
        return target

    def to_html(self) -> str:
        """A self-contained page: the picture (hover a mark or a flag for its details), and
        under it each trace's diagnostics as a list."""
        sections = []
        for heading, found in zip(self.headings, self.diagnostics):
            items = "".join(f"<li><b>{esc(d.kind)}</b>: {esc(d.message)}</li>" for d in found)
            sections.append(f"<h2>{esc(heading)}</h2>"
                            + (f"<ul>{items}</ul>" if items else "<p>no diagnostics</p>"))
        title = esc(f"{self.headings[0]} / {self.headings[1]}")
        return "\n".join([
            "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', f"<title>{title}</title>",
            "<style>body { margin: 16px; font: 13px/1.4 'DejaVu Sans', Verdana, sans-serif; color: #1f2933; }"
            " h2 { font-size: 14px; margin: 14px 0 4px; } ul { margin: 0; }</style>",
            "</head>", "<body>", self.svg, *sections, "</body>", "</html>", ""])

    def save_html(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.to_html(), encoding="utf-8")
        return target


def side_by_side(first: Trace, second: Trace, *, titles: tuple[str | None, str | None] = (None, None),
                 diagnostics: bool = True, width: int = WIDTH) -> Comparison:
    """The timelines of ``first`` and ``second``, one above the other on one time axis.

    Args:
        first: the trace drawn on top (the risky version, say).
        second: the trace drawn under it (its fixed twin).
        titles: the title of each picture (None: the one its trace would have alone).
        diagnostics: flag each trace's diagnostics (`Trace.diagnose`) where they happened.
        width: of the picture, in pixels.

    Returns:
        a `Comparison`: its ``svg`` (deterministic: the same traces, the same bytes), its
        ``text``; it shows as its picture in a notebook; ``save_svg`` / ``save_html``.

    >>> import asyncio
    >>> from effectpy import TestClock, fail, sleep, zip_par
    >>> from effectpy.trace import record, side_by_side
    >>> def traced(program):
    ...     with record() as trace:
    ...         asyncio.run(TestClock().drive(program.either()))
    ...     return trace
    >>> slow = traced(zip_par(sleep(2).named("fetch"), sleep(1).as_("ok").named("check")))
    >>> fast = traced(zip_par(sleep(1).named("fetch"), fail("down").named("check")))
    >>> pair = side_by_side(slow, fast, titles=("two calls", "one fails"))
    >>> pair.headings, pair.svg.startswith("<svg")
    (('two calls', 'one fails'), True)
    """
    from ._trace import Trace
    for name, trace in (("first", first), ("second", second)):
        if not isinstance(trace, Trace):
            hint = " (for a saved one: Trace.load(path))" if isinstance(trace, (str, os.PathLike)) else ""
            raise TypeError(f"side_by_side's {name} must be a Trace, got {type(trace).__name__} {trace!r}{hint}")
    if (not isinstance(titles, tuple) or len(titles) != 2
            or not all(t is None or isinstance(t, str) for t in titles)):
        raise TypeError(f"side_by_side's titles must be a pair (str or None, str or None), got {titles!r}")
    if not isinstance(diagnostics, bool):
        raise TypeError(f"side_by_side's diagnostics must be True or False, got {diagnostics!r}")
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"side_by_side's width must be a whole number of pixels, got {type(width).__name__} {width!r}")
    if width < 600:
        raise ValueError(f"side_by_side's width must be at least 600 pixels, got {width!r}")
    times = [e.ts for trace in (first, second) for e in trace.events]
    domain = (min(times), max(times)) if times else (0.0, 0.0)
    found = (wanted(first, diagnostics), wanted(second, diagnostics))
    top = _Canvas(first, width, found[0], domain=domain, legend=False)
    under = _Canvas(second, width, found[1], domain=domain, also_shown=frozenset(_shown(top)))
    headings = (title_of(top.story.fibers, titles[0]), title_of(under.story.fibers, titles[1]))
    draw(top, headings[0])
    draw(under, headings[1])
    rule = top.height + GAP / 2
    body = [*top.shapes, *top.texts,
            f'<line class="eptl-rule" x1="16" y1="{num(rule)}" x2="{width - 16}" y2="{num(rule)}" stroke="#cbd2d9"/>',
            f'<g transform="translate(0,{num(top.height + GAP)})">', *under.shapes, *under.texts, "</g>"]
    span = fmt_duration(round(domain[1] - domain[0], 9))
    text = "\n".join([f"side by side, one time axis (0 to {span}):",
                      *(line for heading, trace in zip(headings, (first, second))
                        for line in (heading, *("  " + s for s in trace.summary(timings=False).splitlines())))])
    return Comparison(document(width, top.height + GAP + under.height, body), headings,
                      (tuple(found[0]), tuple(found[1])), text)
