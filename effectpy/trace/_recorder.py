"""The recorder: an instrument that turns runtime hooks into `TraceEvent`s.

`record()` attaches one to every run started inside its ``with`` block (through a context
variable, so unrelated concurrent runs are not mixed in). It only reads what the hooks
hand it; the `Trace` it fills is a plain value that renderers use without the runtime.

Where an event goes: a hook appends it raw (seven flat slots of one list: no container per
event) to ``_raw``; every `CHUNK` events, and whenever the trace is read or the spill file
is flushed, ``_compact`` moves the raw events into the `EventStore` (six shared references
and a float64 an event) and, with ``path``, writes them to the file. Everything the recorder keeps
is bounded when it has a ``capacity``: the store holds the last ``capacity`` events, the
fiber table forgets ended fibers beyond the last ``capacity`` of them, and the scope and
resource tables hold only the scopes and resources still open.
"""

from __future__ import annotations

import atexit
import math
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ContextDecorator, contextmanager, nullcontext
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from .._core._cause import Cause, Exit
from .._core._clock import LIVE_CLOCK, Clock
from .._core._hooks import CAPTURE_SOURCE, Instrument, instrument
from .._core._steps import STEP_FLOOR
from ._events import MAX_TEXT, TraceEvent, safe_repr, safe_str, safe_text
from ._jsonl import Spill
from ._store import CHUNK, EventStore, Events
from ._trace import Trace

__all__ = ["DEFAULT_CAPACITY", "FLUSH_EVERY", "Recorder", "record"]

# The bound the command line, the %%effect magic and the pytest plugin record with.
DEFAULT_CAPACITY: Final = 100_000
# Seconds between two flushes of a spill file (a killed process loses at most this much).
FLUSH_EVERY: Final = 1.0
# Distinct names (and suspend labels) remembered to share one copy of each; then forgotten.
_CACHE_LIMIT: Final = 65_536
# Raw slots after which a hook moves the events into the store.
_COMPACT_AT: Final = 7 * CHUNK
# How far back (in events) a task's name given before it ran reaches for its fork (other
# tasks may have been made in between).
_RENAME_BACK: Final = 16

_monotonic = time.monotonic

_NO_DATA: Final[Mapping[str, Any]] = MappingProxyType({})
_SUCCESS: Final[Mapping[str, Any]] = MappingProxyType({"outcome": "success"})
_OUTSIDE: Final = "a fiber outside this trace"
_ABSENT: Final = object()


def outcome_of(exit_: Exit[Any]) -> str:
    if exit_.is_success():
        return "success"
    cause = exit_.cause
    if cause.interruptors() and not cause.failures() and not cause.defects():
        return "interrupted"
    return "failure"


def _number(x: float) -> float | None:
    """A number for an event's data: to the nanosecond, or None if not finite (JSON has no
    infinity: a sleep forever has no deadline)."""
    return round(x, 9) if math.isfinite(x) else None


class Recorder(Instrument):
    """Records hooks as events. Use `record()` rather than making one directly."""

    def __init__(self, capacity: int | None = None, clock: Clock | None = None,
                 path: str | os.PathLike[str] | None = None) -> None:
        self._capacity = capacity
        # Invariant (outside `_compact`): len(_raw) is a multiple of 7, hooks adding
        # 7-tuples with one C call: (kind, fid, parent, by, name, data, clock reading) per
        # event, oldest first. The store has every earlier event.
        self._raw: list[Any] = []
        self._store = EventStore(capacity, origin=None)
        # runtime fiber id -> trace-local id. Bounded: an ended fiber is forgotten once
        # `capacity` fibers have ended after it (`_ended` holds their runtime ids in order).
        self._fids: dict[int, int] = {}
        self._ended: deque[int] | None = deque() if capacity is not None else None
        self._last_fid = 0
        # runtime scope / resource id -> trace-local id, while the scope or resource is open
        self._sids: dict[int, int] = {}
        self._rids: dict[int, int] = {}
        self._last_sid = self._last_rid = 0
        # shared copies: name -> its bounded text; suspend label -> its data
        self._names: dict[str | None, str | None] = {None: None}
        self._suspends: dict[str, Mapping[str, Any]] = {}
        # Interruptions asked for that have not taken effect yet (trace-local fiber id), and
        # releases under way (runtime resource id) -> the clock's reading then (`unwind`
        # events and the release's `seconds` say how long they took, when that was
        # STEP_FLOOR or more). Entries go when the fiber ends or the release is done.
        self._asked: dict[int, float] = {}
        self._releasing: dict[int, float] = {}
        # The roots still running (trace-local ids): their exit events carry their value.
        self._roots: set[int] = set()
        # The trace's clock: fixed by record(clock=...), or adopted from the first fiber
        # whose context provides a Clock (e.g. a TestClock); until then the live clock.
        self._clock: Clock | None = clock
        # The last context seen to use the live clock while no clock is fixed or adopted
        # (contexts are immutable, so the decision holds for as long as it is kept).
        self._live_ctx: Any = None
        # Readers (other threads: a live widget's flusher, the spill flusher) and
        # `_compact` / `_adopt` take this lock; hooks append without it (one C call).
        self._lock = threading.Lock()
        self._view = Events(self._store, self._lock, self._compact)
        self._spill = Spill(Path(path)) if path is not None else None
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self.trace = Trace._live(self)

    # --- reading ----------------------------------------------------------------------

    @property
    def events(self) -> Sequence[TraceEvent]:
        """The events: a live view that grows (unbounded), or a snapshot of the window
        (bounded: the window moves as events are dropped)."""
        if self._capacity is None:
            return self._view
        with self._lock:
            self._compact()
            return tuple(self._store.read(0, len(self._store)))

    @property
    def dropped(self) -> int:
        with self._lock:
            self._compact()
            return self._store.dropped

    def __len__(self) -> int:
        """The events held (without making them)."""
        with self._lock:
            self._compact()
            return len(self._store)

    @property
    def clock_name(self) -> str:
        return type(self._clock).__name__ if self._clock is not None else "live"

    def trace_id(self, runtime_id: int) -> int | None:
        """The trace-local id of the fiber with this runtime id (`Fiber.id`, from a
        process-wide counter), or None if it is not in the trace (or, in a bounded
        recording, ended too long ago to be remembered)."""
        return self._fids.get(runtime_id)

    # --- storing ----------------------------------------------------------------------

    def _compact(self) -> None:
        """Move the raw events into the store (and the spill file). With the lock held."""
        raw = self._raw
        n = len(raw)
        if not n:
            return
        # (hooks in another thread may append meanwhile: only the first n slots are touched)
        readings = raw[6:n:7]
        del raw[6:n:7]
        n -= len(readings)
        batch = raw[:n]  # the store's six slots per event
        del raw[:n]
        names = self._shared_names(batch[4::6])
        if names is not None:
            batch[4::6] = names
        store = self._store
        if self._spill is not None:
            self._spill.write(self.clock_name, store.total, batch, readings, store.origin)
        store.extend(batch, readings)

    def _shared_names(self, names: list[str | None]) -> list[str | None] | None:
        """The names, bounded to `MAX_TEXT` characters, one copy of each (a name like
        ``zip_par[3]`` is made anew for every fiber); None if they are that already."""
        if names.count(None) == len(names):  # (C speed: the common case of unnamed fibers)
            return None
        cache = self._names
        fresh = [name for name in set(names) if cache.get(name, _ABSENT) is not name]
        if not fresh:
            return None
        if len(cache) + len(fresh) > _CACHE_LIMIT:
            cache.clear()
            cache[None] = None
        for name in fresh:
            if name not in cache:
                bounded = safe_text(name)  # type: ignore[arg-type]
                cache[name] = name if bounded == name else bounded
        shared = list(map(cache.__getitem__, names))
        for name in fresh:
            if len(name) > MAX_TEXT:  # type: ignore[arg-type]
                del cache[name]  # (not kept: the key is the long name itself)
        return shared

    def _now(self, fiber: Any) -> float:
        """The trace clock's reading (setting the origin at the first event)."""
        clock = self._clock
        if clock is None:
            provided = fiber._ctx.get_option(Clock)
            if provided is None or provided is LIVE_CLOCK:
                self._live_ctx = fiber._ctx
                now = _monotonic()
                if self._store.origin is None:
                    self._store.origin = now
                return now
            self._adopt(provided)
            clock = provided
        now = clock.now()
        if self._store.origin is None:
            self._store.origin = now
        return now

    def _ts(self, fiber: Any) -> float:
        now = self._now(fiber)
        return round(now - self._store.origin, 9)  # type: ignore[operator]

    def _adopt(self, clock: Clock) -> None:
        """Switch to ``clock``: the events so far happened at its start. (Events already
        written to a spill file keep the times they were written with.)"""
        with self._lock:
            self._clock = clock
            self._live_ctx = None  # (events now read the adopted clock)
            origin = clock.now()
            self._raw[6::7] = [origin] * (len(self._raw) // 7)
            self._store.rebase(origin)

    def _cause_text(self, cause: Cause) -> str:
        """The cause, rendered with trace-local fiber ids (so traces are reproducible)."""
        def who(by: object) -> str:
            if not isinstance(by, int):
                return str(by)
            known = self._fids.get(by)
            return f"fiber #{known}" if known is not None else _OUTSIDE
        return safe_text(cause.pretty(who), MAX_TEXT * 4)

    def _fid(self, runtime_id: int) -> int:
        """The trace-local id (1, 2, ... in order of appearance) of a fiber."""
        fid = self._fids.get(runtime_id)
        if fid is None:
            fid = self._last_fid = self._last_fid + 1
            self._fids[runtime_id] = fid
        return fid

    def _add(self, fiber: Any, kind: str, parent: int | None = None, by: int | str | None = None,
             data: Mapping[str, Any] = _NO_DATA) -> None:
        # (the hottest hooks, fiber_started, fiber_ended and fiber_joined, inline this)
        t = _monotonic() if fiber._ctx is self._live_ctx else self._now(fiber)
        fid = self._fids.get(fiber.id)
        if fid is None:
            fid = self._fid(fiber.id)
        raw = self._raw
        raw += (kind, fid, parent, by, fiber.name, data, t)
        if len(raw) >= _COMPACT_AT:
            self._compact_locked()

    def _compact_locked(self) -> None:
        with self._lock:
            self._compact()

    # --- hooks ----------------------------------------------------------------------

    def fiber_started(self, fiber: Any, parent: Any) -> None:
        fids = self._fids
        pid = None if parent is None else fids.get(parent.id) or self._fid(parent.id)
        data: Mapping[str, Any] = _NO_DATA
        if fiber.daemon or fiber.source:
            data = {"daemon": True} if fiber.daemon else {}
            if fiber.source:
                data["source"] = safe_text(fiber.source)
        # _add, inlined
        t = _monotonic() if fiber._ctx is self._live_ctx else self._now(fiber)
        fid = fids.get(fiber.id)
        if fid is None:
            fid = self._last_fid = self._last_fid + 1
            fids[fiber.id] = fid
        if pid is None:
            self._roots.add(fid)
        raw = self._raw
        raw += ("fork", fid, pid, None, fiber.name, data, t)
        if len(raw) >= _COMPACT_AT:
            self._compact_locked()

    def fiber_ended(self, fiber: Any, exit: Any) -> None:
        fid = self._fids.get(fiber.id)
        if fid is None:
            fid = self._fid(fiber.id)
        if exit._ok:  # _add, inlined
            t = _monotonic() if fiber._ctx is self._live_ctx else self._now(fiber)
            roots = self._roots
            # a root's value is shown at the end of its lane (the others' would cost every
            # event of a fork-heavy trace its share of a repr)
            data: Mapping[str, Any]
            if fid in roots:
                data = {"outcome": "success", "value": safe_repr(exit._value, 200)}
                roots.discard(fid)
            else:
                data = _SUCCESS
            raw = self._raw
            raw += ("exit", fid, None, None, fiber.name, data, t)
            if len(raw) >= _COMPACT_AT:
                self._compact_locked()
        else:
            self._add(fiber, "exit", data={"outcome": outcome_of(exit),
                                           "cause": self._cause_text(exit.cause)})
            self._roots.discard(fid)
        if self._asked:
            self._asked.pop(fid, None)
        ended = self._ended
        if ended is not None:  # bounded: forget the fibers that ended longest ago
            ended.append(fiber.id)
            if len(ended) > self._capacity:  # type: ignore[operator]
                self._fids.pop(ended.popleft(), None)

    def fiber_interrupted(self, fiber: Any, by: object, reason: str) -> None:
        if isinstance(by, int):  # a fiber id: trace-local if that fiber is in the trace
            known = self._fids.get(by)
            who: int | str = known if known is not None else _OUTSIDE
        else:
            who = safe_str(by, 100)
        self._add(fiber, "cancel", by=who, data={"reason": safe_str(reason)})
        self._asked.setdefault(self._fids[fiber.id], self._now(fiber))

    def fiber_failed(self, fiber: Any, cause: Any) -> None:
        failures = cause.failures()
        if failures:
            self._add(fiber, "fail", data={"error": safe_repr(failures[0]), "cause": self._cause_text(cause)})
        else:
            defect = cause.defects()[0] if cause.defects() else None
            error = f"{type(defect).__name__}: {safe_str(defect)}" if defect is not None else "?"
            self._add(fiber, "die", data={"error": error, "cause": self._cause_text(cause)})

    def fiber_suspended(self, fiber: Any, on: str) -> None:
        data = self._suspends.get(on)
        if data is None:
            if len(self._suspends) >= _CACHE_LIMIT:
                self._suspends.clear()
            data = self._suspends[on] = MappingProxyType({"on": safe_str(on, 100)})
        self._add(fiber, "suspend", data=data)

    def fiber_resumed(self, fiber: Any) -> None:
        self._add(fiber, "resume")

    def fiber_renamed(self, fiber: Any) -> None:
        """``fiber`` got its name after its fork was recorded and before it ran (asyncio
        names a task made by ``create_task(coro, name=...)`` once the task exists): its fork,
        if it is among the last few events not yet stored, carries the name. (Else the name
        comes with its next events.)"""
        fid = self._fids.get(fiber.id)
        with self._lock:  # (no compaction meanwhile; appends only add at the end)
            raw = self._raw
            for i in range(len(raw) - 7, max(len(raw) - 7 * _RENAME_BACK, 0) - 1, -7):
                if raw[i + 1] == fid and raw[i] == "fork":
                    raw[i + 4] = fiber.name
                    break

    def fiber_joined(self, fiber: Any, target: Any) -> None:
        fids = self._fids
        known = fids.get(target.id)
        # _add, inlined
        t = _monotonic() if fiber._ctx is self._live_ctx else self._now(fiber)
        fid = fids.get(fiber.id)
        if fid is None:
            fid = self._fid(fiber.id)
        raw = self._raw
        raw += ("join", fid, None, known if known is not None else _OUTSIDE, fiber.name, _NO_DATA, t)
        if len(raw) >= _COMPACT_AT:
            self._compact_locked()

    def sleep_started(self, fiber: Any, clock: Any, deadline: float) -> None:
        now = clock.now()
        ts = self._ts(fiber)
        self._add(fiber, "sleep", data={"deadline": _number(ts + (deadline - now)),
                                        "seconds": _number(deadline - now)})

    def sleep_ended(self, fiber: Any, clock: Any) -> None:
        self._add(fiber, "wake")

    def timeout_fired(self, fiber: Any, seconds: float) -> None:
        self._add(fiber, "timeout", data={"after": _number(seconds)})

    def retry_scheduled(self, fiber: Any, attempt: int, delay: float, error: Any) -> None:
        self._add(fiber, "retry", data={"attempt": attempt, "delay": _number(delay),
                                        "error": safe_repr(error)})

    def scope_opened(self, fiber: Any, scope_id: int, kind: str) -> None:
        sid = self._sids[scope_id] = self._last_sid = self._last_sid + 1
        self._add(fiber, "scope_open", data={"scope": sid, "kind": safe_str(kind, 100)})

    def scope_closed(self, fiber: Any, scope_id: int, kind: str) -> None:
        sid = self._sids.pop(scope_id, None)
        if sid is None:  # opened before the recording began
            sid = self._last_sid = self._last_sid + 1
        self._add(fiber, "scope_close", data={"scope": sid, "kind": safe_str(kind, 100)})

    def resource_acquired(self, fiber: Any, resource_id: int, resource: object) -> None:
        rid = self._rids[resource_id] = self._last_rid = self._last_rid + 1
        self._add(fiber, "acquire", data={"resource": rid, "value": safe_repr(resource, 200)})

    def resource_released(self, fiber: Any, resource_id: int, exit: Any) -> None:
        rid = self._rids.pop(resource_id, None)
        if rid is None:  # acquired before the recording began
            rid = self._last_rid = self._last_rid + 1
        data: dict[str, Any] = {"resource": rid, "exit": outcome_of(exit)}
        began = self._releasing.pop(resource_id, None)
        took = 0.0 if began is None else self._now(fiber) - began
        if took >= STEP_FLOOR:
            data["seconds"] = round(took, 9)
        self._add(fiber, "release", data=data)

    def resource_releasing(self, fiber: Any, resource_id: int) -> None:
        self._releasing[resource_id] = self._now(fiber)

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
            data["source"] = safe_text(where)
        self._add(fiber, "step", data=data)

    # --- the spill file -----------------------------------------------------------------

    def _flush(self) -> None:
        """Write the events recorded so far to the spill file, and hand them to the OS."""
        with self._lock:
            self._compact()
            if self._spill is not None:
                self._spill.flush(self.clock_name)

    def _flush_every_second(self) -> None:
        while not self._stop.wait(FLUSH_EVERY):
            self._flush()

    def start(self) -> None:
        """Start flushing the spill file every `FLUSH_EVERY` seconds, and at exit."""
        if self._spill is None:
            return
        self._flusher = threading.Thread(target=self._flush_every_second, daemon=True,
                                         name="effectpy-trace-flusher")
        self._flusher.start()
        atexit.register(self._flush)

    def close(self) -> None:
        """Stop flushing; write what is left and the end line, and close the file."""
        spill = self._spill
        if spill is None:
            return
        atexit.unregister(self._flush)
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join()
        with self._lock:
            self._compact()
            spill.close(self.clock_name)
        if spill.error is not None:
            warnings.warn(f"effectpy: the trace could not be written to {spill.path} "
                          f"({spill.error}); the trace in memory is intact", RuntimeWarning,
                          stacklevel=3)


def record(capacity: int | None = None, *, clock: Clock | None = None, source: bool = False,
           path: str | os.PathLike[str] | None = None, asyncio: bool = False) -> Recording:
    """Record every effect run started inside the ``with`` block.

    Args:
        capacity: keep only the last ``capacity`` events (a flight recorder); the trace
            says how many were dropped. Everything the recorder keeps is then bounded (its
            memory stays flat however long the run). None keeps everything.
            `DEFAULT_CAPACITY` is what the command line, ``%%effect`` and the pytest
            plugin use.
        clock: the clock for timestamps. By default the first `Clock` provided to a
            recorded fiber (a `TestClock` makes traces reproducible), else the live clock.
        source: remember where (file:line) user code built the effects made inside the
            block that fork fibers (fork, named, zip_par, race, for_each_par, timeout);
            fork events then carry it as ``data["source"]``. Off by default (it costs a
            stack walk per such effect built).
        path: also write every event to this file as it happens (JSONL, the streamed form
            `Trace.load` reads): buffered, flushed at least every `FLUSH_EVERY` seconds
            and when the block ends, so a process that is killed keeps all but its last
            second. With ``capacity``, memory stays bounded while the file holds every
            event.
        asyncio: record plain asyncio tasks too, as fibers: each task created inside the
            block (by code in its context) with its parent task, who cancelled it and why,
            its outcome, joins and long steps; an effect awaited in a task is that task's
            child (see `effectpy.trace._asyncio`; `traced` marks ``async with`` resources).

    Names, error texts and values are stored cut to `MAX_TEXT` characters (the effect
    and the fiber keep a name whole). The arguments are checked here, before the block.

    >>> import effectpy
    >>> from effectpy.trace import record
    >>> with record() as trace:
    ...     effectpy.run(effectpy.zip_par(effectpy.succeed(1), effectpy.fail("boom")).exit())
    Exit.fail_cause(Fail('boom'))
    >>> [(f.label, f.outcome) for f in trace.fibers()]
    [('#1', 'success'), ('#2 zip_par[0]', 'success'), ('#3 zip_par[1]', 'failure')]
    """
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
        raise TypeError(f"record's capacity must be None or an int >= 1, got {type(capacity).__name__} {capacity!r}")
    if capacity is not None and capacity < 1:
        raise ValueError(f"record's capacity must be None or an int >= 1, got {capacity!r}")
    if clock is not None and not isinstance(clock, Clock):
        raise TypeError(f"record's clock must be a Clock, got {type(clock).__name__} {clock!r}")
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"record's path must be None or a file path, got {type(path).__name__} {path!r}")
    if not isinstance(asyncio, bool):
        raise TypeError(f"record's asyncio must be True or False, got {type(asyncio).__name__} {asyncio!r}")
    return Recording(capacity, clock, source, path, asyncio)


class Recording(ContextDecorator):
    """What `record` returns: a context manager whose ``with ... as trace`` gives the
    `Trace` (a `Recording` is not the trace itself), or a decorator that records each call
    of a function. Each entry records afresh."""

    def __init__(self, capacity: int | None, clock: Clock | None, source: bool,
                 path: str | os.PathLike[str] | None, asyncio: bool) -> None:
        self._args = (capacity, clock, source, path, asyncio)
        self._open: list[AbstractContextManager[Trace]] = []  # the entries not left yet

    def __enter__(self) -> Trace:
        cm = _recording(*self._args)
        trace = cm.__enter__()
        self._open.append(cm)
        return trace

    def __exit__(self, *exc: Any) -> bool | None:
        return self._open.pop().__exit__(*exc)

    if not TYPE_CHECKING:  # (for mypy, a Recording has only what it has)
        def __getattr__(self, name: str) -> Any:
            raise AttributeError(f"record(...) is a context manager, not a trace: write `with record() "
                                 f"as trace:` and read trace.{name} (no attribute {name!r})")


@contextmanager
def _recording(capacity: int | None, clock: Clock | None, source: bool,
               path: str | os.PathLike[str] | None, asyncio: bool) -> Iterator[Trace]:
    tasks: AbstractContextManager[None] = nullcontext()
    if asyncio:
        from ._asyncio import AsyncioRecorder, trace_asyncio
        recorder: Recorder = AsyncioRecorder(capacity, clock, path)  # opens the file (OSError here)
        tasks = trace_asyncio(recorder)
    else:
        recorder = Recorder(capacity, clock, path)  # opens the file: an OSError is raised here
    token = CAPTURE_SOURCE.set(True) if source else None
    recorder.start()
    try:
        with instrument(recorder), tasks:
            yield recorder.trace
    finally:
        if token is not None:
            CAPTURE_SOURCE.reset(token)
        recorder.close()
