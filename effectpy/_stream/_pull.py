"""What every stage shares: chunks, pulls, the messages of queue-fed stages, and helpers.

A stream's *open* effect runs in the run's scope and succeeds with a *pull*: an effect
that succeeds with the next non-empty chunk (a list), or with None at the end. The stages
here work on open effects and pulls only (never on `Stream` objects), so they import
nothing of the `Stream` class.
"""

from __future__ import annotations

from typing import Any, Final

from .._core._effect import Effect, fail_cause, succeed, suspend, unit
from .._queue import Queue

__all__: list[str] = []

CHUNK: Final = 1024  # how many items a source reads at a time

Chunk = list[Any]
Pull = Effect[Any, Any, "Chunk | None"]
Open = Effect[Any, Any, Pull]

_END: Final = object()  # a queue message: the producer has ended
_NEVER: Final = float("inf")

_NONE: Final[Effect[Any, Any, None]] = succeed(None)


class _Failed:
    """A queue message: the producer failed with ``cause``."""

    __slots__ = ("cause",)

    def __init__(self, cause: Any) -> None:
        self.cause = cause


def _check_size(n: object, where: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{where} must be an int >= 1, got {n!r}")


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
