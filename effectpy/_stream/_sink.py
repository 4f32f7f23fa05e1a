"""`Sink`: what consumes a stream's items into a result, for `Stream.run`.

A sink drives the pull of a stream opened in a scope of its own (`Stream.run` opens it);
a sink that has what it needs (``head``, ``take``, a ``fold`` whose ``cont`` says stop)
pulls no more, and the run's scope closes at once: upstream's finalizers run then.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar, final

from .._core._effect import Effect, _check_callable, lift, succeed
from .._option import NONE, Option, Some
from ._pull import Chunk, Pull, _suspend

__all__ = ["Sink"]

A = TypeVar("A")
B = TypeVar("B")
S = TypeVar("S")

Drive = Callable[[Pull], Effect[Any, Any, Any]]


def _fold_chunks(initial: Any, step: Callable[[Any, Chunk], Any]) -> Drive:
    """Pull every chunk, ``acc = step(acc, chunk)``; the last ``acc``."""
    def drive(pull: Pull) -> Effect[Any, Any, Any]:
        acc = [initial]

        def got(chunk: Chunk | None) -> Effect[Any, Any, Any]:
            if chunk is None:
                return succeed(acc[0])
            acc[0] = step(acc[0], chunk)
            return again
        again: Effect[Any, Any, Any] = pull.flat_map(got)
        return again
    return drive


def fold_left(initial: Any, f: Callable[[Any, Any], Any]) -> Drive:
    return _fold_chunks(initial, lambda acc, chunk: functools.reduce(f, chunk, acc))


def collect_all(pull: Pull) -> Effect[Any, Any, list[Any]]:
    out: list[Any] = []

    def got(chunk: Chunk | None) -> Effect[Any, Any, list[Any]]:
        if chunk is None:
            return succeed(out)
        out.extend(chunk)
        return again
    again: Effect[Any, Any, list[Any]] = pull.flat_map(got)
    return again


def _add_up(total: Any, chunk: Chunk) -> Any:
    for x in chunk:
        total = total + x
    return total


@final
class Sink(Generic[A, B]):
    """Consumes the items of a stream into a result of type ``B``: run it with
    `Stream.run`. Sinks that need only part of the stream stop pulling when they have it,
    and the stream's resources are released then.

    >>> import effectpy
    >>> from effectpy import Stream
    >>> effectpy.run(Stream.range(1, 5).run(Sink.sum()))
    10
    >>> effectpy.run(Stream.range(10**9).run(Sink.fold(0, lambda acc: acc < 10, lambda acc, x: acc + x)))
    10
    """

    __slots__ = ("_drive", "_name")

    def __init__(self, drive: Callable[[Pull], Effect[Any, Any, B]], name: str) -> None:
        """Low level: ``drive(pull)`` pulls what it needs and succeeds with the result."""
        self._drive = drive
        self._name = name

    def __repr__(self) -> str:
        return f"Sink.{self._name}"

    @staticmethod
    def collect_all() -> Sink[A, list[A]]:
        """Every item, in a list."""
        return Sink(collect_all, "collect_all()")

    @staticmethod
    def fold(initial: S, cont: Callable[[S], bool], f: Callable[[S, A], S]) -> Sink[A, S]:
        """``acc = f(acc, item)`` for each item while ``cont(acc)`` holds (checked before
        each item, so ``cont(initial)`` False pulls nothing); the last ``acc``."""
        _check_callable(cont, "Sink.fold's cont")
        _check_callable(f, "Sink.fold's function")

        def drive(pull: Pull) -> Effect[Any, Any, S]:
            acc = [initial]

            def got(chunk: Chunk | None) -> Effect[Any, Any, S]:
                if chunk is None:
                    return succeed(acc[0])
                value = acc[0]
                for x in chunk:
                    value = f(value, x)
                    if not cont(value):
                        return succeed(value)
                acc[0] = value
                return again
            again: Effect[Any, Any, S] = pull.flat_map(got)
            return _suspend(lambda: again if cont(initial) else succeed(initial))
        return Sink(drive, "fold(...)")

    @staticmethod
    def head() -> Sink[A, Option[A]]:
        """``Some(first item)``, or ``NONE`` for an empty stream; pulls one chunk."""
        return Sink(lambda pull: pull.map(lambda chunk: NONE if chunk is None else Some(chunk[0])), "head()")

    @staticmethod
    def last() -> Sink[A, Option[A]]:
        """``Some(last item)``, or ``NONE`` for an empty stream."""
        return Sink(_fold_chunks(NONE, lambda _acc, chunk: Some(chunk[-1])), "last()")

    @staticmethod
    def count() -> Sink[Any, int]:
        """How many items there are."""
        return Sink(_fold_chunks(0, lambda n, chunk: n + len(chunk)), "count()")

    @staticmethod
    def sum() -> Sink[Any, Any]:
        """The sum of the items (0 for an empty stream), added with ``+``."""
        return Sink(_fold_chunks(0, _add_up), "sum()")

    @staticmethod
    def take(n: int) -> Sink[A, list[A]]:
        """The first ``n`` items, in a list (fewer if the stream ends first); pulls no
        more once it has them."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Sink.take expects an int >= 0, got {n!r}")

        def drive(pull: Pull) -> Effect[Any, Any, list[A]]:
            out: list[A] = []

            def got(chunk: Chunk | None) -> Effect[Any, Any, list[A]]:
                if chunk is None:
                    return succeed(out)
                out.extend(chunk[: n - len(out)])
                return succeed(out) if len(out) >= n else again
            again: Effect[Any, Any, list[A]] = pull.flat_map(got)
            return again if n else succeed(out)
        return Sink(drive, f"take({n})")

    @staticmethod
    def for_each(f: Callable[[A], Effect[Any, Any, Any]]) -> Sink[A, None]:
        """Run ``f(item)`` for each item, in order, one at a time."""
        _check_callable(f, "Sink.for_each")

        def drive(pull: Pull) -> Effect[Any, Any, None]:
            pending: deque[Any] = deque()

            def step(_: Any = None) -> Effect[Any, Any, None]:
                if pending:
                    return lift(f(pending.popleft()), "Sink.for_each's function").flat_map(step)
                return pull.flat_map(refill)

            def refill(chunk: Chunk | None) -> Effect[Any, Any, None]:
                if chunk is None:
                    return succeed(None)
                pending.extend(chunk)
                return step()
            return _suspend(step)
        return Sink(drive, "for_each(...)")
