"""Trees as pictures: the structure of an `Effect` (`effect_tree`) and the fibers of a run
(`fiber_tree`), as `graphviz.Digraph` objects, and `render_svg`, which draws them with
Graphviz's ``dot`` or, when ``dot`` is missing, with effectpy's own tidy-tree layout.

Both builders first make a small neutral model (boxes with styled lines of text, and edges),
then write it out as DOT with HTML-like labels. The fallback renderer reads that DOT back
(a small parser for the subset Graphviz's Python package writes), so a graph the user has
changed after we made it is drawn as changed, and any simple `Digraph` can be drawn.

Nothing here runs an effect or calls a user function: user functions are opaque and shown
by name. Every traversal is iterative and every picture is capped in size.

The ``graphviz`` package is imported only when a graph is made (`import effectpy` never
imports it).
"""

from __future__ import annotations

import functools
import importlib
import re
import shutil
import unicodedata
import warnings
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .._core._cause import Cause
from .._core._effect import (
    ASYNC, ATTEMPT, AWAIT, CALLBACK, FAIL, FLAT_MAP, FOLD, FORK, IN_SCOPE, MAP, NAMED, PROVIDE,
    STATUS, SUCCEED, SUSPEND, SYNC, WITH_FIBER, YIELD, Effect, _ForkOptions, _OneShot, _Shape,
    _to_none,
)
from ._events import safe_repr
from ._trace import FiberInfo, ResourceInfo, Trace

if TYPE_CHECKING:
    from graphviz import Digraph  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = ["effect_tree", "fiber_tree", "render_svg"]

MAX_NODES: Final = 500  # default cap on the boxes of one picture
MAX_CHILDREN: Final = 40  # fiber_tree: children shown under one parent before summarising
SEQ_HEAD: Final = 14  # steps of a long sequence shown before the elision ...
SEQ_TAIL: Final = 3  # ... and after it
TEXT_LIMIT: Final = 60  # longest piece of user text in a label

# --- colours ---------------------------------------------------------------------------------

INK: Final = "#212529"
MUTED: Final = "#5f6b76"
EDGE: Final = "#8a94a0"
FONT: Final = "Helvetica"

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

GROUP_KINDS: Final = ("zip_par", "race", "race_success")
TIMEOUT_KINDS: Final = ("timeout", "timeout_option", "timeout_to")
GROUP_HINT: Final = {
    "zip_par": "all in parallel \u00b7 first failure stops the rest",
    "race": "first to finish decides (success or failure)",
    "race_success": "first success wins",
}

# --- text ------------------------------------------------------------------------------------

_UNPRINTABLE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str, limit: int = TEXT_LIMIT) -> str:
    """User text made safe for a one-line label: no control characters, no lone
    surrogates (invalid in XML), whitespace runs folded, at most ``limit`` characters."""
    text = " ".join(text.split())
    text = _UNPRINTABLE.sub("\ufffd", text)
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text


def xml_escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def fmt_time(seconds: float) -> str:
    """``0.2s``, ``12.5ms``, ``830µs``: short, and exact for the round numbers of a TestClock."""
    size = abs(seconds)
    if 0 < size < 1e-3:
        return f"{seconds * 1e6:.3g}\u00b5s"
    if 0 < size < 1e-2:
        return f"{seconds * 1e3:.3g}ms"
    return f"{seconds:.6g}s"


# --- the neutral model -----------------------------------------------------------------------


@dataclass
class Line:
    """One line of a box's label."""

    text: str
    bold: bool = False
    color: str = INK
    size: float = 10.0
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


@dataclass
class Arrow:
    tail: str
    head: str
    label: str = ""
    color: str = EDGE
    dashed: bool = False
    constraint: bool = True


@dataclass
class Picture:
    name: str
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    caption: list[str] = field(default_factory=list)


def title_line(text: str) -> Line:
    return Line(text, bold=True, size=12.0)


def detail_line(text: str, align: str = "center", color: str = MUTED) -> Line:
    return Line(text, size=10.0, color=color, align=align)


# --- functions are opaque: we only name them -------------------------------------------------


def fn_name(fn: object) -> str:
    """A short, stable name for a user function: ``fetch``, ``<lambda>``, ``partial(f)``."""
    if isinstance(fn, functools.partial):
        return f"partial({fn_name(fn.func)})"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not isinstance(name, str):
        name = type(fn).__name__
    return clean(name.rsplit(".<locals>.", 1)[-1], 40)


def fn_where(fn: object) -> str:
    """``name (file.py:12)`` for a tooltip; only the file's base name (deterministic)."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return fn_name(fn)
    filename = str(getattr(code, "co_filename", "?")).replace("\\", "/").rsplit("/", 1)[-1]
    return f"{fn_name(fn)} ({filename}:{getattr(code, 'co_firstlineno', '?')})"


def _is_library(fn: object) -> bool:
    """A closure made inside effectpy by a combinator (``Effect.zip.<locals>.<lambda>``)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    return (isinstance(module, str) and (module == "effectpy" or module.startswith("effectpy."))
            and isinstance(qualname, str) and ".<locals>." in qualname
            and getattr(fn, "__code__", None) is not None)


_PRETTY: Final = {"Layer._provide_to": "provide", "delay": "then"}
_GENERIC: Final = ("uninterruptible_mask", "_finalizer_effect")
_SHOWN_VALUES: Final = ("value", "default", "self")


@dataclass
class Peek:
    """What the closures effectpy's combinators made hold: the combinator's name, the user
    functions and effects they captured."""

    name: str | None = None
    users: list[str] = field(default_factory=list)
    effects: list[Effect[Any, Any, Any]] = field(default_factory=list)
    where: list[str] = field(default_factory=list)


def peek(fns: Sequence[object]) -> Peek:
    """Look into effectpy's own closures (never into user functions), bounded."""
    out = Peek()
    generic: str | None = None
    stack = list(reversed(fns))
    seen: set[int] = set()
    budget = 48
    while stack and budget > 0:
        budget -= 1
        item = stack.pop()
        if isinstance(item, Effect):
            out.effects.append(item)
            continue
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if item is _to_none:
            out.name = "unit"
            continue
        if not _is_library(item):
            if callable(item):
                out.users.append(fn_name(item))
                out.where.append(fn_where(item))
            continue
        fn: Any = item
        qualname: str = fn.__qualname__
        name = qualname.split(".<locals>.", 1)[0]
        name = name[len("Effect."):] if name.startswith("Effect.") else name
        name = _PRETTY.get(name, name)
        if name in _GENERIC:
            generic = generic or name
        else:
            out.name = name
        code = fn.__code__
        cells = fn.__closure__ or ()
        pushed: list[object] = []
        for var, cell in zip(code.co_freevars, cells):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(value, Effect) or callable(value):
                pushed.append(value)
            elif var in _SHOWN_VALUES:
                out.users.append(clean(safe_repr(value, 80), 30))
        stack.extend(reversed(pushed))
    if out.name is None:
        out.name = generic
    if out.name == "fold" and out.users == ["Left", "Right"]:
        out.name, out.users = "either", []
    return out


# --- describing effect nodes -----------------------------------------------------------------


def shape_of(eff: Effect[Any, Any, Any]) -> _Shape | None:
    if eff._tag in (CALLBACK, WITH_FIBER, STATUS) and isinstance(eff._c, _Shape):
        return eff._c
    return None


def _absorbs(eff: Effect[Any, Any, Any]) -> bool:
    """A library step that is part of the node below it (zip_par's ``map(tuple)``,
    timeout_to's unwrapping): drawn as that node."""
    if eff._tag == MAP and eff._b is tuple:
        inner = shape_of(eff._a)
        return inner is not None and inner.kind == "zip_par"
    if eff._tag == FLAT_MAP and _is_library(eff._b):
        inner = shape_of(eff._a)
        return inner is not None and inner.kind in ("timeout_option", "timeout_to")
    return False


def unwrap(eff: Effect[Any, Any, Any]) -> Effect[Any, Any, Any]:
    while _absorbs(eff):
        eff = eff._a
    return eff


def shape_part(shape: _Shape, role: str, default: object = None) -> object:
    for r, value in shape.parts:
        if r == role:
            return value
    return default


def leaf_text(eff: Effect[Any, Any, Any]) -> str | None:
    """The one-line text of an effect with no structure inside; None for a composite."""
    eff = unwrap(eff)
    tag = eff._tag
    shape = shape_of(eff)
    if shape is not None:
        if shape.kind == "sleep":
            seconds = shape_part(shape, "seconds", 0.0)
            return f"sleep {fmt_time(seconds)}" if isinstance(seconds, (int, float)) else "sleep"
        return None
    if tag == SUCCEED:
        return f"succeed({clean(safe_repr(eff._a, 80), 32)})"
    if tag == FAIL:
        return cause_text(eff._a)
    if tag == SYNC:
        return f"sync({fn_name(eff._a)})"
    if tag == ATTEMPT:
        return f"attempt({fn_name(eff._a)})"
    if tag == SUSPEND:
        return f"suspend({fn_name(eff._a)})"
    if tag == ASYNC:
        return f"Effect({fn_name(eff._a)})" if eff._b else f"from_async({fn_name(eff._a)})"
    if tag == AWAIT:
        one: _OneShot = eff._a
        what = one.what.replace("coroutine object ", "") if one.awaitable is not None else "(already awaited)"
        return f"await {clean(what, 40)}"
    if tag == YIELD:
        return "yield_now"
    if tag == CALLBACK:
        label = eff._b if isinstance(eff._b, str) else None
        if label == "join":
            return "join / await fiber"
        return label or f"async_callback({fn_name(eff._a)})"
    if tag == WITH_FIBER:
        p = peek([eff._a])
        if p.effects:
            return None
        name = p.name or "with_fiber"
        return f"{name}({', '.join(p.users)})" if p.users else name
    return None


def cause_text(cause: object) -> str:
    if not isinstance(cause, Cause):
        return "fail"
    failures = cause.failures()
    if failures:
        return f"fail({clean(safe_repr(failures[0], 80), 36)})"
    defects = cause.defects()
    if defects:
        d = defects[0]
        return f"die({clean(type(d).__name__ + ': ' + str(d), 36)})"
    if cause.interruptors():
        return "interrupt"
    return "fail_cause(empty)"


def short_name(eff: Effect[Any, Any, Any]) -> str:
    """A few words for a composite effect, as listed in a sequence step."""
    eff = unwrap(eff)
    shape = shape_of(eff)
    if shape is not None:
        return shape.kind
    tag = eff._tag
    if tag in (FLAT_MAP, MAP, FOLD):
        return "sequence"
    if tag == NAMED:
        return f"named {clean(repr(eff._b), 30)}"
    if tag == FORK:
        return "fork"
    if tag == STATUS:
        return "uninterruptible" if eff._b is False else "interruptible"
    if tag == PROVIDE:
        return "provide"
    if tag == IN_SCOPE:
        return "in_scope"
    if tag == WITH_FIBER:
        return peek([eff._a]).name or "with_fiber"
    return leaf_text(eff) or "effect"


def step_text(step: Effect[Any, Any, Any], self_ref: Effect[Any, Any, Any]) -> tuple[str, list[Effect[Any, Any, Any]], list[str]]:
    """The text of one step of a chain, the effects it holds (to draw as children), and
    tooltip notes."""
    tag = step._tag
    fns: list[object] = [step._b] if tag != FOLD else [step._b, step._c]
    first = fns[0]
    if tag != FOLD and not _is_library(first) and first is not _to_none:
        verb = "flat_map" if tag == FLAT_MAP else "map"
        return f"{verb}({fn_name(first)})", [], [fn_where(first)]
    p = peek(fns)
    effects = [e for e in p.effects if e is not self_ref]
    name = p.name or ("fold" if tag == FOLD else "flat_map" if tag == FLAT_MAP else "map")
    if name == "forever":
        return "\u21bb forever (repeat from step 1)", [], []
    text = f"{name}({', '.join(p.users)})" if p.users else name
    return text, effects, p.where


# --- matching effect-tree branches to the fibers of a trace ------------------------------------


Ctx = int | None  # the trace fiber running an effect, if known


class RunIndex:
    """The trace, indexed for annotating an effect tree; `reset` starts a new matching."""

    def __init__(self, trace: Trace) -> None:
        if trace._recorder is not None:  # a live trace: read its events once
            trace = Trace(trace.events)
        self.trace = trace
        fibers = self.fiber_list = trace.fibers()
        self.fibers: dict[int, FiberInfo] = {f.id: f for f in fibers}
        self.by_parent: dict[int | None, list[FiberInfo]] = {}
        for f in fibers:
            self.by_parent.setdefault(f.parent, []).append(f)
        self.errors: dict[int, str] = {}
        self.cancelled_by: dict[int, int | str | None] = {}
        for e in trace.events:
            if e.kind in ("fail", "die") and e.fiber not in self.errors:
                self.errors[e.fiber] = str(e.data.get("error", "?"))
            elif e.kind == "cancel" and e.fiber not in self.cancelled_by:
                self.cancelled_by[e.fiber] = e.by
        self.resources: dict[int, list[ResourceInfo]] = {}
        for r in trace.resources():
            self.resources.setdefault(r.fiber, []).append(r)
        self.by_name: dict[tuple[int, str | None], deque[int]] = {}
        self.matched = 0

    def reset(self) -> None:
        self.by_name = {}
        for parent, kids in self.by_parent.items():
            if parent is None:
                continue
            for f in kids:
                self.by_name.setdefault((parent, f.name), deque()).append(f.id)
        self.matched = 0

    def candidates(self, names: set[str], limit: int = 64) -> list[int]:
        """Fibers that forked a child with one of ``names``: where the root effect may have run."""
        out = [p for p, kids in self.by_parent.items()
               if p is not None and any(k.name in names for k in kids)]
        return sorted(out)[:limit]

    def match(self, ctx: Ctx, names: Sequence[str | None]) -> list[int | None]:
        """The children of ``ctx`` named ``names`` (each taken once, in fork order)."""
        if ctx is None:
            return [None] * len(names)
        found: list[int | None] = []
        for name in names:
            queue = self.by_name.get((ctx, name))
            found.append(queue.popleft() if queue else None)
        self.matched += sum(f is not None for f in found)
        return found

    def label(self, fid: int) -> str:
        f = self.fibers[fid]
        return f"{clean(f.name, 24)} (#{fid})" if f.name else f"#{fid}"

    def outcome_lines(self, fid: int) -> list[Line]:
        f = self.fibers[fid]
        fill, border, mark = OUTCOME[f.outcome]
        if f.outcome == "success":
            text = f"{mark} #{f.id} succeeded at {fmt_time(f.end or 0.0)}"
        elif f.outcome == "failure":
            text = f"{mark} #{f.id} failed: {clean(self.errors.get(fid, '?'), 40)}"
        elif f.outcome == "interrupted":
            by = self.cancelled_by.get(fid)
            who = f" by #{by}" if isinstance(by, int) else f" by {clean(str(by), 20)}" if by else ""
            text = f"{mark} #{f.id} interrupted{who} at {fmt_time(f.end or 0.0)}"
        else:
            text = f"{mark} #{f.id} never ended"
        return [Line(text, bold=True, color=border, size=10.0)]


# --- effect_tree -----------------------------------------------------------------------------


@dataclass
class _Item:
    eff: Effect[Any, Any, Any]
    parent: str | None
    role: str
    ctx: Ctx
    fiber: int | None = None
    badge: str | None = None


@dataclass
class _Child:
    eff: Effect[Any, Any, Any]
    role: str
    ctx: Ctx
    fiber: int | None = None
    badge: str | None = None


@dataclass
class _Desc:
    lines: list[Line]
    category: str
    children: list[_Child] = field(default_factory=list)
    tooltip: list[str] = field(default_factory=list)


class EffectTreeBuilder:
    def __init__(self, run: RunIndex | None, max_nodes: int) -> None:
        self.run = run
        self.max_nodes = max_nodes
        self.picture = Picture("effect_tree")
        self.box_effect: dict[str, int] = {}  # box -> id() of its effect (cycle detection)
        self.box_parent: dict[str, str | None] = {}
        self.elided: dict[str | None, int] = {}
        self.expected: set[str] = set()  # fiber names the branches would get
        self.acquired: dict[int, int] = {}  # fiber -> acquire_release boxes drawn for it

    def build(self, effect: Effect[Any, Any, Any], root_fiber: int | None) -> Picture:
        if self.run is not None:
            self.run.reset()
        queue: deque[_Item] = deque([_Item(effect, None, "", root_fiber, root_fiber)])
        boxes = self.picture.boxes
        while queue:
            item = queue.popleft()
            eff = unwrap(item.eff)
            back = self._ancestor_with(item.parent, id(eff))
            if back is not None and item.parent is not None:
                self.picture.arrows.append(Arrow(item.parent, back, "\u21bb " + item.role if item.role else "\u21bb",
                                                 dashed=True, constraint=False))
                continue
            if len(boxes) >= self.max_nodes:
                self.elided[item.parent] = self.elided.get(item.parent, 0) + 1
                continue
            name = f"n{len(boxes)}"
            desc = self.describe(eff, item.ctx)
            fill, border = CATEGORY[desc.category]
            box = Box(name, desc.lines, fill, border, tooltip="\n".join(desc.tooltip))
            if item.fiber is not None and self.run is not None:
                self.annotate(box, item.fiber, item.badge)
            boxes.append(box)
            self.box_effect[name] = id(eff)
            self.box_parent[name] = item.parent
            if item.parent is not None:
                self.picture.arrows.append(Arrow(item.parent, name, item.role))
            for child in desc.children:
                queue.append(_Item(child.eff, name, child.role, child.ctx, child.fiber, child.badge))
        by_name = {box.name: box for box in boxes}
        for parent, count in self.elided.items():
            if parent is not None:  # the box whose parts were left out says so
                by_name[parent].lines.append(Line(f"\u2026 {count:,} more below, not shown", bold=True,
                                                  color=MUTED, size=10.0))
        return self.picture

    def _ancestor_with(self, box: str | None, key: int) -> str | None:
        while box is not None:
            if self.box_effect.get(box) == key:
                return box
            box = self.box_parent.get(box)
        return None

    def annotate(self, box: Box, fid: int, badge: str | None) -> None:
        assert self.run is not None
        info = self.run.fibers[fid]
        fill, border, _ = OUTCOME[info.outcome]
        box.fill, box.border, box.penwidth = fill, border, 2.0
        box.dashed = info.outcome is None
        if badge:
            box.lines.append(Line(badge, bold=True, color=border, size=11.0))
        box.lines.extend(self.run.outcome_lines(fid))

    # each kind of node

    def describe(self, eff: Effect[Any, Any, Any], ctx: Ctx) -> _Desc:
        shape = shape_of(eff)
        if shape is not None and shape.kind != "sleep":
            return self.describe_shape(eff, shape, ctx)
        tag = eff._tag
        if tag in (FLAT_MAP, MAP, FOLD):
            return self.describe_sequence(eff, ctx)
        if tag == NAMED:
            tip = [f"built at {eff._c}"] if eff._c else []
            return _Desc([title_line(f"named {clean(repr(eff._b), 40)}")], "fiber",
                         [_Child(eff._a, "", ctx)], tip)
        if tag == FORK:
            return self.describe_fork(eff, ctx)
        if tag == STATUS:
            title = "uninterruptible" if eff._b is False else "interruptible"
            return _Desc([title_line(title)], "region", [_Child(eff._a, "", ctx)])
        if tag == PROVIDE:
            return _Desc([title_line("provide"), detail_line(clean(safe_repr(eff._b, 80), 40))], "region",
                         [_Child(eff._a, "", ctx)])
        if tag == IN_SCOPE:
            return _Desc([title_line("in_scope"), detail_line("acquires register in a given Scope")], "region",
                         [_Child(eff._a, "", ctx)])
        if tag == WITH_FIBER:
            p = peek([eff._a])
            if p.effects:
                lines = [title_line(p.name or "with_fiber")]
                if p.users:
                    lines.append(detail_line(", ".join(p.users)))
                return _Desc(lines, "region", [_Child(e, "", ctx) for e in p.effects], p.where)
        text = leaf_text(eff) or f"<{eff._tag}>"
        return _Desc([Line(text, size=11.0)], "fail" if tag == FAIL else "leaf")

    def describe_fork(self, eff: Effect[Any, Any, Any], ctx: Ctx) -> _Desc:
        opts: _ForkOptions = eff._b
        verb = "fork_in" if opts.scope is not None else "fork_daemon" if opts.daemon else "fork"
        name = opts.name
        if name is None and eff._a._tag == NAMED:
            name = eff._a._b
        lines = [title_line(verb)]
        if name is not None:
            lines.append(detail_line(f"name {clean(repr(name), 40)}"))
        lines.append(detail_line("runs in a new fiber" if verb == "fork" else
                                 "outlives its parent" if verb == "fork_daemon" else "lives until the scope closes"))
        if name is not None:
            self.expected.add(name)
        fid = self.run.match(ctx, [name])[0] if self.run is not None else None
        child_ctx: Ctx = fid
        tip = [f"built at {opts.source}"] if opts.source else []
        return _Desc(lines, "fiber", [_Child(eff._a, "", child_ctx, fid)], tip)

    def describe_sequence(self, eff: Effect[Any, Any, Any], ctx: Ctx) -> _Desc:
        steps: list[Effect[Any, Any, Any]] = []
        cur = eff
        while cur._tag in (FLAT_MAP, MAP, FOLD) and not _absorbs(cur):
            steps.append(cur)
            cur = cur._a
        steps.reverse()
        head = cur
        total = len(steps) + 1
        lines = [title_line(f"sequence \u00b7 {total:,} steps")]
        children: list[_Child] = []
        tips: list[str] = []
        shown = list(range(total)) if total <= SEQ_HEAD + SEQ_TAIL + 1 else (
            list(range(SEQ_HEAD)) + [-1] + list(range(total - SEQ_TAIL, total)))
        for k in shown:
            if k < 0:
                lines.append(detail_line(f"\u22ee {total - SEQ_HEAD - SEQ_TAIL:,} more steps", "left"))
                continue
            number = str(k + 1)
            if k == 0:
                text = leaf_text(head)
                effects = [] if text is not None else [head]
                text = text if text is not None else short_name(head)
                notes: list[str] = []
            else:
                text, effects, notes = step_text(steps[k - 1], eff)
            tips.extend(notes)
            if effects:
                text += " \u2193"
            lines.append(Line(f"{number}. {text}", size=10.0, align="left"))
            children.extend(_Child(e, f"step {number}", ctx) for e in effects)
        return _Desc(lines, "sequence", children, tips)

    def describe_shape(self, eff: Effect[Any, Any, Any], shape: _Shape, ctx: Ctx) -> _Desc:
        kind = shape.kind
        if kind in GROUP_KINDS:
            return self.describe_group(shape, ctx)
        if kind in TIMEOUT_KINDS:
            return self.describe_timeout(shape, ctx)
        if kind == "for_each_par":
            return self.describe_for_each(shape, ctx)
        lines = [title_line(kind)]
        children: list[_Child] = []
        tips: list[str] = []
        for role, value in shape.parts:
            if isinstance(value, Effect):
                label = "" if role == "effect" else role
                text = leaf_text(value) if role != "effect" else None
                if text is not None:
                    lines.append(detail_line(f"{role}: {text}", "left"))
                else:
                    children.append(_Child(value, label, ctx))
            elif callable(value):
                lines.append(detail_line(f"{role}: {fn_name(value)}", "left"))
                tips.append(f"{role}: {fn_where(value)}")
        if kind == "scoped":
            lines.insert(1, detail_line("releases its resources when it ends"))
        if kind == "acquire_release" and self.run is not None and ctx is not None:
            # the k-th acquire_release drawn for a fiber is paired with its k-th resource
            k = self.acquired.get(ctx, 0)
            self.acquired[ctx] = k + 1
            held = self.run.resources.get(ctx, [])
            if k < len(held):
                lines.append(self.resource_line(held[k]))
        return _Desc(lines, "resource", children, tips)

    @staticmethod
    def resource_line(r: ResourceInfo) -> Line:
        value = clean(r.value, 24)
        if r.released is None:
            return Line(f"\u26a0 {value} never released", bold=True, color=OUTCOME["failure"][1], size=10.0)
        return Line(f"{value} released at {fmt_time(r.released)} ({r.exit})", color=MUTED, size=10.0)

    def branch_names(self, kind: str, branches: Sequence[Effect[Any, Any, Any]]) -> list[str | None]:
        return [b._b if b._tag == NAMED else f"{kind}[{i}]" for i, b in enumerate(branches)]

    def describe_group(self, shape: _Shape, ctx: Ctx) -> _Desc:
        kind = shape.kind
        branches = [v for _, v in shape.parts if isinstance(v, Effect)]
        lines = [title_line(f"{kind} \u00b7 {len(branches)} branches"), detail_line(GROUP_HINT[kind])]
        names = self.branch_names(kind, branches)
        self.expected.update(n for n in names if n is not None)
        fids: list[int | None] = [None] * len(branches)
        if self.run is not None:
            fids = self.run.match(ctx, names)
        badges: list[str | None] = [None] * len(branches)
        if self.run is not None and any(f is not None for f in fids):
            infos = [self.run.fibers[f] if f is not None else None for f in fids]
            if kind in ("race", "race_success"):
                winner = self.pick_winner(infos, success_only=kind == "race_success")
                fw = fids[winner] if winner is not None else None
                if winner is not None and fw is not None:
                    won = self.run.fibers[fw].outcome == "success"
                    badges[winner] = "\u2605 winner" if won else "\u2605 finished first: its failure decides"
                    lines.append(Line(f"\u2605 {'winner' if won else 'decided by'}: [{winner}] {self.run.label(fw)}",
                                      bold=True, color=OUTCOME["success" if won else "failure"][1], size=10.0))
            lines.append(self.tally(infos))
        children = [_Child(b, f"[{i}]", fids[i], fids[i], badges[i]) for i, b in enumerate(branches)]
        return _Desc(lines, "parallel", children)

    @staticmethod
    def pick_winner(infos: Sequence[FiberInfo | None], success_only: bool) -> int | None:
        """The branch that decided: the first to end without being interrupted (for
        race_success, the first success)."""
        best: int | None = None
        best_key: tuple[float, int] | None = None
        for i, f in enumerate(infos):
            if f is None or f.end is None or f.outcome == "interrupted":
                continue
            if success_only and f.outcome != "success":
                continue
            key = (f.end, f.id)
            if best_key is None or key < best_key:
                best, best_key = i, key
        return best

    @staticmethod
    def tally(infos: Iterable[FiberInfo | None], unstarted: int = 0) -> Line:
        counts = {"success": 0, "failure": 0, "interrupted": 0, None: 0}
        for f in infos:
            if f is not None:
                counts[f.outcome if f.outcome in counts else None] += 1
        parts = [f"{counts['success']} ok"]
        if counts["failure"]:
            parts.append(f"{counts['failure']} failed")
        if counts["interrupted"]:
            parts.append(f"{counts['interrupted']} interrupted")
        if counts[None]:
            parts.append(f"{counts[None]} never ended")
        if unstarted:
            parts.append(f"{unstarted} never started")
        return Line(" \u00b7 ".join(parts), color=INK, size=10.0)

    def describe_timeout(self, shape: _Shape, ctx: Ctx) -> _Desc:
        effect = shape_part(shape, "effect")
        seconds = shape_part(shape, "seconds", 0.0)
        assert isinstance(effect, Effect)
        after = fmt_time(seconds) if isinstance(seconds, (int, float)) else "?"
        hint = {"timeout": "fails with TimeoutError if slower",
                "timeout_option": "NONE if slower", "timeout_to": "the default if slower"}[shape.kind]
        lines = [title_line(f"{shape.kind} {after}"), detail_line(hint)]
        fid = timer = None
        name = effect._b if effect._tag == NAMED else "timeout[0]"
        self.expected.update((name, "timeout[1]"))
        if self.run is not None:
            fid, timer = self.run.match(ctx, [name, "timeout[1]"])
            if timer is not None:
                t = self.run.fibers[timer]
                if t.outcome in ("success", "failure"):
                    lines.append(Line(f"{OUTCOME['failure'][2]} timed out at {fmt_time(t.end or 0.0)}", bold=True,
                                      color=OUTCOME["failure"][1], size=10.0))
                elif fid is not None and self.run.fibers[fid].outcome is not None:
                    lines.append(Line("finished in time", bold=True, color=OUTCOME["success"][1], size=10.0))
        return _Desc(lines, "parallel", [_Child(effect, "effect", fid, fid)])

    def describe_for_each(self, shape: _Shape, ctx: Ctx) -> _Desc:
        fn = shape_part(shape, "fn")
        n = shape_part(shape, "items", 0)
        par = shape_part(shape, "parallelism")
        count = n if isinstance(n, int) else 0
        lines = [title_line(f"for_each_par({fn_name(fn)})"),
                 detail_line(f"{count:,} items \u00b7 " + (f"at most {par} at a time" if par else "all at once")),
                 detail_line("results in input order")]
        self.expected.add("for_each_par[0]")
        if self.run is not None:
            found = [f for f in self.run.match(ctx, [f"for_each_par[{i}]" for i in range(count)]) if f is not None]
            if found:
                infos = [self.run.fibers[f] for f in found]
                lines.append(self.tally(infos, unstarted=count - len(found)))
        return _Desc(lines, "parallel", [], [f"fn: {fn_where(fn)}"])


# --- fiber_tree ------------------------------------------------------------------------------


def fiber_box(f: FiberInfo, index: RunIndex, name: str) -> Box:
    fill, border, mark = OUTCOME[f.outcome]
    title = f.label + (" \u00b7 daemon" if f.daemon else "")
    lines = [title_line(clean(title, 48))]
    if f.end is None:
        lines.append(detail_line(f"started {fmt_time(f.start)} \u00b7 never ended"))
    else:
        lines.append(detail_line(f"{fmt_time(f.start)} \u2192 {fmt_time(f.end)} "
                                 f"({fmt_time(round(f.end - f.start, 9))})"))
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
    lines.append(Line(outcome, bold=True, color=border, size=10.0))
    resources = index.resources.get(f.id, [])
    if resources:
        released = sum(r.released is not None for r in resources)
        lines.append(detail_line(f"resources: {len(resources)} acquired, {released} released"))
        for r in resources[:3]:
            lines.append(EffectTreeBuilder.resource_line(r))
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
        pic.boxes.append(fiber_box(f, index, name))
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
    if held_back:
        shown = sum(1 for b in pic.boxes if b.name.startswith("f"))
        pic.caption.append(f"showing {shown:,} of {total:,} fibers "
                           f"(max_nodes={max_nodes}, max_children={max_children})")
    return pic


# --- to graphviz -----------------------------------------------------------------------------

_GRAPH_CLASS: list[Any] = []


def _graphviz() -> Any:
    try:
        return importlib.import_module("graphviz")
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError("effectpy's trees are graphviz.Digraph objects and need the graphviz "
                          "package: pip install 'effectpy[notebook]' (or pip install graphviz)") from exc


def _repr_svg(self: Any) -> str:
    """The notebook display: through `render_svg`, so it shows even without ``dot``."""
    return render_svg(self)


def _graph_class() -> Any:
    """``TreeGraph``: a `graphviz.Digraph` that a notebook displays through `render_svg`
    (made on first use, so that graphviz is imported only then)."""
    if not _GRAPH_CLASS:
        base = _graphviz().Digraph
        cls = type("TreeGraph", (base,), {
            "__doc__": "A graphviz.Digraph that displays through effectpy.trace.render_svg.",
            "__module__": __name__, "_repr_image_svg_xml": _repr_svg})
        _GRAPH_CLASS.append(cls)
    return _GRAPH_CLASS[0]


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
    graphviz = _graphviz()
    graph = _graph_class()(
        name=pic.name,
        graph_attr={"rankdir": "TB", "ordering": "out", "nodesep": "0.25", "ranksep": "0.45",
                    "bgcolor": "white", "fontname": FONT, "fontsize": "10", "fontcolor": MUTED,
                    "labelloc": "b", "pad": "0.2"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "10",
                   "margin": "0.14,0.07", "color": CATEGORY["leaf"][1], "fontcolor": INK},
        edge_attr={"color": EDGE, "arrowsize": "0.6", "penwidth": "1.1", "fontname": FONT,
                   "fontsize": "9", "fontcolor": MUTED},
    )
    if pic.caption:
        graph.attr(label=html_label([Line(c, color=MUTED, size=10.0) for c in pic.caption]))
    for box in pic.boxes:
        attrs = {"fillcolor": box.fill, "color": box.border, "penwidth": f"{box.penwidth:g}"}
        if box.dashed:
            attrs["style"] = "rounded,filled,dashed"
        if box.tooltip:
            attrs["tooltip"] = graphviz.escape(clean(box.tooltip.replace("\n", " | "), 400))
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
    return graph


# --- public ----------------------------------------------------------------------------------


def effect_tree(effect: Effect[Any, Any, Any], trace: Trace | None = None, *,
                fiber: int | None = None, max_nodes: int = MAX_NODES) -> Digraph:
    """The structure of ``effect`` as a `graphviz.Digraph`, drawn before running it.

    Chains of ``flat_map``/``map``/``catch_all``... are folded into one "sequence" box
    listing their steps; user functions are opaque and shown by name (``flat_map(fetch)``),
    so effects built *inside* them are not shown. ``zip_par``, ``race``, ``race_success``,
    ``for_each_par``, ``timeout``, ``acquire_release``, ``scoped``, ``ensuring``, ``named``,
    ``fork``, ``uninterruptible`` ... are labelled boxes with their parts below them.
    At most ``max_nodes`` boxes are drawn; a dashed box says how many were left out.

    Given the ``trace`` of a run of ``effect``, the branches are annotated (best effort)
    with the fibers that ran them, found by name (``race[0]``, ``zip_par[1]``, or the
    ``.named(label)``) under the fiber running the group: outcome colours, the race
    winner, who interrupted whom, failures, timeouts, and resources released. ``fiber`` is
    the trace fiber that ran ``effect`` (default: the first fiber whose children match the
    first group's branch names). A group that ran several times is matched to its first
    run only.

    >>> import effectpy
    >>> graph = effect_tree(effectpy.race(effectpy.sleep(1), effectpy.sleep(2).named("slow")))
    >>> print(graph.source.count(" -> "))  # race -> [0], race -> [1], named -> sleep
    3
    >>> svg = render_svg(graph)  # with Graphviz's dot, or effectpy's own layout
    """
    if not isinstance(effect, Effect):
        raise TypeError(f"effect_tree expects an Effect, got {type(effect).__name__}")
    if trace is not None and not isinstance(trace, Trace):
        raise TypeError(f"effect_tree's trace must be a Trace, got {type(trace).__name__}")
    _check_limit(max_nodes, "max_nodes")
    run: RunIndex | None = None
    root: int | None = None
    if trace is not None:
        run = RunIndex(trace)
        if fiber is not None:
            if fiber not in run.fibers:
                raise ValueError(f"effect_tree: no fiber #{fiber} in this trace")
            root = fiber
        else:
            # the root effect ran in the fiber under which most of its branches are found
            static = EffectTreeBuilder(None, max_nodes)
            static.build(effect, None)
            best = 0
            for candidate in run.candidates(static.expected):
                EffectTreeBuilder(run, max_nodes).build(effect, candidate)
                if run.matched > best:
                    root, best = candidate, run.matched
    builder = EffectTreeBuilder(run, max_nodes)
    pic = builder.build(effect, root)
    if builder.elided:
        left_out = sum(builder.elided.values())
        pic.caption.append(f"box limit reached: showing {max_nodes} boxes; {left_out:,} parts not shown "
                           f"(max_nodes={max_nodes})")
    if run is not None:
        where = f"ran in fiber #{root}" if root is not None else "no fiber of the trace matched"
        pic.caption.append(f"annotated from a trace of {len(run.fibers)} fibers ({where}) \u00b7 "
                           "green success \u00b7 red failure \u00b7 amber interrupted")
    return to_digraph(pic)


def fiber_tree(trace: Trace, *, max_nodes: int = MAX_NODES, max_children: int = MAX_CHILDREN) -> Digraph:
    """The fibers of ``trace`` as a `graphviz.Digraph`: each fiber under its parent,
    coloured by outcome (green success, red failure, amber interrupted, grey dashed never
    ended), labelled with its name and id, lifetime, how it ended, and the resources it
    acquired (and whether they were released). At most ``max_children`` children are drawn
    under one fiber and ``max_nodes`` boxes in all; the rest are summarised with counts."""
    if not isinstance(trace, Trace):
        raise TypeError(f"fiber_tree expects a Trace, got {type(trace).__name__}")
    _check_limit(max_nodes, "max_nodes")
    _check_limit(max_children, "max_children")
    return to_digraph(build_fiber_tree(trace, max_nodes, max_children))


def _check_limit(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be an int >= 1, got {value!r}")


_notice_given = False

NOTICE: Final = ("effectpy: Graphviz's `dot` program was not found, so trees are drawn with "
                 "effectpy's simple built-in layout; install Graphviz (apt-get install graphviz, "
                 "brew install graphviz, conda install graphviz, ...) for the full rendering")


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

    Uses Graphviz's ``dot`` when it is installed; otherwise (``dot`` not on the PATH, or
    `graphviz.ExecutableNotFound`) draws it with effectpy's own deterministic top-down tree
    layout (same labels and colours; edges that do not fit the tree are dashed curves) and
    warns once with a `RuntimeWarning` saying so. The warning never stops the picture,
    even where warnings are errors.
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
    _notice()
    return fallback_svg(source)


# --- the fallback: DOT in, SVG out -----------------------------------------------------------


@dataclass
class Val:
    text: str
    html: bool = False


@dataclass
class DotGraph:
    name: str = ""
    directed: bool = True
    attrs: dict[str, Val] = field(default_factory=dict)
    nodes: dict[str, dict[str, Val]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, Val]]] = field(default_factory=list)


class DotError(ValueError):
    pass


def tokenize(source: str) -> list[tuple[str, str]]:
    """DOT tokens as (kind, text): id, str, html, op (``-> -- { } [ ] = ; , :``)."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(source)
    line_start = True
    while i < n:
        c = source[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if c == "#" and line_start:  # preprocessor-style line
            j = source.find("\n", i)
            i = n if j < 0 else j
            continue
        line_start = False
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"':
            j = i + 1
            buf = []
            while j < n and source[j] != '"':
                if source[j] == "\\" and j + 1 < n:
                    if source[j + 1] == '"':
                        buf.append('"')
                    elif source[j + 1] == "\n":
                        pass  # line continuation
                    else:
                        buf.append(source[j:j + 2])
                    j += 2
                    continue
                buf.append(source[j])
                j += 1
            tokens.append(("str", "".join(buf)))
            i = j + 1
        elif c == "<":
            depth, j = 0, i
            while j < n:
                if source[j] == "<":
                    depth += 1
                elif source[j] == ">":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            tokens.append(("html", source[i + 1:j]))
            i = j + 1
        elif source.startswith("->", i) or source.startswith("--", i):
            tokens.append(("op", source[i:i + 2]))
            i += 2
        elif c in "{}[]=;,:":
            tokens.append(("op", c))
            i += 1
        else:
            m = _ID.match(source, i)
            if m is None:
                raise DotError(f"unexpected {c!r} in DOT source")
            tokens.append(("id", m.group()))
            i = m.end()
    return tokens


_ID: Final = re.compile(r"-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)|[A-Za-z_\u0080-\U0010ffff][A-Za-z_0-9\u0080-\U0010ffff]*")


class DotParser:
    """The subset of DOT that graphviz's Python package writes: graph, node and edge
    statements, attribute lists and defaults, subgraphs (flattened)."""

    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.pos = 0
        self.graph = DotGraph()

    def peek(self, k: int = 0) -> tuple[str, str] | None:
        j = self.pos + k
        return self.tokens[j] if j < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise DotError("unexpected end of DOT source")
        self.pos += 1
        return tok

    def is_op(self, text: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok is not None and tok[0] == "op" and tok[1] == text

    def expect(self, text: str) -> None:
        tok = self.next()
        if tok != ("op", text):
            raise DotError(f"expected {text!r}, got {tok[1]!r}")

    def parse(self) -> DotGraph:
        tok = self.next()
        if tok[0] == "id" and tok[1].lower() == "strict":
            tok = self.next()
        if tok[0] != "id" or tok[1].lower() not in ("graph", "digraph"):
            raise DotError("a DOT graph starts with 'graph' or 'digraph'")
        self.graph.directed = tok[1].lower() == "digraph"
        nxt = self.peek()
        if nxt is not None and nxt[0] != "op":
            self.graph.name = self.next()[1]
        self.expect("{")
        self.statements({}, {}, 0)
        return self.graph

    def value(self) -> Val:
        kind, text = self.next()
        if kind == "op":
            raise DotError(f"expected a value, got {text!r}")
        return Val(text, html=kind == "html")

    def attr_list(self) -> dict[str, Val]:
        attrs: dict[str, Val] = {}
        while self.is_op("["):
            self.next()
            while not self.is_op("]"):
                key = self.value().text
                if self.is_op("="):
                    self.next()
                    attrs[key] = self.value()
                else:
                    attrs[key] = Val("true")
                if self.is_op(",") or self.is_op(";"):
                    self.next()
            self.next()
        return attrs

    def node_id(self) -> str:
        name = self.value().text
        while self.is_op(":"):  # a port: ignored
            self.next()
            self.value()
        return name

    def statements(self, node_defaults: dict[str, Val], edge_defaults: dict[str, Val], depth: int) -> list[str]:
        """Parse statements up to the closing brace; returns the nodes mentioned."""
        if depth > 64:
            raise DotError("subgraphs nested too deeply")
        mentioned: list[str] = []
        node_defaults = dict(node_defaults)
        edge_defaults = dict(edge_defaults)
        while not self.is_op("}"):
            if self.is_op(";"):
                self.next()
                continue
            tok = self.peek()
            if tok is None:
                raise DotError("missing '}' at the end of the DOT source")
            if tok[0] == "id" and tok[1].lower() in ("graph", "node", "edge") and self.is_op("[", 1):
                self.next()
                attrs = self.attr_list()
                kind = tok[1].lower()
                if kind == "node":
                    node_defaults.update(attrs)
                elif kind == "edge":
                    edge_defaults.update(attrs)
                elif depth == 0:
                    self.graph.attrs.update(attrs)
                continue
            if self.is_op("=", 1):
                key = self.value().text
                self.next()
                val = self.value()
                if depth == 0:
                    self.graph.attrs[key] = val
                continue
            names, is_node = self.endpoint(node_defaults, edge_defaults, depth)
            mentioned.extend(names)
            groups = [names]
            while self.is_op("->") or self.is_op("--"):
                self.next()
                heads, _ = self.endpoint(node_defaults, edge_defaults, depth)
                mentioned.extend(heads)
                groups.append(heads)
            attrs = self.attr_list()
            if len(groups) > 1:
                for tails, heads in zip(groups, groups[1:]):
                    for t in tails:
                        for h in heads:
                            edge = dict(edge_defaults)
                            edge.update(attrs)
                            self.graph.edges.append((t, h, edge))
            elif is_node and attrs:
                self.graph.nodes[names[0]].update(attrs)
        self.next()
        return mentioned

    def endpoint(self, node_defaults: dict[str, Val], edge_defaults: dict[str, Val],
                 depth: int) -> tuple[list[str], bool]:
        """A node id (True) or a subgraph (False), and the nodes it names."""
        tok = self.peek()
        if self.is_op("{") or (tok is not None and tok[0] == "id" and tok[1].lower() == "subgraph"):
            if not self.is_op("{"):
                self.next()
                if not self.is_op("{"):
                    self.value()  # the subgraph's name
            self.expect("{")
            return self.statements(node_defaults, edge_defaults, depth + 1), False
        name = self.node_id()
        if name not in self.graph.nodes:
            self.graph.nodes[name] = dict(node_defaults)
        return [name], True


# --- labels: DOT escString and HTML-like labels to lines of styled text ----------------------


@dataclass
class Run:
    text: str
    bold: bool = False
    italic: bool = False
    color: str | None = None
    size: float | None = None


@dataclass
class TextLine:
    runs: list[Run]
    align: str = "center"


def esc_string_lines(text: str, node: str, graph: str) -> list[TextLine]:
    r"""Lines of a DOT escString: ``\n`` (centred), ``\l`` (left), ``\r`` (right) end a
    line; ``\N`` is the node's name and ``\G`` the graph's; other escapes drop the
    backslash."""
    lines: list[TextLine] = []
    buf: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            e = text[i + 1]
            i += 2
            if e in "nlr":
                lines.append(TextLine([Run("".join(buf))], {"n": "center", "l": "left", "r": "right"}[e]))
                buf = []
            elif e == "N":
                buf.append(node)
            elif e == "G":
                buf.append(graph)
            else:
                buf.append(e)
            continue
        buf.append(c)
        i += 1
    if buf or not lines:
        lines.append(TextLine([Run("".join(buf))]))
    return lines


_XML_ENTITIES: Final = ("amp", "lt", "gt", "quot", "apos")
_ENTITY: Final = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")


def _entity(m: re.Match[str]) -> str:
    name = m.group(1)
    if name in _XML_ENTITIES:
        return m.group()
    import html.entities
    char = html.entities.html5.get(name + ";")
    return "".join(f"&#{ord(c)};" for c in char) if char else f"&amp;{name};"


def _html_backslashes(text: str, node: str, graph: str) -> str:
    r"""What dot makes of backslashes in the text of an HTML-like label: ``\\`` is one
    backslash, ``\N`` the node's name, ``\G`` the graph's; any other is kept as it is."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "\\NG":
            e = text[i + 1]
            out.append("\\" if e == "\\" else node if e == "N" else graph)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class _HtmlWalker:
    def __init__(self, node: str = "", graph: str = "") -> None:
        self.node = node
        self.graph = graph
        self.lines: list[TextLine] = []
        self.runs: list[Run] = []
        self.cell_align = "center"  # the alignment of the last table cell seen

    def flush(self, align: str, force: bool = False) -> None:
        if self.runs or force:
            self.lines.append(TextLine(self.runs, align))
        self.runs = []

    def text(self, text: str | None, style: Run) -> None:
        if text and "\\" in text:
            text = _html_backslashes(text, self.node, self.graph)
        if text:
            text = " ".join(text.split()) if text.strip() else (" " if self.runs else "")
            if text:
                self.runs.append(Run(text, style.bold, style.italic, style.color, style.size))

    def walk(self, elem: ET.Element, style: Run, align: str, balign: str, depth: int) -> None:
        tag = elem.tag.upper() if isinstance(elem.tag, str) else ""
        if depth > 60:
            self.text(" ".join(elem.itertext()), style)
            return
        attrs = {k.upper(): v for k, v in elem.attrib.items()}
        if tag == "BR":
            self.flush(str(attrs.get("ALIGN", balign)).lower(), force=True)
        elif tag in ("TABLE", "TR"):
            self.flush(align)
        elif tag == "TD":
            align = self.cell_align = str(attrs.get("ALIGN", "center")).lower()
            balign = str(attrs.get("BALIGN", align)).lower()
        style = Run("", style.bold or tag == "B", style.italic or tag == "I", style.color, style.size)
        if tag == "FONT":
            if "COLOR" in attrs:
                style.color = attrs["COLOR"]
            try:
                style.size = float(attrs["POINT-SIZE"]) if "POINT-SIZE" in attrs else style.size
            except ValueError:
                pass
        if tag != "BR":
            self.text(elem.text, style)
            for child in elem:
                self.walk(child, style, align, balign, depth + 1)
                self.text(child.tail, style)
        if tag in ("TR", "TABLE"):
            self.flush(self.cell_align if tag == "TR" else align)
            self.cell_align = "center"


def html_lines(text: str, node: str = "", graph: str = "") -> list[TextLine]:
    """Lines of an HTML-like label (tables become one line per row)."""
    try:
        root = ET.fromstring(f"<LABEL>{_ENTITY.sub(_entity, text)}</LABEL>")
    except ET.ParseError:
        import html
        plain = html.unescape(re.sub(r"<[^>]*>", " ", text))
        return [TextLine([Run(" ".join(plain.split()))])]
    walker = _HtmlWalker(node, graph)
    walker.walk(root, Run(""), "center", "center", 0)
    walker.flush("center")
    lines = [ln for ln in walker.lines if ln.runs and any(r.text.strip() for r in ln.runs)]
    return lines or [TextLine([Run("")])]


def label_lines(val: Val | None, node: str, graph: str) -> list[TextLine]:
    if val is None:
        return esc_string_lines("\\N", node, graph)
    return html_lines(val.text, node, graph) if val.html else esc_string_lines(val.text, node, graph)


# --- text metrics (Helvetica's, which Liberation Sans and Arial share) -----------------------

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


# --- the fallback layout ---------------------------------------------------------------------

PAD_X: Final = 10.0
PAD_Y: Final = 6.0
H_GAP: Final = 18.0
V_GAP: Final = 46.0
MARGIN: Final = 14.0
_COLOR: Final = re.compile(r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?|#[0-9a-fA-F]{3}|[A-Za-z]{3,24}")


def color(val: Val | str | None, default: str) -> str:
    """A colour safe to write into SVG: ``#rrggbb`` or a colour name; else ``default``."""
    text = val.text if isinstance(val, Val) else val
    if text is None:
        return default
    text = text.strip().split(":", 1)[0].split(";", 1)[0]
    if _COLOR.fullmatch(text):
        return text[:7].lower() if text.startswith("#") else text.lower()
    return default


def number(val: Val | None, default: float) -> float:
    try:
        x = float(val.text) if val is not None else default
    except ValueError:
        return default
    return x if 0 < x < 1000 else default


def num(x: float) -> str:
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass
class Placed:
    name: str
    lines: list[TextLine]
    width: float
    height: float
    size: float
    fontcolor: str
    attrs: dict[str, Val]
    x: float = 0.0  # centre
    y: float = 0.0  # centre
    depth: int = 0


def line_metrics(line: TextLine, size: float) -> tuple[float, float]:
    width = sum(text_width(r.text, r.size or size, r.bold) for r in line.runs)
    height = max([r.size or size for r in line.runs] + [1.0]) * 1.3
    return width, height


def measure(name: str, attrs: dict[str, Val], graph: DotGraph, defaults: tuple[float, str]) -> Placed:
    size = number(attrs.get("fontsize"), defaults[0])
    lines = label_lines(attrs.get("label"), name, graph.name)
    widths, heights = zip(*(line_metrics(ln, size) for ln in lines))
    width = max(max(widths) + 2 * PAD_X, 36.0)
    height = max(sum(heights) + 2 * PAD_Y, 26.0)
    return Placed(name, lines, width, height, size, color(attrs.get("fontcolor"), defaults[1]), attrs)


def layout(graph: DotGraph) -> tuple[list[Placed], list[tuple[Placed, Placed, dict[str, Val]]],
                                     list[tuple[Placed, Placed, dict[str, Val]]], float, float]:
    """A top-down tidy tree: each subtree gets the width it needs, a parent is centred over
    its children, rows are as tall as their tallest box. Edges that would make a node's
    second parent (or a cycle) are kept aside as cross edges."""
    placed = {name: measure(name, attrs, graph, (14.0, "black")) for name, attrs in graph.nodes.items()}
    parent: dict[str, str] = {}
    children: dict[str, list[str]] = {name: [] for name in placed}
    tree: list[tuple[Placed, Placed, dict[str, Val]]] = []
    cross: list[tuple[Placed, Placed, dict[str, Val]]] = []
    for tail, head, attrs in graph.edges:
        if tail not in placed or head not in placed:
            continue
        ok = (head not in parent and tail != head
              and attrs.get("constraint", Val("true")).text.lower() not in ("false", "0", "no"))
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
            tree.append((placed[tail], placed[head], attrs))
        else:
            cross.append((placed[tail], placed[head], attrs))
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


def _dash(style: str) -> str:
    if "dashed" in style:
        return ' stroke-dasharray="5,3"'
    if "dotted" in style:
        return ' stroke-dasharray="1.5,3"'
    return ""


def _text_line(line: TextLine, x_left: float, x_mid: float, x_right: float, baseline: float,
               size: float, fill: str) -> str:
    anchor, x = {"left": ("start", x_left), "right": ("end", x_right)}.get(line.align, ("middle", x_mid))
    spans = []
    for r in line.runs:
        attrs = ""
        if r.bold:
            attrs += ' font-weight="bold"'
        if r.italic:
            attrs += ' font-style="italic"'
        if r.color is not None:
            attrs += f' fill="{color(r.color, fill)}"'
        if r.size is not None and r.size != size:
            attrs += f' font-size="{num(r.size)}"'
        spans.append(f"<tspan{attrs}>{xml_escape(clean(r.text, 10_000))}</tspan>" if attrs
                     else xml_escape(clean(r.text, 10_000)))
    return (f'<text x="{num(x)}" y="{num(baseline)}" text-anchor="{anchor}" font-size="{num(size)}" '
            f'fill="{fill}" xml:space="preserve">{"".join(spans)}</text>')


def _arrowhead(x: float, y: float, dx: float, dy: float, fill: str) -> str:
    """A small triangle with its tip at (x, y), pointing along (dx, dy)."""
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / length, dy / length
    bx, by = x - ux * 7, y - uy * 7
    px, py = -uy * 3.5, ux * 3.5
    return (f'<polygon points="{num(x)},{num(y)} {num(bx + px)},{num(by + py)} '
            f'{num(bx - px)},{num(by - py)}" fill="{fill}" stroke="none"/>')


def _edge_svg(tail: Placed, head: Placed, attrs: dict[str, Val], directed: bool, is_tree: bool,
              graph: DotGraph, spread: float = 0.0) -> list[str]:
    """One edge; ``spread`` moves a tree edge's start along the parent's bottom side, so
    that a wide fan-out does not leave from a single point."""
    style = attrs.get("style", Val("")).text.lower()
    if "invis" in style:
        return []
    stroke = color(attrs.get("color"), "black")
    width = number(attrs.get("penwidth"), 2.0 if "bold" in style else 1.0)
    arrow = directed and attrs.get("dir", Val("forward")).text.lower() not in ("none", "back") \
        and attrs.get("arrowhead", Val("normal")).text.lower() != "none"
    if not is_tree and "dashed" not in style and "dotted" not in style:
        style += " dashed"
    out = []
    if tail is head:  # a loop on the right side
        x, y = tail.x + tail.width / 2, tail.y
        d = f"M{num(x)},{num(y - 6)} C{num(x + 28)},{num(y - 20)} {num(x + 28)},{num(y + 20)} {num(x + 7)},{num(y + 6)}"
        tip, direction, mid = (x, y + 6), (-7.0, 0.0), (x + 24, y)
    elif head.depth > tail.depth:  # downwards: an S-curve from bottom to top
        x1, y1 = tail.x + spread, tail.y + tail.height / 2
        x2, y2 = head.x, head.y - head.height / 2
        ym = (y1 + y2) / 2
        end = y2 - (7 if arrow else 0)
        d = f"M{num(x1)},{num(y1)} C{num(x1)},{num(ym)} {num(x2)},{num(ym)} {num(x2)},{num(end)}"
        # the label sits near the child end, where neighbouring edges are apart
        tip, direction = (x2, y2), (0.0, 1.0)
        mid = (0.104 * x1 + 0.896 * x2, 0.008 * y1 + 0.48 * ym + 0.512 * y2 - 4)
    else:  # upwards or sideways: around the right-hand sides
        x1, y1 = tail.x + tail.width / 2, tail.y
        x2, y2 = head.x + head.width / 2, head.y
        bulge = max(x1, x2) + 36
        end = x2 + (7 if arrow else 0)
        d = f"M{num(x1)},{num(y1)} C{num(bulge)},{num(y1)} {num(bulge)},{num(y2)} {num(end)},{num(y2)}"
        tip, direction, mid = (x2, y2), (-1.0, 0.0), ((x1 + x2) / 2 + (bulge - (x1 + x2) / 2) * 0.75, (y1 + y2) / 2)
    out.append(f'<path d="{d}" fill="none" stroke="{stroke}" stroke-width="{num(width)}"{_dash(style)}/>')
    if arrow:
        out.append(_arrowhead(tip[0], tip[1], direction[0], direction[1], stroke))
    label = attrs.get("label")
    if label is not None:
        size = number(attrs.get("fontsize"), 14.0)
        fill = color(attrs.get("fontcolor"), "black")
        for k, line in enumerate(label_lines(label, "", graph.name)):
            text = "".join(r.text for r in line.runs).strip()
            if not text:
                continue
            out.append(f'<text x="{num(mid[0] + 5)}" y="{num(mid[1] + size * 0.35 + k * size * 1.2)}" '
                       f'font-size="{num(size)}" fill="{fill}" stroke="white" stroke-width="3" '
                       f'paint-order="stroke" stroke-linejoin="round">{xml_escape(clean(text, 200))}</text>')
    return out


def _node_svg(box: Placed) -> list[str]:
    attrs = box.attrs
    style = attrs.get("style", Val("")).text.lower()
    if "invis" in style:
        return []
    shape = attrs.get("shape", Val("box")).text.lower()
    border = color(attrs.get("color"), "black")
    fill = color(attrs.get("fillcolor"), color(attrs.get("color"), "lightgrey")) if "filled" in style else "none"
    width = number(attrs.get("penwidth"), 2.0 if "bold" in style else 1.0)
    x0, y0 = box.x - box.width / 2, box.y - box.height / 2
    tooltip = attrs.get("tooltip")
    title = esc_string_lines(tooltip.text, box.name, "") if tooltip is not None and not tooltip.html else None
    title_text = (" ".join("".join(r.text for r in ln.runs) for ln in title) if title
                  else " ".join("".join(r.text for r in ln.runs) for ln in box.lines))
    out = [f'<g class="node" id="node-{xml_escape(clean(box.name, 80))}">',
           f"<title>{xml_escape(clean(title_text, 1000))}</title>"]
    if shape not in ("plaintext", "plain", "none"):
        out.append(f'<rect x="{num(x0)}" y="{num(y0)}" width="{num(box.width)}" height="{num(box.height)}" '
                   f'rx="7" ry="7" fill="{fill}" stroke="{border}" stroke-width="{num(width)}"{_dash(style)}/>')
    heights = [line_metrics(ln, box.size)[1] for ln in box.lines]
    y = box.y - sum(heights) / 2
    for line, h in zip(box.lines, heights):
        size = max([r.size or box.size for r in line.runs] + [1.0])
        out.append(_text_line(line, x0 + PAD_X, box.x, x0 + box.width - PAD_X, y + h * 0.5 + size * 0.35,
                              box.size, box.fontcolor))
        y += h
    out.append("</g>")
    return out


def fallback_svg(source: str) -> str:
    """Draw DOT ``source`` (as graphviz's Python package writes it) as a standalone SVG
    with effectpy's tidy-tree layout. Deterministic: the same source gives the same bytes."""
    graph = DotParser(source).parse()
    boxes, tree, cross, width, height = layout(graph)
    caption = graph.attrs.get("label")
    cap_lines = label_lines(caption, "", graph.name) if caption is not None else []
    cap_size = number(graph.attrs.get("fontsize"), 14.0)
    cap_color = color(graph.attrs.get("fontcolor"), "black")
    cap_height = sum(line_metrics(ln, cap_size)[1] for ln in cap_lines)
    cap_width = max([line_metrics(ln, cap_size)[0] for ln in cap_lines] + [0.0])
    width = max(width, cap_width + 2 * MARGIN)
    total_height = height + (cap_height + 6 if cap_lines else 0)
    bg = color(graph.attrs.get("bgcolor"), "white")
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
           "<!-- drawn by effectpy's built-in tree layout (Graphviz's dot was not available) -->",
           f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}pt" height="{num(total_height)}pt" '
           f'viewBox="0 0 {num(width)} {num(total_height)}" font-family="Helvetica, Arial, \'Liberation Sans\', sans-serif">',
           f"<title>{xml_escape(clean(graph.name or 'graph', 200))}</title>",
           f'<rect x="0" y="0" width="{num(width)}" height="{num(total_height)}" fill="{bg}"/>',
           '<g class="edges">']
    fan: dict[str, int] = {}
    for tail, _, _ in tree:
        fan[tail.name] = fan.get(tail.name, 0) + 1
    seen: dict[str, int] = {}
    for tail, head, attrs in tree:
        k, n = seen.get(tail.name, 0), fan[tail.name]
        seen[tail.name] = k + 1
        step = min(10.0, (tail.width - 24) / max(n - 1, 1)) if n > 1 else 0.0
        out.extend(_edge_svg(tail, head, attrs, graph.directed, True, graph, (k - (n - 1) / 2) * step))
    for tail, head, attrs in cross:
        out.extend(_edge_svg(tail, head, attrs, graph.directed, False, graph))
    out.append("</g>")
    out.append('<g class="nodes">')
    for box in boxes:
        out.extend(_node_svg(box))
    out.append("</g>")
    if cap_lines:
        y = height + 2
        out.append('<g class="caption">')
        for line in cap_lines:
            h = line_metrics(line, cap_size)[1]
            line.align = "center"
            out.append(_text_line(line, MARGIN, width / 2, width - MARGIN, y + h * 0.5 + cap_size * 0.35,
                                  cap_size, cap_color))
            y += h
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
