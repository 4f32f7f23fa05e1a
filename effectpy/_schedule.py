"""`Schedule`: when to try again (`Effect.retry`) or run again (`Effect.repeat`).

A schedule is an immutable value, safe to share between concurrent retries: each run starts
from the schedule's initial state. One step takes the state, the input (the error for a
retry, the value for a repeat) and the clock's time, and decides: stop, or continue after a
delay with an output. All delays are slept on the context's `Clock`, so a `TestClock` drives
them exactly.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, Final, NamedTuple, final

from ._core._duration import Duration, to_seconds

__all__ = ["Schedule"]


class Decision(NamedTuple):
    """What a step decided: continue after ``delay`` seconds (with ``output``), or stop."""

    go_on: bool
    delay: float
    output: Any


STOP: Final = Decision(False, 0.0, None)

# step(state, input, now) -> (new state, decision)
Step = Callable[[Any, Any, float], tuple[Any, Decision]]


@final
class Schedule:
    """A recipe for repetition: how many times, and how long to wait between.

    >>> Schedule.exponential(0.1).delays(4)
    [0.1, 0.2, 0.4, 0.8]
    >>> (Schedule.exponential(1) & Schedule.recurs(2)).delays(5)
    [1.0, 2.0]
    >>> (Schedule.spaced(5) | Schedule.exponential(1)).delays(4)
    [1.0, 2.0, 4.0, 5.0]
    """

    __slots__ = ("_initial", "_step", "_name")

    def __init__(self, initial: Callable[[float], Any], step: Step, name: str) -> None:
        # `initial(now)` makes the state for one run; `step` never mutates a state it is given.
        self._initial = initial
        self._step = step
        self._name = name

    def __repr__(self) -> str:
        return f"Schedule.{self._name}"

    # --- constructors ---------------------------------------------------------------

    @staticmethod
    def recurs(n: int) -> Schedule:
        """Continue ``n`` times, without delay; the output is the count so far."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Schedule.recurs expects an int >= 0, got {n!r}")

        def step(count: int, _input: Any, _now: float) -> tuple[Any, Decision]:
            return (count + 1, Decision(True, 0.0, count + 1)) if count < n else (count, STOP)
        return Schedule(lambda now: 0, step, f"recurs({n})")

    @staticmethod
    def forever() -> Schedule:
        """Continue forever, without delay."""
        return Schedule(lambda now: 0, lambda c, i, now: (c + 1, Decision(True, 0.0, c + 1)), "forever()")

    @staticmethod
    def spaced(duration: float | Duration) -> Schedule:
        """Continue forever, waiting ``duration`` each time."""
        d = to_seconds(duration, "Schedule.spaced")
        return Schedule(lambda now: 0, lambda c, i, now: (c + 1, Decision(True, d, c + 1)), f"spaced({d:g})")

    @staticmethod
    def fixed(duration: float | Duration) -> Schedule:
        """Continue forever on a fixed grid of ``duration`` from the first run: a run that
        took longer than the interval is followed at once (runs never pile up)."""
        d = to_seconds(duration, "Schedule.fixed")
        if d == 0:
            raise ValueError("Schedule.fixed needs a positive interval")

        def step(state: tuple[float, int], _input: Any, now: float) -> tuple[Any, Decision]:
            start, taken = state  # taken: the last slot of the grid already used
            behind = (now - start) / d
            if behind >= taken + 1:  # the next slot has passed: run at once, realign
                slot = math.floor(behind)
                return (start, slot), Decision(True, 0.0, slot)
            slot = taken + 1
            return (start, slot), Decision(True, start + slot * d - now, slot)
        return Schedule(lambda now: (now, 0), step, f"fixed({d:g})")

    @staticmethod
    def linear(base: float | Duration) -> Schedule:
        """Delays base, 2*base, 3*base, ..."""
        b = to_seconds(base, "Schedule.linear")
        return Schedule(lambda now: 0, lambda c, i, now: (c + 1, Decision(True, b * (c + 1), c + 1)),
                        f"linear({b:g})")

    @staticmethod
    def exponential(base: float | Duration, factor: float = 2.0) -> Schedule:
        """Delays base, base*factor, base*factor**2, ..."""
        b = to_seconds(base, "Schedule.exponential")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 1:
            raise ValueError(f"Schedule.exponential's factor must be a number >= 1, got {factor!r}")
        def step(c: int, _input: Any, _now: float) -> tuple[Any, Decision]:
            try:
                delay = b * factor ** c
            except OverflowError:  # after ~1,000 steps: "forever", capped by | spaced(...)
                delay = math.inf if b > 0 else 0.0
            return c + 1, Decision(True, delay, c + 1)
        return Schedule(lambda now: 0, step, f"exponential({b:g}, {factor:g})")

    @staticmethod
    def fibonacci(base: float | Duration) -> Schedule:
        """Delays base, base, 2*base, 3*base, 5*base, ..."""
        b = to_seconds(base, "Schedule.fibonacci")

        def step(state: tuple[float, float], _input: Any, _now: float) -> tuple[Any, Decision]:
            a, nxt = state
            return (nxt, a + nxt), Decision(True, a, a)
        return Schedule(lambda now: (b, b), step, f"fibonacci({b:g})")

    # --- combinators ----------------------------------------------------------------

    def __or__(self, other: Schedule) -> Schedule:
        """Union: continue while either continues, with the shorter delay."""
        return _both(self, other, any_=True)

    def __and__(self, other: Schedule) -> Schedule:
        """Intersection: continue while both continue, with the longer delay."""
        return _both(self, other, any_=False)

    def and_then(self, other: Schedule) -> Schedule:
        """Run this schedule to its end, then ``other``."""
        _check_schedule(other, "and_then")

        def initial(now: float) -> Any:
            return (False, self._initial(now))

        def step(state: tuple[bool, Any], value: Any, now: float) -> tuple[Any, Decision]:
            second, inner = state
            if not second:
                inner2, d = self._step(inner, value, now)
                if d.go_on:
                    return (False, inner2), d
                inner = other._initial(now)
            inner2, d = other._step(inner, value, now)
            return (True, inner2), d
        return Schedule(initial, step, f"{self._name}.and_then({other._name})")

    def up_to(self, duration: float | Duration) -> Schedule:
        """Stop once ``duration`` has passed since the first run."""
        limit = to_seconds(duration, "Schedule.up_to")

        def step(state: tuple[float, Any], value: Any, now: float) -> tuple[Any, Decision]:
            start, inner = state
            inner2, d = self._step(inner, value, now)
            if not d.go_on or now - start >= limit:
                return (start, inner2), STOP
            return (start, inner2), d
        return Schedule(lambda now: (now, self._initial(now)), step, f"{self._name}.up_to({limit:g})")

    def while_input(self, predicate: Callable[[Any], bool]) -> Schedule:
        """Continue only while ``predicate(input)`` holds (the error, for a retry)."""
        _check_fn(predicate, "while_input")

        def step(state: Any, value: Any, now: float) -> tuple[Any, Decision]:
            return (state, STOP) if not predicate(value) else self._step(state, value, now)
        return Schedule(self._initial, step, f"{self._name}.while_input(...)")

    def while_output(self, predicate: Callable[[Any], bool]) -> Schedule:
        """Continue only while ``predicate(output)`` holds."""
        _check_fn(predicate, "while_output")

        def step(state: Any, value: Any, now: float) -> tuple[Any, Decision]:
            state2, d = self._step(state, value, now)
            return (state2, d) if d.go_on and predicate(d.output) else (state2, STOP)
        return Schedule(self._initial, step, f"{self._name}.while_output(...)")

    def jittered(self, min: float = 0.8, max: float = 1.2, *, seed: int | None = None) -> Schedule:  # noqa: A002
        """Multiply each delay by a random factor in [min, max]; with ``seed``, every run
        draws the same factors (reproducible tests)."""
        if not 0 <= min <= max:
            raise ValueError(f"jittered expects 0 <= min <= max, got min={min!r}, max={max!r}")

        def initial(now: float) -> Any:
            return (random.Random(seed), self._initial(now))

        def step(state: tuple[random.Random, Any], value: Any, now: float) -> tuple[Any, Decision]:
            rng, inner = state
            inner2, d = self._step(inner, value, now)
            if not d.go_on:
                return (rng, inner2), d
            return (rng, inner2), Decision(True, d.delay * rng.uniform(min, max), d.output)
        return Schedule(initial, step, f"{self._name}.jittered({min:g}, {max:g})")

    # --- inspection -----------------------------------------------------------------

    def delays(self, limit: int = 10, inputs: Any = None) -> list[float]:
        """The first delays this schedule decides (at most ``limit``), each step's input
        being ``inputs`` and time moving by exactly the delays (as on a TestClock)."""
        now = 0.0
        state = self._initial(now)
        out: list[float] = []
        while len(out) < limit:
            state, d = self._step(state, inputs, now)
            if not d.go_on:
                break
            out.append(round(d.delay, 12))
            now += d.delay
        return out


def _check_schedule(other: object, where: str) -> None:
    if not isinstance(other, Schedule):
        raise TypeError(f"{where} expects a Schedule, got {type(other).__name__} {other!r}")


def _check_fn(fn: object, where: str) -> None:
    if not callable(fn):
        raise TypeError(f"{where} expects a function, got {type(fn).__name__} {fn!r}")


def _both(a: Schedule, b: Schedule, *, any_: bool) -> Schedule:
    _check_schedule(b, "| and &")

    def initial(now: float) -> Any:
        return (a._initial(now), b._initial(now))

    def step(state: tuple[Any, Any], value: Any, now: float) -> tuple[Any, Decision]:
        sa, sb = state
        sa2, da = a._step(sa, value, now)
        sb2, db = b._step(sb, value, now)
        going = [d for d in (da, db) if d.go_on]
        if (any_ and not going) or (not any_ and len(going) < 2):
            return (sa2, sb2), STOP
        delay = min(d.delay for d in going) if any_ else max(d.delay for d in going)
        return (sa2, sb2), Decision(True, delay, (da.output, db.output))
    op = "|" if any_ else "&"
    return Schedule(initial, step, f"({a._name} {op} {b._name})")
