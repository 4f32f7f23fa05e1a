"""Stages that run fibers of their own: ``map_par``, ``buffer``, ``merge``.

Each forks its fibers into the scope the stream was opened in (the run's scope, or a
stage's), so they stop when that scope closes: when the run ends, however it ends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from .._core._cause import Exit
from .._core._effect import (
    NAMED, SUCCEED, Effect, cause_of, fail_cause, lift, succeed, suspend, unit, with_fiber,
)
from .._core._fiber import Fiber
from .._core._scope import Scope
from .._deferred import Deferred
from .._queue import Queue
from ._pull import _END, _NEVER, _NONE, CHUNK, Chunk, Open, Pull, _consume, _Failed, _one_ended, _pump

__all__: list[str] = []


class _Call:
    """A map_par item's call: its effect until it starts, then (once it has ended) its Exit."""

    __slots__ = ("effect", "ended", "exit", "index")

    def __init__(self, index: int) -> None:
        self.index = index  # its place in the input
        self.effect: Effect[Any, Any, Any] | None = None
        self.exit: Exit[Any] | None = None
        self.ended: Deferred[Any, None] = Deferred()  # completed with `exit`


def map_par(upstream: Open, n: int, f: Callable[[Any], Effect[Any, Any, Any]]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        scope = fiber.current_scope()
        order: Queue[Any] = Queue(maxsize=n)  # started calls, in input order; then _END / _Failed
        room: Queue[None] = Queue()  # wakes the producer when a call ends while n run
        producer_waits = [False]
        running = [0]
        started = [0]
        failed_at = [_NEVER]  # the index of the first call that failed

        def make(item: Any) -> _Call:
            job = _Call(started[0])
            started[0] += 1
            try:
                eff = f(item)
                if eff.__class__ is not Effect:
                    eff = lift(eff, "Stream.map_par's function")
            except BaseException as exc:  # noqa: BLE001 - the stream fails at this item
                failed_at[0] = min(failed_at[0], job.index)
                job.exit = Exit.fail_cause(cause_of(exc))
                return job
            if eff._tag == SUCCEED:  # already a value: nothing to run
                job.exit = Exit.succeed(eff._a)
            else:
                job.effect = eff
            return job

        def finished(job: _Call, exit_: Exit[Any]) -> Effect[Any, Any, None]:
            job.exit = exit_
            running[0] -= 1
            if not exit_.is_success():
                failed_at[0] = min(failed_at[0], job.index)
            job.ended._complete(Exit.succeed(None))
            if producer_waits[0]:
                producer_waits[0] = False
                room.put_nowait(None)
            return unit

        def start(job: _Call) -> Effect[Any, Any, Any]:
            if running[0] >= n:  # wait until a call ends
                producer_waits[0] = True
                return room.take().flat_map(lambda _: start(job))
            eff = job.effect
            assert eff is not None
            job.effect = None
            running[0] += 1
            name = eff._b if eff._tag == NAMED else f"map_par[{job.index}]"
            return eff.exit().flat_map(lambda exit_: finished(job, exit_)).fork_in(scope, name=name)

        def producer(up: Pull) -> Effect[Any, Any, Any]:
            def loop() -> Effect[Any, Any, Any]:
                return up.flat_map(deliver)

            def deliver(chunk: Chunk | None) -> Effect[Any, Any, Any]:
                return order.offer(_END) if chunk is None else start_each(chunk, 0)

            def start_each(chunk: Chunk, i: int) -> Effect[Any, Any, Any]:
                if i == len(chunk):
                    return loop()
                job = make(chunk[i])
                queued = order.offer(job).flat_map(lambda _: next_item(chunk, i + 1))
                return queued if job.effect is None else start(job).flat_map(lambda _: queued)

            def next_item(chunk: Chunk, i: int) -> Effect[Any, Any, Any]:
                if failed_at[0] != _NEVER:
                    return unit  # no call starts after one failed: the consumer fails there
                return start_each(chunk, i)

            return loop().catch_all_cause(lambda cause: order.offer(_Failed(cause)))

        stash: deque[Any] = deque()  # at most one message, taken but not handed on yet
        ended = [False]

        def pull() -> Effect[Any, Any, Chunk | None]:
            if ended[0]:
                return _NONE
            if stash:
                return first(stash.popleft())
            return order.take().flat_map(first)

        def first(msg: Any) -> Effect[Any, Any, Chunk | None]:
            if msg is _END:
                ended[0] = True
                return _NONE
            if isinstance(msg, _Failed):
                return fail_cause(msg.cause)
            return result(msg)

        def result(job: _Call) -> Effect[Any, Any, Chunk | None]:
            exit_ = job.exit
            if exit_ is None:  # wait until its call ends, and look again
                return job.ended.await_().flat_map(lambda _: result(job))
            if not exit_.is_success():
                return fail_cause(exit_.cause)
            chunk = [exit_.value]
            # and the results after it that are there already
            while len(chunk) < CHUNK and order.qsize():
                msg = order.get_nowait()
                done = msg.exit if isinstance(msg, _Call) else None
                if done is None or not done.is_success():
                    stash.append(msg)
                    break
                chunk.append(done.value)
            return succeed(chunk)

        return upstream.flat_map(
            lambda up: producer(up).fork_in(scope, name="map_par")).as_(suspend(pull))
    return with_fiber(open_)


def through_queue(upstream: Open, n: int, consume: Callable[[Queue[Any], Scope], Pull], stage: str) -> Open:
    """Upstream moved by a producer fiber of the run's scope (named ``stage``) into a
    queue of ``n`` messages, read by ``consume``."""
    def open_(fiber: Fiber[Any, Any]) -> Open:
        scope = fiber.current_scope()
        queue: Queue[Any] = Queue(maxsize=n)
        return upstream.flat_map(
            lambda up: _pump(up, queue).fork_in(scope, name=stage)).as_(consume(queue, scope))
    return with_fiber(open_)


def buffer(upstream: Open, n: int) -> Open:
    return through_queue(upstream, n, lambda queue, _scope: _consume(queue), "buffer")


def merge(left: Open, right: Open) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        scope = fiber.current_scope()
        queue: Queue[Any] = Queue(maxsize=2)
        live = [2]

        def producer(up: Pull) -> Effect[Any, Any, Any]:
            return _pump(up, queue, end=False).flat_map(
                lambda _: suspend(lambda: _one_ended(live, queue)))

        def start(pulls: tuple[Pull, Pull]) -> Effect[Any, Any, Any]:
            # both sides are opened here first, so a failure to open fails the run, and
            # the producer fibers are stopped before the upstream resources are released
            return producer(pulls[0]).fork_in(scope, name="merge[0]").zip(
                producer(pulls[1]).fork_in(scope, name="merge[1]"))

        return left.zip(right).flat_map(start).as_(_consume(queue))
    return with_fiber(open_)
