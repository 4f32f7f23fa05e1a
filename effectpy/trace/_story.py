"""What a trace's pictures say, read once from its events: the vocabulary every renderer
shares (the SVG timeline, the widget's static fallback, `Trace.summary`).

- Labels: ``#2 Primary``; a root without a name is ``#1 main``; effectpy's own fibers
  (named ``effectpy:<role>``: a timeout's timer, a stream's pump) are ``⚙ <role>``, and are
  *internal*: folded under their owner (the nearest ancestor that is not internal); the
  fibers they fork for the program (map_par's calls) are drawn under that owner.
- Failures: a ``fail`` or ``die`` event is *unhandled* when its error is in the cause its
  fiber ended with; else it was *caught*: its fiber went on (it ended successfully, was
  interrupted later, retried, or failed with another error), and what came of it is said
  (``recovered``, ``retried``, ``then 'other error'``).
- Cleanup: from the first interruption of a fiber to its end, the fiber is *releasing*
  (running its finalizers); its releases are labelled with the resource's value.
- The result of each root: its value when the exit event carries one (``data["value"]``),
  its error, or how it ended.
- One title rule: the title given, else one made from the roots' names.

The events carry no success value today (``exit`` has ``outcome`` and, on failure, the
cause); where an ``exit`` event carries ``data["value"]`` (a repr), it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .._core._fiber import INTERNAL
from ._text import fmt_duration

if TYPE_CHECKING:
    from ._events import TraceEvent
    from ._trace import FiberInfo, Trace

__all__ = ["Mark", "Scope", "Story", "default_title", "display_name", "fiber_label", "title_of"]

GEAR: Final = "\u2699"
DEFAULT_TITLE: Final = "effectpy timeline"
# How a failure that was caught came out, when its fiber ended after it.
AFTER: Final = {"success": "recovered", "interrupted": "then interrupted", None: "handled"}


def display_name(name: str) -> str:
    """A fiber's name as pictures show it: ``⚙ timeout timer`` for an internal one."""
    return f"{GEAR} {name[len(INTERNAL):]}" if name.startswith(INTERNAL) else name


def fiber_label(f: FiberInfo, root: bool) -> str:
    """``#2 Primary``; ``#1 main`` for a root without a name."""
    if f.name:
        return f"#{f.id} {display_name(f.name)}"
    return f"#{f.id} main" if root else f"#{f.id}"


def title_of(fibers: list[FiberInfo], title: str | None) -> str:
    """The one title rule: ``title`` if given, else `default_title` of the roots' names."""
    if title is not None:
        return title
    ids = {f.id for f in fibers}
    return default_title([f.name for f in fibers if f.parent is None or f.parent not in ids])


def default_title(root_names: list[str | None]) -> str:
    """``effectpy timeline``, followed by the names the roots have (at most three shown).

    >>> default_title(["job", None, "report"])
    'effectpy timeline: job, report'
    """
    names = [display_name(n) for n in root_names if n and not n.startswith(INTERNAL)]
    if not names:
        return DEFAULT_TITLE
    more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
    return f"{DEFAULT_TITLE}: {', '.join(names[:3])}{more}"


def unquoted(text: str) -> str:
    """A str's repr without its quotes (``'conn to A'`` -> ``conn to A``); others as they are."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


@dataclass(slots=True)
class Mark:
    """An event drawn as a glyph on a lane: ``kind`` is cancel, acquire, release, fail,
    caught, die, timeout or retry. Its hover text is `Story.tip`."""

    seq: int
    ts: float
    kind: str
    fiber: int  # the lane's fiber (an internal fiber's marks go to its owner)
    text: str  # the label shown beside the glyph ("" for none)
    data: Mapping[str, Any]  # the event's data
    by: int | str | None = None  # a cancel's canceller (a fiber id, or "host", ...)
    event: str = ""  # the event's kind (a caught failure's glyph is "caught", its event "fail")
    error: str = ""  # a failure's error
    after: str = ""  # what came of a caught failure: "recovered", "retried", ...
    source: int = 0  # the fiber whose event it is (an internal fiber's, for a timeout)


@dataclass
class Scope:
    """A zip_par / race / for_each_par / timeout region of a fiber and the children it forked."""

    id: int
    kind: str
    fiber: int
    opened: float
    closed: float | None
    level: int  # how many scopes enclose it (through its fiber's ancestors)
    children: list[int] = field(default_factory=list)


class Story:
    """The trace read for pictures (one pass over its events)."""

    def __init__(self, trace: Trace) -> None:
        events = trace.events
        self.events = events
        self.fibers = trace.fibers()
        self.by_id = {f.id: f for f in self.fibers}
        by_id = self.by_id
        self.roots = [f for f in self.fibers if f.parent is None or f.parent not in by_id]
        root_ids = {f.id for f in self.roots}
        self.labels = {f.id: fiber_label(f, f.id in root_ids) for f in self.fibers}
        # effectpy's internal fibers, each with its owner: the nearest ancestor that is not
        # internal (what they fork for the program, such as map_par's calls, is not internal)
        self.owner: dict[int, int] = {}
        for f in self.fibers:  # parents appear before their children
            if f.parent is not None and f.parent in by_id and f.name is not None and f.name.startswith(INTERNAL):
                self.owner[f.id] = self.owner.get(f.parent, f.parent)
        self.t0 = min((e.ts for e in events), default=0.0)
        self.t1 = max((e.ts for e in events), default=0.0)
        self.resource_names: dict[int, str] = {}
        self.marks: list[Mark] = []
        self.waits: dict[int, list[tuple[float, float, str]]] = {}
        self.forks: list[tuple[float, int, int]] = []  # (ts, parent, child)
        self.scopes: list[Scope] = []
        self.first_cancel: dict[int, float] = {}
        self.values: dict[int, str] = {}  # fiber -> repr of its value, when the exit carries it
        self.errors: dict[int, str] = {}  # fiber -> the error it ended with
        self.causes: dict[int, str] = {}  # fiber -> the cause of its failing exit
        self._read(events)

    def rel(self, ts: float) -> float:
        return round(ts - self.t0, 9)

    def _read(self, events: tuple[TraceEvent, ...]) -> None:
        owner = self.owner
        opened: dict[int, tuple[float, str]] = {}  # fiber -> open wait (start, on)
        open_scopes: dict[int, Scope] = {}
        current: dict[int, list[Scope]] = {}  # fiber -> its open scopes, innermost last
        level_of: dict[int, int] = {}  # fiber -> level of the innermost scope it is in
        failures: dict[int, list[Mark]] = {}  # fiber -> its failure and retry marks
        for e in events:
            kind, fid = e.kind, e.fiber
            if kind == "fork":
                parent = e.parent
                if parent is not None:
                    if fid not in owner:
                        self.forks.append((e.ts, parent, fid))
                    stack = current.get(parent)
                    if stack:
                        stack[-1].children.append(fid)
                        level_of[fid] = stack[-1].level + 1
                    else:
                        level_of[fid] = level_of.get(parent, 0)
            elif kind == "suspend":
                opened[fid] = (e.ts, str(e.data.get("on", "")))
            elif kind == "resume" or kind == "exit":
                wait = opened.pop(fid, None)
                if wait is not None:
                    self.waits.setdefault(fid, []).append((wait[0], e.ts, wait[1]))
                if kind == "exit":
                    if "value" in e.data:
                        self.values[fid] = str(e.data["value"])
                    elif "cause" in e.data:
                        self.causes[fid] = str(e.data["cause"])
            elif kind == "scope_open":
                if e.data.get("kind") == "scoped":
                    continue
                sid = int(e.data["scope"])
                stack = current.setdefault(fid, [])
                level = stack[-1].level + 1 if stack else level_of.get(fid, 0)
                scope = Scope(sid, str(e.data.get("kind")), fid, e.ts, None, level)
                open_scopes[sid] = scope
                stack.append(scope)
                self.scopes.append(scope)
            elif kind == "scope_close":
                scope = open_scopes.pop(int(e.data.get("scope", -1)), None)  # type: ignore[arg-type]
                if scope is not None:
                    scope.closed = e.ts
                    stack = current.get(scope.fiber, [])
                    if scope in stack:
                        stack.remove(scope)
            elif kind == "cancel":
                self.first_cancel.setdefault(fid, e.ts)
                if fid not in owner:
                    self.marks.append(Mark(e.seq, e.ts, kind, fid, "", e.data, e.by, kind, source=fid))
            elif kind == "acquire" or kind == "release":
                if fid in owner:
                    continue
                rid = e.data.get("resource")
                if kind == "acquire":
                    name = unquoted(str(e.data.get("value", "")))
                    if isinstance(rid, int):
                        self.resource_names[rid] = name
                else:
                    name = self.resource_names.get(rid, f"resource {rid}") if isinstance(rid, int) else "a resource"
                self.marks.append(Mark(e.seq, e.ts, kind, fid, name, e.data, event=kind, source=fid))
            elif kind in ("fail", "die", "retry"):
                if fid in owner:
                    continue
                error = str(e.data.get("error", kind))
                mark = Mark(e.seq, e.ts, kind, fid, "" if kind == "retry" else error, e.data, event=kind,
                            error=error, source=fid)
                failures.setdefault(fid, []).append(mark)
                self.marks.append(mark)
            elif kind == "timeout":
                self.marks.append(Mark(e.seq, e.ts, kind, owner.get(fid, fid), "", e.data, event=kind, source=fid))
        for fid, (start, on) in opened.items():
            self.waits.setdefault(fid, []).append((start, self.t1, on))
        repeated: set[int] = set()
        for fid, marks in failures.items():
            repeated.update(self._judge(fid, marks))
        if repeated:
            self.marks = [m for m in self.marks if m.seq not in repeated]

    def _judge(self, fid: int, marks: list[Mark]) -> list[int]:
        """Tell the caught failures of a fiber from those it ended with, and say what came
        of each caught one. A failure is part of how its fiber ended when its error is in
        the cause of the fiber's failing exit (a finalizer that fails adds its own); it is
        caught when the fiber went on otherwise: retried, recovered, interrupted later, or
        failed with something else. A failure event repeating one already drawn (the same
        error, no retry between) is not drawn again: its event is returned."""
        f = self.by_id[fid]
        ending = self.causes.get(fid, "") if f.outcome == "failure" else None
        drawn: set[str] = set()
        repeated: list[int] = []
        for i, m in enumerate(marks):
            if m.kind == "retry":
                drawn.clear()  # a new attempt: its failure is news again
                continue
            if m.error in drawn:
                repeated.append(m.seq)
                continue
            drawn.add(m.error)
            later = next((n for n in marks[i + 1:] if n.kind == "retry" or n.error != m.error), None)
            if later is not None and later.kind == "retry":
                after = "retried"
            elif ending is not None and m.error in ending:
                self.errors[fid] = self.errors.get(fid, m.error)
                continue  # unhandled: how the fiber ended
            elif later is not None:
                after = f"then {later.error}"
            else:
                after = AFTER.get(f.outcome, "handled")
                if f.outcome == "success" and fid in self.values:
                    after += f" \u2192 {self.values[fid]}"
            m.kind = "caught"
            m.after = after
            m.text = f"{m.error} \u2192 retry" if after == "retried" else f"{m.error} caught \u2192 {after}"
        return repeated

    def tip(self, m: Mark) -> str:
        """The hover text of a mark."""
        who = self.labels.get(m.source, f"#{m.source}")
        when = fmt_duration(self.rel(m.ts))
        data = m.data
        if m.event == "cancel":
            canceller = self.labels.get(m.by, f"#{m.by}") if isinstance(m.by, int) else str(m.by)
            reason = data.get("reason", "")
            return f"{who} interrupted by {canceller} at {when}" + (f" ({reason})" if reason else "")
        if m.event == "acquire":
            return f"{who} acquires {m.text} at {when}"
        if m.event == "release":
            return f"{who} releases {m.text} at {when} (its use ended: {data.get('exit')})"
        if m.event == "retry":
            return (f"{who} retries (attempt {data.get('attempt')}) after {data.get('error')}, "
                    f"next try in {_delay(data.get('delay'))}")
        if m.event == "timeout":
            return f"{who} timed out after {_delay(data.get('after'))}, at {when}"
        cause = str(data.get("cause", ""))
        if m.kind == "caught":
            return f"{who}: {m.error} at {when}, caught: {m.after}\n{cause}".rstrip()
        verb = "fails" if m.event == "fail" else "dies"
        return f"{who} {verb} at {when}: {m.error}\n{cause}".rstrip()

    def result(self, fid: int) -> tuple[str, str | None]:
        """How a fiber ended, as its lane's last words: (text, outcome)."""
        f = self.by_id[fid]
        if f.outcome == "success":
            value = self.values.get(fid)
            return (f"\u2192 {value}" if value is not None else "\u2713 success"), "success"
        if f.outcome == "failure":
            error = self.errors.get(fid) or self.causes.get(fid, "").strip().split("\n")[0] or "failed"
            return f"\u2717 {error}", "failure"
        if f.outcome == "interrupted":
            return "interrupted", "interrupted"
        return "never ended", None

    def releasing(self, fid: int) -> tuple[float, float] | None:
        """(first interruption, end) of a fiber that was interrupted before it ended."""
        f = self.by_id[fid]
        start = self.first_cancel.get(fid)
        if start is None or f.end is None or f.outcome == "success":
            return None  # (a success: the interruption never landed)
        return start, f.end


def _delay(value: object) -> str:
    """A delay from an event's data (a number, or null for never)."""
    return fmt_duration(float(value)) if isinstance(value, (int, float)) else "never"
