"""`effect_tree`: the structure of an `Effect` as a `Picture`, drawn before it runs, and
annotated (best effort) from the `Trace` of a run of it: the fiber that ran each branch, how
it ended, the race winner, who interrupted whom, the resources released.

Nothing here runs an effect or calls a user function: user functions are opaque and shown by
name; only the closures effectpy's own combinators made are looked into. Every traversal is
iterative and every picture is capped in size.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .._core._cause import Cause
from .._core._effect import Effect, _to_none
from .._core._nodes import (
    ASYNC, ATTEMPT, AWAIT, CALLBACK, FAIL, FLAT_MAP, FOLD, FORK, IN_SCOPE, MAP, NAMED, OP, PROVIDE, STATUS,
    SUCCEED, SUSPEND, SYNC, WITH_FIBER, YIELD, _ForkOptions, _OneShot, _Shape,
)
from .._timeout import TIMER
from ._events import safe_repr
from ._text import fmt_duration
from ._trace import FiberInfo, ResourceInfo, Trace
from ._tree_picture import (
    CATEGORY, INK, MAX_NODES, MUTED, OUTCOME, Arrow, Box, Line, Picture, check_limit, clean,
    SMALL, detail_line, title_line, to_digraph,
)

if TYPE_CHECKING:
    from graphviz import Digraph  # type: ignore[import-untyped,import-not-found,unused-ignore]

__all__ = ["effect_tree"]

SEQ_HEAD: Final = 14  # steps of a long sequence shown before the elision ...
SEQ_TAIL: Final = 3  # ... and after it

GROUP_KINDS: Final = ("zip_par", "race", "race_success")
TIMEOUT_KINDS: Final = ("timeout", "timeout_option", "timeout_to")
GROUP_HINT: Final = {
    "zip_par": "all in parallel \u00b7 first failure stops the rest",
    "race": "first to finish decides (success or failure)",
    "race_success": "first success wins",
}


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
    if eff._tag in (CALLBACK, WITH_FIBER, STATUS, SUSPEND) and isinstance(eff._c, _Shape):
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
            return f"sleep {fmt_duration(seconds)}" if isinstance(seconds, (int, float)) else "sleep"
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
    if tag == OP:
        return fn_name(eff._a)  # a library operation, e.g. queue.offer
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


_LEADS_TO: Final = frozenset({FLAT_MAP, MAP, FOLD, STATUS, PROVIDE, IN_SCOPE})


def fiber_name(eff: Effect[Any, Any, Any]) -> str | None:
    """The name a fiber that runs ``eff`` takes (the runtime's rule): that of the first
    `.named` its run meets, following the steps that run first; None if none is met."""
    for _ in range(10_000):  # a bound: effects are finite, but may be built very deep
        if eff._tag == NAMED:
            return str(eff._b)
        if eff._tag not in _LEADS_TO:
            break
        eff = eff._a
    return None


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
    """The trace, indexed for annotating an effect tree (`fiber_tree` reads it too);
    `reset` starts a new matching."""

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
        self.retries: dict[int, int] = {}  # fiber -> retry events
        for e in trace.events:
            if e.kind == "retry":
                self.retries[e.fiber] = self.retries.get(e.fiber, 0) + 1
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
            text = f"{mark} #{f.id} succeeded at {fmt_duration(f.end or 0.0)}"
        elif f.outcome == "failure":
            text = f"{mark} #{f.id} failed: {clean(self.errors.get(fid, '?'), 40)}"
        elif f.outcome == "interrupted":
            by = self.cancelled_by.get(fid)
            who = f" by #{by}" if isinstance(by, int) else f" by {clean(str(by), 20)}" if by else ""
            text = f"{mark} #{f.id} interrupted{who} at {fmt_duration(f.end or 0.0)}"
        else:
            text = f"{mark} #{f.id} never ended"
        return [Line(text, bold=True, color=border, size=SMALL)]


def resource_line(r: ResourceInfo) -> Line:
    """How a resource ended, in an annotated effect tree and in a fiber's box."""
    value = clean(r.value, 24)
    if r.released is None:
        return Line(f"\u26a0 {value} never released", bold=True, color=OUTCOME["failure"][1], size=SMALL)
    return Line(f"{value} released at {fmt_duration(r.released)} ({r.exit})", color=MUTED, size=SMALL)


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
                                                  color=MUTED, size=SMALL))
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
        box.fiber = fid
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
        name = opts.name if opts.name is not None else fiber_name(eff._a)
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
            lines.append(Line(f"{number}. {text}", size=SMALL, align="left"))
            children.extend(_Child(e, f"step {number}", ctx) for e in effects)
        return _Desc(lines, "sequence", children, tips)

    def describe_shape(self, eff: Effect[Any, Any, Any], shape: _Shape, ctx: Ctx) -> _Desc:
        kind = shape.kind
        if kind in GROUP_KINDS:
            return self.describe_group(shape, ctx)
        if kind in TIMEOUT_KINDS:
            return self.describe_timeout(shape, ctx)
        if kind in ("for_each", "for_each_par"):
            return self.describe_for_each(shape, ctx)
        if kind in ("retry", "repeat"):
            return self.describe_repetition(shape, ctx)
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
                lines.append(resource_line(held[k]))
        return _Desc(lines, "resource", children, tips)

    def branch_names(self, kind: str, branches: Sequence[Effect[Any, Any, Any]]) -> list[str | None]:
        return [fiber_name(b) or f"{kind}[{i}]" for i, b in enumerate(branches)]

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
                                      bold=True, color=OUTCOME["success" if won else "failure"][1], size=SMALL))
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
        return Line(" \u00b7 ".join(parts), color=INK, size=SMALL)

    def describe_timeout(self, shape: _Shape, ctx: Ctx) -> _Desc:
        effect = shape_part(shape, "effect")
        seconds = shape_part(shape, "seconds", 0.0)
        assert isinstance(effect, Effect)
        after = fmt_duration(seconds) if isinstance(seconds, (int, float)) else "?"
        hint = {"timeout": "fails with TimeoutError if slower",
                "timeout_option": "NONE if slower", "timeout_to": "the default if slower"}[shape.kind]
        lines = [title_line(f"{shape.kind} {after}"), detail_line(hint)]
        fid = timer = None
        name = fiber_name(effect) or "timeout[0]"
        self.expected.update((name, TIMER))
        if self.run is not None:
            fid, timer = self.run.match(ctx, [name, TIMER])
            if timer is not None:
                t = self.run.fibers[timer]
                if t.outcome in ("success", "failure"):
                    lines.append(Line(f"{OUTCOME['failure'][2]} timed out at {fmt_duration(t.end or 0.0)}", bold=True,
                                      color=OUTCOME["failure"][1], size=SMALL))
                elif fid is not None and self.run.fibers[fid].outcome is not None:
                    lines.append(Line("finished in time", bold=True, color=OUTCOME["success"][1], size=SMALL))
        return _Desc(lines, "parallel", [_Child(effect, "effect", fid, fid)])

    def describe_repetition(self, shape: _Shape, ctx: Ctx) -> _Desc:
        effect = shape_part(shape, "effect")
        schedule = shape_part(shape, "schedule")
        assert isinstance(effect, Effect)
        hint = ("again after each typed failure" if shape.kind == "retry"
                else "again after each success")
        lines = [title_line(f"{shape.kind} \u00b7 {clean(repr(schedule), 60)}"), detail_line(hint)]
        if self.run is not None and ctx is not None and shape.kind == "retry":
            n = self.run.retries.get(ctx, 0)
            lines.append(Line(f"\u21bb retried {n} time{'s' if n != 1 else ''}", bold=True,
                              color=INK, size=SMALL))
        return _Desc(lines, "resource", [_Child(effect, "", ctx)])

    def describe_for_each(self, shape: _Shape, ctx: Ctx) -> _Desc:
        fn = shape_part(shape, "fn")
        n = shape_part(shape, "items", 0)
        count = n if isinstance(n, int) else 0
        lines = [title_line(f"{shape.kind}({fn_name(fn)})")]
        if shape.kind == "for_each":  # sequential: in this fiber
            discard = shape_part(shape, "discard")
            lines += [detail_line(f"{count:,} items \u00b7 one after another"),
                      detail_line("results discarded" if discard else "results in input order")]
            return _Desc(lines, "sequence", [], [f"fn: {fn_where(fn)}"])
        par = shape_part(shape, "parallelism")
        lines += [detail_line(f"{count:,} items \u00b7 " + (f"at most {par} at a time" if par else "all at once")),
                  detail_line("results in input order")]
        self.expected.add("for_each_par[0]")
        if self.run is not None:
            found = [f for f in self.run.match(ctx, [f"for_each_par[{i}]" for i in range(count)]) if f is not None]
            if found:
                infos = [self.run.fibers[f] for f in found]
                lines.append(self.tally(infos, unstarted=count - len(found)))
        return _Desc(lines, "parallel", [], [f"fn: {fn_where(fn)}"])




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
    >>> svg = effectpy.trace.render_svg(graph)  # with Graphviz's dot, or effectpy's own layout
    """
    return to_digraph(effect_tree_picture(effect, trace, fiber=fiber, max_nodes=max_nodes))


def effect_tree_picture(effect: Effect[Any, Any, Any], trace: Trace | None = None, *,
                        fiber: int | None = None, max_nodes: int = MAX_NODES) -> Picture:
    """`effect_tree` as the neutral `Picture` model (the widget draws it with its own layout)."""
    if not isinstance(effect, Effect):
        raise TypeError(f"effect_tree expects an Effect, got {type(effect).__name__}")
    if trace is not None and not isinstance(trace, Trace):
        raise TypeError(f"effect_tree's trace must be a Trace, got {type(trace).__name__}")
    check_limit(max_nodes, "max_nodes")
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
            if root is None and len(roots := [f for f in run.fiber_list if f.parent is None]) == 1:
                root = roots[0].id  # nothing to match by name: the run's only root fiber
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
    return pic
