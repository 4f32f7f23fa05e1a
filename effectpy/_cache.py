"""`Effect.cached`: an effect memoised for a time-to-live on the `Clock`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar

from ._core._cause import Exit
from ._core._clock import Clock
from ._core._duration import Duration, to_seconds
from ._core._effect import Effect, _make, exit_effect, succeed, suspend, uninterruptible_mask, with_fiber
from ._core._nodes import PROVIDE, _shaped
from ._core._fiber import Fiber
from ._deferred import Deferred

__all__ = ["cached"]

A = TypeVar("A")
E = TypeVar("E")


class _Abandoned:
    """What a computation's Deferred holds when the fiber computing was interrupted: the
    callers waiting for it start again (one of them computes)."""

    __slots__ = ()


_ABANDONED: Final = _Abandoned()


def cached(effect: Effect[Any, E, A], ttl: float | Duration) -> Effect[Any, NoReturn, Effect[Any, E, A]]:
    seconds = to_seconds(ttl, "cached")

    def make(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
        ctx = fiber._ctx
        clock: Clock = ctx.get(Clock)
        # Invariant: None, or (deadline, the Deferred of the computation that started at
        # deadline - ttl); it holds the outcome (an Exit) once that computation has ended.
        entry: list[tuple[float, Deferred[Any, Any]] | None] = [None]

        def body(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
            now = clock.now()
            current = entry[0]
            if current is not None and now < current[0]:
                return restore(current[1].await_()).flat_map(outcome)
            done: Deferred[Any, Any] = Deferred()
            entry[0] = (now + seconds, done)

            def computed(exit_: Exit[Any]) -> Effect[Any, Any, Any]:
                if not exit_.is_success() and exit_.cause.is_interrupted_only():
                    # this caller was interrupted while computing: the others start again
                    if entry[0] is not None and entry[0][1] is done:
                        entry[0] = None
                    done._complete(Exit.succeed(_ABANDONED))
                else:
                    done._complete(Exit.succeed(exit_))
                return exit_effect(exit_)
            return restore(effect).exit().flat_map(computed)

        def outcome(value: Any) -> Effect[Any, Any, Any]:
            return get if value is _ABANDONED else exit_effect(value)

        get: Effect[Any, Any, Any] = _make(
            PROVIDE, uninterruptible_mask(lambda restore: suspend(lambda: body(restore))), ctx)
        return succeed(get)

    return _shaped(with_fiber(make), "cached", ("effect", effect), ("ttl", seconds))
