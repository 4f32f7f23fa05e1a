"""The `Stream` class: what each method checks, and which stage module builds it.

The stages themselves (``_sources``, ``_transform``, ``_concurrent``, ``_time``, ``_run``,
``_iterate``) work on open effects and pulls (see ``_pull``), never on `Stream` objects:
this module wraps what they build.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Generic, TypeVar, final

from .._core._duration import Duration, to_seconds
from .._core._effect import Effect, _check_callable, lift
from .._queue import Queue
from .._resource import acquire_release
from . import _concurrent, _run, _sources, _time, _transform
from ._iterate import StreamIterator
from ._pull import CHUNK, Open, Pull, _check_size

__all__ = ["Stream"]

A = TypeVar("A")
B = TypeVar("B")
S = TypeVar("S")


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
        """A stream of one resource, released when the run ends (however it ends)."""
        return Stream.scoped(acquire_release(acquire, release))

    @staticmethod
    def scoped(effect: Effect[Any, Any, A]) -> Stream[A]:
        """A stream of the one value of ``effect``, whose resources (acquire_release)
        live until the run of the stream ends."""
        return Stream(_sources.scoped(lift(effect, "Stream.scoped")))

    # --- transformations ------------------------------------------------------------

    def _via(self, wrap: Callable[[Pull], Pull]) -> Stream[Any]:
        """A stream whose pull is ``wrap(upstream pull)``, made anew for each run."""
        return Stream(_transform.via(self._open, wrap))

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

    def take(self, n: int) -> Stream[A]:
        """The first ``n`` items; upstream is not pulled once they are there."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Stream.take expects an int >= 0, got {n!r}")
        return Stream(_transform.take(self._open, n))

    def take_while(self, predicate: Callable[[A], bool]) -> Stream[A]:
        _check_callable(predicate, "Stream.take_while")
        return Stream(_transform.take_while(self._open, predicate))

    def drop(self, n: int) -> Stream[A]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Stream.drop expects an int >= 0, got {n!r}")
        return Stream(_transform.drop(self._open, n))

    def grouped(self, n: int) -> Stream[list[A]]:
        """Lists of ``n`` consecutive items (the last may be shorter)."""
        _check_size(n, "grouped's n")
        return Stream(_transform.grouped(self._open, n))

    def buffer(self, n: int) -> Stream[A]:
        """Let upstream run ahead of the consumer, in a fiber of the run's scope (it stops
        when the consumer stops): at most ``n`` items wait in the buffer, and the consumer
        takes what is there (at most ``n``) as one chunk, so upstream is never more than
        ``2 * n`` items (plus the one it is offering) ahead of what downstream has finished."""
        _check_size(n, "buffer's n")
        return Stream(_concurrent.buffer(self._open, n))

    def merge(self, other: Stream[B]) -> Stream[A | B]:
        """The items of both streams, as they come; ends when both have ended; fails (and
        stops the other) as soon as one fails."""
        if not isinstance(other, Stream):
            raise TypeError(f"Stream.merge expects a Stream, got {type(other).__name__}")
        return Stream(_concurrent.merge(self._open, other._open))

    def zip(self, other: Stream[B]) -> Stream[tuple[A, B]]:
        """Pairs of items, one from each stream; ends with the shorter one."""
        if not isinstance(other, Stream):
            raise TypeError(f"Stream.zip expects a Stream, got {type(other).__name__}")
        return Stream(_transform.zip_(self._open, other._open))

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

    # --- running ----------------------------------------------------------------------

    def run_fold(self, initial: B, f: Callable[[B, A], B]) -> Effect[Any, Any, B]:
        """Fold every item into a value (``f(acc, item)``), in a scope of its own."""
        _check_callable(f, "Stream.run_fold")
        return _run.run_fold(self._open, initial, f)

    def run_collect(self) -> Effect[Any, Any, list[A]]:
        """All the items, as a list."""
        return _run.run_collect(self._open)

    def run_drain(self) -> Effect[Any, Any, None]:
        """Run the stream for its effects, dropping the items."""
        return self.run_fold(None, lambda acc, _: None)

    def run_for_each(self, f: Callable[[A], Effect[Any, Any, Any]]) -> Effect[Any, Any, None]:
        """Run ``f(item)`` for each item, in order."""
        return self.map_effect(f).run_drain()

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
