"""Where fibers run: the event-loop adapter (`Runtime`), fiber carriers, and the entry points.

`run_async` is what ``await effect`` and ``effect._run(ctx)`` use. The awaiting task carries
the new fiber itself (`_carrier.HostCarrier`): its coroutines are awaited inline, in that
task. Outside any fiber the fiber is a root; inside a carried fiber's coroutine
(`_carrier.carrying`) it is that fiber's child, with its context. Cancelling the awaiting
task interrupts the fiber, waits for its finalizers, then re-raises the cancellation.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, TypeVar

from ._carrier import CARRIED, HostCarrier, TaskCarrier, carrying
from ._cause import HOST, Exit, raise_failure
from ._context import Context
from ._effect import Effect, lift
from ._nodes import NAMED, OP
from ._fiber import Fiber
from ._hooks import CURRENT_INSTRUMENTS, Instruments
from ._loop import STEP_BUDGET
from ._refs import inherit_refs

__all__ = ["RUN_ENDED", "Runtime", "run", "run_async", "run_ending_daemons", "run_exit"]

A = TypeVar("A")

Backend = Literal["asyncio", "trio"]

# The reason given (in traces) for a daemon interrupted because its run ended.
RUN_ENDED: Final = "the run ended (daemons cannot outlive it)"


class Runtime:
    """One run's adapter to the event loop, shared by the root fiber and its descendants.

    Fiber wake-ups are queued and run in batches: one loop callback drains what was queued
    when it started (later wake-ups wait for the next turn, so tasks are not starved).
    """

    __slots__ = ("loop", "call_later", "instrument", "inline_depth", "_queue", "_draining",
                 "_daemons")

    def __init__(self, loop: asyncio.AbstractEventLoop, instrument: Instruments | None,
                 ends_daemons: bool = False) -> None:
        self.loop = loop
        self.call_later: Callable[..., asyncio.TimerHandle] = loop.call_later
        # None when nothing is attached: every event site is a single `is not None` check.
        self.instrument = instrument
        self.inline_depth = 0
        self._queue: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        # Invariant: True exactly while a _drain callback is scheduled on the loop.
        self._draining = False
        # Daemon fibers still running, in a run that ends them (`effectpy.run`, whose loop
        # closes; `TestClock.drive`): interrupted, their finalizers awaited, when the root
        # ends. Otherwise (``await effect`` on a loop that goes on) they keep running on it.
        self._daemons: set[Fiber[Any, Any]] | None = set() if ends_daemons else None

    def track_daemon(self, fiber: Fiber[Any, Any]) -> None:
        daemons = self._daemons
        if daemons is not None:
            daemons.add(fiber)
            fiber._observe(lambda _exit: daemons.discard(fiber))

    async def end_daemons(self) -> None:
        """Interrupt the daemons still running and wait until they (and any daemons their
        finalizers fork) have ended. A cancellation of the caller (Ctrl-C) waits for their
        finalizers too, then is raised."""
        cancelled: asyncio.CancelledError | None = None
        while self._daemons:
            done: asyncio.Future[None] = self.loop.create_future()
            _interrupt_all(self._daemons, RUN_ENDED, lambda: done.set_result(None))
            while not done.done():
                try:
                    await asyncio.shield(done)
                except asyncio.CancelledError as exc:
                    cancelled = exc  # the finalizers must finish first
        if cancelled is not None:
            raise cancelled

    def is_closed(self) -> bool:
        """The loop is closed: the run's fibers can never run again."""
        return self.loop.is_closed()

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        self._queue.append((fn, args))
        if not self._draining:
            if self.loop.is_closed():
                # the run is over (a daemon of ``await effect`` left on a loop that has
                # closed, woken from another run): its fibers can never run again
                self._queue.clear()
                return
            self._draining = True
            self.loop.call_soon(self._drain)

    def _drain(self) -> None:
        queue = self._queue
        try:
            for _ in range(len(queue)):
                fn, args = queue.popleft()
                fn(*args)
        finally:
            if queue:
                self.loop.call_soon(self._drain)
            else:
                self._draining = False

    def carry(self, fiber: Fiber[Any, Any], aw: Awaitable[Any] | None,
              first: Effect[Any, Any, Any] | None = None) -> TaskCarrier:
        """A carrier task for ``fiber``, which first awaits ``aw`` (or runs ``first``)."""
        return TaskCarrier(fiber, aw, self.loop, first)


def _interrupt_all(fibers: set[Fiber[Any, Any]], reason: str, all_ended: Callable[[], object]) -> None:
    """Interrupt each of ``fibers`` (all running); call ``all_ended()`` once they have all
    ended. Shared by both backends' ``end_daemons``."""
    pending = list(fibers)
    remaining = [len(pending)]

    def one_ended(_exit: Exit[Any]) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            all_ended()

    for fiber in pending:
        fiber._observe(one_ended)
        fiber.interrupt_as(HOST, reason)


async def run_async(effect: Effect[Any, Any, A], ctx: Context | None = None) -> Exit[A]:
    """Run ``effect`` in the awaiting task and return its `Exit`: as a child of the fiber
    whose coroutine awaits it, if any, else as a root. A root's daemon fibers keep
    running on the loop after it returns."""
    return await _run_on_loop(effect, ctx, ends_daemons=False)


async def run_ending_daemons(effect: Effect[Any, Any, A], ctx: Context | None = None) -> Exit[A]:
    """`run_async`, but the daemons still running when the root ends are interrupted and
    their finalizers awaited before it returns: `run_exit`'s asyncio run (daemons end
    before its loop closes) and `TestClock.drive`'s."""
    return await _run_on_loop(effect, ctx, ends_daemons=True)


async def _run_on_loop(effect: Effect[Any, Any, A], ctx: Context | None, ends_daemons: bool) -> Exit[A]:
    eff = lift(effect, "run")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        from ._trio import run_async_trio
        return await run_async_trio(eff, ctx)
    task = asyncio.current_task(loop)
    if task is None:  # a coroutine driven by hand, not by a task: give it one
        return await loop.create_task(_run_on_loop(eff, ctx, ends_daemons))
    parent = carrying(task)
    if parent is not None:
        return await run_child(parent, eff, ctx, task, HostCarrier, _sleep0)
    ctx = _context(ctx, "run")
    items = CURRENT_INSTRUMENTS.get()
    runtime = Runtime(loop, Instruments(items) if items else None, ends_daemons)
    fiber = _new_fiber(runtime, eff, ctx, None)
    carrier = fiber._carrier = HostCarrier(fiber, task)
    token = CARRIED.set(fiber)
    try:
        await carrier.run(eff)
    finally:
        CARRIED.reset(token)
    result: Exit[A] = fiber._exit  # type: ignore[assignment]
    host_cancel = carrier.host_cancel
    try:
        await runtime.end_daemons()
    except asyncio.CancelledError as exc:  # Ctrl-C while the daemons' finalizers ran
        host_cancel = host_cancel or exc
    if host_cancel is not None:
        reraise_host_cancel(eff, result, host_cancel)
    return result


def reraise_host_cancel(eff: Effect[Any, Any, Any], result: Exit[Any], cancel: BaseException) -> None:
    """The host cancelled the run, and the fiber has ended: raise the cancellation (or,
    if cleanup failed, that failure, with the cancellation as its context, as a ``finally``
    block that raises does in plain Python)."""
    try:
        raise cancel
    except BaseException:
        if result.is_success():
            _hand_back(eff, result.value)
        raise_if_cleanup_failed(result)
        raise


def _context(ctx: Context | None, where: str) -> Context:
    if ctx is None:
        return Context()
    if not isinstance(ctx, Context):
        raise TypeError(f"{where} expects a Context, got {type(ctx).__name__} {ctx!r}")
    return ctx


def _new_fiber(runtime: Any, eff: Effect[Any, Any, Any], ctx: Context,
               parent: Fiber[Any, Any] | None) -> Fiber[Any, Any]:
    """A fiber that the awaiting task will carry (a root, or a nested run's child)."""
    named = eff._tag == NAMED
    fiber = Fiber._new(runtime, ctx, parent, eff._b if named else None, False)
    fiber._named = named
    fiber.source = eff._c if named else None
    if runtime.instrument is not None:
        runtime.instrument.emit("fiber_started", fiber, parent)
    return fiber


async def run_child(parent: Fiber[Any, Any], eff: Effect[Any, Any, A], ctx: Context | None,
                    host: Any, carrier_class: Any, checkpoint: Callable[[], Awaitable[None]]) -> Exit[A]:
    """Run ``eff`` as a child of ``parent`` (whose coroutine awaits it), carried by the
    awaiting task: with the parent's context unless ``ctx`` is given, in its trace, and
    interrupted with it (its cancellation reaches the awaiting task). The FiberRef values
    it changed pass back to the parent, however it ends (merged as `Fiber.join` merges
    them: each ref's join function).

    The run is one of the parent's awaits: every STEP_BUDGET of them, ``checkpoint()`` (the
    backend's ``sleep(0)``) lets the others run first, so a coroutine that makes many short
    nested runs, none of which suspends, does not hold the event loop until it ends."""
    outer = parent._carrier
    assert outer is not None  # (`carrying` found the parent by its carrier)
    outer.budget -= 1
    if outer.budget == 0:  # (as `resume_awaited` counts it)
        outer.budget = STEP_BUDGET
        await checkpoint()
    fiber = _new_fiber(parent._runtime, eff, parent._ctx if ctx is None else _context(ctx, "run"), parent)
    carrier = fiber._carrier = carrier_class(fiber, host, parent)
    token = CARRIED.set(fiber)
    try:
        await carrier.run(eff)
    finally:
        CARRIED.reset(token)
    inherit_refs(parent, fiber)
    result: Exit[A] = fiber._exit  # type: ignore[assignment]
    if carrier.host_cancel is not None:
        reraise_host_cancel(eff, result, carrier.host_cancel)
    return result


def _sleep0() -> Awaitable[None]:
    """asyncio's checkpoint: one trip round the event loop."""
    return asyncio.sleep(0)


def _hand_back(eff: Effect[Any, Any, Any], value: Any) -> None:
    """The host task was cancelled, but the effect it awaited had completed first (its
    fiber ran before the task could resume): the cancellation is raised, so the value is
    lost to the caller. A library operation that can give its value back (an OP node whose
    function has an ``undo``, such as `Queue.get` / `take`: the item goes back at the front)
    does, as `asyncio.Queue.get` keeps the item when cancelled."""
    if eff._tag == OP:
        undo = getattr(eff._a, "undo", None)
        if undo is not None:
            undo(eff._b, eff._c, value)


def raise_if_cleanup_failed(exit_: Exit[Any]) -> None:
    """After the host cancelled a run: if cleanup failed (a finalizer raised), raise that
    instead of the cancellation, as a ``finally`` block that raises does in plain Python."""
    if not exit_.is_success() and not exit_.cause.is_interrupted_only():
        raise_failure(exit_.cause)


def run_exit(effect: Effect[Any, Any, A], *, backend: Backend = "asyncio") -> Exit[A]:
    """Run ``effect`` to completion from synchronous code and return its `Exit`.

    >>> from effectpy import fail
    >>> run_exit(fail("boom")).cause.failures()
    ['boom']
    """
    eff = lift(effect, "run_exit")
    ctx = Context()
    _refuse_inside_a_running_loop()
    if backend == "asyncio":
        return asyncio.run(run_ending_daemons(eff, ctx))
    if backend == "trio":
        from ._trio import trio_run
        return trio_run(eff, ctx)
    raise ValueError(f"backend must be 'asyncio' or 'trio', got {backend!r}")


def _refuse_inside_a_running_loop() -> None:
    """`run` / `run_exit` start an event loop of their own, as `asyncio.run` does: inside a
    running one (a notebook cell, an ``async def``) say what to write instead."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = in_trio()
    else:
        running = True
    if running:
        raise RuntimeError(
            "effectpy.run() cannot be called from a running event loop (it starts its own, as "
            "asyncio.run does); there, await the effect instead: `await effect` in an async def "
            "or at a notebook's top level, or use the %%effect cell magic") from None


def in_trio() -> bool:
    """Whether this code runs in a trio task."""
    import sys
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


def run(effect: Effect[Any, Any, A], *, backend: Backend = "asyncio") -> A:
    """Run ``effect`` from synchronous code (like `asyncio.run`) and return its value.

    Raises `Failure` if it fails; a `KeyboardInterrupt` or `SystemExit` raised inside
    propagates as itself, after the finalizers have run.

    >>> from effectpy import succeed
    >>> run(succeed(1).map(lambda x: x + 1))
    2
    """
    exit_: Exit[A] = run_exit(lift(effect, "run"), backend=backend)  # (a wrong argument is run's)
    if exit_.is_success():
        return exit_.value
    raise_failure(exit_.cause)
