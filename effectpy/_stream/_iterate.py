"""Iterating a stream from asyncio or trio code: ``async for``, `Stream.iterate`.

The stream runs in a run of its own, in a background task (an asyncio Task, or a trio
system task), which pulls one chunk each time the loop asks for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import Any, Final, TypeVar, final

from .._core._cause import HOST, Failure, raise_failure
from .._core._effect import Effect, unit, sync, with_fiber
from .._core._fiber import Fiber
from .._queue import Queue
from .._resource import scoped
from ._pull import _END, Chunk, Open, Pull

__all__: list[str] = []

A = TypeVar("A")


@final
class StreamIterator(AsyncIterator[A]):
    """An iteration of a stream (`Stream.iterate`, ``aiter(stream)``): an async iterator
    and an async context manager whose exit (or `aclose`) ends the stream's run."""

    __slots__ = ("_asked", "_chunk", "_done", "_host", "_i", "_open", "_waiting")

    def __init__(self, open_: Open) -> None:
        self._open = open_  # the stream's open effect
        self._host: _Host | None = None  # the run of the stream, started by the first pull
        self._chunk: Chunk = []
        self._i = 0
        self._asked = False  # a chunk was asked for and has not been received yet
        self._waiting = False  # a task waits in _fetch
        self._done = False

    def __aiter__(self) -> StreamIterator[A]:
        return self

    async def __anext__(self) -> A:
        i = self._i
        chunk = self._chunk
        while i >= len(chunk):  # pulls never hand on an empty chunk: at most one round
            chunk = self._chunk = await self._fetch()
            i = 0
        self._i = i + 1
        return chunk[i]  # type: ignore[no-any-return]

    async def _fetch(self) -> Chunk:
        if self._done:
            raise StopAsyncIteration
        if self._waiting:
            raise RuntimeError("another task is already waiting for this stream's next item")
        self._waiting = True
        try:
            return await self._receive()
        finally:
            self._waiting = False

    async def _receive(self) -> Chunk:
        host = self._host
        if host is None:
            host = self._host = _Host()
            _start(host, _hosting(self._open, host))
        if not self._asked:  # a cancelled wait leaves it asked: its chunk comes next
            host.demand.put_nowait(None)
            self._asked = True
        reply = host.reply
        msg = reply.get_nowait() if reply.qsize() else await reply.take()
        self._asked = False
        if msg is not _END:
            return msg  # type: ignore[no-any-return]
        if self._done:
            raise StopAsyncIteration  # closed (aclose) while this task waited
        if host.error is not None:
            self._done = True
            raise host.error
        assert host.fiber is not None  # _END comes from a run that began
        exit_ = await host.fiber.await_()
        self._done = True
        if exit_.is_success():
            raise StopAsyncIteration
        raise_failure(exit_.cause)

    async def aclose(self) -> None:
        """End the iteration: interrupt the stream's run (if it has not ended) and wait
        until its resources are released, also while the caller is being cancelled (the
        cancellation is raised after). Raises `Failure` if the run ended with more than
        the interruption (a finalizer failed, or a pull the loop asked for before it was
        cancelled failed). Closing again, or after the end, does nothing."""
        host = self._host
        self._chunk = []
        self._i = 0
        if self._done or host is None:
            self._done = True
            return
        self._done = True
        host.stop()
        fiber = host.fiber
        if fiber is None or host.error is not None:
            return  # it never began (and now never will), or its task died
        exit_ = await fiber.await_().uninterruptible()
        if not exit_.is_success() and not exit_.cause.is_interrupted_only():
            raise_failure(exit_.cause)

    async def __aenter__(self) -> StreamIterator[A]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # dropped without aclose (``break`` out of ``async for item in stream``): interrupt
        # the run, which releases the resources in the background
        host = self._host
        if host is not None and not self._done:
            with contextlib.suppress(Exception):  # e.g. its event loop has closed
                host.stop()


class _Host:
    """The run hosting one iteration: the consumer asks for a chunk on ``demand``, the run
    pulls one and puts it on ``reply``; `_END` on ``reply`` when the run has ended."""

    __slots__ = ("demand", "error", "fiber", "reply", "stopped")

    def __init__(self) -> None:
        self.demand: Queue[None] = Queue()
        self.reply: Queue[Any] = Queue()
        self.fiber: Fiber[Any, Any] | None = None  # the run's root fiber, once it began
        self.stopped = False
        self.error: BaseException | None = None  # what killed the run's task, if anything

    def stop(self) -> None:
        self.stopped = True
        fiber = self.fiber
        if fiber is not None:
            fiber.interrupt_as(HOST, "the stream's iteration was closed")


def _hosting(open_: Open, host: _Host) -> Effect[Any, Any, None]:
    """The hosting run's effect: open the stream in a scope, then one pull per demand."""
    def serve(pull: Pull) -> Effect[Any, Any, None]:
        def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
            if chunk is None:
                return unit
            host.reply.put_nowait(chunk)
            return again
        again: Effect[Any, Any, None] = host.demand.take().flat_map(lambda _: pull).flat_map(deliver)
        return again

    def begin(fiber: Fiber[Any, Any]) -> Effect[Any, Any, None]:
        if host.stopped:
            return unit  # closed before it began: the stream is never opened
        host.fiber = fiber
        ended = sync(lambda: host.reply.put_nowait(_END))
        return scoped(open_.flat_map(serve)).ensuring(ended)
    return with_fiber(begin)


# The asyncio tasks of the iterations running (the loop itself keeps only weak references).
_HOST_TASKS: Final[set[Any]] = set()


def _start(host: _Host, effect: Effect[Any, Any, None]) -> None:
    """Run ``effect`` in a background task: an asyncio Task, or a trio system task (a trio
    run has no nursery to lend; system tasks are cancelled when the main task ends, and
    the run's finalizers run then)."""
    cancelled: tuple[type[BaseException], ...]

    async def run() -> None:
        try:
            await effect._run_exit()  # its Exit is the root fiber's, read from host.fiber
        except BaseException as exc:  # noqa: BLE001 - a background task must not raise
            # Cancelled: the loop or trio run is ending (the fiber was interrupted and its
            # finalizers ran); Failure: its cleanup failed (the fiber's Exit says so)
            if not isinstance(exc, (*cancelled, Failure)):
                host.error = exc  # e.g. KeyboardInterrupt: raised to the consumer
            host.reply.put_nowait(_END)

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        import trio
        cancelled = (trio.Cancelled,)
        trio.lowlevel.spawn_system_task(run, name="effectpy Stream iteration",
                                        context=contextvars.copy_context())
        return
    cancelled = (asyncio.CancelledError,)
    task = loop.create_task(run())
    _HOST_TASKS.add(task)
    task.add_done_callback(_HOST_TASKS.discard)
