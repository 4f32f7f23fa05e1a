"""Step timing: how long a fiber held the event loop, for the blocked-loop diagnostic.

A *step* is synchronous work between two suspensions: a slice of a fiber's run loop, or one
step of a coroutine that the fiber awaits inline. While an instrument takes the
``fiber_step`` hook, every step is timed with `time.perf_counter` (real time, whatever clock
the trace is on) and those of at least `STEP_FLOOR` seconds are reported as
``fiber_step(fiber, seconds, where)``. Each owner is charged for its own code only: steps
nested in another (children that a group starts inline, an effect awaited inside a
coroutine, a recorded asyncio task's ``await effect``) are taken out of the outer one (each
thread's `Ledger`).

``where`` is ``file:line`` (or ``file:first-last``) of the user code a coroutine step ran,
when source capture is on (``record(source=True)``); None for run-loop slices, whose fiber's
``source`` says where its effect was built.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Awaitable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, Final

from ._hooks import CAPTURE_SOURCE

if TYPE_CHECKING:
    from ._fiber import Fiber
    from ._hooks import Instruments

__all__ = ["STEP_FLOOR", "Ledger", "TimedAwait", "ended_at", "is_internal", "ledger", "span", "suspended_at"]

# Steps shorter than this (seconds) are not reported: a trace holds at most one step event
# per millisecond of busy time. `effectpy.trace.diagnose` thresholds cannot go below it.
STEP_FLOOR: Final = 0.001

_perf: Final = time.perf_counter


class Ledger:
    """Step accounting for one thread (steps nest, never interleave, in one thread)."""

    __slots__ = ("charged",)

    def __init__(self) -> None:
        # The time charged so far to the steps that have ended (each adds its own time when
        # it ends): a step's own time is its length less what was charged while it ran.
        self.charged = 0.0

    def charge(self, took: float, before: float) -> float:
        """A step that took ``took`` seconds, while `charged` went from ``before`` to now,
        has ended: its own time, now charged."""
        charged = self.charged
        own = took - (charged - before)
        self.charged = charged + own
        return own


class _Ledgers(threading.local):
    ledger: Ledger | None = None


_LEDGERS: Final = _Ledgers()


def ledger() -> Ledger:
    """This thread's `Ledger` (each run and each recorded loop looks it up once)."""
    led = _LEDGERS.ledger
    if led is None:
        led = _LEDGERS.ledger = Ledger()
    return led


class TimedAwait(Coroutine[Any, Any, Any]):
    """An awaitable that a fiber awaits inline, wrapped so that each of its steps is timed.

    It is a `collections.abc.Coroutine`, so that a carrier may also wrap it in a task
    (`asyncio.ensure_future`), and `discard` closes what it wraps."""

    __slots__ = ("aw", "_it", "_fiber", "_inst", "_led", "_where")

    def __init__(self, aw: Awaitable[Any], fiber: Fiber[Any, Any], inst: Instruments, led: Ledger) -> None:
        self.aw = aw
        self._it: Generator[Any, Any, Any] | None = None
        self._fiber = fiber
        self._inst = inst
        self._led = led
        self._where = CAPTURE_SOURCE.get()

    def __await__(self) -> Generator[Any, Any, Any]:
        return self  # an iterator with send, throw and close: what `await` needs

    def __iter__(self) -> TimedAwait:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def _iterator(self) -> Generator[Any, Any, Any]:
        it = self._it
        if it is None:
            it = self._it = self.aw.__await__()
        return it

    def send(self, value: Any) -> Any:
        return self._step(self._iterator().send, value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        it = self._iterator()
        if val is None and tb is None:
            return self._step(it.throw, typ)
        return self._step(lambda exc: it.throw(typ, exc, tb), val)

    def close(self) -> None:
        if self._it is not None:
            self._it.close()
        else:
            close = getattr(self.aw, "close", None)
            if close is not None:
                close()

    def _step(self, fn: Any, arg: Any) -> Any:
        began = suspended_at(self.aw) if self._where else None
        led = self._led
        before = led.charged
        start = _perf()
        try:
            out = fn(arg)
        except BaseException as exc:  # noqa: BLE001 - the await's end: passed on as it is
            self._charged(led.charge(_perf() - start, before), began, exc)
            raise
        self._charged(led.charge(_perf() - start, before), began, None)
        return out

    def _charged(self, own: float, began: tuple[str, int] | None, ended: BaseException | None) -> None:
        if own >= STEP_FLOOR:
            where = span(began, ended_at(self.aw, ended)) if self._where else None
            self._inst.emit("fiber_step", self._fiber, own, where)


# Frames of these packages are not the user's code: a step's place is the innermost other one.
_INTERNAL: Final = frozenset(("effectpy", "asyncio", "trio", "anyio", "outcome", "sniffio"))


def is_internal(frame: Any) -> bool:
    """Whether ``frame`` runs effectpy's or an event loop's code, not the user's."""
    return str(frame.f_globals.get("__name__", "")).partition(".")[0] in _INTERNAL


def suspended_at(aw: object) -> tuple[str, int] | None:
    """(file name, line) where the innermost user coroutine awaited by ``aw`` is suspended,
    or None (not a coroutine, not started, finished, or no user code in it)."""
    found: tuple[str, int] | None = None
    current: Any = aw
    for _ in range(64):  # an await chain, not a loop; bounded all the same
        frame = getattr(current, "cr_frame", None) or getattr(current, "gi_frame", None)
        if frame is None:
            break
        if not is_internal(frame):
            found = (os.path.basename(frame.f_code.co_filename), frame.f_lineno)
        current = getattr(current, "cr_await", None) or getattr(current, "gi_yieldfrom", None)
        if current is None:
            break
    return found


def ended_at(aw: object, ended: BaseException | None) -> tuple[str, int] | None:
    """Where a step of ``aw`` ended: where it is suspended now, or, if it ended by raising
    (a return raises StopIteration), the innermost user line the exception went through."""
    if ended is None:
        return suspended_at(aw)
    found: tuple[str, int] | None = None
    tb = ended.__traceback__
    while tb is not None:
        if not is_internal(tb.tb_frame):
            found = (os.path.basename(tb.tb_frame.f_code.co_filename), tb.tb_lineno)
        tb = tb.tb_next
    return found


def span(before: tuple[str, int] | None, after: tuple[str, int] | None) -> str | None:
    """``file:line`` for a step that began suspended at ``before`` and ended at ``after``
    (``file:first-last`` when both are in one file)."""
    if before is None and after is None:
        return None
    if before is None or after is None or before[0] != after[0]:
        name, line = after or before  # type: ignore[misc]
        return f"{name}:{line}"
    low, high = sorted((before[1], after[1]))
    return f"{before[0]}:{low}" if low == high else f"{before[0]}:{low}-{high}"
