"""`Stream`: a lazy, pull-based, chunked sequence of values produced by effects.

A stream is a description. Running it (``run_collect``, ``run_fold``, ``async for`` ...)
opens it in a fresh `Scope` and pulls chunks (lists) from it until it ends; every resource
it acquired is released, exactly once, when the run ends: at completion, on failure, when
``take(n)`` has enough, or when the consumer is interrupted. Nothing is produced that is not
pulled (``from_iterable`` reads its iterable ``chunk_size`` items at a time), so
``Stream.from_iterable(itertools.count()).take(3)`` terminates; stages that run ahead
(``buffer``, ``merge``, ``grouped_within``) do so by a bounded amount, in fibers of the
stream's scope, and stop when the consumer stops.

Internally, opening a stream is an effect that succeeds with a *pull*: an effect that
succeeds with the next non-empty chunk, or with None at the end.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from typing import Any, Final, Generic, TypeVar, final

from ._concurrent import for_each_par
from ._core._cause import Exit
from ._core._clock import Clock
from ._core._duration import Duration, to_seconds
from ._core._effect import (
    IN_SCOPE, Effect, _check_callable, _make, fail_cause, from_async, lift, sleep, succeed,
    suspend, sync, unit, with_fiber,
)
from ._core._fiber import Fiber
from ._core._scope import Scope
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


class _Tick:
    """A grouped_within timer message: group ``group``'s time is up."""

    __slots__ = ("group",)

    def __init__(self, group: int) -> None:
        self.group = group


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
        """``f(item)`` for each item, at most ``n`` at a time; results keep the input order."""
        _check_size(n, "map_par's n")
        _check_callable(f, "Stream.map_par")

        def each(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
            return _NONE if chunk is None else for_each_par(chunk, f, parallelism=n)
        return self._via(lambda pull: pull.flat_map(each))

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
        return self._through_queue(n, lambda queue, _scope: _consume(queue))

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
                return producer(pulls[0]).fork_in(scope).zip(producer(pulls[1]).fork_in(scope))

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
                    timer = sleep(limit).flat_map(lambda _: queue.offer(tick)).fork_in(scope)
                    return timer.flat_map(lambda _: next_message())
                return next_message()

            def flush() -> Effect[Any, Any, Chunk | None]:
                out = [list(group)]
                del group[:]
                current[0] += 1
                return succeed(out)
            return suspend(next_message)

        return self._through_queue(n, consume)

    def _through_queue(self, n: int, consume: Callable[[Queue[Any], Scope], Pull]) -> Stream[Any]:
        """Upstream moved by a producer fiber of the run's scope into a queue of ``n``
        messages, read by ``consume``."""
        def open_(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Pull]:
            scope = fiber.current_scope()
            queue: Queue[Any] = Queue(maxsize=n)
            return self._open.flat_map(
                lambda up: _pump(up, queue).fork_in(scope)).as_(consume(queue, scope))
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

    def __aiter__(self) -> AsyncIterator[A]:
        """Iterate in asyncio or trio code: ``async for item in stream: ...``. Breaking
        out of the loop closes the run's scope (resources are released)."""
        return _iterate(self)


async def _iterate(stream: Stream[A]) -> AsyncIterator[A]:
    scope = Scope()
    exit_: Exit[Any] = Exit.succeed(None)
    try:
        pull = await _make(IN_SCOPE, stream._open, scope)
        while True:
            chunk = await _make(IN_SCOPE, pull, scope)
            if chunk is None:
                return
            for item in chunk:
                yield item
    except BaseException as exc:
        exit_ = Exit.fail_cause(_cause_of_exception(exc))
        raise
    finally:
        await scope.close(exit_)


def _cause_of_exception(exc: BaseException) -> Any:
    from ._core._cause import Interrupt
    from ._core._effect import cause_of
    if isinstance(exc, GeneratorExit):
        return Interrupt("iteration stopped")
    return cause_of(exc)


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
    """The pull of a queue fed by producer fibers: chunks of what is there, None at _END."""
    ended = [False]

    def got(first: Any) -> Effect[Any, Any, Chunk | None]:
        chunk: Chunk = []
        msg = first
        while True:
            if msg is _END:
                ended[0] = True
                return succeed(chunk) if chunk else _NONE
            if isinstance(msg, _Failed):
                return fail_cause(msg.cause)
            chunk.append(msg)
            if len(chunk) >= CHUNK or not queue.qsize():
                return succeed(chunk)
            msg = queue.get_nowait()

    return suspend(lambda: _NONE if ended[0] else queue.take().flat_map(got))
