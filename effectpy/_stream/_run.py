"""Running a stream to a value: the loops of ``run_fold`` and ``run_collect``, each over
the pull of a stream opened in a scope of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core._effect import Effect, succeed
from .._resource import scoped
from ._pull import Chunk, Open, Pull

__all__: list[str] = []


def run_fold(open_: Open, initial: Any, f: Callable[[Any, Any], Any]) -> Effect[Any, Any, Any]:
    def loop(pull: Pull) -> Effect[Any, Any, Any]:
        acc = [initial]

        def step(chunk: Chunk | None) -> Effect[Any, Any, Any]:
            if chunk is None:
                return succeed(acc[0])
            value = acc[0]
            for x in chunk:
                value = f(value, x)
            acc[0] = value
            return again
        again: Effect[Any, Any, Any] = pull.flat_map(step)
        return again
    return scoped(open_.flat_map(loop))


def run_collect(open_: Open) -> Effect[Any, Any, list[Any]]:
    def loop(pull: Pull) -> Effect[Any, Any, list[Any]]:
        out: list[Any] = []

        def step(chunk: Chunk | None) -> Effect[Any, Any, list[Any]]:
            if chunk is None:
                return succeed(out)
            out.extend(chunk)
            return again
        again: Effect[Any, Any, list[Any]] = pull.flat_map(step)
        return again
    return scoped(open_.flat_map(loop))
