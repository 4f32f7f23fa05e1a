"""The picture of a tree: the neutral model both tree builders make (boxes holding styled
lines of text, and arrows), its `graphviz.Digraph`, and `render_svg`, which draws that graph
with Graphviz's ``dot`` or, when ``dot`` is missing, with effectpy's own tidy-tree layout.

The model travels with the graph: `to_digraph` returns a ``TreeGraph`` (a `graphviz.Digraph`
subclass) that carries its `Picture` and the DOT source written from it. The fallback layout
draws that `Picture` directly and never reads DOT. A graph effectpy did not make, or one
changed after effectpy made it (its source is no longer the one written), needs ``dot``.

The ``graphviz`` package is imported only when a graph is made (`import effectpy` never
imports it).
"""

from __future__ import annotations

import functools
import importlib
import shutil
import unicodedata
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ._events import visible

if TYPE_CHECKING:
    from graphviz import Digraph  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = ["render_svg"]

MAX_NODES: Final = 500  # default cap on the boxes of one picture
TEXT_LIMIT: Final = 60  # longest piece of user text in a label

# --- colours and fonts (the same for dot and for the fallback) -------------------------------

INK: Final = "#212529"
MUTED: Final = "#5f6b76"
EDGE: Final = "#8a94a0"
FONT: Final = "Helvetica"
# No text is smaller than SMALL: in the widget's effect pane (drawn at one unit a pixel) it
# is at least 11 px high.
SMALL: Final = 11.0
NODE_FONTSIZE: Final = SMALL  # a box's text, unless its Line says otherwise
EDGE_FONTSIZE: Final = SMALL  # an arrow's label
EDGE_PENWIDTH: Final = 1.1
CAPTION_FONTSIZE: Final = SMALL

# category -> (fill, border): static effect trees
CATEGORY: Final = {
    "sequence": ("#f8f9fa", "#6c757d"),
    "parallel": ("#e8efff", "#3b5bdb"),  # zip_par, race, race_success, for_each_par, timeout
    "resource": ("#e3f6f9", "#1098ad"),  # acquire_release, scoped, ensuring, on_exit, ...
    "fiber": ("#f1ecff", "#7048e8"),  # fork, named
    "region": ("#f1f3f5", "#868e96"),  # uninterruptible, provide, in_scope
    "leaf": ("#ffffff", "#adb5bd"),
    "fail": ("#fff0f0", "#e03131"),
    "elided": ("#ffffff", "#adb5bd"),
}

# outcome -> (fill, border, mark); None is "never ended"
OUTCOME: Final[dict[str | None, tuple[str, str, str]]] = {
    "success": ("#ebf8ee", "#2f9e44", "\u2713"),  # check mark
    "failure": ("#fdeeee", "#e03131", "\u2717"),  # ballot x
    "interrupted": ("#fff6d9", "#e8890c", "\u2298"),  # circled slash
    None: ("#f1f3f5", "#868e96", "\u2026"),  # ellipsis
}

# --- text ------------------------------------------------------------------------------------

def clean(text: str, limit: int = TEXT_LIMIT) -> str:
    """User text made safe for a one-line label: control and bidirectional formatting
    characters and lone surrogates (invalid in XML) shown as escapes (`visible`),
    whitespace runs folded, at most ``limit`` characters."""
    text = visible(" ".join(text.split()))
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


def xml_escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def check_limit(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an int >= 1, got {value!r}")


# --- the neutral model -----------------------------------------------------------------------


@dataclass
class Line:
    """One line of a box's label."""

    text: str
    bold: bool = False
    color: str = INK
    size: float = NODE_FONTSIZE
    align: str = "center"  # or "left"


@dataclass
class Box:
    name: str
    lines: list[Line]
    fill: str
    border: str
    dashed: bool = False
    tooltip: str = ""
    penwidth: float = 1.2
    fiber: int | None = None  # the trace fiber this box ran in (annotated trees)


@dataclass
class Arrow:
    tail: str
    head: str
    label: str = ""
    color: str = EDGE
    dashed: bool = False
    constraint: bool = True  # False: not a tree edge (drawn, but never places a box)


@dataclass
class Picture:
    name: str
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    caption: list[str] = field(default_factory=list)


def title_line(text: str) -> Line:
    return Line(text, bold=True, size=13.0)


def detail_line(text: str, align: str = "center", color: str = MUTED) -> Line:
    return Line(text, size=SMALL, color=color, align=align)


# --- to graphviz -----------------------------------------------------------------------------


def _graphviz() -> Any:
    try:
        return importlib.import_module("graphviz")
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError("effectpy's trees are graphviz.Digraph objects and need the graphviz "
                          "package: pip install 'effectpy[notebook]' (or pip install graphviz)") from exc


def _repr_svg(self: Any) -> str:
    """The notebook display: through `render_svg`, so it shows even without ``dot``."""
    return render_svg(self)


def _copy(self: Any) -> Any:
    """`graphviz.Digraph.copy`, keeping the picture (an unchanged copy still draws without dot)."""
    new = _graphviz().Digraph.copy(self)
    new._picture, new._picture_source = self._picture, self._picture_source
    return new


@functools.cache
def _graph_class() -> Any:
    """``TreeGraph``: a `graphviz.Digraph` that carries the `Picture` it was written from and
    that a notebook displays through `render_svg` (made on first use, so that graphviz is
    imported only then)."""
    return type("TreeGraph", (_graphviz().Digraph,), {
        "__doc__": "A graphviz.Digraph made by effectpy: it displays through effectpy.trace.render_svg.",
        "__module__": __name__, "_repr_image_svg_xml": _repr_svg, "copy": _copy,
        "_picture": None,  # the Picture this graph was written from
        "_picture_source": None,  # the DOT source written from it: the picture is valid while source is this
    })


def picture_of(graph: object) -> Picture | None:
    """The `Picture` effectpy made ``graph`` from, if ``graph`` is still as effectpy made it."""
    picture = getattr(graph, "_picture", None)
    if isinstance(picture, Picture) and getattr(graph, "_picture_source", None) == getattr(graph, "source", None):
        return picture
    return None


def html_label(lines: Sequence[Line]) -> str:
    rows = []
    for line in lines:
        # dot reads backslash escapes even in HTML-like labels (two backslashes are one,
        # backslash-N is the node's name): doubled, a user's backslash stays a backslash
        text = xml_escape(line.text.replace("\\", "\\\\"))
        if line.bold:
            text = f"<B>{text}</B>"
        text = f'<FONT POINT-SIZE="{line.size:g}" COLOR="{line.color}">{text}</FONT>'
        align = "LEFT" if line.align == "left" else "CENTER"
        rows.append(f'<TR><TD ALIGN="{align}">{text}</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>>")


def to_digraph(pic: Picture) -> Digraph:
    """``pic`` as a ``TreeGraph`` that carries it."""
    graphviz = _graphviz()
    graph = _graph_class()(
        name=pic.name,
        graph_attr={"rankdir": "TB", "ordering": "out", "nodesep": "0.25", "ranksep": "0.45",
                    "bgcolor": "white", "fontname": FONT, "fontsize": f"{CAPTION_FONTSIZE:g}", "fontcolor": MUTED,
                    "labelloc": "b", "pad": "0.2"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": f"{NODE_FONTSIZE:g}",
                   "margin": "0.14,0.07", "color": CATEGORY["leaf"][1], "fontcolor": INK},
        edge_attr={"color": EDGE, "arrowsize": "0.6", "penwidth": f"{EDGE_PENWIDTH:g}", "fontname": FONT,
                   "fontsize": f"{EDGE_FONTSIZE:g}", "fontcolor": MUTED},
    )
    if pic.caption:
        graph.attr(label=html_label(caption_lines(pic)))
    for box in pic.boxes:
        attrs = {"fillcolor": box.fill, "color": box.border, "penwidth": f"{box.penwidth:g}"}
        if box.dashed:
            attrs["style"] = "rounded,filled,dashed"
        if box.tooltip:
            attrs["tooltip"] = graphviz.escape(tooltip_text(box))
        graph.node(box.name, label=html_label(box.lines), **attrs)
    for arrow in pic.arrows:
        attrs = {}
        if arrow.label:
            attrs["label"] = graphviz.escape(" " + clean(arrow.label, 30) + " ")
        if arrow.color != EDGE:
            attrs["color"] = arrow.color
        if arrow.dashed:
            attrs["style"] = "dashed"
        if not arrow.constraint:
            attrs["constraint"] = "false"
        graph.edge(arrow.tail, arrow.head, **attrs)
    graph._picture, graph._picture_source = pic, graph.source
    return graph


def caption_lines(pic: Picture) -> list[Line]:
    return [Line(c, color=MUTED, size=CAPTION_FONTSIZE) for c in pic.caption]


def tooltip_text(box: Box) -> str:
    return clean(box.tooltip.replace("\n", " | "), 400)


# --- render_svg ------------------------------------------------------------------------------

_notice_given = False

NOTICE: Final = ("effectpy: Graphviz's `dot` program was not found, so trees are drawn with "
                 "effectpy's simple built-in layout; install Graphviz (apt-get install graphviz, "
                 "brew install graphviz, conda install graphviz, ...) for the full rendering")
INSTALL_DOT: Final = ("install Graphviz (apt-get install graphviz, brew install graphviz, "
                      "conda install graphviz, ...) so that `dot` is on the PATH")


def _notice() -> None:
    global _notice_given
    if _notice_given:
        return
    _notice_given = True
    try:
        warnings.warn(NOTICE, RuntimeWarning, stacklevel=3)
    except RuntimeWarning:  # warnings are errors here: a notice must not stop the picture
        pass


def dot_available() -> bool:
    return shutil.which("dot") is not None


def render_svg(graph: Digraph) -> str:
    """The graph as a standalone SVG document.

    Uses Graphviz's ``dot`` when it is installed. Otherwise (``dot`` not on the PATH, or
    `graphviz.ExecutableNotFound`) a tree made by `effect_tree` or `Trace.fiber_tree` is
    drawn with effectpy's own deterministic top-down tree layout (same labels and colours;
    edges that do not fit the tree are dashed curves), with a `RuntimeWarning` saying so,
    once. The warning never stops the picture, even where warnings are errors.

    Raises:
        TypeError: ``graph`` is not a graphviz graph.
        RuntimeError: ``dot`` is missing and ``graph`` was not made by effectpy, or was
            changed after effectpy made it: only ``dot`` can draw it.
    """
    source = getattr(graph, "source", None)
    if not isinstance(source, str):
        raise TypeError(f"render_svg expects a graphviz graph, got {type(graph).__name__}")
    if dot_available():
        graphviz = _graphviz()
        try:
            svg: str = graph.pipe(format="svg", encoding="utf-8")
            return svg
        except graphviz.ExecutableNotFound:
            pass
    picture = picture_of(graph)
    if picture is None:
        made = isinstance(getattr(graph, "_picture", None), Picture)
        got = ("an effectpy tree changed after it was made" if made else
               f"a {type(graph).__name__} not made by effectpy.trace.effect_tree or Trace.fiber_tree")
        raise RuntimeError(
            f"render_svg: drawing this graph needs Graphviz's `dot` program, which was not found; got {got}. "
            f"Without `dot`, effectpy draws only the trees it made, unchanged. Fix: {INSTALL_DOT}.")
    _notice()
    return fallback_svg(picture)


# --- the fallback: text metrics (Helvetica's, which Liberation Sans and Arial share) ---------

_HELVETICA: Final = (
    "278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 "
    "556 556 556 278 278 584 584 584 556 1015 667 667 722 722 667 611 778 722 278 500 667 556 833 "
    "722 778 667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 333 556 556 500 556 "
    "556 278 556 556 222 222 500 222 833 556 556 556 556 333 500 278 556 500 722 500 500 500 334 "
    "260 334 584").split()
_HELVETICA_BOLD: Final = (
    "278 333 474 556 556 889 722 238 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 "
    "556 556 556 333 333 584 584 584 611 975 722 722 722 722 667 611 778 722 278 556 722 611 833 "
    "722 778 667 778 722 667 611 722 667 944 667 667 611 333 278 333 584 556 333 556 611 556 611 "
    "556 333 611 611 278 278 556 278 889 611 611 611 611 389 556 333 611 556 778 556 556 500 389 "
    "280 389 584").split()


def char_width(c: str, bold: bool) -> float:
    o = ord(c)
    if 32 <= o <= 126:
        return int((_HELVETICA_BOLD if bold else _HELVETICA)[o - 32]) / 1000
    if unicodedata.combining(c):
        return 0.0
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return 1.0
    return 0.8 if unicodedata.category(c).startswith("S") else 0.6


def text_width(text: str, size: float, bold: bool) -> float:
    return sum(char_width(c, bold) for c in text) * size


def shown_lines(lines: Sequence[Line]) -> list[Line]:
    """The lines drawn, their text made safe; blank lines are dropped (as dot drops them)."""
    out = [Line(clean(ln.text, 10_000), ln.bold, ln.color, ln.size, ln.align) for ln in lines]
    return [ln for ln in out if ln.text] or [Line("")]


def line_height(line: Line) -> float:
    return max(line.size, 1.0) * 1.3


# --- the fallback layout ---------------------------------------------------------------------

PAD_X: Final = 10.0
PAD_Y: Final = 6.0
H_GAP: Final = 18.0
V_GAP: Final = 46.0
MARGIN: Final = 14.0


def num(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass
class Placed:
    box: Box
    lines: list[Line]  # shown_lines(box.lines)
    width: float
    height: float
    x: float = 0.0  # centre
    y: float = 0.0  # centre
    depth: int = 0


def measure(box: Box) -> Placed:
    lines = shown_lines(box.lines)
    width = max(text_width(ln.text, ln.size, ln.bold) for ln in lines)
    height = sum(line_height(ln) for ln in lines)
    return Placed(box, lines, max(width + 2 * PAD_X, 36.0), max(height + 2 * PAD_Y, 26.0))


Edge = tuple[Placed, Placed, Arrow]


def layout(pic: Picture) -> tuple[list[Placed], list[Edge], list[Edge], float, float]:
    """A top-down tidy tree: each subtree gets the width it needs, a parent is centred over
    its children, rows are as tall as their tallest box. Arrows that would make a box's
    second parent (or a cycle), or that do not constrain, are kept aside as cross edges."""
    placed = {box.name: measure(box) for box in pic.boxes}
    parent: dict[str, str] = {}
    children: dict[str, list[str]] = {name: [] for name in placed}
    tree: list[Edge] = []
    cross: list[Edge] = []
    for arrow in pic.arrows:
        tail, head = arrow.tail, arrow.head
        if tail not in placed or head not in placed:
            continue
        ok = head not in parent and tail != head and arrow.constraint
        if ok:
            up: str | None = tail
            while up is not None:  # would it close a cycle?
                if up == head:
                    ok = False
                    break
                up = parent.get(up)
        if ok:
            parent[head] = tail
            children[tail].append(head)
            tree.append((placed[tail], placed[head], arrow))
        else:
            cross.append((placed[tail], placed[head], arrow))
    roots = [name for name in placed if name not in parent]
    # depths, breadth first
    order: list[str] = []
    queue = deque((r, 0) for r in roots)
    while queue:
        name, d = queue.popleft()
        placed[name].depth = d
        order.append(name)
        queue.extend((c, d + 1) for c in children[name])
    # subtree widths, children before parents
    span: dict[str, float] = {}
    for name in reversed(order):
        kids = children[name]
        inner = sum(span[c] for c in kids) + H_GAP * max(len(kids) - 1, 0)
        span[name] = max(placed[name].width, inner)
    # x positions, parents before children
    left: dict[str, float] = {}
    x = MARGIN
    for r in roots:
        left[r] = x
        x += span[r] + H_GAP * 1.5
    for name in order:
        kids = children[name]
        box = placed[name]
        if not kids:
            box.x = left[name] + span[name] / 2
            continue
        inner = sum(span[c] for c in kids) + H_GAP * (len(kids) - 1)
        cx = left[name] + (span[name] - inner) / 2
        for c in kids:
            left[c] = cx
            cx += span[c] + H_GAP
    for name in reversed(order):  # centre parents over their children
        kids = children[name]
        box = placed[name]
        if kids:
            lo = left[name] + box.width / 2
            hi = left[name] + span[name] - box.width / 2
            mid = (placed[kids[0]].x + placed[kids[-1]].x) / 2
            box.x = min(max(mid, lo), hi)
    rows: dict[int, float] = {}
    for box in placed.values():
        rows[box.depth] = max(rows.get(box.depth, 0.0), box.height)
    tops: dict[int, float] = {}
    y = MARGIN
    for d in sorted(rows):
        tops[d] = y
        y += rows[d] + V_GAP
    for box in placed.values():
        box.y = tops[box.depth] + rows[box.depth] / 2
    width = max([MARGIN * 2 + 40] + [left[r] + span[r] + MARGIN for r in roots])
    height = (y - V_GAP + MARGIN) if rows else MARGIN * 2
    return [placed[n] for n in order], tree, cross, width, height


# --- the fallback SVG ------------------------------------------------------------------------

_DASHED: Final = ' stroke-dasharray="5,3"'


def _text_line(line: Line, x_left: float, x_mid: float, baseline: float, size: float, fill: str) -> str:
    anchor, x = ("start", x_left) if line.align == "left" else ("middle", x_mid)
    attrs = (' font-weight="bold"' if line.bold else "") + f' fill="{line.color}"'
    if line.size != size:
        attrs += f' font-size="{num(line.size)}"'
    span = f"<tspan{attrs}>{xml_escape(line.text)}</tspan>" if line.text else ""
    return (f'<text x="{num(x)}" y="{num(baseline)}" text-anchor="{anchor}" font-size="{num(size)}" '
            f'fill="{fill}" xml:space="preserve">{span}</text>')


def _arrowhead(x: float, y: float, dx: float, dy: float, fill: str) -> str:
    """A small triangle with its tip at (x, y), pointing along (dx, dy)."""
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / length, dy / length
    bx, by = x - ux * 7, y - uy * 7
    px, py = -uy * 3.5, ux * 3.5
    return (f'<polygon points="{num(x)},{num(y)} {num(bx + px)},{num(by + py)} '
            f'{num(bx - px)},{num(by - py)}" fill="{fill}" stroke="none"/>')


def _edge_svg(tail: Placed, head: Placed, arrow: Arrow, is_tree: bool, spread: float = 0.0) -> list[str]:
    """One arrow; ``spread`` moves a tree edge's start along the parent's bottom side, so
    that a wide fan-out does not leave from a single point. Cross edges are dashed."""
    if tail is head:  # a loop on the right side
        x, y = tail.x + tail.width / 2, tail.y
        d = f"M{num(x)},{num(y - 6)} C{num(x + 28)},{num(y - 20)} {num(x + 28)},{num(y + 20)} {num(x + 7)},{num(y + 6)}"
        tip, direction, mid = (x, y + 6), (-7.0, 0.0), (x + 24, y)
    elif head.depth > tail.depth:  # downwards: an S-curve from bottom to top
        x1, y1 = tail.x + spread, tail.y + tail.height / 2
        x2, y2 = head.x, head.y - head.height / 2
        ym = (y1 + y2) / 2
        d = f"M{num(x1)},{num(y1)} C{num(x1)},{num(ym)} {num(x2)},{num(ym)} {num(x2)},{num(y2 - 7)}"
        # the label sits near the child end, where neighbouring edges are apart
        tip, direction = (x2, y2), (0.0, 1.0)
        mid = (0.104 * x1 + 0.896 * x2, 0.008 * y1 + 0.48 * ym + 0.512 * y2 - 4)
    else:  # upwards or sideways: around the right-hand sides
        x1, y1 = tail.x + tail.width / 2, tail.y
        x2, y2 = head.x + head.width / 2, head.y
        bulge = max(x1, x2) + 36
        d = f"M{num(x1)},{num(y1)} C{num(bulge)},{num(y1)} {num(bulge)},{num(y2)} {num(x2 + 7)},{num(y2)}"
        tip, direction, mid = (x2, y2), (-1.0, 0.0), ((x1 + x2) / 2 + (bulge - (x1 + x2) / 2) * 0.75, (y1 + y2) / 2)
    dash = _DASHED if arrow.dashed or not is_tree else ""
    out = [f'<path d="{d}" fill="none" stroke="{arrow.color}" stroke-width="{num(EDGE_PENWIDTH)}"{dash}/>',
           _arrowhead(tip[0], tip[1], direction[0], direction[1], arrow.color)]
    label = clean(arrow.label, 30)
    if label:
        size = EDGE_FONTSIZE
        out.append(f'<text x="{num(mid[0] + 5)}" y="{num(mid[1] + size * 0.35)}" '
                   f'font-size="{num(size)}" fill="{MUTED}" stroke="white" stroke-width="3" '
                   f'paint-order="stroke" stroke-linejoin="round">{xml_escape(label)}</text>')
    return out


def _node_svg(placed: Placed) -> list[str]:
    box = placed.box
    x0, y0 = placed.x - placed.width / 2, placed.y - placed.height / 2
    title = tooltip_text(box) if box.tooltip else " ".join(ln.text for ln in placed.lines)
    fiber = f' data-fiber="{box.fiber}"' if box.fiber is not None else ""
    out = [f'<g class="node" id="node-{xml_escape(clean(box.name, 80))}"{fiber}>',
           f"<title>{xml_escape(clean(title, 1000))}</title>",
           f'<rect x="{num(x0)}" y="{num(y0)}" width="{num(placed.width)}" height="{num(placed.height)}" '
           f'rx="7" ry="7" fill="{box.fill}" stroke="{box.border}" stroke-width="{num(box.penwidth)}"'
           f'{_DASHED if box.dashed else ""}/>']
    y = placed.y - sum(line_height(ln) for ln in placed.lines) / 2
    for line in placed.lines:
        h = line_height(line)
        out.append(_text_line(line, x0 + PAD_X, placed.x, y + h * 0.5 + line.size * 0.35, NODE_FONTSIZE, INK))
        y += h
    out.append("</g>")
    return out


def fallback_svg(pic: Picture) -> str:
    """Draw ``pic`` as a standalone SVG with effectpy's tidy-tree layout, in the colours and
    fonts `to_digraph` gives dot. Deterministic: the same picture gives the same bytes."""
    boxes, tree, cross, width, height = layout(pic)
    cap_lines = [Line(ln.text, ln.bold, ln.color, ln.size, "center")
                 for ln in shown_lines(caption_lines(pic))] if pic.caption else []
    cap_height = sum(line_height(ln) for ln in cap_lines)
    cap_width = max([text_width(ln.text, ln.size, ln.bold) for ln in cap_lines] + [0.0])
    width = max(width, cap_width + 2 * MARGIN)
    total_height = height + (cap_height + 6 if cap_lines else 0)
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
           "<!-- drawn by effectpy's built-in tree layout (Graphviz's dot was not available) -->",
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}pt" height="{num(total_height)}pt" '
           f'viewBox="0 0 {num(width)} {num(total_height)}" font-family="Helvetica, Arial, \'Liberation Sans\', sans-serif">',
           f"<title>{xml_escape(clean(pic.name or 'graph', 200))}</title>",
           f'<rect x="0" y="0" width="{num(width)}" height="{num(total_height)}" fill="white"/>',
           '<g class="edges">']
    fan: dict[str, int] = {}
    for tail, _, _ in tree:
        fan[tail.box.name] = fan.get(tail.box.name, 0) + 1
    seen: dict[str, int] = {}
    for tail, head, arrow in tree:
        k, n = seen.get(tail.box.name, 0), fan[tail.box.name]
        seen[tail.box.name] = k + 1
        step = min(10.0, (tail.width - 24) / max(n - 1, 1)) if n > 1 else 0.0
        out.extend(_edge_svg(tail, head, arrow, True, (k - (n - 1) / 2) * step))
    for tail, head, arrow in cross:
        out.extend(_edge_svg(tail, head, arrow, False))
    out.append("</g>")
    out.append('<g class="nodes">')
    for placed in boxes:
        out.extend(_node_svg(placed))
    out.append("</g>")
    if cap_lines:
        y = height + 2
        out.append('<g class="caption">')
        for line in cap_lines:
            h = line_height(line)
            out.append(_text_line(line, MARGIN, width / 2, y + h * 0.5 + CAPTION_FONTSIZE * 0.35,
                                  CAPTION_FONTSIZE, MUTED))
            y += h
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
