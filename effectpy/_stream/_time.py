"""Stages that keep time, on the Clock of the fiber that runs them (a `TestClock` in
tests): ``throttle``, ``grouped_within``."""

from __future__ import annotations

from typing import Any

from .._core._clock import Clock
from .._core._effect import Effect, fail_cause, sleep, succeed, suspend, sync, with_fiber
from .._core._fiber import Fiber
from .._core._scope import Scope
from .._queue import Queue
from ._concurrent import through_queue
from ._pull import _END, _NONE, Chunk, Open, Pull, _Failed

__all__: list[str] = []


class _Tick:
    """A grouped_within timer message: group ``group``'s time is up."""

    __slots__ = ("group",)

    def __init__(self, group: int) -> None:
        self.group = group


def throttle(upstream: Open, n: int, window: float) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
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
        return upstream.map(wrap)
    return with_fiber(open_)


def grouped_within(upstream: Open, n: int, limit: float) -> Open:
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
                    scope, name="grouped_within timer")
                return timer.flat_map(lambda _: next_message())
            return next_message()

        def flush() -> Effect[Any, Any, Chunk | None]:
            out = [list(group)]
            del group[:]
            current[0] += 1
            return succeed(out)
        return suspend(next_message)

    return through_queue(upstream, n, consume, "grouped_within")
