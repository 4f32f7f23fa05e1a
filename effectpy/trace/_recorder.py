"""The recorder: an instrument that turns runtime hooks into `TraceEvent`s.

`record()` attaches one to every run started inside its ``with`` block (through a context
variable, so unrelated concurrent runs are not mixed in). It only reads what the hooks
hand it; the `Trace` it fills is a plain value that renderers use without the runtime.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import MappingProxyType
from typing import Any, Final

from .._core._cause import Cause, Exit
from .._core._clock import LIVE_CLOCK, Clock
from .._core._hooks import CAPTURE_SOURCE, Instrument, instrument
from .._core._steps import STEP_FLOOR
from ._events import MAX_TEXT, TraceEvent, safe_repr, safe_text
from ._trace import Trace

__all__ = ["Recorder", "record"]

_monotonic = time.monotonic
_new_event = tuple.__new__

_NO_DATA: Final[Mapping[str, Any]] = MappingProxyType({})
_SUCCESS: Final[Mapping[str, Any]] = MappingProxyType({"outcome": "success"})


def outcome_of(exit_: Exit[Any]) -> str:
    if exit_.is_success():
        return "success"
    cause = exit_.cause
    if cause.interruptors() and not cause.failures() and not cause.defects():
        return "interrupted"
    return "failure"




class Recorder(Instrument):
    """Records hooks as events. Use `record()` rather than making one directly.

    Events are kept raw while the run goes on (unbounded: 7 flat slots per event in one
    list, so recording allocates no container per event; bounded: a deque of 7-tuples),
    as (kind, fiber, parent, by, name, data, clock reading); `events` makes the
    `TraceEvent`s (seq, ts relative to the first event, rounded) when read, and caches
    them."""

    def __init__(self, capacity: int | None = None, clock: Clock | None = None) -> None:
        self._capacity = capacity
        # A bounded deque keeps the last `capacity` events (a flight recorder).
        self._raw: Any = deque(maxlen=capacity) if capacity is not None else []
        self._push = self._raw.append if capacity is not None else self._raw.extend
        self._made: list[TraceEvent] = []  # the unbounded raw list, made into events so far
        self.total = 0  # events seen; total - len(events) were dropped
        self._fids: dict[int, int] = {}
        self._rids: dict[int, int] = {}
        self._sids: dict[int, int] = {}
        # Interruptions asked for that have not taken effect yet, and releases under way:
        # trace-local fiber / resource id -> the clock's reading then (`unwind` events and
        # the release's `seconds` say how long they took, when that was STEP_FLOOR or more).
        self._asked: dict[int, float] = {}
        self._releasing: dict[int, float] = {}
        # The trace's clock: fixed by record(clock=...), or adopted from the first fiber
        # whose context provides a Clock (e.g. a TestClock); until then the live clock.
        self._clock: Clock | None = clock
        # Time zero of the trace: the clock's reading at the first event.
        self._origin: float | None = None
        # The last context seen to use the live clock (contexts are immutable, so the
        # decision holds for as long as the recorder keeps it).
        self._live_ctx: Any = None
        self._read_lock = threading.Lock()
        self.trace = Trace._live(self)

    @property
    def events(self) -> list[TraceEvent] | deque[TraceEvent]:
        # Readers may be other threads (a live widget's flusher) while the run appends: the
        # lock keeps two readers, or a reader and `_adopt`, from interleaving; the run's own
        # appends are single C calls (list.extend, deque.append), so they need no lock.
        with self._read_lock:
            # the events' number first, then the origin (set before the first event is kept)
            if self._capacity is None:
                raw, made = self._raw, self._made
                end = len(raw)
                origin = self._origin
                seq = len(made)
                for i in range(seq * 7, end, 7):
                    kind, fid, parent, by, name, data, t = raw[i:i + 7]
                    made.append(_new_event(TraceEvent, (seq, round(t - origin, 9), kind, fid,
                                                        parent, by, name, data)))
                    seq += 1
                return made
            window = tuple(self._raw)  # one C call: the deque cannot change under it
            origin = self._origin
            # (an event kept while this runs may shift the numbering by one; nothing is lost)
            first = max(self.total - len(window), 0)
            return deque((_new_event(TraceEvent, (first + j, round(r[6] - origin, 9), *r[:6]))
                          for j, r in enumerate(window)), maxlen=self._capacity)

    @property
    def clock_name(self) -> str:
        return type(self._clock).__name__ if self._clock is not None else "live"

    def _now(self, fiber: Any) -> float:
        """The trace clock's reading (setting the origin at the first event)."""
        clock = self._clock
        if clock is None:
            provided = fiber._ctx.get_option(Clock)
            if provided is None or provided is LIVE_CLOCK:
                self._live_ctx = fiber._ctx
                now = _monotonic()
                if self._origin is None:
                    self._origin = now
                return now
            self._adopt(provided)
            clock = provided
        now = clock.now()
        if self._origin is None:
            self._origin = now
        return now

    def _ts(self, fiber: Any) -> float:
        now = self._now(fiber)
        return round(now - self._origin, 9)  # type: ignore[operator]

    def _adopt(self, clock: Clock) -> None:
        """Switch to ``clock``: the events so far happened at its start."""
        with self._read_lock:
            self._adopt_locked(clock)

    def _adopt_locked(self, clock: Clock) -> None:
        self._clock = clock
        origin = self._origin = clock.now()
        if self._capacity is None:
            self._raw[6::7] = [origin] * (len(self._raw) // 7)
            self._made[:] = [e._replace(ts=0.0) for e in self._made]
        else:
            rebased = [(*r[:6], origin) for r in self._raw]
            self._raw.clear()
            self._raw.extend(rebased)

    def trace_id(self, runtime_id: int) -> int | None:
        """The trace-local id of the fiber with this runtime id (`Fiber.id`, from a
        process-wide counter), or None if it is not in the trace."""
        return self._fids.get(runtime_id)

    def _cause_text(self, cause: Cause) -> str:
        """The cause, rendered with trace-local fiber ids (so traces are reproducible)."""
        def who(by: object) -> str:
            if not isinstance(by, int):
                return str(by)
            known = self._fids.get(by)
            return f"fiber #{known}" if known is not None else "a fiber outside this trace"
        return safe_text(cause.pretty(who), MAX_TEXT * 4)

    def _fid(self, fiber: Any) -> int:
        return self._local(self._fids, fiber.id)

    @staticmethod
    def _local(table: dict[int, int], key: int) -> int:
        """The trace-local id (1, 2, ... in order of appearance) of a runtime id."""
        local = table.get(key)
        if local is None:
            local = table[key] = len(table) + 1
        return local

    def _add(self, fiber: Any, kind: str, parent: int | None = None, by: int | str | None = None,
             data: Any = _NO_DATA) -> None:
        if fiber._ctx is self._live_ctx and self._clock is None:
            t = _monotonic()
        else:
            t = self._now(fiber)
        fids = self._fids
        fid = fids.get(fiber.id)
        if fid is None:
            fid = fids[fiber.id] = len(fids) + 1
        self.total += 1
        self._push((kind, fid, parent, by, fiber.name, data, t))

    # --- hooks ----------------------------------------------------------------------

    def fiber_started(self, fiber: Any, parent: Any) -> None:
        pid = None if parent is None else self._fids.get(parent.id) or self._fid(parent)
        data: Mapping[str, Any] = _NO_DATA
        if fiber.daemon or fiber.source:
            data = {"daemon": True} if fiber.daemon else {}
            if fiber.source:
                data["source"] = fiber.source
        self._add(fiber, "fork", pid, None, data)

    def fiber_ended(self, fiber: Any, exit: Any) -> None:
        if exit._ok:
            self._add(fiber, "exit", None, None, _SUCCESS)
            return
        outcome = outcome_of(exit)
        if self._asked:
            self._asked.pop(self._fids.get(fiber.id, 0), None)
        self._add(fiber, "exit", data={"outcome": outcome, "cause": self._cause_text(exit.cause)})

    def fiber_interrupted(self, fiber: Any, by: object, reason: str) -> None:
        if isinstance(by, int):  # a fiber id: trace-local if that fiber is in the trace
            known = self._fids.get(by)
            who: int | str = known if known is not None else "a fiber outside this trace"
        else:
            who = safe_text(str(by), 100)
        self._add(fiber, "cancel", by=who, data={"reason": reason})
        self._asked.setdefault(self._fids[fiber.id], self._now(fiber))

    def fiber_failed(self, fiber: Any, cause: Any) -> None:
        failures = cause.failures()
        if failures:
            self._add(fiber, "fail", data={"error": safe_repr(failures[0]), "cause": self._cause_text(cause)})
        else:
            defect = cause.defects()[0] if cause.defects() else None
            error = f"{type(defect).__name__}: {safe_text(str(defect))}" if defect is not None else "?"
            self._add(fiber, "die", data={"error": error, "cause": self._cause_text(cause)})

    def fiber_suspended(self, fiber: Any, on: str) -> None:
        self._add(fiber, "suspend", data={"on": on})

    def fiber_resumed(self, fiber: Any) -> None:
        self._add(fiber, "resume")

    def fiber_joined(self, fiber: Any, target: Any) -> None:
        known = self._fids.get(target.id)
        self._add(fiber, "join", None, known if known is not None else "a fiber outside this trace")

    def sleep_started(self, fiber: Any, clock: Any, deadline: float) -> None:
        now = clock.now()
        ts = self._ts(fiber)
        self._add(fiber, "sleep", data={"deadline": round(ts + (deadline - now), 9),
                                        "seconds": round(deadline - now, 9)})

    def sleep_ended(self, fiber: Any, clock: Any) -> None:
        self._add(fiber, "wake")

    def timeout_fired(self, fiber: Any, seconds: float) -> None:
        self._add(fiber, "timeout", data={"after": seconds})

    def retry_scheduled(self, fiber: Any, attempt: int, delay: float, error: Any) -> None:
        self._add(fiber, "retry", data={"attempt": attempt, "delay": round(delay, 9),
                                        "error": safe_repr(error)})

    def scope_opened(self, fiber: Any, scope_id: int, kind: str) -> None:
        self._add(fiber, "scope_open", data={"scope": self._local(self._sids, scope_id), "kind": kind})

    def scope_closed(self, fiber: Any, scope_id: int, kind: str) -> None:
        self._add(fiber, "scope_close", data={"scope": self._local(self._sids, scope_id), "kind": kind})

    def resource_acquired(self, fiber: Any, resource_id: int, resource: object) -> None:
        self._add(fiber, "acquire", data={"resource": self._local(self._rids, resource_id),
                                          "value": safe_repr(resource, 200)})

    def resource_released(self, fiber: Any, resource_id: int, exit: Any) -> None:
        rid = self._local(self._rids, resource_id)
        data = {"resource": rid, "exit": outcome_of(exit)}
        began = self._releasing.pop(rid, None)
        took = 0.0 if began is None else self._now(fiber) - began
        if took >= STEP_FLOOR:
            data["seconds"] = round(took, 9)
        self._add(fiber, "release", data=data)

    def resource_releasing(self, fiber: Any, resource_id: int) -> None:
        self._releasing[self._local(self._rids, resource_id)] = self._now(fiber)

    def fiber_unwinding(self, fiber: Any) -> None:
        asked = self._asked.pop(self._fids.get(fiber.id, 0), None)
        waited = 0.0 if asked is None else self._now(fiber) - asked
        if waited >= STEP_FLOOR:
            self._add(fiber, "unwind", data={"waited": round(waited, 9)})

    def fiber_step(self, fiber: Any, seconds: float, where: str | None) -> None:
        if self._clock is not None and self._clock is not LIVE_CLOCK:
            return  # real time on a virtual clock: the trace must stay the same run after run
        data: dict[str, Any] = {"seconds": round(seconds, 6)}
        if where is not None:
            data["source"] = where
        self._add(fiber, "step", data=data)


@contextmanager
def record(capacity: int | None = None, *, clock: Clock | None = None,
           source: bool = False, asyncio: bool = False) -> Iterator[Trace]:
    """Record every effect run started inside the ``with`` block.

    Args:
        capacity: keep only the last ``capacity`` events (a flight recorder); the trace
            says how many were dropped. None keeps everything.
        clock: the clock for timestamps. By default the first `Clock` provided to a
            recorded fiber (a `TestClock` makes traces reproducible), else the live clock.
        source: remember where (file:line) user code built the effects made inside the
            block that fork fibers (fork, named, zip_par, race, for_each_par, timeout);
            fork events then carry it as ``data["source"]``. Off by default (it costs a
            stack walk per such effect built).
        asyncio: record plain asyncio tasks too, as fibers: each task created inside the
            block (by code in its context) with its parent task, who cancelled it and why,
            its outcome, joins and long steps; an effect awaited in a task is that task's
            child (see `effectpy.trace._asyncio`; `traced` marks ``async with`` resources).

    >>> import effectpy
    >>> from effectpy.trace import record
    >>> with record() as trace:
    ...     effectpy.run(effectpy.zip_par(effectpy.succeed(1), effectpy.fail("boom")).exit())
    Exit.fail_cause(Fail('boom'))
    >>> [(f.label, f.outcome) for f in trace.fibers()]
    [('#1', 'success'), ('#2 zip_par[0]', 'success'), ('#3 zip_par[1]', 'failure')]
    """
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1):
        raise ValueError(f"record's capacity must be None or an int >= 1, got {capacity!r}")
    if clock is not None and not isinstance(clock, Clock):
        raise TypeError(f"record's clock must be a Clock, got {type(clock).__name__} {clock!r}")
    if not isinstance(asyncio, bool):
        raise TypeError(f"record's asyncio must be True or False, got {type(asyncio).__name__} {asyncio!r}")
    tasks: AbstractContextManager[None] = nullcontext()
    if asyncio:
        from ._asyncio import AsyncioRecorder, trace_asyncio
        recorder: Recorder = AsyncioRecorder(capacity, clock)
        tasks = trace_asyncio(recorder)
    else:
        recorder = Recorder(capacity, clock)
    token = CAPTURE_SOURCE.set(True) if source else None
    try:
        with instrument(recorder), tasks:
            yield recorder.trace
    finally:
        if token is not None:
            CAPTURE_SOURCE.reset(token)
