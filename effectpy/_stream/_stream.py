"""The `Stream` class: what each method checks, and which stage module builds it.

The stage modules work on open effects and pulls (see ``_pull``), never on `Stream`
objects: this module wraps what they build.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Generic, TypeVar, final

from .._core._duration import Duration, to_seconds
from .._core._effect import Effect, _check_callable, lift, succeed
from .._queue import Queue
from .._resource import acquire_release, scoped
from .._schedule import Schedule, _check_schedule
from . import _concurrent, _fanout, _sequence, _sink, _sources, _time, _transform
from ._concurrent import HALTS, Halt
from ._iterate import StreamIterator
from ._pull import CHUNK, Open, Pull, _check_size
from ._sink import Sink

__all__ = ["Stream"]

A = TypeVar("A")
B = TypeVar("B")
K = TypeVar("K")
S = TypeVar("S")


def _check_stream(other: object, where: str) -> None:
    if not isinstance(other, Stream):
        raise TypeError(f"{where} expects a Stream, got {type(other).__name__} {other!r}")


def _open_of(value: object, where: str) -> Open:
    """The open effect of ``value``, a Stream that user code returned (else a defect)."""
    if not isinstance(value, Stream):
        raise TypeError(f"{where} must return a Stream, got {type(value).__name__} {value!r}")
    return value._open


def _check_count(n: object, where: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{where} expects an int >= 0, got {n!r}")


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
        self._open: Open = lift(open_, "Stream")

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
        return Stream(_sources.from_iterable(iterable, chunk_size))

    @staticmethod
    def range(start: int, stop: int | None = None, step: int = 1) -> Stream[int]:
        """Like `range` (one argument: 0 to ``start``)."""
        return Stream.from_iterable(range(start) if stop is None else range(start, stop, step))

    @staticmethod
    def succeed(value: A) -> Stream[A]:
        """A stream of the one item ``value``."""
        return Stream(_sources.once(succeed(value)))

    @staticmethod
    def empty() -> Stream[Any]:
        """A stream with no items, that ends at once."""
        return Stream(_sources.EMPTY)

    @staticmethod
    def fail(error: Any) -> Stream[Any]:
        """A stream that fails with ``error`` (a typed failure) when pulled."""
        return Stream(_sources.failing(error))

    @staticmethod
    def never() -> Stream[Any]:
        """A stream that never produces an item, nor ends (until interrupted)."""
        return Stream(_sources.NEVER)

    @staticmethod
    def from_effect(effect: Effect[Any, Any, A]) -> Stream[A]:
        """A stream of the one value ``effect`` succeeds with."""
        return Stream(_sources.once(lift(effect, "Stream.from_effect")))

    @staticmethod
    def repeat_effect(effect: Effect[Any, Any, A]) -> Stream[A]:
        """``effect``'s value, run again for each item, forever (until it fails)."""
        return Stream(_sources.repeat_effect(lift(effect, "Stream.repeat_effect")))

    @staticmethod
    def unfold(state: S, step: Callable[[S], tuple[A, S] | None]) -> Stream[A]:
        """Items from ``step(state) -> (item, next_state)``, until it returns None."""
        _check_callable(step, "Stream.unfold")
        return Stream(_sources.unfold(state, step, CHUNK))

    @staticmethod
    def from_queue(queue: Queue[A], *, max_chunk: int = CHUNK) -> Stream[A]:
        """The items taken from ``queue``, until it is shut down."""
        if not isinstance(queue, Queue):
            raise TypeError(f"Stream.from_queue expects a Queue, got {type(queue).__name__} {queue!r}")
        _check_size(max_chunk, "max_chunk")
        return Stream(_sources.from_queue(queue, max_chunk))

    @staticmethod
    def from_async_iterable(iterable: AsyncIterable[A]) -> Stream[A]:
        """The items of an async iterable (an async generator is closed when the run ends)."""
        if not hasattr(iterable, "__aiter__"):
            raise TypeError(f"Stream.from_async_iterable expects an async iterable, got {type(iterable).__name__}")
        return Stream(_sources.from_async_iterable(iterable))

    @staticmethod
    def acquire_release(acquire: Effect[Any, Any, A], release: Callable[..., Any]) -> Stream[A]:
        """A stream of one resource, released (once, however the stream ends) when the
        scope it was opened in closes: at the end of the run, or before when a stage is
        done with it (``concat`` going on to the next stream, ``take`` ...)."""
        return Stream.scoped(acquire_release(acquire, release))

    @staticmethod
    def scoped(effect: Effect[Any, Any, A]) -> Stream[A]:
        """A stream of the one value of ``effect``, whose resources (acquire_release)
        live as long as the stream (see `acquire_release`)."""
        return Stream(_sources.scoped(lift(effect, "Stream.scoped")))

    # --- transformations ------------------------------------------------------------

    def map(self, f: Callable[[A], B]) -> Stream[B]:
        _check_callable(f, "Stream.map")
        return Stream(_transform.map_(self._open, f))

    def filter(self, predicate: Callable[[A], bool]) -> Stream[A]:
        _check_callable(predicate, "Stream.filter")
        return Stream(_transform.filter_(self._open, predicate))

    def map_effect(self, f: Callable[[A], Effect[Any, Any, B]]) -> Stream[B]:
        """Run ``f(item)`` for each item, in order, one at a time; each result is handed on
        as soon as it is there (so time-based stages downstream see it then)."""
        _check_callable(f, "Stream.map_effect")
        return Stream(_transform.map_effect(self._open, f))

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
        return Stream(_concurrent.map_par(self._open, n, f))

    def scan(self, initial: S, f: Callable[[S, A], S]) -> Stream[S]:
        """``initial``, then each ``acc = f(acc, item)`` in turn (ZIO's and Effect-TS's
        ``scan``: the initial value comes first).

        >>> import effectpy
        >>> effectpy.run(Stream.range(1, 5).scan(0, lambda acc, x: acc + x).run_collect())
        [0, 1, 3, 6, 10]
        """
        _check_callable(f, "Stream.scan")
        return Stream(_transform.scan(self._open, initial, f))

    def zip_with_index(self) -> Stream[tuple[A, int]]:
        """``(item, index)`` pairs, the index counting from 0."""
        return Stream(_transform.zip_with_index(self._open))

    def changes(self) -> Stream[A]:
        """The items that differ (``!=``) from the item before them."""
        return Stream(_transform.changes(self._open))

    def intersperse(self, separator: B) -> Stream[A | B]:
        """``separator`` between each two items."""
        return Stream(_transform.intersperse(self._open, separator))

    # --- taking, dropping, grouping ------------------------------------------------------

    def take(self, n: int) -> Stream[A]:
        """The first ``n`` items; then upstream is not pulled again, and is ended (its
        fibers stopped, its finalizers run) when the next item is asked for."""
        _check_count(n, "Stream.take")
        return Stream(_transform.take(self._open, n))

    def take_while(self, predicate: Callable[[A], bool]) -> Stream[A]:
        """The items before the first for which ``predicate`` is false (upstream is then
        ended, as for `take`)."""
        _check_callable(predicate, "Stream.take_while")
        return Stream(_transform.take_while(self._open, predicate))

    def take_until(self, predicate: Callable[[A], bool]) -> Stream[A]:
        """The items up to and including the first for which ``predicate`` is true
        (upstream is then ended, as for `take`)."""
        _check_callable(predicate, "Stream.take_until")
        return Stream(_transform.take_until(self._open, predicate))

    def drop(self, n: int) -> Stream[A]:
        """The items after the first ``n``."""
        _check_count(n, "Stream.drop")
        return Stream(_transform.drop(self._open, n))

    def drop_while(self, predicate: Callable[[A], bool]) -> Stream[A]:
        """The items from the first one for which ``predicate`` is false onwards."""
        _check_callable(predicate, "Stream.drop_while")
        return Stream(_transform.drop_while(self._open, predicate))

    def grouped(self, n: int) -> Stream[list[A]]:
        """Lists of ``n`` consecutive items (the last may be shorter)."""
        _check_size(n, "grouped's n")
        return Stream(_transform.grouped(self._open, n))

    def sliding(self, n: int, step: int = 1) -> Stream[list[A]]:
        """Windows of ``n`` consecutive items, each starting ``step`` items after the one
        before. At the end (as in ZIO): if no window was full, the items there are make one
        window; else, if items came after the last full window, a last, shorter window is
        given, starting where the next window would have.

        >>> import effectpy
        >>> effectpy.run(Stream.range(1, 6).sliding(2).run_collect())
        [[1, 2], [2, 3], [3, 4], [4, 5]]
        >>> effectpy.run(Stream.range(1, 6).sliding(2, step=3).run_collect())
        [[1, 2], [4, 5]]
        """
        _check_size(n, "sliding's n")
        _check_size(step, "sliding's step")
        return Stream(_transform.sliding(self._open, n, step))

    # --- one stream after another, and errors --------------------------------------------

    def concat(self, other: Stream[B]) -> Stream[A | B]:
        """The items of this stream, then those of ``other`` (also ``self + other``).
        This stream's resources are released before ``other`` opens."""
        _check_stream(other, "Stream.concat")
        return Stream(_sequence.concat((self._open, other._open)))

    def __add__(self, other: Stream[B]) -> Stream[A | B]:
        if not isinstance(other, Stream):
            return NotImplemented
        return self.concat(other)

    def flat_map(self, f: Callable[[A], Stream[B]]) -> Stream[B]:
        """The items of ``f(item)``'s stream for each item, one stream after the other;
        each is ended (resources released) before the next one opens."""
        _check_callable(f, "Stream.flat_map")
        return Stream(_sequence.flat_map(self._open, lambda x: _open_of(f(x), "Stream.flat_map's function")))

    def catch_all(self, handler: Callable[[Any], Stream[B]]) -> Stream[A | B]:
        """If this stream fails with a typed failure (not a defect, not an interruption),
        go on with the items of ``handler(error)``'s stream (the failed stream's resources
        are released first). The items that came before the failure stay."""
        _check_callable(handler, "Stream.catch_all")
        return Stream(_sequence.catch_all(self._open, lambda e: _open_of(handler(e), "Stream.catch_all's handler")))

    def or_else(self, other: Stream[B]) -> Stream[A | B]:
        """If this stream fails (a typed failure), go on with ``other``'s items."""
        _check_stream(other, "Stream.or_else")
        that = other._open
        return Stream(_sequence.catch_all(self._open, lambda _: that))

    def ensuring(self, finalizer: Effect[Any, Any, Any]) -> Stream[A]:
        """Run ``finalizer`` when this stream's scope closes (however the stream ended),
        after the stream's own finalizers."""
        fin = lift(finalizer, "Stream.ensuring")
        return Stream(_sequence.ensuring(self._open, fin))

    def retry(self, schedule: Schedule) -> Stream[A]:
        """If this stream fails (a typed failure), run it again from its start (resources
        acquired anew, after the failed run's are released) when ``schedule`` says so;
        the schedule starts over once an item has come through. When it stops, fail with
        the last error."""
        _check_schedule(schedule, "Stream.retry")
        return Stream(_sequence.retry(self._open, schedule))

    # --- fibers --------------------------------------------------------------------------

    def flat_map_par(self, n: int, f: Callable[[A], Stream[B]]) -> Stream[B]:
        """The items of ``f(item)``'s streams, at most ``n`` of them running at once, each
        in a fiber of its own (``flat_map_par[i]``, which holds its resources: they are
        released when that stream ends); items come as they are produced. The first failure
        fails the stream, and no new stream starts after it."""
        _check_size(n, "flat_map_par's n")
        _check_callable(f, "Stream.flat_map_par")
        return Stream(_concurrent.flat_map_par(
            self._open, n, lambda x: _open_of(f(x), "Stream.flat_map_par's function")))

    def buffer(self, n: int) -> Stream[A]:
        """Let upstream run ahead of the consumer, in a fiber of the run's scope (it stops
        when the consumer stops): at most ``n`` items wait in the buffer, and the consumer
        takes what is there (at most ``n``) as one chunk, so upstream is never more than
        ``2 * n`` items (plus the one it is offering) ahead of what downstream has finished."""
        _check_size(n, "buffer's n")
        return Stream(_concurrent.buffer(self._open, n))

    def merge(self, other: Stream[B], *, halt: Halt = "both") -> Stream[A | B]:
        """The items of both streams, as they come (each is pulled by a fiber of its own,
        ``merge[0]`` and ``merge[1]``, at most two chunks ahead). ``halt`` says when the
        merge ends: when ``"both"`` streams have ended, when the ``"left"`` one (this) or
        the ``"right"`` one has, or when ``"either"`` has; the other is then ended at once.
        Fails (and stops the other) as soon as one fails."""
        _check_stream(other, "Stream.merge")
        if halt not in HALTS:
            raise ValueError(f"Stream.merge's halt must be one of {', '.join(map(repr, HALTS))}, got {halt!r}")
        return Stream(_concurrent.merge(self._open, other._open, halt))

    def zip(self, other: Stream[B]) -> Stream[tuple[A, B]]:
        """Pairs of items, one from each stream; ends with the shorter one (the longer one
        is then ended at once). When neither side has an item to spare, both are pulled at
        once (in child fibers ``zip[0]`` and ``zip[1]``), so a side that fails or ends is
        seen even while the other one waits forever (as in ZIO and Effect-TS)."""
        _check_stream(other, "Stream.zip")
        return Stream(_concurrent.zip_(self._open, other._open))

    def zip_latest(self, other: Stream[B]) -> Stream[tuple[A, B]]:
        """Once both streams have produced an item, each new item of one is paired with
        the latest item of the other (as in ZIO: the items of a side's chunk before the
        other's first item are not used). Ends when both have ended, or when one ends
        before it produced anything."""
        _check_stream(other, "Stream.zip_latest")
        return Stream(_concurrent.zip_latest(self._open, other._open))

    def interrupt_when(self, effect: Effect[Any, Any, Any]) -> Stream[A]:
        """Run ``effect`` in a fiber (``interrupt_when``) beside the stream: when it
        succeeds, the stream ends (a pull in progress is interrupted, upstream is ended);
        when it fails, the stream fails with its cause."""
        signal = lift(effect, "Stream.interrupt_when")
        return Stream(_concurrent.interrupt_when(self._open, signal))

    # --- time ----------------------------------------------------------------------------

    def throttle(self, n: int, per: float | Duration) -> Stream[A]:
        """At most ``n`` items in each window of ``per`` seconds (fixed windows, on the
        context's Clock; the first starts when the run does)."""
        _check_size(n, "throttle's n")
        window = to_seconds(per, "Stream.throttle")
        return Stream(_time.throttle(self._open, n, window))

    def grouped_within(self, n: int, within: float | Duration) -> Stream[list[A]]:
        """Lists of up to ``n`` items: a list is handed on when it is full, or when
        ``within`` seconds have passed since its first item (on the context's Clock)."""
        _check_size(n, "grouped_within's n")
        limit = to_seconds(within, "Stream.grouped_within")
        return Stream(_time.grouped_within(self._open, n, limit))

    def debounce(self, seconds: float | Duration) -> Stream[A]:
        """An item is handed on only once ``seconds`` have passed (on the context's Clock)
        without a newer one; at the end, the last item is handed on at once. Upstream is
        pulled by a fiber of its own (``debounce``), at most two chunks ahead; a failure
        fails the stream at once."""
        wait = to_seconds(seconds, "Stream.debounce")
        return Stream(_time.debounce(self._open, wait))

    def timeout(self, seconds: float | Duration) -> Stream[A]:
        """End the stream if an item takes longer than ``seconds`` (on the context's
        Clock) to come: the pull is interrupted and upstream is ended (``timeout(0)``: the
        stream ends at once, and upstream is not even opened)."""
        limit = to_seconds(seconds, "Stream.timeout")
        return Stream(_time.timeout(self._open, limit))

    # --- one stream into several ---------------------------------------------------------

    def group_by(self, key: Callable[[A], K], *, buffer: int = 16) -> Stream[tuple[K, Stream[A]]]:
        """A ``(key, substream)`` pair for each new ``key(item)``, the substream giving
        that key's items. A fiber (``group_by``) hands each substream its items through a
        buffer of ``buffer`` chunks: run the substreams concurrently (e.g. with
        `flat_map_par`), or a full buffer makes everything wait. Each substream can be run
        once; it ends (or fails) with this stream, and ends when the run stops early.

        >>> import effectpy
        >>> groups = Stream.range(6).group_by(lambda x: x % 2).flat_map_par(
        ...     2, lambda kv: Stream.from_effect(kv[1].run_collect().map(lambda xs: (kv[0], xs))))
        >>> sorted(effectpy.run(groups.run_collect()))
        [(0, [0, 2, 4]), (1, [1, 3, 5])]
        """
        _check_callable(key, "Stream.group_by")
        _check_size(buffer, "group_by's buffer")
        return Stream(_fanout.group_by(self._open, key, buffer)).map(lambda kv: (kv[0], Stream(kv[1])))

    def partition(self, predicate: Callable[[A], bool], *, buffer: int = 16) -> Effect[Any, Any, tuple[Stream[A], Stream[A]]]:
        """A scoped effect: two streams, of the items for which ``predicate`` is true and
        of the others. A fiber of the current scope (``partition``, e.g. in `scoped`) pulls
        this stream and hands each its items through a buffer of ``buffer`` chunks; it
        stops, and this stream's resources are released, when that scope closes. Run both
        streams, concurrently (each once)."""
        _check_callable(predicate, "Stream.partition")
        _check_size(buffer, "partition's buffer")
        return _fanout.partition(self._open, predicate, buffer).map(lambda pair: (Stream(pair[0]), Stream(pair[1])))

    def broadcast(self, n: int, maximum_lag: int) -> Effect[Any, Any, tuple[Stream[A], ...]]:
        """A scoped effect: ``n`` streams, each with every item of this one. A fiber of
        the current scope (``broadcast``) pulls this stream and runs at most
        ``maximum_lag`` chunks ahead of the slowest of them; a stream whose run has ended
        no longer holds the others back. Each can be run once.

        >>> import effectpy
        >>> def both(streams):
        ...     return effectpy.zip_par(*(s.run_collect() for s in streams))
        >>> effectpy.run(scoped(Stream.range(3).broadcast(2, maximum_lag=4).flat_map(both)))
        ([0, 1, 2], [0, 1, 2])
        """
        _check_size(n, "broadcast's n")
        _check_size(maximum_lag, "broadcast's maximum_lag")
        return _fanout.broadcast(self._open, n, maximum_lag).map(lambda opens: tuple(Stream(o) for o in opens))

    # --- running ----------------------------------------------------------------------

    def run(self, sink: Sink[A, B]) -> Effect[Any, Any, B]:
        """Run the stream into ``sink`` (see `Sink`), in a scope of its own: its resources
        are released when the sink has its result, however early."""
        if not isinstance(sink, Sink):
            raise TypeError(f"Stream.run expects a Sink, got {type(sink).__name__} {sink!r}")
        return scoped(self._open.flat_map(sink._drive))

    def run_fold(self, initial: B, f: Callable[[B, A], B]) -> Effect[Any, Any, B]:
        """Fold every item into a value (``f(acc, item)``), in a scope of its own."""
        _check_callable(f, "Stream.run_fold")
        return scoped(self._open.flat_map(_sink.fold_left(initial, f)))

    def run_collect(self) -> Effect[Any, Any, list[A]]:
        """All the items, as a list."""
        return scoped(self._open.flat_map(_sink.collect_all))

    def run_drain(self) -> Effect[Any, Any, None]:
        """Run the stream for its effects, dropping the items."""
        return self.run_fold(None, lambda acc, _: None)

    def run_for_each(self, f: Callable[[A], Effect[Any, Any, Any]]) -> Effect[Any, Any, None]:
        """Run ``f(item)`` for each item, in order."""
        return self.run(Sink.for_each(f))

    def __aiter__(self) -> StreamIterator[A]:
        """``async for item in stream``, in asyncio or trio code: see `iterate`, whose
        ``async with`` form releases the stream's resources when the loop is left early."""
        return StreamIterator(self._open)

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
        return StreamIterator(self._open)
