"""Where fibers run: the event-loop adapter (`Runtime`) and the entry points.

`run_async` is what ``await effect`` and ``effect._run(ctx)`` use: it starts a root fiber on
the running event loop and waits for it. Cancelling the waiting task interrupts the fiber,
waits for its finalizers, then re-raises the cancellation.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from ._cause import HOST, Exit, Interrupt, raise_failure
from ._context import Context
from ._effect import NAMED, Effect, cause_of, lift
from ._fiber import Fiber
from ._hooks import CURRENT_INSTRUMENTS, Instruments

__all__ = ["Runtime", "run", "run_async", "run_exit"]

A = TypeVar("A")

Backend = Literal["asyncio", "trio"]


class Runtime:
    """One run's adapter to the event loop, shared by the root fiber and its descendants.

    Fiber wake-ups are queued and run in batches: one loop callback drains what was queued
    when it started (later wake-ups wait for the next turn, so tasks are not starved).
    """

    __slots__ = ("loop", "call_later", "instrument", "inline_depth", "_queue", "_draining")

    def __init__(self, loop: asyncio.AbstractEventLoop, instrument: Instruments | None) -> None:
        self.loop = loop
        self.call_later: Callable[..., asyncio.TimerHandle] = loop.call_later
        # None when nothing is attached: every event site is a single `is not None` check.
        self.instrument = instrument
        self.inline_depth = 0
        self._queue: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        # Invariant: True exactly while a _drain callback is scheduled on the loop.
        self._draining = False

    def track_daemon(self, fiber: Fiber[Any, Any]) -> None:
        """Daemons outlive the run on asyncio: they keep running on the loop."""

    def call_soon(self, fn: Callable[..., object], *args: Any) -> None:
        self._queue.append((fn, args))
        if not self._draining:
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

    def spawn(self, aw: Awaitable[Any], done: Callable[[int, bool, Any], None], token: int) -> Callable[[], object]:
        """Run ``aw`` as a task; call ``done(token, ok, value_or_cause)`` when it ends.
        Returns the canceller."""
        task = asyncio.ensure_future(aw, loop=self.loop)

        def finished(t: asyncio.Future[Any]) -> None:
            if t.cancelled():
                done(token, False, Interrupt("cancelled"))
                return
            exc = t.exception()
            if exc is None:
                done(token, True, t.result())
            else:
                done(token, False, cause_of(exc))

        task.add_done_callback(finished)
        return task.cancel


def _root(effect: object, ctx: Context | None, where: str) -> tuple[Effect[Any, Any, Any], Context]:
    eff = lift(effect, where)
    if ctx is None:
        ctx = Context()
    elif not isinstance(ctx, Context):
        raise TypeError(f"{where} expects a Context, got {type(ctx).__name__} {ctx!r}")
    return eff, ctx


async def run_async(effect: Effect[Any, Any, A], ctx: Context | None = None) -> Exit[A]:
    """Run ``effect`` in a new root fiber on the running loop and return its `Exit`."""
    eff, ctx = _root(effect, ctx, "run")
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        from ._trio import run_async_trio
        return await run_async_trio(eff, ctx)
    items = CURRENT_INSTRUMENTS.get()
    runtime = Runtime(loop, Instruments(items) if items else None)
    fiber = Fiber._new(runtime, ctx, None, eff._b if eff._tag == NAMED else None, False)
    fiber.source = eff._c if eff._tag == NAMED else None
    done: asyncio.Future[Exit[A]] = loop.create_future()
    def on_exit(ex: Exit[A]) -> None:
        if not done.done():
            done.set_result(ex)

    fiber._observers.append(on_exit)
    if runtime.instrument is not None:
        runtime.instrument.emit("fiber_started", fiber, None)
    fiber._loop(eff, True, None)
    if done.done():
        return done.result()
    try:
        # shield: cancelling this task must not cancel `done`, which the fiber completes
        return await asyncio.shield(done)
    except asyncio.CancelledError:
        fiber.interrupt_as(HOST, "host task cancelled")
        while not done.done():
            try:
                await asyncio.shield(done)
            except asyncio.CancelledError:
                continue  # keep waiting: the finalizers must finish first
        raise_if_cleanup_failed(done.result())
        raise


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
    eff, ctx = _root(effect, None, "run_exit")
    if backend == "asyncio":
        return asyncio.run(run_async(eff, ctx))
    if backend == "trio":
        from ._trio import trio_run
        return trio_run(eff, ctx)
    raise ValueError(f"backend must be 'asyncio' or 'trio', got {backend!r}")


def run(effect: Effect[Any, Any, A], *, backend: Backend = "asyncio") -> A:
    """Run ``effect`` from synchronous code (like `asyncio.run`) and return its value.

    Raises `Failure` if it fails; a `KeyboardInterrupt` or `SystemExit` raised inside
    propagates as itself, after the finalizers have run.

    >>> from effectpy import succeed
    >>> run(succeed(1).map(lambda x: x + 1))
    2
    """
    exit_ = run_exit(effect, backend=backend)
    if exit_.is_success():
        return exit_.value
    raise_failure(exit_.cause)
