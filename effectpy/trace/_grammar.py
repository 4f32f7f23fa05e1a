"""The timeline's visual grammar, shared by the SVG timeline and the notebook widget: the
colours, the glyph of each kind of event (SVG markup centred on 0,0, placed with a
``translate``), the patterns, and the legend. The widget receives `GRAMMAR` as a synced
trait and draws with the same markup, so both pictures speak one language.
"""

from __future__ import annotations

from typing import Any, Final

from ._text import num

__all__ = ["COLORS", "GLYPHS", "GRAMMAR", "LEGEND", "glyph"]

COLORS: Final[dict[str | None, str]] = {
    "success": "#2f9e5f",
    "failure": "#d64545",
    "interrupted": "#e0892b",
    None: "#8d95a1",  # running, or never ended
}
CANCEL: Final = "#c2410c"
FORK: Final = "#7b8794"
RESOURCE: Final = "#2563eb"
RETRY: Final = "#7c3aed"
DEFECT: Final = "#9b1c1c"
TEXT: Final = "#1f2933"
MUTED: Final = "#616e7c"
SCOPE: Final = "#9aa5b1"
GROUP: Final = "#52606d"  # a group lane's "running" area
DIAGNOSTIC: Final = "#facc15"  # what points at a bug: a warning sign
DIAGNOSTIC_INK: Final = "#854d0e"  # its outline, its span's edge and its label

_F = COLORS["failure"]
_I = COLORS["interrupted"]

# Each glyph fits in a 12 x 12 box centred on 0,0 (GLYPH_R is its half-width).
GLYPH_R: Final = 6.0
GLYPHS: Final[dict[str, str]] = {
    "cancel": (f'<path d="M-4,-4 L4,4 M4,-4 L-4,4" stroke="{CANCEL}" stroke-width="2.2" '
               'stroke-linecap="round"/>'),
    "acquire": f'<path d="M0,-5 L5,0 L0,5 L-5,0 Z" fill="{RESOURCE}" stroke="{RESOURCE}" stroke-width="1"/>',
    "release": f'<path d="M0,-4.6 L4.6,0 L0,4.6 L-4.6,0 Z" fill="#ffffff" stroke="{RESOURCE}" stroke-width="1.7"/>',
    "fail": (f'<circle r="5.6" fill="{_F}"/><path d="M0,-3.2 V0.6" stroke="#ffffff" stroke-width="1.8" '
             'stroke-linecap="round"/><circle cy="3" r="1.05" fill="#ffffff"/>'),
    "die": (f'<rect x="-5" y="-5" width="10" height="10" rx="1.5" fill="{DEFECT}"/><path d="M0,-3.2 V0.6" '
            'stroke="#ffffff" stroke-width="1.8" stroke-linecap="round"/><circle cy="3" r="1.05" fill="#ffffff"/>'),
    "caught": (f'<circle r="4.9" fill="#ffffff" stroke="{_F}" stroke-width="1.5"/><path d="M0,-2.8 V0.4" '
               f'stroke="{_F}" stroke-width="1.6" stroke-linecap="round"/><circle cy="2.5" r="0.9" fill="{_F}"/>'),
    "timeout": (f'<circle r="5" fill="#ffffff" stroke="{CANCEL}" stroke-width="1.4"/>'
                f'<path d="M0,-3 V0 H2.6" stroke="{CANCEL}" stroke-width="1.3" fill="none"/>'),
    "retry": (f'<path d="M4.2,-1.6 A4.4,4.4 0 1 0 3.6,2.6" fill="none" stroke="{RETRY}" stroke-width="1.7"/>'
              f'<path d="M1.6,-3.4 L5.6,-4.4 L5.2,-0.2 Z" fill="{RETRY}"/>'),
    "fork": f'<path d="M0,-6 V2" stroke="{FORK}" stroke-width="1.2"/><path d="M-3,1 L0,6 L3,1 Z" fill="{FORK}"/>',
    "interrupt": (f'<path d="M-2,-6 V2" stroke="{CANCEL}" stroke-width="1.5" stroke-dasharray="3 2"/>'
                  f'<path d="M-5,1 L-2,6 L1,1 Z" fill="{CANCEL}"/>'
                  f'<path d="M3,-3 L8,2 M8,-3 L3,2" stroke="{CANCEL}" stroke-width="2" stroke-linecap="round"/>'),
    "scope": f'<path d="M2,-6 H-2 V6 H2" fill="none" stroke="{SCOPE}" stroke-width="1.5"/>',
    "diagnostic": (f'<path d="M0,-5.4 L5.9,4.8 H-5.9 Z" fill="{DIAGNOSTIC}" stroke="{DIAGNOSTIC_INK}" '
                   f'stroke-width="1.2" stroke-linejoin="round"/><path d="M0,-2 V1.3" stroke="{TEXT}" '
                   f'stroke-width="1.5" stroke-linecap="round"/><circle cy="3.2" r="0.85" fill="{TEXT}"/>'),
}
# A diagnostic that lasted (a blocked loop, a slow interruption or cleanup): a band behind
# its lane's bar, from when it began to when it ended; its glyph stands above the bar.
SPAN_H: Final = 14.0
SPAN: Final = f'fill="{DIAGNOSTIC}" fill-opacity="0.55" stroke="{DIAGNOSTIC_INK}" stroke-width="1" stroke-dasharray="3 2"'

# Patterns (defined once per picture): a releasing fiber's bar is hatched.
DEFS: Final = (
    '<pattern id="eptl-releasing" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)">'
    f'<rect width="6" height="6" fill="#fff3e6"/><rect width="2.4" height="6" fill="{_I}"/></pattern>'
)


def bar_swatch(outcome: str | None, *, pale: bool = False) -> str:
    color = COLORS[outcome]
    if pale:
        return (f'<rect x="-11" y="-5" width="22" height="10" rx="3" fill="{color}" fill-opacity="0.28" '
                f'stroke="{color}"/><rect x="-11" y="-5" width="8" height="10" rx="2" fill="{color}"/>')
    return f'<rect x="-11" y="-5" width="22" height="10" rx="3" fill="{color}"/>'


SWATCHES: Final[dict[str, str]] = {
    "success": bar_swatch("success"),
    "failure": bar_swatch("failure"),
    "interrupted": bar_swatch("interrupted"),
    "running": bar_swatch(None),
    "waiting": bar_swatch("success", pale=True),
    "releasing": ('<rect x="-11" y="-5" width="22" height="10" rx="2" fill="url(#eptl-releasing)" '
                  f'stroke="{_I}"/>'),
    "group": (f'<path d="M-11,5 V-1 L-6,-5 H4 L11,5 Z" fill="{GROUP}" fill-opacity="0.35" stroke="{GROUP}"/>'),
    "diagnostic_span": (f'<rect x="-11" y="-6.5" width="22" height="13" rx="2" {SPAN}/>'
                        f'<rect x="-11" y="-3" width="22" height="6" rx="2" fill="{COLORS[None]}"/>'),
    **GLYPHS,
}

# (swatch, words): the legend under the SVG timeline and under the widget's lanes.
LEGEND: Final[tuple[tuple[str, str], ...]] = (
    ("success", "success"),
    ("failure", "failed"),
    ("interrupted", "interrupted"),
    ("running", "running / never ended"),
    ("waiting", "pale: waiting, solid: running"),
    ("releasing", "interrupted, releasing"),
    ("fork", "fork"),
    ("interrupt", "interrupt"),
    ("acquire", "acquire"),
    ("release", "release"),
    ("fail", "failure"),
    ("caught", "failure caught"),
    ("die", "defect"),
    ("timeout", "timeout"),
    ("retry", "retry"),
    ("scope", "scope of zip_par, race, ..."),
    ("group", "group: running, and finished so far"),
    ("diagnostic", "diagnostic: hover it for what may be wrong"),
    ("diagnostic_span", "how long it lasted"),
)
LEGEND_INTERNAL: Final = "\u2699 n: n internal fibers (a timeout's timer, a stream's pump) folded into the lane"


def glyph(kind: str, x: float, y: float) -> str:
    """The glyph of ``kind`` at (x, y)."""
    return f'<g transform="translate({num(x)},{num(y)})">{GLYPHS[kind]}</g>'


GRAMMAR: Final[dict[str, Any]] = {
    "colors": {("never" if k is None else k): v for k, v in COLORS.items()},
    "cancel": CANCEL, "fork": FORK, "resource": RESOURCE, "retry": RETRY, "text": TEXT,
    "muted": MUTED, "scope": SCOPE, "group": GROUP, "diagnostic": DIAGNOSTIC,
    "diagnostic_ink": DIAGNOSTIC_INK, "span_h": SPAN_H,
    "glyphs": GLYPHS, "swatches": SWATCHES, "defs": DEFS,
    "legend": [list(entry) for entry in LEGEND], "legend_internal": LEGEND_INTERNAL,
}
