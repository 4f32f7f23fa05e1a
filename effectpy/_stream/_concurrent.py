"""Stages that run fibers of their own: ``map_par``, ``buffer``, ``merge``, ``zip``,
``zip_latest``, ``flat_map_par``, ``interrupt_when``.

Each forks its fibers into the scope the stream was opened in (the run's scope, or a
stage's), or into an upstream's sub-scope, so they stop when that scope closes: when the
run ends, however it ends, or when the stage stops pulling that upstream. ``zip`` pulls
both sides at once in child fibers of the fiber that pulls it (and only when asked).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final, Literal

from .._core._cause import Exit
from .._core._effect import Effect, cause_of, fail_cause, lift, succeed, unit, with_fiber
from .._core._nodes import NAMED, SUCCEED
from .._core._fiber import Fiber, internal_name
from .._core._group import FIRST, group
from .._core._scope import Scope
from .._deferred import Deferred
from .._queue import Queue
from ._pull import (
    CHUNK, _END, _NEVER, _NONE, _NOTHING, Chunk, _Failed, Open, Pull, _Sub, _consume, _consume_chunks,
    _in_scope, _open_sub, _pump, _suspend,
)

__all__: list[str] = []

Halt = Literal["both", "left", "right", "either"]
HALTS: Final = ("both", "left", "right", "either")


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
            lambda up: _in_scope(producer(up), scope).fork_in(scope, name=internal_name("map_par pump"))).as_(_suspend(pull))
    return with_fiber(open_)


def through_queue(upstream: Open, n: int, consume: Callable[[Queue[Any], Scope], Pull], stage: str) -> Open:
    """Upstream moved by a producer fiber of the run's scope (named ``stage``) into a
    queue of ``n`` messages, read by ``consume``."""
    def open_(fiber: Fiber[Any, Any]) -> Open:
        scope = fiber.current_scope()
        queue: Queue[Any] = Queue(maxsize=n)
        return upstream.flat_map(
            lambda up: _in_scope(_pump(up, queue), scope).fork_in(scope, name=internal_name(f"{stage} pump"))).as_(consume(queue, scope))
    return with_fiber(open_)


def buffer(upstream: Open, n: int) -> Open:
    return through_queue(upstream, n, lambda queue, _scope: _consume(queue), "buffer")


CHUNK_BUFFER: Final = 16  # chunks: how far the producers of merge, zip_latest, flat_map_par run ahead


def _sides(left: Open, right: Open, label: str,
           consume: Callable[[tuple[_Sub, _Sub], Queue[Any]], Pull]) -> Open:
    """Both upstreams, each opened in a `_Sub` (left first, so a failure to open fails
    the run) and moved by a producer fiber of that sub-scope (``label[0]``, ``label[1]``:
    closing the sub stops it before the upstream's finalizers run) into one queue of
    ``(side, chunk)`` messages, ``(side, None)`` at the side's end, `_Failed` if it fails;
    ``consume(subs, queue)`` makes the stage's pull."""
    def open_(fiber: Fiber[Any, Any]) -> Open:
        parent = fiber.current_scope()
        queue: Queue[Any] = Queue(maxsize=CHUNK_BUFFER)

        def producer(side: int, sub: _Sub) -> Effect[Any, Any, Any]:
            def loop() -> Effect[Any, Any, None]:
                return sub.pull.flat_map(deliver)

            def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
                sent = queue.offer((side, chunk))
                return sent.unit() if chunk is None else sent.flat_map(lambda _: loop())
            body = loop().catch_all_cause(lambda cause: queue.offer(_Failed(cause)).unit())
            return body.fork_in(sub.scope, name=internal_name(f"{label} pump [{side}]"))

        def start(subs: tuple[_Sub, _Sub]) -> Effect[Any, Any, Pull]:
            return producer(0, subs[0]).zip(producer(1, subs[1])).as_(consume(subs, queue))
        return _open_sub(left, parent).zip(_open_sub(right, parent)).flat_map(start)
    return with_fiber(open_)


def merge(left: Open, right: Open, halt: Halt) -> Open:
    def consume(subs: tuple[_Sub, _Sub], queue: Queue[Any]) -> Pull:
        live = [True, True]
        done = [False]
        stash: list[Any] = []  # a message taken while gathering chunks, not handled yet

        def pull() -> Effect[Any, Any, Chunk | None]:
            if done[0]:
                return _NONE
            return got(stash.pop()) if stash else queue.take().flat_map(got)

        def got(msg: Any) -> Effect[Any, Any, Chunk | None]:
            if msg.__class__ is _Failed:
                return fail_cause(msg.cause)
            side, chunk = msg
            if chunk is not None:
                # and the chunks already there, as one (fewer, larger chunks downstream)
                while len(chunk) < CHUNK and queue.qsize():
                    more = queue.get_nowait()
                    if more.__class__ is _Failed or more[1] is None:
                        stash.append(more)
                        break
                    chunk = chunk + more[1]
                return succeed(chunk)
            live[side] = False
            other = 1 - side
            if live[other] and (halt == "both" or halt == ("right", "left")[side]):
                return pull()  # the halting side goes on
            done[0] = True
            # the other side is not pulled again: end it now (its fiber, its resources)
            return subs[other].close().as_(None) if live[other] else _NONE
        return _suspend(pull)
    return _sides(left, right, "merge", consume)


def zip_latest(left: Open, right: Open) -> Open:
    def consume(subs: tuple[_Sub, _Sub], queue: Queue[Any]) -> Pull:
        latest = [_NOTHING, _NOTHING]
        live = [True, True]
        done = [False]

        def pull() -> Effect[Any, Any, Chunk | None]:
            return _NONE if done[0] else queue.take().flat_map(got)

        def got(msg: Any) -> Effect[Any, Any, Chunk | None]:
            if msg.__class__ is _Failed:
                return fail_cause(msg.cause)
            side, chunk = msg
            other = 1 - side
            if chunk is None:
                live[side] = False
                if latest[side] is not _NOTHING and live[other]:
                    return pull()  # the other side's items pair with this side's last
                done[0] = True  # no pair can come any more
                return subs[other].close().as_(None) if live[other] else _NONE
            latest[side] = chunk[-1]
            theirs = latest[other]
            if theirs is _NOTHING:
                return pull()
            return succeed([(x, theirs) for x in chunk] if side == 0 else [(theirs, x) for x in chunk])
        return _suspend(pull)
    return _sides(left, right, "zip_latest", consume)


_CUT: Final = object()  # pull_both: this side was stopped before it answered


def pull_both(left: Pull, right: Pull, label: str) -> Effect[Any, Any, tuple[Any, Any]]:
    """Pull both sides at once, each in a child fiber of the caller (``label[0]``,
    ``label[1]``), and succeed with both chunks. When one side ends (None) or fails,
    the other's pull is interrupted at once: the result then has None for a side that
    ended and `_CUT` for one that was stopped (its chunk, if it had one, is dropped); a
    failure fails it (with the other side's failure too, if it failed as well)."""
    def start() -> Effect[Any, Any, tuple[Any, Any]]:
        inbox: Queue[tuple[int, Exit[Any]]] = Queue()

        def side(i: int, pull: Pull) -> Effect[Any, Any, Fiber[Any, Any]]:
            return pull.exit().flat_map(lambda ex: inbox.offer((i, ex))).fork(name=internal_name(f"{label} pull [{i}]"))

        def wait(fibers: tuple[Fiber[Any, Any], Fiber[Any, Any]]) -> Effect[Any, Any, tuple[Any, Any]]:
            out: list[Any] = [_CUT, _CUT]

            def first(msg: tuple[int, Exit[Any]]) -> Effect[Any, Any, tuple[Any, Any]]:
                i, ex = msg
                if ex.is_success() and ex.value is not None:
                    out[i] = ex.value
                    return inbox.take().flat_map(second)
                return fibers[1 - i].interrupt().flat_map(lambda other: decided(i, ex, other))

            def second(msg: tuple[int, Exit[Any]]) -> Effect[Any, Any, tuple[Any, Any]]:
                i, ex = msg
                if not ex.is_success():
                    return fail_cause(ex.cause)
                out[i] = ex.value
                return succeed((out[0], out[1]))

            def decided(i: int, ex: Exit[Any], other: Exit[Any]) -> Effect[Any, Any, tuple[Any, Any]]:
                late = None if other.is_success() or other.cause.is_interrupted_only() else other.cause
                if not ex.is_success():
                    return fail_cause(ex.cause if late is None else ex.cause.both(late))
                if late is not None:
                    return fail_cause(late)  # a failure wins over the other side's end
                out[i] = None
                if other.is_success() and other.value is None:
                    out[1 - i] = None  # it had ended too
                return succeed((out[0], out[1]))

            stop = fibers[0].interrupt().zip(fibers[1].interrupt())
            return inbox.take().flat_map(first).on_interrupt(stop)
        return side(0, left).zip(side(1, right)).flat_map(wait)
    return _suspend(start)


def zip_(left: Open, right: Open) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        parent = fiber.current_scope()

        def both(subs: tuple[_Sub, _Sub]) -> Pull:
            bufs: tuple[Chunk, Chunk] = ([], [])
            done = [False]

            def fill() -> Effect[Any, Any, Chunk | None]:
                if done[0]:
                    return _NONE
                lbuf, rbuf = bufs
                if lbuf and rbuf:
                    k = min(len(lbuf), len(rbuf))
                    out = list(zip(lbuf[:k], rbuf[:k], strict=True))
                    del lbuf[:k], rbuf[:k]
                    return succeed(out)
                if lbuf or rbuf:  # one side has items to spare: pull the other only
                    side = 1 if lbuf else 0
                    return subs[side].pull.flat_map(lambda chunk: got((chunk, _CUT) if side == 0 else (_CUT, chunk)))
                return pull_both(subs[0].pull, subs[1].pull, "zip").flat_map(got)

            def got(chunks: tuple[Any, Any]) -> Effect[Any, Any, Chunk | None]:
                if chunks[0] is not None and chunks[1] is not None:
                    for buf, chunk in zip(bufs, chunks, strict=True):
                        if chunk is not _CUT:
                            buf.extend(chunk)
                    return fill()
                # a side has ended, and so has the zip: end the other one now, unless it
                # has ended too
                done[0] = True
                other = 1 if chunks[0] is None else 0
                return _NONE if chunks[other] is None else subs[other].close().as_(None)
            return _suspend(fill)
        return _open_sub(left, parent).zip(_open_sub(right, parent)).map(both)
    return with_fiber(open_)


def flat_map_par(upstream: Open, n: int, f: Callable[[Any], Open]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        scope = fiber.current_scope()
        queue: Queue[Any] = Queue(maxsize=CHUNK_BUFFER)  # the inner streams' chunks; then _END / _Failed
        permits: Queue[None] = Queue(maxsize=n)  # one per inner stream that may start
        for _ in range(n):
            permits.put_nowait(None)
        live = [1]  # the outer producer, and each inner stream running
        failed = [False]

        def one_ended() -> Effect[Any, Any, None]:
            live[0] -= 1
            return queue.offer(_END).unit() if live[0] == 0 else unit

        def fail_all(cause: Any) -> Effect[Any, Any, None]:
            failed[0] = True  # nothing starts any more; the consumer fails at this message
            return queue.offer(_Failed(cause)).unit()

        def inner(open_inner: Open) -> Effect[Any, Any, None]:
            # runs in a fiber of its own, whose scope holds the inner stream's resources
            def loop(pull: Pull) -> Effect[Any, Any, None]:
                def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
                    if chunk is None:
                        return permits.offer(None).flat_map(lambda _: one_ended())
                    return queue.offer(chunk).flat_map(lambda _: again)
                again: Effect[Any, Any, None] = pull.flat_map(deliver)
                return again
            return open_inner.flat_map(loop).catch_all_cause(fail_all)

        def producer(up: Pull) -> Effect[Any, Any, None]:
            count = [0]

            def loop() -> Effect[Any, Any, None]:
                return up.flat_map(deliver)

            def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
                return _suspend(one_ended) if chunk is None else start_each(chunk, 0)

            def start_each(chunk: Chunk, i: int) -> Effect[Any, Any, None]:
                if failed[0]:
                    return unit
                if i == len(chunk):
                    return loop()
                return permits.take().flat_map(lambda _: start(chunk[i])).flat_map(
                    lambda _: start_each(chunk, i + 1))

            def start(item: Any) -> Effect[Any, Any, Any]:
                if failed[0]:
                    return unit
                k = count[0]
                count[0] += 1
                live[0] += 1
                return inner(f(item)).fork_in(scope, name=f"flat_map_par[{k}]")
            return loop().catch_all_cause(fail_all)

        return upstream.flat_map(
            lambda up: _in_scope(producer(up), scope).fork_in(scope, name=internal_name("flat_map_par pump"))).as_(_consume_chunks(queue))
    return with_fiber(open_)


def interrupt_when(upstream: Open, signal: Effect[Any, Any, Any]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        parent = fiber.current_scope()

        def watch(sub: _Sub) -> Effect[Any, Any, Pull]:
            return signal.fork_in(parent, name="interrupt_when").map(lambda watcher: make(sub, watcher))

        def make(sub: _Sub, watcher: Fiber[Any, Any]) -> Pull:
            done = [False]
            racers = (sub.pull.map(lambda chunk: (0, chunk)), watcher.await_().map(lambda ex: (1, ex)))
            race = group(racers.__getitem__, 2, None, FIRST, "interrupt_when")

            def signalled(exit_: Exit[Any]) -> Effect[Any, Any, Chunk | None]:
                done[0] = True  # upstream is not pulled again: end it now
                if exit_.is_success():
                    return sub.close().as_(None)
                return sub.close().flat_map(lambda _: fail_cause(exit_.cause))

            def got(won: tuple[int, Any]) -> Effect[Any, Any, Chunk | None]:
                which, value = won
                if which == 1:
                    return signalled(value)
                if value is None:  # upstream ended first: the signal is not needed any more
                    done[0] = True
                    return watcher.interrupt().as_(None)
                return succeed(value)

            def pull() -> Effect[Any, Any, Chunk | None]:
                if done[0]:
                    return _NONE
                exit_ = watcher.poll()
                return race.flat_map(got) if exit_ is None else signalled(exit_)
            return _suspend(pull)
        return _open_sub(upstream, parent).flat_map(watch)
    return with_fiber(open_)
