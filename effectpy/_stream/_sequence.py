"""Stages that run streams one after another, each in a sub-scope closed before the next
one opens: ``concat``, ``flat_map``, ``catch_all``, ``retry``; and ``ensuring``."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final

from .._core._cause import Exit, Fail
from .._core._clock import Clock
from .._core._effect import Effect, fail, sleep, succeed, unit, with_fiber
from .._core._fiber import Fiber
from .._core._scope import Scope
from .._retry import _after_taps
from .._schedule import Schedule
from ._pull import _NONE, Chunk, Open, Pull, _Sub, _in_scope, _open_sub, _suspend

__all__: list[str] = []


def _one_after_another(parent: Scope, ready: Callable[[], Open | None],
                       more: Effect[Any, Any, bool]) -> Pull:
    """The items of one stream after another, until there are no more: ``ready()`` gives
    the next stream's open effect if there is one at hand (else None), and ``more`` looks
    for more (False: there are none). Each is opened in a `_Sub` of ``parent``, closed when
    it has ended (before the next one opens)."""
    current: list[_Sub | None] = [None]

    def pull() -> Effect[Any, Any, Chunk | None]:
        sub = current[0]
        if sub is not None:
            return sub.pull.flat_map(got)
        open_ = ready()
        if open_ is None:
            return more.flat_map(lambda found: pull() if found else _NONE)
        return _open_sub(open_, parent).flat_map(opened)

    def opened(sub: _Sub) -> Effect[Any, Any, Chunk | None]:
        current[0] = sub
        return sub.pull.flat_map(got)

    def got(chunk: Chunk | None) -> Effect[Any, Any, Chunk | None]:
        if chunk is not None:
            return succeed(chunk)
        ended = current[0]
        assert ended is not None
        current[0] = None
        return ended.close().flat_map(lambda _: pull())
    return _suspend(pull)


_NO_MORE: Final[Effect[Any, Any, bool]] = succeed(False)


def concat(opens: tuple[Open, ...]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        left = deque(opens)
        return succeed(_one_after_another(fiber.current_scope(), lambda: left.popleft() if left else None, _NO_MORE))
    return with_fiber(open_)


def flat_map(upstream: Open, f: Callable[[Any], Open]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        parent = fiber.current_scope()

        def with_outer(outer: Pull) -> Pull:
            items: deque[Any] = deque()
            ended = [False]

            def refill(chunk: Chunk | None) -> bool:
                if chunk is None:
                    ended[0] = True
                    return False
                items.extend(chunk)
                return True
            more = _suspend(lambda: _NO_MORE if ended[0] else outer.map(refill))
            return _one_after_another(parent, lambda: f(items.popleft()) if items else None, more)
        return upstream.map(with_outer)
    return with_fiber(open_)


def catch_all(upstream: Open, handler: Callable[[Any], Open]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        parent = fiber.current_scope()
        current: list[_Sub | None] = [None]
        switched = [False]

        def opened(sub: _Sub) -> Pull:
            current[0] = sub
            return sub.pull

        def recover(error: Any) -> Effect[Any, Any, Chunk | None]:
            failed = current[0]
            switched[0] = True
            closing = unit if failed is None else failed.close(Exit.fail_cause(Fail(error)))
            return closing.flat_map(lambda _: _open_sub(handler(error), parent)).flat_map(opened)

        def pull() -> Effect[Any, Any, Chunk | None]:
            sub = current[0]
            if switched[0]:
                assert sub is not None
                return sub.pull
            first = _open_sub(upstream, parent, recovers=True).flat_map(opened) if sub is None else sub.pull
            return first.catch_all(recover)
        return succeed(_suspend(pull))
    return with_fiber(open_)


def ensuring(upstream: Open, finalizer: Effect[Any, Any, Any]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        sub = _Sub(fiber.current_scope())
        sub.scope.add_finalizer(finalizer)  # the first: it runs after the stream's own
        return _in_scope(upstream, sub.scope).map(lambda pull: _in_scope(pull, sub.scope))
    return with_fiber(open_)


def retry(upstream: Open, schedule: Schedule) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        parent = fiber.current_scope()
        clock = fiber._ctx.get(Clock)
        state = [schedule._initial(clock.now())]
        fresh = [True]  # the state is the initial one (no failure since the last item)
        attempts = [0]
        current: list[_Sub | None] = [None]

        def opened(sub: _Sub) -> Pull:
            current[0] = sub
            return sub.pull

        def got(chunk: Chunk | None) -> Chunk | None:
            if chunk is not None and not fresh[0]:  # an item came through: start over
                state[0] = schedule._initial(clock.now())
                fresh[0] = True
            return chunk

        def on_error(error: Any) -> Effect[Any, Any, Chunk | None]:
            state[0], decision = schedule._step(state[0], error, clock.now())
            fresh[0] = False
            if not decision.go_on:
                return _after_taps(decision, lambda: fail(error))
            attempts[0] += 1
            failed = current[0]
            current[0] = None
            closing = unit if failed is None else failed.close(Exit.fail_cause(Fail(error)))

            def report(puller: Fiber[Any, Any]) -> Effect[Any, Any, None]:
                inst = puller._runtime.instrument
                if inst is not None:
                    inst.emit("retry_scheduled", puller, attempts[0], decision.delay, error)
                return sleep(decision.delay) if decision.delay > 0 else unit
            return _after_taps(decision, lambda: closing).flat_map(
                lambda _: with_fiber(report)).flat_map(lambda _: pull())

        def pull() -> Effect[Any, Any, Chunk | None]:
            sub = current[0]
            first = _open_sub(upstream, parent, recovers=True).flat_map(opened) if sub is None else sub.pull
            return first.map(got).catch_all(on_error)
        return succeed(_suspend(pull))
    return with_fiber(open_)
