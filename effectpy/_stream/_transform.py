"""Stages that transform one upstream, pulled in the consumer's fiber: ``map``, ``filter``,
``map_effect``, ``take``, ``drop``, ``grouped``, ``scan``, ``sliding`` ..."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final

from .._core._effect import Effect, lift, succeed, with_fiber
from ._pull import _NONE, Chunk, Open, Pull, _Sub, _open_sub, _suspend

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
        return _suspend(next_item)
    return via(open_, wrap)


def stopping(upstream: Open, make: Callable[[_Sub], Pull]) -> Open:
    """A stage that may stop pulling ``upstream`` before its end: ``make(sub)`` makes its
    pull, which ends upstream with ``sub.close()`` when it stops."""
    return with_fiber(lambda fiber: _open_sub(upstream, fiber.current_scope()).map(make))


def _ended(sub: _Sub) -> Effect[Any, Any, None]:
    """Close ``sub`` (upstream is not pulled again), and succeed with the end."""
    return sub.close().as_(None)


def take(upstream: Open, n: int) -> Open:
    if n == 0:
        return succeed(_NONE)  # upstream is not even opened

    def make(sub: _Sub) -> Pull:
        left = [n]

        def cut(chunk: Chunk | None) -> Chunk | None:
            if chunk is None:
                return None
            chunk = chunk[: left[0]]
            left[0] -= len(chunk)
            return chunk
        return _suspend(lambda: sub.pull.map(cut) if left[0] > 0 else _ended(sub))
    return stopping(upstream, make)


def _cut_where(upstream: Open, predicate: Callable[[Any], bool], keep_last: bool) -> Open:
    """Items until the first for which ``predicate`` holds (with it if ``keep_last``)."""
    def make(sub: _Sub) -> Pull:
        done = [False]

        def cut(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
            if chunk is None:
                return _NONE
            for i, x in enumerate(chunk):
                if predicate(x):
                    done[0] = True
                    head = chunk[:i + 1] if keep_last else chunk[:i]
                    return succeed(head) if head else _ended(sub)
            return succeed(chunk)
        return _suspend(lambda: _ended(sub) if done[0] else sub.pull.flat_map(cut))
    return stopping(upstream, make)


def take_while(upstream: Open, predicate: Callable[[Any], bool]) -> Open:
    return _cut_where(upstream, lambda x: not predicate(x), keep_last=False)


def take_until(upstream: Open, predicate: Callable[[Any], bool]) -> Open:
    return _cut_where(upstream, predicate, keep_last=True)


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
        return _suspend(fill)
    return via(open_, wrap)


def drop_while(upstream: Open, predicate: Callable[[Any], bool]) -> Open:
    def wrap(pull: Pull) -> Pull:
        dropping = [True]

        def skip(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
            if chunk is None:
                return _NONE
            for i, x in enumerate(chunk):
                if not predicate(x):
                    dropping[0] = False
                    return succeed(chunk[i:])
            return again
        again: Pull = pull.flat_map(skip)
        return _suspend(lambda: again if dropping[0] else pull)
    return via(upstream, wrap)


def scan(upstream: Open, initial: Any, f: Callable[[Any, Any], Any]) -> Open:
    def wrap(pull: Pull) -> Pull:
        state = [initial]
        started = [False]

        def step(chunk: Chunk | None) -> Chunk | None:
            if chunk is None:
                return None
            acc = state[0]
            out = []
            for x in chunk:
                acc = f(acc, x)
                out.append(acc)
            state[0] = acc
            return out

        def pull_() -> Effect[Any, Any, Chunk | None]:
            if not started[0]:
                started[0] = True
                return succeed([initial])
            return pull.map(step)
        return _suspend(pull_)
    return via(upstream, wrap)


def zip_with_index(upstream: Open) -> Open:
    def wrap(pull: Pull) -> Pull:
        count = [0]

        def number(chunk: Chunk | None) -> Chunk | None:
            if chunk is None:
                return None
            i = count[0]
            count[0] = i + len(chunk)
            return list(zip(chunk, range(i, i + len(chunk)), strict=True))
        return pull.map(number)
    return via(upstream, wrap)


_NOTHING: Final = object()


def changes(upstream: Open) -> Open:
    def wrap(pull: Pull) -> Pull:
        last = [_NOTHING]

        def keep(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
            if chunk is None:
                return _NONE
            prev = last[0]
            out = []
            for x in chunk:
                if prev is _NOTHING or x != prev:
                    out.append(x)
                prev = x
            last[0] = prev
            return succeed(out) if out else again
        again: Pull = pull.flat_map(keep)
        return again
    return via(upstream, wrap)


def intersperse(upstream: Open, separator: Any) -> Open:
    def wrap(pull: Pull) -> Pull:
        started = [False]

        def spread(chunk: Chunk | None) -> Chunk | None:
            if chunk is None:
                return None
            out = []
            for x in chunk:
                if started[0]:
                    out.append(separator)
                started[0] = True
                out.append(x)
            return out
        return pull.map(spread)
    return via(upstream, wrap)


def sliding(upstream: Open, n: int, step: int) -> Open:
    """Windows of ``n`` items, each starting ``step`` items after the one before (ZIO's
    rule at the end: if no window was full, the items there are, as one window; else the
    items after the last full window's end, if any, with those of the next window's start)."""
    def wrap(pull: Pull) -> Pull:
        buf: Chunk = []  # the items from absolute index `base` on
        base = [0]
        start = [0]  # where the next window starts (absolute)
        last_end = [-1]  # where the last full window ended; -1: none yet
        ended = [False]

        def windows(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
            if chunk is None:
                ended[0] = True
                total = base[0] + len(buf)
                tail_from = 0 if last_end[0] < 0 else start[0]
                if (last_end[0] < 0 or total > last_end[0]) and tail_from < total:
                    return succeed([buf[tail_from - base[0]:]])
                return _NONE
            buf.extend(chunk)
            out = []
            while base[0] + len(buf) - start[0] >= n:
                i = start[0] - base[0]
                out.append(buf[i:i + n])
                last_end[0] = start[0] + n
                start[0] += step
            drop_ = min(start[0], base[0] + len(buf)) - base[0]  # items no window needs
            if drop_ > 0:
                del buf[:drop_]
                base[0] += drop_
            return succeed(out) if out else again
        again: Pull = pull.flat_map(windows)
        return _suspend(lambda: _NONE if ended[0] else again)
    return via(upstream, wrap)
