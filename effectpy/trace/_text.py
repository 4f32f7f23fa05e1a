"""Text in pictures: durations for people (``48 µs``, ``1.2 ms``, ``3.4 s``), and the
metrics of the timeline's font, so that labels can be placed without overlapping.

The timeline asks for DejaVu Sans first (then Verdana, whose widths are close, then the
narrower Helvetica and Arial), so its text is measured with DejaVu Sans's advance widths:
real text is never wider than measured, whichever of these fonts draws it. A text box is
as tall as the font's ascent plus its descent, as a browser's ``getBBox`` reports it.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from ._events import visible

__all__ = ["ASCENT", "DESCENT", "esc", "fit", "fmt_duration", "num", "one_line", "text_box", "text_width"]

FONT: Final = "DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"
MONO: Final = "DejaVu Sans Mono, Menlo, Consolas, monospace"

_UNITS: Final = ((1e-9, "ns"), (1e-6, "\u00b5s"), (1e-3, "ms"), (1.0, "s"))


def fmt_duration(seconds: float) -> str:
    """A duration (or a time on a trace's clock) for people: three significant digits in
    the largest unit that keeps the number at least 1; minutes past a minute.

    >>> [fmt_duration(s) for s in (0, 4.7909e-05, 0.0012, 0.2, 3.4, 125)]
    ['0', '47.9 µs', '1.2 ms', '200 ms', '3.4 s', '2 min 5 s']
    """
    size = abs(seconds)
    if size == 0:
        return "0"
    sign = "-" if seconds < 0 else ""
    if size >= 59.95:
        minutes, rest = divmod(round(size, 1), 60)
        tail = f" {_sig(rest, 2)} s" if rest >= 0.05 else ""
        return f"{sign}{int(minutes)} min{tail}"
    for scale, unit in reversed(_UNITS):
        if size >= scale * 0.9995 or scale == 1e-9:
            value = float(f"{size / scale:.3g}")
            return f"{sign}{_sig(value, 3)} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def num(x: float) -> str:
    """A coordinate in an SVG: one decimal at most, so that output is byte-identical
    across runs."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


def _sig(value: float, digits: int) -> str:
    text = f"{value:.{digits}g}"
    if "e" in text:  # 3 significant digits of a number >= 1000: write it out
        text = f"{value:.0f}"
    return text


# Advance widths (1/1000 em) of the printable ASCII characters, space to tilde, read from
# DejaVuSans.ttf and DejaVuSans-Bold.ttf.
_REGULAR: Final = tuple(int(w) for w in (
    "318 401 460 838 636 950 780 275 390 390 500 838 318 361 318 337 636 636 636 636 636 636 "
    "636 636 636 636 337 337 838 838 838 531 1000 684 686 698 770 632 575 775 752 295 295 656 "
    "557 863 748 787 603 787 695 635 611 732 684 989 685 611 685 390 337 390 838 500 500 613 "
    "635 550 635 615 352 635 634 278 278 579 278 974 634 612 635 635 411 521 392 634 592 818 "
    "592 592 525 636 337 636 838").split())
_BOLD: Final = tuple(int(w) for w in (
    "348 456 521 838 696 1002 872 306 457 457 523 838 380 415 380 365 696 696 696 696 696 696 "
    "696 696 696 696 400 400 838 838 838 580 1000 774 762 734 830 683 683 821 837 372 372 775 "
    "637 995 837 850 733 850 770 720 682 812 774 1103 771 724 725 457 365 457 838 500 500 675 "
    "716 593 716 678 435 716 712 343 343 665 343 1042 712 687 716 716 493 595 478 712 652 924 "
    "645 652 582 712 365 712 838").split())
MONO_WIDTH: Final = 0.602  # every character of DejaVu Sans Mono
# Vertical extent of a line of text around its baseline, in em (DejaVu Sans's hhea metrics).
ASCENT: Final = 0.928
DESCENT: Final = 0.236
# Room for a fallback font a little wider than DejaVu Sans at some characters.
SLACK: Final = 1.03


def _char(c: str, bold: bool) -> float:
    o = ord(c)
    if 32 <= o <= 126:
        return (_BOLD if bold else _REGULAR)[o - 32] / 1000
    if unicodedata.combining(c):
        return 0.0
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return 1.0
    # arrows, ticks, dingbats and other symbols are wide in DejaVu Sans (0.84 em)
    return 0.84 if unicodedata.category(c).startswith("S") else 0.7


def text_width(text: str, size: float, *, bold: bool = False, mono: bool = False) -> float:
    """The width of ``text`` drawn at ``size`` px (an upper bound for the timeline's fonts).

    >>> round(text_width("race", 10), 1)
    22.5
    """
    if mono:
        return len(text) * MONO_WIDTH * size
    return sum(_char(c, bold) for c in text) * size * SLACK


def text_box(x: float, baseline: float, text: str, size: float, *, anchor: str = "start",
             bold: bool = False, mono: bool = False) -> tuple[float, float, float, float]:
    """The box (x0, y0, x1, y1) that ``text`` covers, drawn at ``x`` (per ``anchor``:
    start, middle or end) on ``baseline``."""
    w = text_width(text, size, bold=bold, mono=mono)
    x0 = x if anchor == "start" else x - w / 2 if anchor == "middle" else x - w
    return (x0, baseline - ASCENT * size, x0 + w, baseline + DESCENT * size)


def fit(text: str, size: float, room: float, *, bold: bool = False, mono: bool = False) -> str:
    """``text``, cut with an ellipsis to fit ``room`` px ("" if not even that fits)."""
    if text_width(text, size, bold=bold, mono=mono) <= room:
        return text
    ell = text_width("\u2026", size, bold=bold, mono=mono)
    out = 0.0
    for i, c in enumerate(text):
        out += text_width(c, size, bold=bold, mono=mono)
        if out + ell > room:
            return text[:i] + "\u2026" if i else ""
    return text


def esc(text: object) -> str:
    """Escape text for XML content and attribute values (user text is only ever text);
    control and bidirectional formatting characters are shown as escapes (`visible`)."""
    s = visible(str(text))
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def one_line(text: str) -> str:
    return " ".join(text.split())
