"""The trio backend: fibers driven by one trio task, user awaitables as shielded tasks.

Imported only when effectpy runs under trio. All fiber callbacks run in a single driver
task; timers and awaited coroutines are tasks of the run's nursery, each with its own
cancel scope (and shielded from outer cancellation, which reaches the fibers as an
interruption instead, so their finalizers still run).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import trio

from ._cause import HOST, Exit, Interrupt
from ._context import Context
from ._effect import NAMED, Effect, cause_of
from ._fiber import Fiber
from ._hooks import CURRENT_INSTRUMENTS, Instruments
from ._runtime import RUN_ENDED, _hand_back, _interrupt_all, raise_if_cleanup_failed

__all__ = ["TrioRuntime", "run_async_trio", "trio_run"]

# The driver lets other trio tasks (timers, awaited tasks) run after this many callbacks,
# or sooner once it has run for _DRIVER_SLICE seconds (a callback may be a fiber's whole
# 2,048-step slice: a busy fiber must not hold timers back for long).
_DRIVER_BATCH = 1024
_DRIVER_SLICE = 0.002


class _Handle:
    __slots__ = ("scope",)

    def __init__(self) -> None:
        self.scope = trio.CancelScope()

    def cancel(self) -> None:
        self.scope.cancel()


class TrioRuntime:
    """One run's adapter to trio (the same interface as the asyncio `Runtime`)."""

    __slots__ = ("_nursery", "_queue", "_parked", "_closing", "_tasks", "instrument", "inline_depth",
                 "_daemons", "_done")

    def __init__(self, nursery: trio.Nursery, instrument: Instruments | None) -> None:
        self._nursery = nursery
        self._queue: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        # The driver task while it waits for work; None while it runs.
        self._parked: Any = None
        self._closing = False
        # Scopes of timers and awaited tasks still running (cancelled when the run ends).
        self._tasks: set[_Handle] = set()
        self.instrument = instrument
        self.inline_depth = 0
        # Daemon fibers still running; ended (interrupted) when the run's root ends.
        self._daemons: set[Fiber[Any, Any]] = set()
        self._done = False  # the driver has returned

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        if self._done:
            return  # the driver has returned: the run is over, nothing is left to wake
        self._queue.append((fn, args))
        parked = self._parked
        if parked is not None:
            self._parked = None
            trio.lowlevel.reschedule(parked)

    async def drive(self) -> None:
        with trio.CancelScope(shield=True):
            queue = self._queue
            while True:
                ran = 0
                deadline = perf_counter() + _DRIVER_SLICE
                while queue and ran < _DRIVER_BATCH:
                    fn, args = queue.popleft()
                    fn(*args)
                    ran += 1
                    if perf_counter() > deadline:
                        break
                if queue:
                    await trio.lowlevel.checkpoint()
                    continue
                if self._closing:
                    self._done = True
                    return
                self._parked = trio.lowlevel.current_task()
                await trio.lowlevel.wait_task_rescheduled(lambda _: trio.lowlevel.Abort.FAILED)

    def track_daemon(self, fiber: Fiber[Any, Any]) -> None:
        self._daemons.add(fiber)
        fiber._observers.append(lambda _exit: self._daemons.discard(fiber))

    async def end_daemons(self) -> None:
        while self._daemons:
            done = trio.Event()
            _interrupt_all(self._daemons, RUN_ENDED, done.set)
            await done.wait()

    def is_closed(self) -> bool:
        """The driver has returned: the run's fibers can never run again."""
        return self._done

    def close(self) -> None:
        self._closing = True
        for handle in list(self._tasks):
            handle.cancel()
        self.call_soon(lambda: None)

    def call_later(self, delay: float, fn: Callable[..., object], *args: Any) -> _Handle:
        handle = _Handle()
        self._tasks.add(handle)

        async def timer() -> None:
            with trio.CancelScope(shield=True), handle.scope:
                await trio.sleep(delay)
                self.call_soon(fn, *args)
            self._tasks.discard(handle)

        self._nursery.start_soon(timer)
        return handle

    def spawn(self, aw: Awaitable[Any], done: Callable[[int, bool, Any], None], token: int) -> Callable[[], object]:
        handle = _Handle()
        self._tasks.add(handle)

        async def runner() -> None:
            try:
                with trio.CancelScope(shield=True), handle.scope:
                    try:
                        value = await aw
                    except trio.Cancelled:
                        raise
                    except BaseException as exc:  # noqa: BLE001 - reported to the fiber
                        self.call_soon(done, token, False, cause_of(exc))
                    else:
                        self.call_soon(done, token, True, value)
                    return
                self.call_soon(done, token, False, Interrupt("cancelled"))
            finally:
                self._tasks.discard(handle)

        self._nursery.start_soon(runner)
        return handle.cancel


async def run_async_trio(eff: Effect[Any, Any, Any], ctx: Context) -> Exit[Any]:
    items = CURRENT_INSTRUMENTS.get()
    box: list[Exit[Any]] = []
    finished = trio.Event()
    interrupted_by: BaseException | None = None
    async with trio.open_nursery() as nursery:
        runtime = TrioRuntime(nursery, Instruments(items) if items else None)
        nursery.start_soon(runtime.drive)
        fiber = Fiber._new(runtime, ctx, None, eff._b if eff._tag == NAMED else None, False)
        fiber.source = eff._c if eff._tag == NAMED else None

        def on_exit(ex: Exit[Any]) -> None:
            box.append(ex)
            finished.set()

        fiber._observers.append(on_exit)
        if runtime.instrument is not None:
            runtime.instrument.emit("fiber_started", fiber, None)
        # its first slice at once, as on asyncio: a cancellation already pending meets an
        # effect that has begun (an uninterruptible one is then in its region)
        fiber._loop(eff, True, None)
        try:
            try:
                await finished.wait()
            except BaseException as exc:  # noqa: BLE001 - Cancelled, KeyboardInterrupt, ...
                interrupted_by = exc
                fiber.interrupt_as(HOST, "host task cancelled")
                with trio.CancelScope(shield=True):
                    await finished.wait()
            # daemon fibers cannot outlive the run on trio: interrupt them, await cleanup
            with trio.CancelScope(shield=True):
                await runtime.end_daemons()
        finally:
            runtime.close()
    if interrupted_by is not None:
        if box[0].is_success():
            _hand_back(eff, box[0].value)
        raise_if_cleanup_failed(box[0])
        raise interrupted_by  # outside the nursery: not wrapped in an exception group
    return box[0]


def trio_run(eff: Effect[Any, Any, Any], ctx: Context) -> Exit[Any]:
    result: Exit[Any] = trio.run(run_async_trio, eff, ctx)
    return result
