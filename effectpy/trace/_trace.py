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
from .._core._fiber import INTERNAL
from .._core._runtime import RUN_ENDED
from ._events import TraceEvent, visible
from ._jsonl import LineWriter, Loaded, read, text_lines, whole_header, write_whole
from ._store import Events
from ._text import fmt_duration

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

    @property
    def internal(self) -> bool:
        """Whether effectpy forked this fiber for its own work (a timeout's timer, a
        stream's pump: named ``effectpy:<role>``). Pictures fold it into its owner's lane,
        and `Trace.summary` and `Trace.leaks` leave it out."""
        return self.name is not None and self.name.startswith(INTERNAL)


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
            when = f"started at {fmt_duration(f.start)}, " if timings else ""
            lines.append(f"fiber {f.label} never ended ({when}in {self.paths.get(f.id, '?')})")
        for f in self.outlived:
            when = f"started at {fmt_duration(f.start)}, " if timings else ""
            lines.append(f"fiber {f.label} ran until the run ended, which interrupted it "
                         f"({when}in {self.paths.get(f.id, '?')})")
        for r in self.resources:
            when = f"at {fmt_duration(r.acquired)} " if timings else ""
            lines.append(f"resource {r.id} ({r.value}) never released (acquired {when}"
                         f"by fiber #{r.fiber}, in {self.paths.get(r.fiber, '?')})")
        return "\n".join(lines)


class Trace:
    """Recorded events and what can be asked of them.

    Made by `effectpy.trace.record()` (live: it grows while the run goes on), by
    `Trace.load(path)` / `Trace.from_jsonl(text)`, or from events: ``Trace(events)``.
    A loaded trace keeps its events compactly and makes `TraceEvent`s as they are read.
    """

    __slots__ = ("_events", "_recorder", "_dropped", "_clock", "_truncated")

    def __init__(self, events: Iterable[TraceEvent] = (), *, dropped: int = 0, clock: str = "live") -> None:
        self._events: Sequence[TraceEvent] = tuple(events)
        for e in self._events:
            if not isinstance(e, TraceEvent):
                raise TypeError(f"Trace expects TraceEvent items, got {type(e).__name__} {e!r}")
        self._recorder: Recorder | None = None
        self._dropped = dropped
        self._clock = clock
        self._truncated = False

    @classmethod
    def _live(cls, recorder: Recorder) -> Trace:
        trace = cls()
        trace._recorder = recorder
        return trace

    @classmethod
    def _stored(cls, loaded: Loaded) -> Trace:
        trace = cls(dropped=loaded.dropped, clock=loaded.clock)
        trace._events = Events(loaded.store)
        trace._truncated = loaded.truncated
        return trace

    # --- the data -------------------------------------------------------------------

    @property
    def events(self) -> tuple[TraceEvent, ...]:
        events = self._current()
        return events if isinstance(events, tuple) else tuple(events)

    def _current(self) -> Sequence[TraceEvent]:
        """The events, without copying or making them all: what a live widget reads at each
        flush (a live unbounded trace's events only grow; a bounded one's are a snapshot)."""
        if self._recorder is None:
            return self._events
        return self._recorder.events

    @property
    def dropped(self) -> int:
        """How many events a bounded recorder dropped (the oldest go first)."""
        if self._recorder is not None:
            return self._recorder.dropped
        return self._dropped

    @property
    def overflow(self) -> bool:
        return self.dropped > 0

    @property
    def truncated(self) -> bool:
        """Whether this trace was loaded from a file whose end is missing (written by
        ``record(path=...)`` in a process that died before the recording ended): the
        events are every complete one the file holds."""
        return self._truncated

    @property
    def clock(self) -> str:
        """Which clock the timestamps are on: "TestClock", "live", ..."""
        return self._recorder.clock_name if self._recorder is not None else self._clock

    def __len__(self) -> int:
        return len(self._recorder) if self._recorder is not None else len(self._events)

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
        """The fibers depth-first under their parents (children in order of creation), each
        once. (A loaded file may claim parents in a cycle: its fibers follow the tree.)"""
        fibers = self.fibers()
        by_id = {f.id: f for f in fibers}
        ordered: list[FiberInfo] = []
        seen: set[int] = set()
        roots = [f for f in fibers if f.parent is None or f.parent not in by_id]
        for top in (*roots, *fibers):
            stack = [top]
            while stack:
                f = stack.pop()
                if f.id in seen:
                    continue
                seen.add(f.id)
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
        end of the run, with where they came from (effectpy's internal fibers, which end
        with their owner, are not counted)."""
        every = [f for f in self.fibers() if not f.internal]
        fibers = tuple(f for f in every if f.end is None)
        resources = tuple(r for r in self.resources() if r.released is None)
        ended_by_run = {e.fiber for e in self.events
                        if e.kind == "cancel" and e.data.get("reason") == RUN_ENDED}
        outlived = tuple(f for f in every if f.end is not None and f.id in ended_by_run)
        paths = {f.id: self.path(f.id) for f in (*fibers, *outlived)}
        paths.update({r.fiber: self.path(r.fiber) for r in resources})
        return Leaks(fibers, resources, paths, outlived)

    def summary(self, *, timings: bool = True) -> str:
        """A short text account of the trace: fibers by outcome, failures (caught or not),
        resources, leaks. effectpy's internal fibers are counted apart, and their failures
        (a timeout's timer failing is the timeout) are not listed. ``timings=False`` leaves
        out the clock readings and the number of events, so that runs of one program on the
        live clock give the same text."""
        from ._story import Story
        story = Story(self)
        events = story.events
        fibers = [f for f in story.fibers if f.id not in story.owner]
        counts: dict[str, int] = {}
        for f in fibers:
            key = f.outcome or "still running"
            counts[key] = counts.get(key, 0) + 1
        if timings:
            span = (events[-1].ts - events[0].ts) if events else 0.0
            head = f"{len(events)} events, {len(fibers)} fibers over {fmt_duration(span)} ({self.clock} clock)"
        else:
            head = f"{len(fibers)} fibers"
        lines = [head + (f", {self.dropped} oldest events dropped" if self.dropped else "")
                 + (", truncated (the file ends early)" if self.truncated else "")]
        internal = len(story.owner)
        lines.append("fibers: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none")
                     + (f" (and {internal} internal)" if internal else ""))
        for m in story.marks:
            if m.event in ("fail", "die"):
                when = f"{fmt_duration(story.rel(m.ts))} " if timings else ""
                caught = f" (caught \u2192 {m.after})" if m.kind == "caught" else ""
                lines.append(f"  {when}{story.labels[m.fiber]}: {m.event} {m.error}{caught}")
        resources = self.resources()
        if resources:
            released = sum(r.released is not None for r in resources)
            lines.append(f"resources: {len(resources)} acquired, {released} released")
        leaks = self.leaks()
        diagnostics = self.diagnose()
        from ._diagnose import summary_lines
        # the "leaks:" line gives what `leaks()` finds, and the tasks and fibers that outlived
        # their parent but ended later (which `leaks()` does not count); "diagnostics:" the rest
        said = {f.id for f in (*leaks.outlived, *leaks.fibers)}
        later = [d.describe(timings=timings) for d in diagnostics
                 if d.kind == "leak" and d.fibers[0] not in said]
        lines += summary_lines(diagnostics, timings=timings, virtual=self.clock != "live",
                               covered=lambda d: d.kind in ("never_ended", "unreleased", "leak"))
        found = ([leaks.describe(timings=timings)] if leaks else []) + later
        lines.append("leaks: " + ("none" if not found else "\n" + "\n".join(found)))
        return visible("\n".join(lines))

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
        """The lossless, versioned text form: a header line, then one event per line (see
        `effectpy.trace._jsonl` for the format)."""
        events = self._current()
        events = events if isinstance(events, tuple) else tuple(events)
        lines = LineWriter().lines(events)
        return whole_header(self.clock, self.dropped, len(events)) + "\n" + "".join(lines)

    def save_jsonl(self, path: str | Path) -> Path:
        """Write `to_jsonl` to ``path`` (through a temporary file renamed into place: a
        process killed while saving never leaves half a file)."""
        events = self._current()
        events = events if isinstance(events, tuple) else tuple(events)
        header = whole_header(self.clock, self.dropped, len(events))
        return write_whole(Path(path), header, LineWriter().lines(events))

    @classmethod
    def from_jsonl(cls, text: str, *, source: str = "trace") -> Trace:
        """Parse `to_jsonl` output (or a streamed file's text); `TraceFormatError` for
        anything malformed."""
        if not isinstance(text, str):
            raise TypeError(f"from_jsonl expects str, got {type(text).__name__}")
        return cls._stored(read(text_lines(text), source))

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """Read a trace saved with `save_jsonl`, or streamed by ``record(path=...)`` (JSON
        only: no pickle, no eval). The file is read line by line, in time linear in its
        size and in memory well under its size.

        Every parse or validation failure is a `TraceFormatError` that names the line. A
        streamed file whose end is missing (its process died) loads with every complete
        event and ``truncated`` set; a last line cut in the middle is left out."""
        p = Path(path)
        try:
            with open(p, "rb") as lines:
                return cls._stored(read(lines, str(p)))
        except FileNotFoundError:
            raise FileNotFoundError(f"no trace file at {p}") from None

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

    def to_svg(self, *, title: str | None = None, diagnostics: object = True) -> str:
        """The timeline picture: a standalone, deterministic SVG document. Each diagnostic
        is flagged where it happened: by default those of `diagnose`; ``diagnostics=False``
        draws none, a list of `Diagnostic`s (``trace.diagnose(blocked_loop=0.01)``) those."""
        from ._timeline import to_svg
        return to_svg(self, title=title, diagnostics=diagnostics)

    def save_svg(self, path: str | Path, *, title: str | None = None, diagnostics: object = True) -> Path:
        target = Path(path)
        target.write_text(self.to_svg(title=title, diagnostics=diagnostics), encoding="utf-8")
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
        zoom, hover, a replay slider, and the fiber tree, ``effect``'s tree and the
        diagnostics beside it.
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
