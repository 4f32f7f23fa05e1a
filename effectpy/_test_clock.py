"""`TestClock`: virtual time for deterministic tests, and the clock layers."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable, Generator
from typing import Any, Final

from ._core._clock import LIVE_CLOCK, Clock, sleep_node
from ._core._duration import Duration, to_seconds
from ._core._cause import Exit
from ._core._context import Context
from ._core._effect import Effect, yield_now
from ._core._fiber import Fiber
from ._core._runtime import in_trio, run_ending_daemons
from ._layer import Layer

__all__ = ["ClockLayer", "TestClock", "TestClockLayer"]

# How many event-loop turns with nothing runnable mean "every fiber has suspended".
_QUIET_TURNS: Final = 2


class TestClock(Clock):
    """A clock whose time moves only when told to, so timing tests are instant and exact.

    ``advance(seconds)`` can be called without ``await``, even right after starting the
    effect it drives: time moves once every task and fiber has started and suspended.
    Sleepers wake in deadline order, each seeing its own deadline as "now". Awaiting what
    ``advance`` returns waits until the woken fibers have run to their next suspension.

    >>> import asyncio, effectpy
    >>> async def main():
    ...     clock = TestClock()
    ...     env = effectpy.Context().with_service(effectpy.Clock, clock)
    ...     task = asyncio.create_task(effectpy.sleep(60).as_("done")._run(env))
    ...     clock.advance(60)
    ...     return await task, clock.now()
    >>> asyncio.run(main())
    ('done', 60.0)
    """

    __test__ = False  # not a pytest test class

    def __init__(self, start: float = 0.0) -> None:
        if isinstance(start, bool) or not isinstance(start, (int, float)):
            raise TypeError(f"TestClock's start must be a number, got {type(start).__name__} {start!r}")
        self._now = float(start)
        # Heap of (deadline, seq, wake); seq keeps equal deadlines in arrival order.
        self._sleepers: list[tuple[float, int, Callable[[], None]]] = []
        # Invariant: the seqs of heap entries still waiting (cancelled ones are dropped
        # lazily when they reach the top of the heap).
        self._live: set[int] = set()
        self._seq = itertools.count()
        # Where pending advances will take the clock; None when none is pending.
        self._target: float | None = None
        self._driver: _AsyncioDriver | _TrioDriver | None = None

    def now(self) -> float:
        return self._now

    @property
    def pending_sleeps(self) -> int:
        """How many sleepers wait on this clock."""
        return len(self._live)

    def _add(self, deadline: float, wake: Callable[[], None]) -> int:
        seq = next(self._seq)
        heapq.heappush(self._sleepers, (deadline, seq, wake))
        self._live.add(seq)
        return seq

    def _remove(self, seq: int) -> None:
        self._live.discard(seq)

    def _pop_due(self, limit: float) -> tuple[float, Callable[[], None]] | None:
        heap = self._sleepers
        while heap and heap[0][0] <= limit:
            deadline, seq, wake = heapq.heappop(heap)
            if seq in self._live:
                self._live.discard(seq)
                return deadline, wake
        return None

    async def sleep(self, seconds: float | Duration) -> None:
        s = to_seconds(seconds, "TestClock.sleep")
        if s <= 0:
            await (asyncio.sleep(0) if _on_asyncio() else _trio_checkpoint())
            return
        if _on_asyncio():
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

            def wake() -> None:
                if not fut.done():
                    fut.set_result(None)
            seq = self._add(self._now + s, wake)
            try:
                await fut
            finally:
                self._remove(seq)
            return
        import trio
        event = trio.Event()
        seq = self._add(self._now + s, event.set)
        try:
            await event.wait()
        finally:
            self._remove(seq)

    def _sleep_effect(self, seconds: float) -> Effect[Any, Any, None]:
        if seconds <= 0:
            return yield_now  # nothing to wait for: no need for anyone to advance the clock

        def arm(fiber: Fiber[Any, Any], wake: Callable[[], None]) -> Callable[[], None]:
            seq = self._add(self._now + seconds, wake)
            return lambda: self._remove(seq)
        return sleep_node(self, seconds, arm)

    def advance(self, seconds: float | Duration) -> Advance:
        """Move time forward by ``seconds`` once everything running has suspended.

        Callable without ``await``; awaiting the result waits until time has moved and the
        woken fibers have run to their next suspension."""
        s = to_seconds(seconds, "TestClock.advance")
        self._target = (self._now if self._target is None else self._target) + s
        if self._driver is None:
            if _on_asyncio():
                self._driver = _AsyncioDriver(self)
            elif in_trio():
                self._driver = _TrioDriver(self)
            else:
                self._move_now()
                return Advance(None)
        return Advance(self._driver)

    def adjust(self, seconds: float | Duration) -> Effect[Any, Any, None]:
        """An effect that advances this clock and waits for the woken fibers (ZIO's
        ``TestClock.adjust``): ``zip_par(program, clock.adjust(10))``."""
        s = to_seconds(seconds, "TestClock.adjust")

        async def go() -> None:
            await self.advance(s)

        from ._core._effect import from_async
        return from_async(go)

    def next_deadline(self) -> float | None:
        """The earliest time a sleeper waits for, or None if nobody sleeps on this clock."""
        heap = self._sleepers
        while heap and heap[0][1] not in self._live:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    async def drive(self, effect: Effect[Any, Any, Any], ctx: Context | None = None) -> Exit[Any]:
        """Run ``effect`` (asyncio) with this clock as its `Clock`, moving virtual time to
        the next deadline whenever everything waits; returns its `Exit`. Sleeps finish
        instantly and in order, so the run (and its trace) is the same every time. As in
        `effectpy.run`, daemons still running when ``effect`` ends are interrupted (their
        finalizers awaited) before it returns.

        >>> import asyncio, effectpy
        >>> clock = TestClock()
        >>> asyncio.run(clock.drive(effectpy.sleep(3600).as_("an hour later"))).value
        'an hour later'
        >>> clock.now()
        3600.0
        """
        env = (ctx if ctx is not None else Context()).with_service(Clock, self)
        loop = asyncio.get_running_loop()
        task = loop.create_task(run_ending_daemons(effect, env))
        try:
            while not task.done():
                await _settle_asyncio(loop)
                if task.done():
                    break
                deadline = self.next_deadline()
                if deadline is None:
                    await asyncio.sleep(0.001)  # waiting on something real (I/O, a thread)
                else:
                    await self.advance(max(0.0, deadline - self._now))
        finally:
            if not task.done():
                task.cancel()
        return task.result()

    def _move_now(self) -> None:
        target = self._target
        assert target is not None
        while (due := self._pop_due(target)) is not None:
            self._now = max(self._now, due[0])
            due[1]()
        self._now = max(self._now, target)
        self._target = None

    async def _drive(self, settle: Callable[[], Awaitable[None]]) -> None:
        """Wake due sleepers one deadline at a time, letting everything settle between."""
        try:
            while True:
                await settle()
                target = self._target
                assert target is not None
                due = self._pop_due(target)
                if due is None:
                    break
                self._now = max(self._now, due[0])
                due[1]()
            self._now = max(self._now, target)
            self._target = None
        finally:
            self._driver = None
            self._target = None  # a cancelled driver abandons its pending advance

    def __repr__(self) -> str:
        return f"TestClock(now={self._now!r}, sleepers={self.pending_sleeps})"


class _AsyncioDriver:
    __slots__ = ("task",)

    def __init__(self, clock: TestClock) -> None:
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(clock._drive(lambda: _settle_asyncio(loop)))

    async def wait(self) -> None:
        await asyncio.shield(self.task)
        await _settle_asyncio(self.task.get_loop())


class _TrioDriver:
    __slots__ = ("done",)

    def __init__(self, clock: TestClock) -> None:
        import trio
        import trio.testing
        self.done = trio.Event()

        async def drive() -> None:
            try:
                await clock._drive(trio.testing.wait_all_tasks_blocked)
            finally:
                self.done.set()

        trio.lowlevel.spawn_system_task(drive)

    async def wait(self) -> None:
        import trio.testing
        await self.done.wait()
        await trio.testing.wait_all_tasks_blocked()


class Advance:
    """What `TestClock.advance` returns: await it to wait until time has moved and the
    woken fibers have run to their next suspension (awaiting it is optional)."""

    __slots__ = ("_driver",)

    def __init__(self, driver: _AsyncioDriver | _TrioDriver | None) -> None:
        self._driver = driver

    def __await__(self) -> Generator[Any, None, None]:
        if self._driver is not None:
            yield from self._driver.wait().__await__()


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _trio_checkpoint() -> None:
    import trio
    await trio.lowlevel.checkpoint()


async def _settle_asyncio(loop: asyncio.AbstractEventLoop) -> None:
    """Return once nothing else is ready to run on ``loop`` (every task and fiber waits
    on a timer, I/O, or this clock)."""
    ready = getattr(loop, "_ready", None)  # the loop's run queue (CPython's BaseEventLoop)
    if ready is None:
        for _ in range(64):
            await asyncio.sleep(0)
        return
    quiet = 0
    while quiet < _QUIET_TURNS:
        await asyncio.sleep(0)
        quiet = quiet + 1 if not ready else 0


ClockLayer: Final = Layer.succeed(LIVE_CLOCK, key=Clock)
"""The live clock as a layer (the default when no clock is provided)."""


def TestClockLayer(test_clock: TestClock) -> Layer:  # noqa: N802 - the guide's name
    """A layer providing ``test_clock`` as the `Clock`."""
    if not isinstance(test_clock, TestClock):
        raise TypeError(f"TestClockLayer expects a TestClock, got {type(test_clock).__name__} {test_clock!r}")
    return Layer.succeed(test_clock, key=Clock)
