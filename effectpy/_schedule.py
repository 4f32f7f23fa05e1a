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
from typing import TYPE_CHECKING, Any, Final, NamedTuple, final

from ._core._duration import Duration, to_seconds
from ._core._effect import lift

if TYPE_CHECKING:
    from ._core._effect import Effect

__all__ = ["Schedule"]


class Decision(NamedTuple):
    """What a step decided: continue after ``delay`` seconds, or stop; either way with the
    step's ``output`` (what `Effect.repeat` succeeds with when the schedule stops, as in ZIO
    and Effect-TS), and the effects `tap_output` asks the driver to run first."""

    go_on: bool
    delay: float
    output: Any
    taps: tuple[Effect[Any, Any, Any], ...] = ()


# step(state, input, now) -> (new state, decision)
Step = Callable[[Any, Any, float], tuple[Any, Decision]]

# How close (in intervals) a time must be to a grid point of `fixed` / `windowed` to be on it:
# float sums of delays drift by a few ulps, which must not make a slot look missed.
_ON_GRID: Final = 1e-9


@final
class Schedule:
    """A recipe for repetition: how many times, and how long to wait between.

    Each step also has an output: a count of recurrences so far (0, 1, 2, ...) for the
    counting schedules, the delay (a `Duration`) for `linear`, `exponential` and
    `fibonacci`, and what the combinators make of their parts; `Effect.repeat` succeeds
    with the output of the step that stopped.

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
        """Continue ``n`` times, without delay. The output is the count of recurrences so
        far: 0, 1, ..., n - 1, then n as it stops (so ``repeat(recurs(n))`` succeeds with
        ``n``, even with ``n == 0``).

        >>> import effectpy
        >>> effectpy.run(effectpy.succeed("x").repeat(Schedule.recurs(0)))
        0
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"Schedule.recurs expects an int >= 0, got {n!r}")

        def step(count: int, _input: Any, _now: float) -> tuple[Any, Decision]:
            return count + 1, Decision(count < n, 0.0, count)
        return Schedule(_zero, step, f"recurs({n})")

    @staticmethod
    def once() -> Schedule:
        """Continue once, without delay; the output is None."""
        return Schedule(_zero, lambda c, i, now: (c + 1, Decision(c < 1, 0.0, None)), "once()")

    @staticmethod
    def forever() -> Schedule:
        """Continue forever, without delay; the output counts the recurrences (0, 1, ...)."""
        return Schedule(_zero, _count_step(0.0), "forever()")

    @staticmethod
    def spaced(duration: float | Duration) -> Schedule:
        """Continue forever, waiting ``duration`` each time."""
        d = to_seconds(duration, "Schedule.spaced")
        return Schedule(_zero, _count_step(d), f"spaced({d:g})")

    @staticmethod
    def fixed(duration: float | Duration) -> Schedule:
        """Continue forever on a fixed grid of ``duration`` from the first run: a run that
        took longer than the interval is followed at once (runs never pile up). A slot
        proposed at a step that was not taken (a union with another schedule ran sooner)
        is proposed again, as in ZIO.

        >>> Schedule.fixed(10).delays(3)
        [10.0, 10.0, 10.0]
        """
        d = _positive(duration, "Schedule.fixed")

        def step(state: tuple[float, int, int], _input: Any, now: float) -> tuple[Any, Decision]:
            start, slot, n = state  # slot: the grid slot last proposed (0: the first run's)
            behind = (now - start) / d
            if behind < slot - _ON_GRID:  # its time has not come: it was not used; again
                return (start, slot, n + 1), Decision(True, start + slot * d - now, n)
            if behind >= slot + 1 - _ON_GRID:  # the next slot has passed: run at once, realign
                slot = math.floor(behind + _ON_GRID)
                return (start, slot, n + 1), Decision(True, 0.0, n)
            slot += 1
            return (start, slot, n + 1), Decision(True, max(0.0, start + slot * d - now), n)
        return Schedule(lambda now: (now, 0, 0), step, f"fixed({d:g})")

    @staticmethod
    def windowed(duration: float | Duration) -> Schedule:
        """Divide time into windows of ``duration`` from the first step (the first
        recurrence waits one whole window) and continue forever, each time at the start of
        the next window: a run that spans windows waits for the next boundary (compare
        `fixed`, which runs a late slot at once). The output counts the recurrences.

        >>> Schedule.windowed(10).delays(3)
        [10.0, 10.0, 10.0]
        """
        d = _positive(duration, "Schedule.windowed")

        def step(state: tuple[float | None, int], _input: Any, now: float) -> tuple[Any, Decision]:
            start, n = state
            if start is None:
                return (now, n + 1), Decision(True, d, n)
            boundary = start + (math.floor((now - start) / d + _ON_GRID) + 1) * d
            return (start, n + 1), Decision(True, boundary - now, n)
        return Schedule(lambda now: (None, 0), step, f"windowed({d:g})")

    @staticmethod
    def linear(base: float | Duration) -> Schedule:
        """Delays base, 2*base, 3*base, ...; the output is the delay, a `Duration`."""
        b = to_seconds(base, "Schedule.linear")
        return Schedule(_zero, lambda c, i, now: (c + 1, _delay_decision(b * (c + 1))),
                        f"linear({b:g})")

    @staticmethod
    def exponential(base: float | Duration, factor: float = 2.0) -> Schedule:
        """Delays base, base*factor, base*factor**2, ...; the output is the delay, a `Duration`."""
        b = to_seconds(base, "Schedule.exponential")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or factor < 1:
            raise ValueError(f"Schedule.exponential's factor must be a number >= 1, got {factor!r}")
        def step(c: int, _input: Any, _now: float) -> tuple[Any, Decision]:
            try:
                delay = b * factor ** c
            except OverflowError:  # after ~1,000 steps: "forever", capped by | spaced(...)
                delay = math.inf if b > 0 else 0.0
            return c + 1, _delay_decision(delay)
        return Schedule(_zero, step, f"exponential({b:g}, {factor:g})")

    @staticmethod
    def fibonacci(base: float | Duration) -> Schedule:
        """Delays base, base, 2*base, 3*base, 5*base, ...; the output is the delay, a `Duration`."""
        b = to_seconds(base, "Schedule.fibonacci")

        def step(state: tuple[float, float], _input: Any, _now: float) -> tuple[Any, Decision]:
            a, nxt = state
            return (nxt, a + nxt), _delay_decision(a)
        return Schedule(lambda now: (b, b), step, f"fibonacci({b:g})")

    @staticmethod
    def elapsed() -> Schedule:
        """Continue forever, without delay; the output is the time since the first step,
        a `Duration` (``Duration.seconds(0)`` at the first)."""
        def step(start: float | None, _input: Any, now: float) -> tuple[Any, Decision]:
            if start is None:
                start = now
            return start, Decision(True, 0.0, Duration(max(0.0, now - start)))
        return Schedule(lambda now: None, step, "elapsed()")

    @staticmethod
    def recur_while(predicate: Callable[[Any], bool]) -> Schedule:
        """Continue, without delay, while ``predicate(input)`` holds; the output is the
        input (so ``repeat`` succeeds with the first value that fails the predicate)."""
        _check_fn(predicate, "Schedule.recur_while")
        return Schedule(_zero, _input_step(predicate, True), "recur_while(...)")

    @staticmethod
    def recur_until(predicate: Callable[[Any], bool]) -> Schedule:
        """Continue, without delay, until ``predicate(input)`` holds; the output is the input."""
        _check_fn(predicate, "Schedule.recur_until")
        return Schedule(_zero, _input_step(predicate, False), "recur_until(...)")

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
            taps: tuple[Effect[Any, Any, Any], ...] = ()
            if not second:
                inner2, d = self._step(inner, value, now)
                if d.go_on:
                    return (False, inner2), d
                taps = d.taps
                inner = other._initial(now)
            inner2, d = other._step(inner, value, now)
            return (True, inner2), d._replace(taps=taps + d.taps) if taps else d
        return Schedule(initial, step, f"{self._name}.and_then({other._name})")

    def up_to(self, duration: float | Duration) -> Schedule:
        """Stop once ``duration`` has passed since the first run."""
        limit = to_seconds(duration, "Schedule.up_to")

        def step(state: tuple[float, Any], value: Any, now: float) -> tuple[Any, Decision]:
            start, inner = state
            inner2, d = self._step(inner, value, now)
            if d.go_on and now - start >= limit:
                d = _stopped(d)
            return (start, inner2), d
        return Schedule(lambda now: (now, self._initial(now)), step, f"{self._name}.up_to({limit:g})")

    def while_input(self, predicate: Callable[[Any], bool]) -> Schedule:
        """Continue only while ``predicate(input)`` holds (the error, for a retry)."""
        _check_fn(predicate, "while_input")

        def step(state: Any, value: Any, now: float) -> tuple[Any, Decision]:
            state2, d = self._step(state, value, now)
            return state2, d if not d.go_on or predicate(value) else _stopped(d)
        return Schedule(self._initial, step, f"{self._name}.while_input(...)")

    def while_output(self, predicate: Callable[[Any], bool]) -> Schedule:
        """Continue only while ``predicate(output)`` holds."""
        _check_fn(predicate, "while_output")

        def step(state: Any, value: Any, now: float) -> tuple[Any, Decision]:
            state2, d = self._step(state, value, now)
            return state2, d if not d.go_on or predicate(d.output) else _stopped(d)
        return Schedule(self._initial, step, f"{self._name}.while_output(...)")

    def jittered(self, min: float = 0.8, max: float = 1.2, *, seed: int | None = None) -> Schedule:  # noqa: A002
        """Multiply each delay by a random factor in [min, max]; with ``seed``, every run
        draws the same factors (reproducible tests)."""
        for bound in (min, max):
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                raise TypeError(f"jittered expects numbers, got {type(bound).__name__} {bound!r}")
        if not 0 <= min <= max:
            raise ValueError(f"jittered expects 0 <= min <= max, got min={min!r}, max={max!r}")

        def initial(now: float) -> Any:
            return (random.Random(seed), self._initial(now))

        def step(state: tuple[random.Random, Any], value: Any, now: float) -> tuple[Any, Decision]:
            rng, inner = state
            inner2, d = self._step(inner, value, now)
            if not d.go_on:
                return (rng, inner2), d
            return (rng, inner2), d._replace(delay=d.delay * rng.uniform(min, max))
        return Schedule(initial, step, f"{self._name}.jittered({min:g}, {max:g})")

    def reset_after(self, duration: float | Duration) -> Schedule:
        """Start again from the initial state at the first step that comes ``duration``
        or more after the schedule (re)started (ZIO's and Effect-TS's ``resetAfter``): an
        ``exponential(1).reset_after(60)`` backoff is back at 1s once a minute has passed."""
        limit = _positive(duration, "Schedule.reset_after")

        def step(state: tuple[float | None, Any], value: Any, now: float) -> tuple[Any, Decision]:
            start, inner = state
            if start is None:
                start = now
            elif now - start >= limit:
                start, inner = now, self._initial(now)
            inner2, d = self._step(inner, value, now)
            return (start, inner2), d
        return Schedule(lambda now: (None, self._initial(now)), step,
                        f"{self._name}.reset_after({limit:g})")

    def tap_output(self, fn: Callable[[Any], object]) -> Schedule:
        """Call ``fn(output)`` at each step (the last one too); if it returns an effect (or a
        coroutine), `retry` / `repeat` run it before they sleep or stop."""
        _check_fn(fn, "tap_output")

        def step(state: Any, value: Any, now: float) -> tuple[Any, Decision]:
            state2, d = self._step(state, value, now)
            out = fn(d.output)
            if out is None:
                return state2, d
            return state2, d._replace(taps=d.taps + (lift(out, "tap_output's function"),))
        return Schedule(self._initial, step, f"{self._name}.tap_output(...)")

    def modify_delay(self, fn: Callable[[Any, float], float | Duration]) -> Schedule:
        """Replace each delay with ``fn(output, delay)`` (the delay in seconds; return a
        number of seconds or a `Duration`).

        >>> Schedule.linear(1).modify_delay(lambda out, d: d * 2).delays(3)
        [2.0, 4.0, 6.0]
        """
        _check_fn(fn, "modify_delay")

        def step(state: Any, value: Any, now: float) -> tuple[Any, Decision]:
            state2, d = self._step(state, value, now)
            if not d.go_on:
                return state2, d
            return state2, d._replace(delay=to_seconds(fn(d.output, d.delay), "modify_delay's function"))
        return Schedule(self._initial, step, f"{self._name}.modify_delay(...)")

    def collect_all(self) -> Schedule:
        """Output the list of every output so far (the stopping step's excepted, as in ZIO).

        >>> import effectpy
        >>> effectpy.run(effectpy.succeed(1).repeat(Schedule.recurs(3).collect_all()))
        [0, 1, 2]
        """
        def step(state: tuple[Any, tuple[Any, ...]], value: Any, now: float) -> tuple[Any, Decision]:
            inner, seen = state
            inner2, d = self._step(inner, value, now)
            if d.go_on:
                seen = seen + (d.output,)
            return (inner2, seen), d._replace(output=list(seen))
        return Schedule(lambda now: (self._initial(now), ()), step, f"{self._name}.collect_all()")

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


def _zero(now: float) -> int:
    return 0


def _count_step(delay: float) -> Step:
    """A step that always continues after ``delay``, counting: outputs 0, 1, 2, ..."""
    def step(count: int, _input: Any, _now: float) -> tuple[Any, Decision]:
        return count + 1, Decision(True, delay, count)
    return step


def _delay_decision(delay: float) -> Decision:
    return Decision(True, delay, Duration(delay))


def _input_step(predicate: Callable[[Any], bool], while_: bool) -> Step:
    """recur_while / recur_until: the output is the input."""
    def step(state: int, value: Any, _now: float) -> tuple[Any, Decision]:
        return state, Decision(bool(predicate(value)) == while_, 0.0, value)
    return step


def _stopped(d: Decision) -> Decision:
    """``d``, turned into a stop (its output and taps kept)."""
    return d._replace(go_on=False, delay=0.0)


def _positive(duration: object, where: str) -> float:
    seconds = to_seconds(duration, where)
    if seconds <= 0:
        raise ValueError(f"{where} expects a duration > 0, got {duration!r}")
    return seconds


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
        output = (da.output, db.output)
        taps = da.taps + db.taps
        going = [d for d in (da, db) if d.go_on]
        if (any_ and not going) or (not any_ and len(going) < 2):
            return (sa2, sb2), Decision(False, 0.0, output, taps)
        delay = min(d.delay for d in going) if any_ else max(d.delay for d in going)
        return (sa2, sb2), Decision(True, delay, output, taps)
    op = "|" if any_ else "&"
    return Schedule(initial, step, f"({a._name} {op} {b._name})")
