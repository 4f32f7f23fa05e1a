"""Stages that transform one upstream, pulled in the consumer's fiber: ``map``, ``filter``,
``map_effect``, ``take``, ``drop``, ``grouped`` ..."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from .._core._effect import Effect, lift, succeed, suspend
from ._pull import _NONE, Chunk, Open, Pull

__all__: list[str] = []


def via(open_: Open, wrap: Callable[[Pull], Pull]) -> Open:
    """The open effect of a stream whose pull is ``wrap(upstream pull)``, made anew for
    each run."""
    return open_.map(wrap)


def map_(open_: Open, f: Callable[[Any], Any]) -> Open:
    return via(open_, lambda pull: pull.map(lambda c: None if c is None else [f(x) for x in c]))


def filter_(open_: Open, predicate: Callable[[Any], bool]) -> Open:
    def wrap(pull: Pull) -> Pull:
        def keep(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
            if chunk is None:
                return _NONE
            kept = [x for x in chunk if predicate(x)]
            return succeed(kept) if kept else again  # never hand on an empty chunk
        again: Pull = pull.flat_map(keep)
        return again
    return via(open_, wrap)


def map_effect(open_: Open, f: Callable[[Any], Effect[Any, Any, Any]]) -> Open:
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
    return via(open_, wrap)


def take(open_: Open, n: int) -> Open:
    def wrap(pull: Pull) -> Pull:
        left = [n]

        def cut(chunk: Chunk | None) -> Chunk | None:
            if chunk is None:
                return None
            chunk = chunk[: left[0]]
            left[0] -= len(chunk)
            return chunk or None
        return suspend(lambda: _NONE if left[0] <= 0 else pull.map(cut))
    return via(open_, wrap)


def take_while(open_: Open, predicate: Callable[[Any], bool]) -> Open:
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
    return via(open_, wrap)


def drop(open_: Open, n: int) -> Open:
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
    return via(open_, wrap)


def grouped(open_: Open, n: int) -> Open:
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
    return via(open_, wrap)


def zip_(left: Open, right: Open) -> Open:
    def open_() -> Open:
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
        return left.zip(right).map(both)
    return suspend(open_)
