"""`Stream`: a lazy, pull-based, chunked sequence of values produced by effects.

A stream is a description. Running it (``run_collect``, ``run_fold``, ``async for`` ...)
opens it in a fresh `Scope` and pulls chunks (lists) from it until it ends; every resource
it acquired is released, exactly once, when the run ends: at completion, on failure, when
``take(n)`` has enough, or when the consumer is interrupted. Nothing is produced that is not
pulled (``from_iterable`` reads its iterable ``chunk_size`` items at a time), so
``Stream.from_iterable(itertools.count()).take(3)`` terminates; stages that run ahead
(``buffer``, ``merge``, ``grouped_within``, ``map_par``) do so by a bounded amount, in
fibers of the stream's scope, and stop when the consumer stops. A failure reaches the
consumer after the items that came before it (a group that ``grouped`` or
``grouped_within`` had not finished is dropped).

``async for`` runs the stream in a run of its own, in a background task, that pulls a
chunk each time the loop asks for one (see `Stream.iterate`).

Internally, opening a stream is an effect that succeeds with a *pull*: an effect that
succeeds with the next non-empty chunk, or with None at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any, Final, Generic, TypeVar, final

from ._core._cause import HOST, Exit, Failure, raise_failure
from ._core._clock import Clock
from ._core._duration import Duration, to_seconds
from ._core._effect import (
    NAMED, SUCCEED, Effect, _check_callable, cause_of, fail_cause, from_async, lift, sleep, succeed, suspend, sync, unit,
    with_fiber,
)
from ._core._fiber import Fiber, internal_name
from ._core._scope import Scope
from ._deferred import Deferred
from ._queue import Queue, QueueShutdown
from ._resource import acquire_release, scoped

__all__ = ["Stream"]

A = TypeVar("A")
B = TypeVar("B")
S = TypeVar("S")

CHUNK: Final = 1024  # how many items a source reads at a time

Chunk = list[Any]
Pull = Effect[Any, Any, "Chunk | None"]

_END: Final = object()  # a queue message: the producer has ended
_NEVER: Final = float("inf")


class _Tick:
    """A grouped_within timer message: group ``group``'s time is up."""

    __slots__ = ("group",)

    def __init__(self, group: int) -> None:
        self.group = group


class _Call:
    """A map_par item's call: its effect until it starts, then (once it has ended) its Exit."""

    __slots__ = ("effect", "ended", "exit", "index")

    def __init__(self, index: int) -> None:
        self.index = index  # its place in the input
        self.effect: Effect[Any, Any, Any] | None = None
        self.exit: Exit[Any] | None = None
        self.ended: Deferred[Any, None] = Deferred()  # completed with `exit`


class _Failed:
    __slots__ = ("cause",)

    def __init__(self, cause: Any) -> None:
        self.cause = cause


_NONE: Final[Effect[Any, Any, None]] = succeed(None)


@final
class Stream(Generic[A]):
    """A lazy sequence of values, pulled in chunks, with resources tied to each run.

    >>> import effectpy
    >>> effectpy.run(Stream.range(10).map(lambda x: x * x).filter(lambda x: x % 2).run_collect())
    [1, 9, 25, 49, 81]
    """

    __slots__ = ("_open",)

    def __init__(self, open_: Effect[Any, Any, Pull]) -> None:
        """Low level: ``open_`` runs in the run's scope and succeeds with a pull."""
        self._open = lift(open_, "Stream")

    def __repr__(self) -> str:
        return "<Stream>"

    # --- sources --------------------------------------------------------------------

    @staticmethod
    def from_iterable(iterable: Iterable[A], *, chunk_size: int = CHUNK) -> Stream[A]:
        """The items of ``iterable`` (read ``chunk_size`` at a time; infinite ones too).
        Each run calls ``iter(iterable)`` again."""
        if isinstance(iterable, (str, bytes)) or not isinstance(iterable, Iterable):
            raise TypeError(f"Stream.from_iterable expects an iterable, got {type(iterable).__name__} {iterable!r}")
        _check_size(chunk_size, "chunk_size")

        def open_() -> Pull:
            it = iter(iterable)

            def pull() -> Chunk | None:
                chunk = list(itertools.islice(it, chunk_size))
                return chunk or None
            return sync(pull)
        return Stream(sync(open_))

    @staticmethod
    def range(start: int, stop: int | None = None, step: int = 1) -> Stream[int]:
        """Like `range` (one argument: 0 to ``start``)."""
        return Stream.from_iterable(range(start) if stop is None else range(start, stop, step))

    @staticmethod
    def from_effect(effect: Effect[Any, Any, A]) -> Stream[A]:
        """A stream of the one value ``effect`` succeeds with."""
        eff = lift(effect, "Stream.from_effect")

        def open_() -> Pull:
            done = [False]

            def pull() -> Effect[Any, Any, Chunk | None]:
                if done[0]:
                    return _NONE
                done[0] = True
                return eff.map(lambda x: [x])
            return suspend(pull)
        return Stream(sync(open_))

    @staticmethod
    def repeat_effect(effect: Effect[Any, Any, A]) -> Stream[A]:
        """``effect``'s value, run again for each item, forever (until it fails)."""
        eff = lift(effect, "Stream.repeat_effect")
        pull = eff.map(lambda x: [x])
        return Stream(succeed(pull))

    @staticmethod
    def unfold(state: S, step: Callable[[S], tuple[A, S] | None]) -> Stream[A]:
        """Items from ``step(state) -> (item, next_state)``, until it returns None."""
        _check_callable(step, "Stream.unfold")

        def open_() -> Pull:
            box: list[Any] = [state]
            ended = [False]

            def pull() -> Chunk | None:
                chunk: Chunk = []
                while not ended[0] and len(chunk) < CHUNK:
                    out = step(box[0])
                    if out is None:
                        ended[0] = True
                    else:
                        item, box[0] = out
                        chunk.append(item)
                return chunk or None
            return sync(pull)
        return Stream(sync(open_))

    @staticmethod
    def from_queue(queue: Queue[A], *, max_chunk: int = CHUNK) -> Stream[A]:
        """The items taken from ``queue``, until it is shut down."""
        if not isinstance(queue, Queue):
            raise TypeError(f"Stream.from_queue expects a Queue, got {type(queue).__name__} {queue!r}")
        _check_size(max_chunk, "max_chunk")

        def more(first: Any) -> Chunk:
            chunk = [first]
            while len(chunk) < max_chunk and queue.qsize():
                chunk.append(queue.get_nowait())
            return chunk

        def ended(error: Any) -> Effect[Any, Any, Chunk | None]:
            return _NONE if isinstance(error, QueueShutdown) else _fail(error)

        pull = queue.take().map(more).catch_all(ended)
        return Stream(succeed(pull))

    @staticmethod
    def from_async_iterable(iterable: AsyncIterable[A]) -> Stream[A]:
        """The items of an async iterable (an async generator is closed when the run ends)."""
        if not hasattr(iterable, "__aiter__"):
            raise TypeError(f"Stream.from_async_iterable expects an async iterable, got {type(iterable).__name__}")

        def open_(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Pull]:
            it = iterable.__aiter__()

            async def next_chunk() -> Chunk | None:
                try:
                    return [await it.__anext__()]
                except StopAsyncIteration:
                    return None

            closer = getattr(it, "aclose", None)
            if closer is not None:
                fiber.current_scope().add_finalizer(from_async(closer))
            return succeed(from_async(next_chunk))
        return Stream(with_fiber(open_))

    @staticmethod
    def acquire_release(acquire: Effect[Any, Any, A], release: Callable[..., Any]) -> Stream[A]:
        """A stream of one resource, released when the run ends (however it ends)."""
        return Stream.scoped(acquire_release(acquire, release))

    @staticmethod
    def scoped(effect: Effect[Any, Any, A]) -> Stream[A]:
        """A stream of the one value of ``effect``, whose resources (acquire_release)
        live until the run of the stream ends."""
        eff = lift(effect, "Stream.scoped")

        def open_() -> Effect[Any, Any, Pull]:
            def first(value: Any) -> Pull:
                done = [False]

                def pull() -> Effect[Any, Any, Chunk | None]:
                    if done[0]:
                        return _NONE
                    done[0] = True
                    return succeed([value])
                return suspend(pull)
            return eff.map(first)  # runs in the stream's scope: resources live with it
        return Stream(suspend(open_))

    # --- transformations ------------------------------------------------------------

    def _via(self, wrap: Callable[[Pull], Pull]) -> Stream[Any]:
        """A stream whose pull is ``wrap(upstream pull)``, made anew for each run."""
        return Stream(self._open.map(wrap))

    def map(self, f: Callable[[A], B]) -> Stream[B]:
        _check_callable(f, "Stream.map")
        return self._via(lambda pull: pull.map(lambda c: None if c is None else [f(x) for x in c]))

    def filter(self, predicate: Callable[[A], bool]) -> Stream[A]:
        _check_callable(predicate, "Stream.filter")

        def wrap(pull: Pull) -> Pull:
            def keep(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
                if chunk is None:
                    return _NONE
                kept = [x for x in chunk if predicate(x)]
                return succeed(kept) if kept else again  # never hand on an empty chunk
            again: Pull = pull.flat_map(keep)
            return again
        return self._via(wrap)

    def map_effect(self, f: Callable[[A], Effect[Any, Any, B]]) -> Stream[B]:
        """Run ``f(item)`` for each item, in order, one at a time; each result is handed on
        as soon as it is there (so time-based stages downstream see it then)."""
        _check_callable(f, "Stream.map_effect")

        def wrap(pull: Pull) -> Pull:
            pending: deque[Any] = deque()

            def next_item() -> Effect[Any, Any, Chunk | None]:
                if pending:
                    return lift(f(pending.popleft()), "Stream.map_effect's function").map(lambda y: [y])
                return pull.flat_map(refill)

            def refill(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
                if chunk is None:
                    return _NONE
                pending.extend(chunk)
                return next_item()
            return suspend(next_item)
        return self._via(wrap)

    def tap(self, f: Callable[[A], Effect[Any, Any, Any]]) -> Stream[A]:
        """Run ``f(item)`` for each item (in order) and pass the item on."""
        _check_callable(f, "Stream.tap")
        return self.map_effect(lambda x: lift(f(x), "Stream.tap's function").as_(x))

    def map_par(self, n: int, f: Callable[[A], Effect[Any, Any, B]]) -> Stream[B]:
        """``f(item)`` for each item, at most ``n`` calls running at a time; results keep
        the input order, each handed on as soon as it and all before it are done.

        A producer fiber of the run's scope pulls upstream and starts each item's call in
        a fiber of its own (as `for_each_par` does: what it acquires is released when it
        ends) once fewer than ``n`` calls run, and at most ``n`` started items wait to be
        handed on downstream: so ``take(k)`` downstream starts at most about ``k + 2n``
        calls, and items that come one at a time (one-item chunks) run ``n`` at a time
        too. A failing call fails the stream at its place (the results before it are
        handed on first) and no call starts after it; when the run ends, the calls still
        running are interrupted."""
        _check_size(n, "map_par's n")
        _check_callable(f, "Stream.map_par")

        def open_(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Pull]:
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

            return self._open.flat_map(
                lambda up: producer(up).fork_in(scope, name=internal_name("map_par pump"))).as_(suspend(pull))
        return Stream(with_fiber(open_))

    def take(self, n: int) -> Stream[A]:
        """The first ``n`` items; upstream is not pulled once they are there."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Stream.take expects an int >= 0, got {n!r}")

        def wrap(pull: Pull) -> Pull:
            left = [n]

            def cut(chunk: Chunk | None) -> Chunk | None:
                if chunk is None:
                    return None
                chunk = chunk[: left[0]]
                left[0] -= len(chunk)
                return chunk or None
            return suspend(lambda: _NONE if left[0] <= 0 else pull.map(cut))
        return self._via(wrap)

    def take_while(self, predicate: Callable[[A], bool]) -> Stream[A]:
        _check_callable(predicate, "Stream.take_while")

        def wrap(pull: Pull) -> Pull:
            done = [False]

            def cut(chunk: Chunk | None) -> Chunk | None:
                if chunk is None:
                    return None
                for i, x in enumerate(chunk):
                    if not predicate(x):
                        done[0] = True
                        return chunk[:i] or None
                return chunk
            return suspend(lambda: _NONE if done[0] else pull.map(cut))
        return self._via(wrap)

    def drop(self, n: int) -> Stream[A]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Stream.drop expects an int >= 0, got {n!r}")

        def wrap(pull: Pull) -> Pull:
            left = [n]

            def skip(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
                if chunk is None:
                    return _NONE
                if left[0] >= len(chunk):
                    left[0] -= len(chunk)
                    return again
                rest, left[0] = chunk[left[0]:], 0
                return succeed(rest)
            again: Pull = pull.flat_map(skip)
            return again
        return self._via(wrap)

    def grouped(self, n: int) -> Stream[list[A]]:
        """Lists of ``n`` consecutive items (the last may be shorter)."""
        _check_size(n, "grouped's n")

        def wrap(pull: Pull) -> Pull:
            buf: Chunk = []
            ended = [False]

            def fill(_: Any = None) -> Effect[Any, Any, Chunk | None]:
                if len(buf) >= n or (ended[0] and buf):
                    groups = [buf[i:i + n] for i in range(0, len(buf) - len(buf) % n, n)]
                    if ended[0] and len(buf) % n:
                        groups.append(buf[len(buf) - len(buf) % n:])
                        del buf[:]
                    else:
                        del buf[: len(groups) * n]
                    return succeed(groups)
                if ended[0]:
                    return _NONE
                return pull.flat_map(add)

            def add(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
                if chunk is None:
                    ended[0] = True
                else:
                    buf.extend(chunk)
                return fill()
            return suspend(fill)
        return self._via(wrap)

    def buffer(self, n: int) -> Stream[A]:
        """Let upstream run ahead of the consumer, in a fiber of the run's scope (it stops
        when the consumer stops): at most ``n`` items wait in the buffer, and the consumer
        takes what is there (at most ``n``) as one chunk, so upstream is never more than
        ``2 * n`` items (plus the one it is offering) ahead of what downstream has finished."""
        _check_size(n, "buffer's n")
        return self._through_queue(n, lambda queue, _scope: _consume(queue), "buffer")

    def merge(self, other: Stream[B]) -> Stream[A | B]:
        """The items of both streams, as they come; ends when both have ended; fails (and
        stops the other) as soon as one fails."""
        if not isinstance(other, Stream):
            raise TypeError(f"Stream.merge expects a Stream, got {type(other).__name__}")

        def open_(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Pull]:
            scope = fiber.current_scope()
            queue: Queue[Any] = Queue(maxsize=2)
            live = [2]

            def producer(up: Pull) -> Effect[Any, Any, Any]:
                return _pump(up, queue, end=False).flat_map(
                    lambda _: suspend(lambda: _one_ended(live, queue)))

            def start(pulls: tuple[Pull, Pull]) -> Effect[Any, Any, Any]:
                # both sides are opened here first, so a failure to open fails the run, and
                # the producer fibers are stopped before the upstream resources are released
                return producer(pulls[0]).fork_in(scope, name=internal_name("merge pump [0]")).zip(
                    producer(pulls[1]).fork_in(scope, name=internal_name("merge pump [1]")))

            return self._open.zip(other._open).flat_map(start).as_(_consume(queue))
        return Stream(with_fiber(open_))

    def zip(self, other: Stream[B]) -> Stream[tuple[A, B]]:
        """Pairs of items, one from each stream; ends with the shorter one."""
        if not isinstance(other, Stream):
            raise TypeError(f"Stream.zip expects a Stream, got {type(other).__name__}")

        def open_() -> Effect[Any, Any, Pull]:
            def both(pulls: tuple[Pull, Pull]) -> Pull:
                left_pull, right_pull = pulls
                lbuf: Chunk = []
                rbuf: Chunk = []
                ended = [False]

                def fill() -> Effect[Any, Any, Chunk | None]:
                    if ended[0]:
                        return _NONE
                    if lbuf and rbuf:
                        k = min(len(lbuf), len(rbuf))
                        out = list(zip(lbuf[:k], rbuf[:k], strict=True))
                        del lbuf[:k], rbuf[:k]
                        return succeed(out)
                    side, buf = (left_pull, lbuf) if not lbuf else (right_pull, rbuf)

                    def got(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
                        if chunk is None:
                            ended[0] = True
                            return _NONE
                        buf.extend(chunk)
                        return fill()
                    return side.flat_map(got)
                return suspend(fill)
            return self._open.zip(other._open).map(both)
        return Stream(suspend(open_))

    def throttle(self, n: int, per: float | Duration) -> Stream[A]:
        """At most ``n`` items in each window of ``per`` seconds (fixed windows, on the
        context's Clock; the first starts when the run does)."""
        _check_size(n, "throttle's n")
        window = to_seconds(per, "Stream.throttle")

        def open_(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Pull]:
            clock = fiber._ctx.get(Clock)

            def wrap(pull: Pull) -> Pull:
                start = [clock.now()]
                sent = [0]  # items handed on in the current window
                pending: Chunk = []

                def emit() -> Effect[Any, Any, Chunk | None]:
                    if not pending:
                        return pull.flat_map(lambda c: _NONE if c is None else sync(
                            lambda: pending.extend(c)).flat_map(lambda _: emit()))
                    now = clock.now()
                    if now - start[0] >= window:
                        start[0], sent[0] = now, 0
                    room = n - sent[0]
                    if room <= 0:
                        wake = start[0] + window

                        def new_window(_: Any) -> Effect[Any, Any, Chunk | None]:
                            # start the next window explicitly (re-comparing floats could
                            # leave it closed forever: 0.6 + 0.3 - 0.6 < 0.3)
                            start[0], sent[0] = max(clock.now(), wake), 0
                            return emit()
                        return sleep(wake - now).flat_map(new_window)
                    out = pending[:room]
                    del pending[:room]
                    sent[0] += len(out)
                    return succeed(out)
                return suspend(emit)
            return self._open.map(wrap)
        return Stream(with_fiber(open_))

    def grouped_within(self, n: int, within: float | Duration) -> Stream[list[A]]:
        """Lists of up to ``n`` items: a list is handed on when it is full, or when
        ``within`` seconds have passed since its first item (on the context's Clock)."""
        _check_size(n, "grouped_within's n")
        limit = to_seconds(within, "Stream.grouped_within")

        def consume(queue: Queue[Any], scope: Scope) -> Pull:
            # A timer fiber posts a _Tick for the group it was started for; takes are never
            # cut short, so no item is ever lost to a timeout.
            group: Chunk = []
            current = [0]
            ended = [False]

            def next_message() -> Effect[Any, Any, Chunk | None]:
                if ended[0]:
                    return _NONE
                return queue.take().flat_map(handle)

            def handle(msg: Any) -> Effect[Any, Any, Chunk | None]:
                if isinstance(msg, _Tick):
                    return flush() if msg.group == current[0] and group else next_message()
                if msg is _END:
                    ended[0] = True
                    return flush() if group else _NONE
                if isinstance(msg, _Failed):
                    return fail_cause(msg.cause)
                group.append(msg)
                if len(group) >= n:
                    return flush()
                if len(group) == 1:
                    tick = _Tick(current[0])
                    timer = sleep(limit).flat_map(lambda _: queue.offer(tick)).fork_in(
                        scope, name=internal_name("grouped_within timer"))
                    return timer.flat_map(lambda _: next_message())
                return next_message()

            def flush() -> Effect[Any, Any, Chunk | None]:
                out = [list(group)]
                del group[:]
                current[0] += 1
                return succeed(out)
            return suspend(next_message)

        return self._through_queue(n, consume, "grouped_within")

    def _through_queue(self, n: int, consume: Callable[[Queue[Any], Scope], Pull],
                       stage: str) -> Stream[Any]:
        """Upstream moved by a producer fiber of the run's scope (an internal fiber, the
        ``stage`` pump) into a queue of ``n`` messages, read by ``consume``."""
        def open_(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Pull]:
            scope = fiber.current_scope()
            queue: Queue[Any] = Queue(maxsize=n)
            return self._open.flat_map(
                lambda up: _pump(up, queue).fork_in(scope, name=internal_name(f"{stage} pump"))
            ).as_(consume(queue, scope))
        return Stream(with_fiber(open_))

    # --- running ----------------------------------------------------------------------

    def run_fold(self, initial: B, f: Callable[[B, A], B]) -> Effect[Any, Any, B]:
        """Fold every item into a value (``f(acc, item)``), in a scope of its own."""
        _check_callable(f, "Stream.run_fold")

        def loop(pull: Pull) -> Effect[Any, Any, B]:
            acc = [initial]

            def step(chunk: Chunk | None) -> Effect[Any, Any, B]:
                if chunk is None:
                    return succeed(acc[0])
                value = acc[0]
                for x in chunk:
                    value = f(value, x)
                acc[0] = value
                return again
            again: Effect[Any, Any, B] = pull.flat_map(step)
            return again
        return scoped(self._open.flat_map(loop))

    def run_collect(self) -> Effect[Any, Any, list[A]]:
        """All the items, as a list."""
        def loop(pull: Pull) -> Effect[Any, Any, list[A]]:
            out: list[A] = []

            def step(chunk: Chunk | None) -> Effect[Any, Any, list[A]]:
                if chunk is None:
                    return succeed(out)
                out.extend(chunk)
                return again
            again: Effect[Any, Any, list[A]] = pull.flat_map(step)
            return again
        return scoped(self._open.flat_map(loop))

    def run_drain(self) -> Effect[Any, Any, None]:
        """Run the stream for its effects, dropping the items."""
        return self.run_fold(None, lambda acc, _: None)

    def run_for_each(self, f: Callable[[A], Effect[Any, Any, Any]]) -> Effect[Any, Any, None]:
        """Run ``f(item)`` for each item, in order."""
        return self.map_effect(f).run_drain()

    def __aiter__(self) -> StreamIterator[A]:
        """``async for item in stream``, in asyncio or trio code: see `iterate`, whose
        ``async with`` form releases the stream's resources when the loop is left early."""
        return StreamIterator(self)

    def iterate(self) -> StreamIterator[A]:
        """Iterate in asyncio or trio code, with the run closed where the block ends::

            async with stream.iterate() as items:
                async for item in items:
                    ...

        The stream runs in a run of its own (in a background task: an asyncio Task, or a
        trio system task), which pulls one chunk each time the loop needs more items:
        nothing is pulled ahead. When the stream ends or fails, its resources are released
        before the loop sees the end or the failure (raised as `Failure`). Leaving the
        block early (``break``, an exception, a cancellation) closes the iterator
        (`StreamIterator.aclose`): the run is interrupted and the block waits until the
        resources are released, even when it is being cancelled.

        A plain ``async for item in stream`` works too, but leaving it early cannot wait
        for anything (a ``break`` calls nothing awaitable): the run is interrupted when the
        iterator is dropped (at the ``break``, in CPython, unless it is still referenced)
        and releases its resources in the background, at the latest when the event loop
        or ``trio.run`` ends. ``contextlib.aclosing(aiter(stream))`` is the same as
        ``stream.iterate()``."""
        return StreamIterator(self)


@final
class StreamIterator(AsyncIterator[A]):
    """An iteration of a stream (`Stream.iterate`, ``aiter(stream)``): an async iterator
    and an async context manager whose exit (or `aclose`) ends the stream's run."""

    __slots__ = ("_asked", "_chunk", "_done", "_host", "_i", "_stream", "_waiting")

    def __init__(self, stream: Stream[A]) -> None:
        self._stream = stream
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
            _start(host, _hosting(self._stream, host))
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


def _hosting(stream: Stream[Any], host: _Host) -> Effect[Any, Any, None]:
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
        return scoped(stream._open.flat_map(serve)).ensuring(ended)
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


def _check_size(n: object, where: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{where} must be an int >= 1, got {n!r}")


def _fail(error: Any) -> Effect[Any, Any, Any]:
    from ._core._effect import fail
    return fail(error)


def _pump(up: Pull, queue: Queue[Any], *, end: bool = True) -> Effect[Any, Any, None]:
    """Move upstream's items into ``queue`` until the end (then _END, if ``end``) or a
    failure (then _Failed)."""
    def loop() -> Effect[Any, Any, None]:
        return up.flat_map(deliver)

    def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
        if chunk is None:
            return queue.offer(_END).unit() if end else unit
        return _offer_each(queue, chunk, 0).flat_map(lambda _: loop())

    return loop().catch_all_cause(lambda cause: queue.offer(_Failed(cause)).unit())


def _offer_each(queue: Queue[Any], chunk: Chunk, i: int) -> Effect[Any, Any, None]:
    if i == len(chunk):
        return unit
    return queue.offer(chunk[i]).flat_map(lambda _: _offer_each(queue, chunk, i + 1))


def _one_ended(live: list[int], queue: Queue[Any]) -> Effect[Any, Any, Any]:
    live[0] -= 1
    return queue.offer(_END).unit() if live[0] == 0 else unit


def _consume(queue: Queue[Any]) -> Pull:
    """The pull of a queue fed by producer fibers: chunks of what is there, None at _END.
    The items that came before a failure are handed on first, then the failure."""
    ended = [False]
    failure: list[_Failed] = []  # met after items of a chunk: the next pull fails with it

    def got(first: Any) -> Effect[Any, Any, Chunk | None]:
        chunk: Chunk = []
        msg = first
        while True:
            if msg is _END:
                ended[0] = True
                return succeed(chunk) if chunk else _NONE
            if isinstance(msg, _Failed):
                if chunk:
                    failure.append(msg)
                    return succeed(chunk)
                return fail_cause(msg.cause)
            chunk.append(msg)
            if len(chunk) >= CHUNK or not queue.qsize():
                return succeed(chunk)
            msg = queue.get_nowait()

    def pull() -> Effect[Any, Any, Chunk | None]:
        if ended[0]:
            return _NONE
        if failure:
            return fail_cause(failure[0].cause)
        return queue.take().flat_map(got)
    return suspend(pull)
