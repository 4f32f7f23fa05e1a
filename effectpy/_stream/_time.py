"""Stages that keep time, on the Clock of the fiber that opens them (a `TestClock` in
tests): ``throttle``, ``grouped_within``, ``debounce``, ``timeout``."""

from __future__ import annotations

from typing import Any, Final

from .._core._clock import Clock
from .._core._effect import Effect, fail_cause, sleep, succeed, unit, with_fiber
from .._core._fiber import Fiber, internal_name
from .._core._scope import Scope
from .._option import Option, Some
from .._queue import Queue
from ._concurrent import through_queue
from ._pull import _END, _NONE, _NOTHING, Chunk, _Failed, Open, Pull, _Sub, _open_sub, _suspend, _sync
from ._sources import EMPTY
from ._transform import stopping

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
                    return pull.flat_map(lambda c: _NONE if c is None else _sync(
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
            return _suspend(emit)
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
                    scope, name=internal_name("grouped_within timer"))
                return timer.flat_map(lambda _: next_message())
            return next_message()

        def flush() -> Effect[Any, Any, Chunk | None]:
            out = [list(group)]
            del group[:]
            current[0] += 1
            return succeed(out)
        return _suspend(next_message)

    return through_queue(upstream, n, consume, "grouped_within")


_TICK: Final = object()  # a debounce timer message: the deadline may have passed


def debounce(upstream: Open, wait: float) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        clock = fiber._ctx.get(Clock)
        queue: Queue[Any] = Queue(maxsize=2)  # upstream's chunks, then _END / _Failed; and ticks

        def make(sub: _Sub) -> Pull:
            pending = [_NOTHING]  # the last item, not handed on yet
            deadline = [0.0]  # when it may be handed on: `wait` after it came
            timer: list[Fiber[Any, Any] | None] = [None]  # at most one timer runs
            done = [False]

            def check(_: Any = None) -> Effect[Any, Any, None]:
                # the timer: sleep until the deadline (which later items push back), then tick
                left = deadline[0] - clock.now()
                return sleep(left).flat_map(check) if left > 0 else queue.offer(_TICK).unit()

            def start_timer() -> Effect[Any, Any, Chunk | None]:
                def started(f: Fiber[Any, Any]) -> Effect[Any, Any, Chunk | None]:
                    timer[0] = f
                    return pull()
                return check().fork_in(sub.scope, name=internal_name("debounce timer")).flat_map(started)

            def got(msg: Any) -> Effect[Any, Any, Chunk | None]:
                if msg.__class__ is list:
                    pending[0] = msg[-1]
                    deadline[0] = clock.now() + wait
                    return pull() if timer[0] is not None else start_timer()
                if msg is _TICK:
                    timer[0] = None
                    if pending[0] is _NOTHING:
                        return pull()
                    if clock.now() < deadline[0]:  # the tick waited in the queue behind items
                        return start_timer()
                    item, pending[0] = pending[0], _NOTHING
                    return succeed([item])
                if msg is _END:
                    done[0] = True
                    last = pending[0]
                    running = timer[0]
                    stop = unit if running is None else running.interrupt().unit()
                    return stop.as_(None if last is _NOTHING else [last])
                return fail_cause(msg.cause)  # a failure fails at once (ZIO's rule)

            def pull() -> Effect[Any, Any, Chunk | None]:
                return _NONE if done[0] else queue.take().flat_map(got)
            return _suspend(pull)

        def start(sub: _Sub) -> Effect[Any, Any, Pull]:
            def loop() -> Effect[Any, Any, None]:
                return sub.pull.flat_map(lambda chunk: queue.offer(_END if chunk is None else chunk).flat_map(
                    lambda _: unit if chunk is None else loop()))
            producer = loop().catch_all_cause(lambda cause: queue.offer(_Failed(cause)).unit())
            return producer.fork_in(sub.scope, name=internal_name("debounce pump")).as_(make(sub))
        return _open_sub(upstream, fiber.current_scope()).flat_map(start)
    return with_fiber(open_)


def timeout(upstream: Open, seconds: float) -> Open:
    if seconds == 0:
        return EMPTY  # nothing can come in no time: upstream is not even opened

    def make(sub: _Sub) -> Pull:
        done = [False]

        def got(answer: Option[Chunk | None]) -> Effect[Any, Any, Chunk | None]:
            if isinstance(answer, Some) and answer.value is not None:
                return succeed(answer.value)
            done[0] = True  # upstream ended, or was too slow: it is not pulled again
            return _NONE if isinstance(answer, Some) else sub.close().as_(None)
        return _suspend(lambda: _NONE if done[0] else sub.pull.timeout_option(seconds).flat_map(got))
    return stopping(upstream, make)
