"""Schedules, retry and repeat, driven exactly by a TestClock."""

import asyncio

import pytest
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture

from effectpy import (
    Clock, Context, Fail, Ref, Schedule, TestClock, attempt, die, fail, never, succeed, sync,
    zip_par,
)
from effectpy.trace import record


def test_constructor_delays():
    assert Schedule.recurs(3).delays() == [0.0, 0.0, 0.0]
    assert Schedule.spaced(2).delays(3) == [2.0, 2.0, 2.0]
    assert Schedule.linear(1).delays(4) == [1.0, 2.0, 3.0, 4.0]
    assert Schedule.exponential(0.5, factor=3).delays(4) == [0.5, 1.5, 4.5, 13.5]
    assert Schedule.fibonacci(1).delays(6) == [1.0, 1.0, 2.0, 3.0, 5.0, 8.0]
    assert Schedule.forever().delays(3) == [0.0, 0.0, 0.0]
    assert Schedule.fixed(10).delays(3) == [10.0, 10.0, 10.0]


def test_combinators():
    assert (Schedule.spaced(5) | Schedule.exponential(1)).delays(5) == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert (Schedule.spaced(5) & Schedule.exponential(1)).delays(5) == [5.0, 5.0, 5.0, 8.0, 16.0]
    assert (Schedule.exponential(1) & Schedule.recurs(3)).delays(10) == [1.0, 2.0, 4.0]
    assert (Schedule.recurs(2) | Schedule.recurs(4)).delays(10) == [0.0] * 4
    assert Schedule.recurs(2).and_then(Schedule.spaced(7)).delays(4) == [0.0, 0.0, 7.0, 7.0]
    assert Schedule.exponential(1).up_to(10).delays(10) == [1.0, 2.0, 4.0, 8.0]  # tries at 0,1,3,7,15
    assert Schedule.spaced(1).up_to(2.5).delays() == [1.0, 1.0, 1.0]
    assert Schedule.forever().up_to(0).delays() == []
    assert Schedule.recurs(10).while_output(lambda n: n < 4).delays() == [0.0, 0.0, 0.0]
    assert Schedule.recurs(10).while_input(lambda e: e != "fatal").delays(inputs="fatal") == []


def test_jitter_is_bounded_and_seedable():
    jittered = Schedule.spaced(10).jittered(0.5, 1.5, seed=7)
    first = jittered.delays(20)
    assert all(5.0 <= d <= 15.0 for d in first) and len(set(first)) > 1
    assert jittered.delays(20) == first  # the same seed gives the same delays on every run


def test_fixed_keeps_to_its_grid_when_a_run_is_slow():
    s = Schedule.fixed(10)
    state = s._initial(0.0)
    state, d1 = s._step(state, None, 3.0)  # the first run took 3s: wait 7s for slot 1
    state, d2 = s._step(state, None, 25.0)  # the next run overran slot 2: go at once
    state, d3 = s._step(state, None, 26.0)  # ...and then back on the grid (slot 3 at 30s)
    assert (d1.delay, d2.delay, d3.delay) == (7.0, 0.0, 4.0)

    def starts(run_time):
        s, now, out = Schedule.fixed(1), 0.0, []
        state = s._initial(now)
        for _ in range(4):
            out.append(round(now, 6))
            now += run_time
            state, d = s._step(state, None, now)
            now += d.delay
        return out

    assert starts(0.999) == [0.0, 1.0, 2.0, 3.0]
    assert starts(1.0) == [0.0, 1.0, 2.0, 3.0]  # exactly one interval: the period does not double
    assert starts(2.5) == [0.0, 2.5, 5.0, 7.5]  # running behind: never pile up, never wait


def test_exponential_does_not_overflow():
    delays = (Schedule.exponential(0.01) | Schedule.spaced(60)).delays(1100)
    assert delays[-1] == 60.0 and len(delays) == 1100
    assert set(Schedule.exponential(0).delays(1100)) == {0.0}  # 0 * factor**n stays 0


def test_zero_delays_need_no_clock():
    clock = TestClock()  # nobody advances it
    env = Context().with_service(Clock, clock)
    tries = Ref(0)
    exit_ = run_exit(tries.update(lambda n: n + 1).flat_map(lambda _: fail("x")).retry(Schedule.recurs(3)).provide(env))
    assert exit_.cause == Fail("x") and run(tries.get()) == 4
    assert run(tries.update(lambda n: n + 1).repeat(Schedule.recurs(2)).provide(env)) == 2
    from effectpy import sleep
    assert run(sleep(0).as_("no wait").provide(env)) == "no wait"


def on_clock(program):
    clock = TestClock()
    env = Context().with_service(Clock, clock)
    exit_, _ = run(zip_par(program.exit(), clock.adjust(1_000)).provide(env))
    return exit_, clock


def test_retry_sleeps_the_schedule_exactly_and_fails_with_the_last_error():
    attempts = []
    clock_box = []

    def once():
        attempts.append(clock_box[0].now())
        return fail(f"error {len(attempts)}")

    clock = TestClock()
    clock_box.append(clock)
    env = Context().with_service(Clock, clock)
    program = sync(lambda: None).flat_map(lambda _: once()).retry(Schedule.exponential(1) & Schedule.recurs(3))
    exit_, _ = run(zip_par(program.exit(), clock.adjust(100)).provide(env))
    assert attempts == [0.0, 1.0, 3.0, 7.0]
    assert exit_.cause == Fail("error 4")


def test_retry_succeeds_when_the_effect_recovers():
    tries = Ref(0)
    flaky = tries.update_and_get(lambda n: n + 1).flat_map(lambda n: fail("down") if n < 3 else succeed(n))
    exit_, clock = on_clock(flaky.retry(Schedule.spaced(2)))
    assert exit_.value == 3 and clock.now() == 1_000


def test_defects_and_interruption_are_never_retried():
    calls = []
    boom = sync(lambda: calls.append(1)).flat_map(lambda _: die(RuntimeError("bug")))
    exit_, _ = on_clock(boom.retry(Schedule.recurs(5)))
    assert calls == [1] and exit_.cause.defects()
    exit2, _ = on_clock(never.retry(Schedule.recurs(5)).timeout(1))
    assert isinstance(exit2.cause.failures()[0], TimeoutError)


def test_retry_or_else_and_repeat():
    exit_, _ = on_clock(fail("x").retry_or_else(Schedule.recurs(2), lambda e, out: succeed((e, out))))
    assert exit_.value == ("x", 2)
    counter = Ref(0)
    exit2, clock = on_clock(counter.update(lambda n: n + 1).repeat(Schedule.spaced(5) & Schedule.recurs(3)))
    assert run(counter.get()) == 4  # the first run and 3 repeats
    assert exit2.value == (3, 3)  # the schedule's last output: (spaced's count, recurs' count)


def test_a_shared_schedule_keeps_separate_state_per_run():
    schedule = Schedule.recurs(2)
    counts = [Ref(0), Ref(0)]
    failing = [c.update(lambda n: n + 1).flat_map(lambda _: fail("no")) for c in counts]
    # either(): each branch ends with its last error, so neither cuts the other short
    exit_, _ = on_clock(zip_par(*[f.retry(schedule).either() for f in failing]))
    assert exit_.is_success()
    assert [run(c.get()) for c in counts] == [3, 3]  # each run: 1 try + 2 retries


def test_retries_are_traced():
    with record() as trace:
        on_clock(fail("flaky").retry(Schedule.spaced(0.5) & Schedule.recurs(2)))
    retries = [e for e in trace.events if e.kind == "retry"]
    assert [(e.data["attempt"], e.data["delay"], e.data["error"]) for e in retries] == [
        (1, 0.5, "'flaky'"), (2, 0.5, "'flaky'")]


def test_bad_input():
    with pytest.raises(ValueError):
        Schedule.recurs(-1)
    with pytest.raises(ValueError):
        Schedule.exponential(1, factor=0.5)
    with pytest.raises(ValueError):
        Schedule.spaced(-1)
    with pytest.raises(TypeError):
        succeed(1).retry(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Schedule.recurs(1) | 3  # type: ignore[operator]
    with pytest.raises(ValueError):
        Schedule.spaced(1).jittered(2, 1)


def test_attempt_retry_example():
    tries = []
    flaky = attempt(lambda: tries.append(1) or (len(tries) < 3 and 1 / 0) or "ok")
    assert asyncio.run(flaky.retry(Schedule.recurs(5))._run()) == "ok"
