"""The trio backend: fibers driven by one trio task until they await a coroutine, then
each by a carrier task of its own.

Imported only when effectpy runs under trio. The callbacks of fibers without a carrier run
in a single driver task. A fiber that awaits a coroutine gets a carrier (`_TrioCarrier`): a
task of the run's nursery that awaits it inline, in a cancel scope of its own (interrupting
the fiber cancels that scope), runs the fiber's loop, and parks while the fiber waits on
anything else. The root is carried by the task that awaits it, and an effect awaited inside
a carried fiber's coroutine by that task too, as the fiber's child. Timers and dedicated
carriers are shielded from outer cancellation, which reaches the fibers as an interruption
instead, so their finalizers still run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any, Final

import outcome
import trio

from ._cause import HOST, Exit
from ._context import Context
from ._effect import Effect, cause_of
from ._fiber import Fiber
from ._loop import DONE, STEP_BUDGET
from ._hooks import CURRENT_INSTRUMENTS, Instruments
from ._carrier import AWAIT_CANCELLED, CARRIED, carrying, never_began
from ._runtime import RUN_ENDED, _context, _interrupt_all, _new_fiber, reraise_host_cancel, run_child

__all__ = ["TrioRuntime", "run_async_trio", "trio_run"]

# The driver runs the callbacks queued when its batch began (at most this many), then lets
# the other trio tasks (carriers, timers, awaited tasks) run; sooner once it has run for
# _DRIVER_SLICE seconds (a callback may be a fiber's whole 2,048-step slice: a busy fiber
# must not hold timers back for long).
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
                 "_daemons", "_done", "_carriers")

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
        # Carriers with a task of their own that are still running.
        self._carriers: set[_TrioCarrier] = set()

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
                # what was queued when the batch began (a fiber that queues itself again
                # waits for the next batch, as on asyncio: the carriers run in between)
                deadline = perf_counter() + _DRIVER_SLICE
                for _ in range(min(len(queue), _DRIVER_BATCH)):
                    fn, args = queue.popleft()
                    fn(*args)
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
        fiber._observe(lambda _exit: self._daemons.discard(fiber))

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
        for carrier in list(self._carriers):
            carrier.abandon()  # a fiber that outlived the run (forked into an outside Scope)
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

    def carry(self, fiber: Fiber[Any, Any], aw: Awaitable[Any] | None,
              first: Effect[Any, Any, Any] | None = None) -> _TrioCarrier:
        """A carrier task for ``fiber`` (in the run's nursery), which first awaits ``aw``
        (or runs ``first``)."""
        carrier = _TrioCarrier(fiber, None)
        carrier.aw = aw
        self._carriers.add(carrier)
        self._nursery.start_soon(carrier.run, first)
        return carrier


# What an await ends with when the carrier's scope swallowed the cancellation it sent.
_CUT: Final = (False, AWAIT_CANCELLED)


class _TrioCarrier:
    """The trio task that carries a fiber (see `_carrier`, its asyncio twin).

    The carrier runs in a cancel scope that interrupting the fiber's inline await cancels;
    the cancellation ends that scope, and the carrier goes on in a new one (one scope per
    interruption, not per await). A carrier with a task of its own runs shielded from outer
    cancellation. One that is the awaiting task (``host``) is not: the host's cancellation
    interrupts the fiber, and from then on the carrier is shielded (trio's cancellation is
    level-triggered), so the fiber's finalizers run; an await in an uninterruptible region
    is shielded too. The host's cancellation is raised once the fiber has ended.
    """

    __slots__ = ("fiber", "task", "aw", "next", "park", "scope", "awaiting", "early", "sent",
                 "budget", "parent", "host_cancel", "abandoned")

    # The task is someone else's (`_TrioHostCarrier`): it may be cancelled by others.
    shared = False

    def __init__(self, fiber: Fiber[Any, Any], host: Any, parent: Fiber[Any, Any] | None = None) -> None:
        self.fiber = fiber
        self.task: Any = host  # the trio task that carries the fiber (set when it starts)
        self.aw: Awaitable[Any] | None = None
        self.next: tuple[Effect[Any, Any, Any] | None, bool, Any] | None = None
        self.park: Any = None  # the carrier's task while it is parked
        self.scope: trio.CancelScope | None = None  # the scope the carrier runs in now
        self.awaiting = False  # an inline await is in progress
        self.early = False  # interrupted before its await began: it never begins
        self.sent = False  # the carrier cancelled its scope to end an await
        self.budget = STEP_BUDGET  # awaits before it lets the others run (`resume_awaited`)
        self.parent = parent
        self.host_cancel: BaseException | None = None
        self.abandoned = False

    def __call__(self) -> None:
        """The canceller of an inline await."""
        if self.awaiting:
            self.sent = True
            self.scope.cancel()  # type: ignore[union-attr]
        else:
            self.early = True

    def wake(self, eff: Effect[Any, Any, Any] | None, ok: bool, val: Any) -> None:
        task = self.park
        if task is not None:
            self.park = None
            trio.lowlevel.reschedule(task, outcome.Value((eff, ok, val)))
        else:  # not parked yet (a host cancellation is being handled): resume next
            self.next = (eff, ok, val)

    def pause(self, eff: Effect[Any, Any, Any] | None, ok: bool = True, val: Any = None) -> None:
        # through the driver's queue (FIFO): trio's own scheduling order is random, and
        # a yield must let the fibers already waiting to run go first
        self.fiber._runtime.call_soon(self.wake, eff, ok, val)

    def abandon(self) -> None:
        """The run is over: stop carrying (the fiber can never run again)."""
        self.abandoned = True
        if self.scope is not None:
            self.scope.cancel()

    def _abort(self, _raise_cancel: Any) -> trio.lowlevel.Abort:
        self.park = None
        return trio.lowlevel.Abort.SUCCEEDED

    def _external(self, exc: BaseException) -> None:
        """The host's cancellation (or Ctrl-C) reached the carrier: interrupt the fiber, and
        keep the host's cancellation away from its cleanup."""
        if self.host_cancel is None:
            self.host_cancel = exc
        assert self.scope is not None
        self.scope.shield = True
        parent = self.parent
        if parent is not None and parent._interruptor is not None:
            self.fiber.interrupt_as(parent.id, "parent interrupted")
        else:
            self.fiber.interrupt_as(HOST, "host task cancelled")

    async def run(self, first: Effect[Any, Any, Any] | None) -> None:
        """Carry the fiber until it is done (starting it with ``first``, if given). One
        coroutine frame: a suspended fiber's memory is mostly its carrier's frames."""
        fiber = self.fiber
        if not self.shared:
            self.task = trio.lowlevel.current_task()
            CARRIED.set(fiber)  # this task's own context
        try:
            resume: tuple[bool, Any] | None = None
            while True:
                # one scope per interruption of an await: cutting an await spends it
                result: tuple[bool, Any] | None = _CUT
                with trio.CancelScope(shield=not self.shared or self.host_cancel is not None) as scope:
                    self.scope = scope
                    if first is not None:
                        fiber._begin(first)
                        first = None
                    if resume is not None:
                        fiber._end_await()
                        fiber._after_await(*resume)
                    while True:
                        aw = self.aw
                        if aw is not None:
                            self.aw = None
                            if self.early:
                                self.early = False
                                never_began(fiber, aw)
                                continue
                            shield = self.shared and not fiber._interruptible and not scope.shield
                            if shield:
                                scope.shield = True
                            external: BaseException | None = None
                            self.awaiting = True
                            try:
                                val = await aw
                                ok = True
                            except trio.Cancelled as exc:
                                if self.sent:
                                    raise  # this carrier's: its scope swallows it
                                ok = False
                                val = AWAIT_CANCELLED
                                external = exc  # an enclosing scope's: the host's
                            except BaseException as exc:  # noqa: BLE001 - the fiber's failure
                                ok = False
                                val = cause_of(exc)
                            finally:
                                self.awaiting = False
                                if shield:
                                    scope.shield = False
                            if shield and external is None and not self.abandoned:
                                # the host's cancellation may have come during the shielded
                                # await: take it now, so the interruption comes as the
                                # region ends (trio would raise it only at the next await)
                                try:
                                    await trio.lowlevel.checkpoint_if_cancelled()
                                except trio.Cancelled as exc:
                                    external = exc
                            if self.sent:  # cut, but the coroutine went on to its end
                                result = (ok, val)
                                break
                            if external is None:
                                fiber._awaited(ok, val)
                            else:
                                fiber._end_await()
                                self._external(external)
                                fiber._after_await(ok, val)
                            continue
                        if fiber._state == DONE:
                            result = None
                            break
                        step = self.next
                        if step is not None:  # woken while it handled the host's cancellation
                            self.next = None
                            fiber._loop(*step)
                            continue
                        self.park = trio.lowlevel.current_task()
                        try:
                            step = await trio.lowlevel.wait_task_rescheduled(self._abort)
                        except BaseException as exc:  # noqa: BLE001 - Cancelled, KeyboardInterrupt
                            if self.abandoned:
                                result = None
                                break
                            self._external(exc)
                            continue
                        fiber._loop(*step)
                self.scope = None
                self.sent = False
                if result is None:
                    break
                resume = result  # the await this carrier cut: go on in a new scope
            if self.shared and self.host_cancel is None:
                # awaiting an effect is a checkpoint, as any trio operation: even one that
                # never waited raises Cancelled in a cancelled scope (its value is handed back)
                try:
                    await trio.lowlevel.checkpoint_if_cancelled()
                except trio.Cancelled as exc:
                    self.host_cancel = exc
        finally:
            fiber._carrier = None
            fiber._runtime._carriers.discard(self)  # type: ignore[attr-defined]


class _TrioHostCarrier(_TrioCarrier):
    """The awaiting task as a fiber's carrier (see `_TrioCarrier`)."""

    __slots__ = ()

    shared = True


async def run_async_trio(eff: Effect[Any, Any, Any], ctx: Context | None) -> Exit[Any]:
    task = trio.lowlevel.current_task()
    parent = carrying(task)
    if parent is not None:
        return await run_child(parent, eff, ctx, task, _TrioHostCarrier, trio.lowlevel.checkpoint)
    ctx = _context(ctx, "run")
    items = CURRENT_INSTRUMENTS.get()
    async with trio.open_nursery() as nursery:
        runtime = TrioRuntime(nursery, Instruments(items) if items else None)
        nursery.start_soon(runtime.drive)
        fiber = _new_fiber(runtime, eff, ctx, None)
        carrier = fiber._carrier = _TrioHostCarrier(fiber, task)
        token = CARRIED.set(fiber)
        try:
            try:
                await carrier.run(eff)
            finally:
                CARRIED.reset(token)
            # daemon fibers cannot outlive the run on trio: interrupt them, await cleanup
            with trio.CancelScope(shield=True):
                await runtime.end_daemons()
        finally:
            runtime.close()
        result = fiber._exit
        assert result is not None
        host_cancel = carrier.host_cancel
    if host_cancel is not None:  # outside the nursery: not wrapped in an exception group
        reraise_host_cancel(eff, result, host_cancel)
    return result


def trio_run(eff: Effect[Any, Any, Any], ctx: Context) -> Exit[Any]:
    result: Exit[Any] = trio.run(run_async_trio, eff, ctx)
    return result
