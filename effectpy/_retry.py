"""`Effect.retry`, `retry_or_else` and `repeat` (and their `_while` / `_until` forms):
running an effect again on a `Schedule`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ._core._clock import Clock
from ._core._effect import (
    Effect, _check_callable, fail, for_each, lift, sleep, succeed, with_fiber, yield_now,
)
from ._core._nodes import _shaped
from ._core._fiber import Fiber
from ._schedule import Decision, Schedule, _check_schedule

__all__ = ["repeat", "retry", "retry_or_else"]

A = TypeVar("A")
E = TypeVar("E")


def _after_taps(decision: Decision, then: Callable[[], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
    """Run the effects the step's `tap_output`s asked for, then ``then()``."""
    if not decision.taps:
        return then()
    return for_each(decision.taps, lambda tap: tap, discard=True).flat_map(lambda _: then())


def _retrying(effect: Effect[Any, E, A], schedule: Schedule,
              give_up: Callable[[Any, Any], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
    def run(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
        clock = fiber._ctx.get(Clock)
        state = schedule._initial(clock.now())
        attempts = 0

        def on_error(error: Any) -> Effect[Any, Any, Any]:
            nonlocal state, attempts
            attempts += 1
            state, decision = schedule._step(state, error, clock.now())
            if not decision.go_on:
                return _after_taps(decision, lambda: give_up(error, decision.output))
            inst = fiber._runtime.instrument
            if inst is not None:
                inst.emit("retry_scheduled", fiber, attempts, decision.delay, error)
            if decision.delay <= 0:
                return _after_taps(decision, attempt)  # no clock needed (a TestClock nobody advances must not block)
            return _after_taps(decision, lambda: sleep(decision.delay).flat_map(lambda _: attempt()))

        def attempt() -> Effect[Any, Any, Any]:
            # catch_all: only typed failures are retried, never defects or interruption
            return effect.catch_all(on_error)

        return attempt()

    return _shaped(with_fiber(run), "retry", ("effect", effect), ("schedule", schedule))


def retry(effect: Effect[Any, E, A], schedule: Schedule) -> Effect[Any, E, A]:
    _check_schedule(schedule, "retry")
    return _retrying(effect, schedule, lambda error, _output: fail(error))


def retry_or_else(effect: Effect[Any, E, A], schedule: Schedule,
                  or_else: Callable[[Any, Any], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
    _check_schedule(schedule, "retry_or_else")
    _check_callable(or_else, "retry_or_else")
    return _retrying(effect, schedule,
                     lambda error, output: lift(or_else(error, output), "retry_or_else's or_else"))


def repeat(effect: Effect[Any, E, A], schedule: Schedule) -> Effect[Any, E, Any]:
    _check_schedule(schedule, "repeat")

    def run(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
        clock = fiber._ctx.get(Clock)
        state = schedule._initial(clock.now())

        def on_value(value: Any) -> Effect[Any, Any, Any]:
            nonlocal state
            state, decision = schedule._step(state, value, clock.now())
            if not decision.go_on:
                return _after_taps(decision, lambda: succeed(decision.output))
            if decision.delay <= 0:  # let others run between repeats
                return _after_taps(decision, lambda: yield_now.flat_map(lambda _: again()))
            return _after_taps(decision, lambda: sleep(decision.delay).flat_map(lambda _: again()))

        def again() -> Effect[Any, Any, Any]:
            return effect.flat_map(on_value)

        return again()

    return _shaped(with_fiber(run), "repeat", ("effect", effect), ("schedule", schedule))


def _predicate(pred: object, where: str) -> Callable[[Any], bool]:
    _check_callable(pred, where)
    return pred  # type: ignore[return-value]


def retry_while(effect: Effect[Any, E, A], pred: Callable[[Any], bool]) -> Effect[Any, E, A]:
    return retry(effect, Schedule.recur_while(_predicate(pred, "retry_while")))


def retry_until(effect: Effect[Any, E, A], pred: Callable[[Any], bool]) -> Effect[Any, E, A]:
    return retry(effect, Schedule.recur_until(_predicate(pred, "retry_until")))


def repeat_while(effect: Effect[Any, E, A], pred: Callable[[A], bool]) -> Effect[Any, E, A]:
    return repeat(effect, Schedule.recur_while(_predicate(pred, "repeat_while")))


def repeat_until(effect: Effect[Any, E, A], pred: Callable[[A], bool]) -> Effect[Any, E, A]:
    return repeat(effect, Schedule.recur_until(_predicate(pred, "repeat_until")))
