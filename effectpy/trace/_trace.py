"""`Trace`: the query model over recorded events, and its exports.

A `Trace` is a plain value (a sequence of `TraceEvent`s): it never touches a live runtime,
so a trace loaded from a file answers the same questions as one just recorded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core._cause import Cause
from .._core._runtime import RUN_ENDED
from ._events import FORMAT, VERSION, TraceEvent, TraceFormatError

if TYPE_CHECKING:
    from graphviz import Digraph  # type: ignore[import-untyped,import-not-found,unused-ignore]

    from .._core._effect import Effect
    from ._diagnose import Diagnostic
    from ._recorder import Recorder
    from ._widget import TimelineWidget

__all__ = ["FiberInfo", "Leaks", "ResourceInfo", "Trace"]


@dataclass(frozen=True)
class FiberInfo:
    """One fiber of a trace. ``end`` and ``outcome`` are None for a fiber that never ended."""

    id: int
    name: str | None
    parent: int | None
    start: float
    end: float | None
    outcome: str | None
    children: tuple[int, ...] = ()
    daemon: bool = False

    @property
    def label(self) -> str:
        return f"#{self.id} {self.name}" if self.name else f"#{self.id}"


@dataclass(frozen=True)
class ResourceInfo:
    """One acquired resource; ``released`` is None if it was never released."""

    id: int
    fiber: int
    value: str
    acquired: float
    released: float | None
    exit: str | None


@dataclass(frozen=True)
class Leaks:
    """What a trace left behind: fibers that never ended, resources never released, and
    daemons that outlived the program's root (ended only by the end of the run:
    `effectpy.run` and `TestClock.drive` interrupt them then, so their cleanup runs)."""

    fibers: tuple[FiberInfo, ...] = ()
    resources: tuple[ResourceInfo, ...] = ()
    paths: dict[int, str] = field(default_factory=dict)  # fiber id -> "main > zip_par[0] > ..."
    outlived: tuple[FiberInfo, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.fibers or self.resources or self.outlived)

    def __str__(self) -> str:
        return self.describe()

    def describe(self, *, timings: bool = True) -> str:
        """One line per leak; ``timings=False`` leaves out when each began."""
        if not self:
            return "no leaks"
        lines = []
        for f in self.fibers:
            when = f"started at {f.start:g}s, " if timings else ""
            lines.append(f"fiber {f.label} never ended ({when}in {self.paths.get(f.id, '?')})")
        for f in self.outlived:
            when = f"started at {f.start:g}s, " if timings else ""
            lines.append(f"fiber {f.label} ran until the run ended, which interrupted it "
                         f"({when}in {self.paths.get(f.id, '?')})")
        for r in self.resources:
            when = f"at {r.acquired:g}s " if timings else ""
            lines.append(f"resource {r.id} ({r.value}) never released (acquired {when}"
                         f"by fiber #{r.fiber}, in {self.paths.get(r.fiber, '?')})")
        return "\n".join(lines)


class Trace:
    """Recorded events and what can be asked of them.

    Made by `effectpy.trace.record()` (live: it grows while the run goes on), by
    `Trace.load(path)` / `Trace.from_jsonl(text)`, or from events: ``Trace(events)``.
    """

    __slots__ = ("_events", "_recorder", "_dropped", "_clock")

    def __init__(self, events: Iterable[TraceEvent] = (), *, dropped: int = 0, clock: str = "live") -> None:
        self._events: tuple[TraceEvent, ...] = tuple(events)
        for e in self._events:
            if not isinstance(e, TraceEvent):
                raise TypeError(f"Trace expects TraceEvent items, got {type(e).__name__} {e!r}")
        self._recorder: Recorder | None = None
        self._dropped = dropped
        self._clock = clock

    @classmethod
    def _live(cls, recorder: Recorder) -> Trace:
        trace = cls()
        trace._recorder = recorder
        return trace

    # --- the data -------------------------------------------------------------------

    @property
    def events(self) -> tuple[TraceEvent, ...]:
        if self._recorder is not None:
            return tuple(self._recorder.events)
        return self._events

    def _current(self) -> Sequence[TraceEvent]:
        """The events, without copying them where the recorder keeps a list that only
        grows (an unbounded live trace): what a live widget reads at each flush."""
        if self._recorder is None:
            return self._events
        events = self._recorder.events
        return events if isinstance(events, list) else tuple(events)

    @property
    def dropped(self) -> int:
        """How many events a bounded recorder dropped (the oldest go first)."""
        if self._recorder is not None:
            return self._recorder.total - len(self._recorder.events)
        return self._dropped

    @property
    def overflow(self) -> bool:
        return self.dropped > 0

    @property
    def clock(self) -> str:
        """Which clock the timestamps are on: "TestClock", "live", ..."""
        return self._recorder.clock_name if self._recorder is not None else self._clock

    def __len__(self) -> int:
        return len(self.events)

    def __repr__(self) -> str:
        return f"<Trace {len(self)} events, {len(self.fibers())} fibers, clock={self.clock}>"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Trace) and self.events == other.events
                and self.dropped == other.dropped)

    __hash__ = None  # type: ignore[assignment]

    # --- queries --------------------------------------------------------------------

    def fibers(self) -> list[FiberInfo]:
        """Every fiber seen, in order of first appearance."""
        info: dict[int, dict[str, Any]] = {}
        children: dict[int, list[int]] = {}
        for e in self.events:
            f = info.get(e.fiber)
            if f is None:
                f = info[e.fiber] = {"id": e.fiber, "name": e.name, "parent": None, "start": e.ts,
                                     "end": None, "outcome": None, "daemon": False}
            if e.kind == "fork":
                f["parent"] = e.parent
                f["start"] = e.ts
                f["daemon"] = bool(e.data.get("daemon", False))
                if e.parent is not None:
                    children.setdefault(e.parent, []).append(e.fiber)
            elif e.kind == "exit":
                f["end"] = e.ts
                f["outcome"] = e.data.get("outcome")
            if e.name is not None:
                f["name"] = e.name
        return [FiberInfo(children=tuple(children.get(fid, ())), **f) for fid, f in info.items()]

    def fiber(self, fiber_id: int) -> FiberInfo:
        for f in self.fibers():
            if f.id == fiber_id:
                return f
        ids = [f.id for f in self.fibers()]
        raise KeyError(f"no fiber #{fiber_id} in this trace (it has {len(ids)}: "
                       f"#{', #'.join(map(str, ids[:20]))}{', ...' if len(ids) > 20 else ''})")

    def roots(self) -> list[FiberInfo]:
        """The fibers with no parent in this trace: the tops of the fiber tree."""
        fibers = self.fibers()
        ids = {f.id for f in fibers}
        return [f for f in fibers if f.parent is None or f.parent not in ids]

    def tree_order(self) -> list[FiberInfo]:
        """The fibers depth-first under their parents (children in order of creation)."""
        fibers = self.fibers()
        by_id = {f.id: f for f in fibers}
        ordered: list[FiberInfo] = []
        stack = [f for f in reversed(fibers) if f.parent is None or f.parent not in by_id]
        while stack:
            f = stack.pop()
            ordered.append(f)
            stack.extend(by_id[c] for c in reversed(f.children) if c in by_id)
        return ordered

    def resources(self) -> list[ResourceInfo]:
        """Every acquired resource, paired with its release."""
        acquired: dict[int, dict[str, Any]] = {}
        for e in self.events:
            if e.kind == "acquire":
                rid = e.data["resource"]
                acquired[rid] = {"id": rid, "fiber": e.fiber, "value": e.data.get("value", ""),
                                 "acquired": e.ts, "released": None, "exit": None}
            elif e.kind == "release" and e.data.get("resource") in acquired:
                r = acquired[e.data["resource"]]
                r["released"] = e.ts
                r["exit"] = e.data.get("exit")
        return [ResourceInfo(**r) for r in acquired.values()]

    def path(self, fiber_id: int) -> str:
        """Where a fiber came from: its ancestors' labels, e.g. "#1 > #2 race[0]"."""
        by_id = {f.id: f for f in self.fibers()}
        parts: list[str] = []
        seen: set[int] = set()
        current: int | None = fiber_id
        while current is not None and current in by_id and current not in seen:
            seen.add(current)
            parts.append(by_id[current].label)
            current = by_id[current].parent
        return " > ".join(reversed(parts))

    def leaks(self) -> Leaks:
        """Fibers that never ended, resources never released, and daemons ended only by the
        end of the run, with where they came from."""
        every = self.fibers()
        fibers = tuple(f for f in every if f.end is None)
        resources = tuple(r for r in self.resources() if r.released is None)
        ended_by_run = {e.fiber for e in self.events
                        if e.kind == "cancel" and e.data.get("reason") == RUN_ENDED}
        outlived = tuple(f for f in every if f.end is not None and f.id in ended_by_run)
        paths = {f.id: self.path(f.id) for f in (*fibers, *outlived)}
        paths.update({r.fiber: self.path(r.fiber) for r in resources})
        return Leaks(fibers, resources, paths, outlived)

    def summary(self, *, timings: bool = True) -> str:
        """A short text account of the trace: fibers by outcome, failures, resources, leaks.
        ``timings=False`` leaves out the clock readings and the number of events, so that
        runs of one program on the live clock give the same text."""
        events = self.events
        fibers = self.fibers()
        counts: dict[str, int] = {}
        for f in fibers:
            key = f.outcome or "still running"
            counts[key] = counts.get(key, 0) + 1
        if timings:
            span = (events[-1].ts - events[0].ts) if events else 0.0
            head = f"{len(events)} events, {len(fibers)} fibers over {span:g}s ({self.clock} clock)"
        else:
            head = f"{len(fibers)} fibers"
        lines = [head + (f", {self.dropped} oldest events dropped" if self.dropped else "")]
        lines.append("fibers: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none"))
        for e in events:
            if e.kind in ("fail", "die"):
                who = f"#{e.fiber} {e.name}" if e.name else f"#{e.fiber}"
                when = f"{e.ts:g}s " if timings else ""
                lines.append(f"  {when}{who}: {e.kind} {e.data.get('error')}")
        resources = self.resources()
        if resources:
            released = sum(r.released is not None for r in resources)
            lines.append(f"resources: {len(resources)} acquired, {released} released")
        leaks = self.leaks()
        lines += self._diagnostics_lines(leaks, timings)
        lines.append("leaks: " + ("none" if not leaks else "\n" + leaks.describe(timings=timings)))
        return "\n".join(lines)

    def _diagnostics_lines(self, leaks: Leaks, timings: bool) -> list[str]:
        """The summary's "diagnostics:" section: what its "leaks:" line does not say."""
        from ._diagnose import summary_lines
        outlived = {f.id for f in leaks.outlived}
        return summary_lines(
            self.diagnose(), timings=timings, virtual=self.clock != "live",
            covered=lambda d: d.kind in ("never_ended", "unreleased")
            or (d.kind == "leak" and d.fibers[0] in outlived))

    def diagnose(self, **thresholds: Any) -> list[Diagnostic]:
        """What in the trace points at a bug: leaks, unreleased resources, a blocked event
        loop, slow interruptions and finalizers, fibers that never ended, in the order they
        began. Thresholds (seconds or `Duration`, None to skip): ``blocked_loop=0.05``,
        ``slow_interrupt=0.25``, ``slow_finalizer=0.25``. See `effectpy.trace.diagnose`."""
        from ._diagnose import diagnose
        return diagnose(self, **thresholds)

    def pretty_cause(self, cause: Cause) -> str:
        """`Cause.pretty`, naming each interrupting fiber as this trace does ("fiber #2
        race[0]"), for the cause of a run the trace recorded. A `Cause` holds runtime fiber
        ids (`Fiber.id`, from a process-wide counter), which appear nowhere in the trace. A
        fiber the trace did not record is "a fiber outside this trace"; a trace loaded from a
        file or made from events keeps no runtime ids, so it names one "runtime fiber <id>".

        >>> import effectpy
        >>> from effectpy.trace import record
        >>> stop_the_worker = effectpy.never.named("worker").fork().flat_map(
        ...     lambda worker: worker.interrupt().flat_map(lambda _: worker.join()))
        >>> with record() as trace:
        ...     exit_ = effectpy.run_exit(stop_the_worker.named("main"))
        >>> print(trace.pretty_cause(exit_.cause))
        Interrupt: by fiber #1 main
        """
        if not isinstance(cause, Cause):
            raise TypeError(f"pretty_cause expects a Cause (e.g. an Exit's .cause), "
                            f"got {type(cause).__name__} {cause!r}")
        recorder = self._recorder
        labels = {f.id: f.label for f in self.fibers()}

        def who(by: object) -> str:
            if not isinstance(by, int):
                return str(by)  # the host, or the reason given
            if recorder is None:
                return f"runtime fiber {by}"
            local = recorder.trace_id(by)
            if local is None:
                return "a fiber outside this trace"
            return f"fiber {labels.get(local, f'#{local}')}"

        return cause.pretty(who)

    # --- JSONL ------------------------------------------------------------------------

    def to_jsonl(self) -> str:
        """The lossless, versioned text form: a header line, then one event per line."""
        events = self.events
        header = {"format": FORMAT, "version": VERSION, "clock": self.clock,
                  "dropped": self.dropped, "events": len(events)}
        lines = [json.dumps(header, sort_keys=True)]
        # ASCII only: no user text (e.g. U+2028) can ever split a line
        lines.extend(json.dumps(e.to_json(), sort_keys=True) for e in events)
        return "\n".join(lines) + "\n"

    def save_jsonl(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.to_jsonl(), encoding="utf-8")
        return target

    @classmethod
    def from_jsonl(cls, text: str, *, source: str = "trace") -> Trace:
        """Parse `to_jsonl` output; `TraceFormatError` for anything malformed."""
        if not isinstance(text, str):
            raise TypeError(f"from_jsonl expects str, got {type(text).__name__}")
        lines = text.split("\n")
        if not lines or not lines[0].strip():
            raise TraceFormatError(f"{source}: empty; expected an effectpy trace (JSONL with a header line)")
        header = _json_line(lines[0], f"{source}, line 1")
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise TraceFormatError(f"{source}: not an effectpy trace (line 1 should be a header with "
                                   f"format {FORMAT!r}, got {str(lines[0])[:80]!r})")
        if header.get("version") != VERSION:
            raise TraceFormatError(f"{source}: trace format version {header.get('version')!r}; "
                                   f"this effectpy reads version {VERSION}")
        count = header.get("events")
        dropped = header.get("dropped", 0)
        clock = header.get("clock", "live")
        if not isinstance(count, int) or not isinstance(dropped, int) or not isinstance(clock, str):
            raise TraceFormatError(f"{source}: bad header {header!r}")
        events = []
        last = -1
        for n, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            where = f"{source}, line {n}"
            event = TraceEvent.from_json(_json_line(line, where), where)
            if event.seq <= last:
                raise TraceFormatError(f"{where}: seq {event.seq} does not follow {last}")
            last = event.seq
            events.append(event)
        if len(events) != count:
            raise TraceFormatError(f"{source}: the header announces {count} events but "
                                   f"{len(events)} were found (truncated file?)")
        return cls(events, dropped=dropped, clock=clock)

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """Read a trace saved with `save_jsonl` (no pickle, no eval: JSON only)."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"no trace file at {p}") from None
        except UnicodeDecodeError as exc:
            raise TraceFormatError(f"{p}: not UTF-8 text ({exc.reason})") from None
        return cls.from_jsonl(text, source=str(p))

    # --- Perfetto ---------------------------------------------------------------------

    def to_perfetto(self) -> dict[str, Any]:
        """Chrome trace-event JSON (open it at ui.perfetto.dev or chrome://tracing)."""
        from ._perfetto import to_perfetto
        return to_perfetto(self)

    def to_opentelemetry(self, tracer: Any = None, *, epoch_ns: int | None = None) -> list[Any]:
        """Emit the fibers as OpenTelemetry spans (needs ``effectpy[otel]``); see
        `effectpy.trace._otel.to_opentelemetry`."""
        from ._otel import to_opentelemetry
        return to_opentelemetry(self, tracer, epoch_ns=epoch_ns)

    def to_svg(self, *, title: str | None = None) -> str:
        """The timeline picture: a standalone, deterministic SVG document."""
        from ._timeline import to_svg
        return to_svg(self, title=title)

    def save_svg(self, path: str | Path, *, title: str | None = None) -> Path:
        target = Path(path)
        target.write_text(self.to_svg(title=title), encoding="utf-8")
        return target

    def to_html(self, *, title: str | None = None, effect: Effect[Any, Any, Any] | None = None) -> str:
        """The interactive timeline (the notebook widget: zoom, hover, the replay slider, the
        fiber tree, and ``effect``'s tree if given) as one self-contained HTML page: no
        network, no Jupyter, for a bug report. Deterministic: the same trace, the same bytes."""
        from ._html import to_html
        return to_html(self, title=title, effect=effect)

    def save_html(self, path: str | Path, *, title: str | None = None,
                  effect: Effect[Any, Any, Any] | None = None) -> Path:
        target = Path(path)
        target.write_text(self.to_html(title=title, effect=effect), encoding="utf-8")
        return target

    def widget(self, effect: Effect[Any, Any, Any] | None = None, *, title: str | None = None) -> TimelineWidget:
        """The timeline as an interactive notebook widget (needs ``effectpy[notebook]``):
        zoom, hover, a replay slider, and the fiber tree and ``effect``'s tree beside it.
        A live trace's widget can follow the run: see `TimelineWidget.live`."""
        return widget_class()(self, effect, title=title)

    # --- trees (graphviz) ---------------------------------------------------------------

    def fiber_tree(self, *, max_nodes: int = 500, max_children: int = 40) -> Digraph:
        """The fibers as a `graphviz.Digraph` (parent links, outcome colours, lifetimes,
        resources); `effectpy.trace.render_svg` draws it even without Graphviz's ``dot``."""
        from ._fiber_tree import fiber_tree
        return fiber_tree(self, max_nodes=max_nodes, max_children=max_children)

    def effect_tree(self, effect: Effect[Any, Any, Any], *, fiber: int | None = None,
                    max_nodes: int = 500) -> Digraph:
        """`effectpy.trace.effect_tree` of ``effect``, annotated with this run of it."""
        from ._effect_tree import effect_tree
        return effect_tree(effect, self, fiber=fiber, max_nodes=max_nodes)

    def save_perfetto(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(json.dumps(self.to_perfetto()), encoding="utf-8")
        return target


def _json_line(line: str, where: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None


def widget_class() -> type[TimelineWidget]:
    """`TimelineWidget`, imported on first use; without the notebook extra, an ImportError
    that says what to install (raised where the user asked for a widget)."""
    try:
        from ._widget import TimelineWidget
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"the timeline widget needs {exc.name!r}, which is not installed: "
            'pip install "effectpy[notebook]"', name=exc.name) from None
    return TimelineWidget
