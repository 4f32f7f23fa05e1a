"""Schedules, retry and repeat, driven exactly by a TestClock."""

import asyncio

import pytest
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture

from effectpy import (
    Clock, Context, Duration, Fail, Ref, Schedule, TestClock, attempt, die, fail, never, sleep, succeed, sync,
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
    assert Schedule.recurs(10).while_output(lambda n: n < 3).delays() == [0.0, 0.0, 0.0]  # outputs 0, 1, 2
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


# --- ZIO parity: what repeat succeeds with, and fixed within a union ----------------------


def count_runs(schedule):
    """(runs, result) of ``ref.update_and_get(+1).repeat(schedule)``: ZIO's checkRepeat."""
    runs = Ref(0)
    exit_, _ = on_clock(runs.update_and_get(lambda n: n + 1).repeat(schedule))
    return run(runs.get()), exit_.value


def test_repeat_succeeds_with_the_output_of_the_step_that_stopped():
    # ZIO's ScheduleSpec "Repeat on success according to a provided strategy"
    assert count_runs(Schedule.recurs(0)) == (1, 0)
    assert count_runs(Schedule.recurs(1)) == (2, 1)
    assert count_runs(Schedule.recurs(42)) == (43, 42)
    assert count_runs(Schedule.once()) == (2, None)
    assert count_runs(Schedule.recur_while(lambda n: n < 10)) == (10, 10)
    assert count_runs(Schedule.recur_until(lambda n: n < 10)) == (1, 1)
    assert count_runs(Schedule.recur_until(lambda n: n == 4)) == (4, 4)
    assert count_runs(Schedule.spaced(5) & Schedule.recurs(3)) == (4, (3, 3))


def test_counting_schedules_count_from_zero():
    outputs = []
    count_runs(Schedule.spaced(1).tap_output(outputs.append) & Schedule.recurs(3))
    assert outputs == [0, 1, 2, 3]
    delays = []
    count_runs(Schedule.exponential(1).tap_output(delays.append) & Schedule.recurs(2))
    assert delays == [Duration.seconds(1), Duration.seconds(2), Duration.seconds(4)]


def test_retry_with_recurs_0_does_not_retry():
    tries = Ref(0)
    always = tries.update_and_get(lambda n: n + 1).flat_map(lambda n: fail(f"Error: {n}"))
    exit_, _ = on_clock(always.retry(Schedule.recurs(0)))
    assert exit_.cause == Fail("Error: 1")
    exit2, _ = on_clock(always.retry(Schedule.once()))
    assert exit2.cause == Fail("Error: 3")  # one retry: tries 2 and 3
    exit3, _ = on_clock(fail("x").retry_or_else(Schedule.recurs(0), lambda e, out: succeed((e, out))))
    assert exit3.value == ("x", 0)


def run_times(effect_of_clock, schedule):
    """The (virtual) times at which ``effect_of_clock(clock)`` ran under ``repeat(schedule)``."""
    clock = TestClock()
    times = []
    program = sync(lambda: times.append(clock.now())).flat_map(lambda _: effect_of_clock(clock))
    env = Context().with_service(Clock, clock)
    exit_, _ = run(zip_par(program.repeat(schedule).exit(), clock.adjust(1_000)).provide(env))
    assert exit_.is_success(), exit_
    return times


def test_fixed_in_a_union_proposes_a_slot_it_did_not_get_again():
    # ZIO runs at 0, 0, 1, 2, 3: the union ran at once at the second step, so slot 1 was
    # not used, and fixed proposes it again
    inputs = iter([True, False, False, False, False])
    schedule = (Schedule.forever().while_input(bool) | Schedule.fixed(1)) & Schedule.recurs(4)
    assert run_times(lambda clock: sync(lambda: next(inputs)), schedule) == [0.0, 0.0, 1.0, 2.0, 3.0]


def test_windowed_waits_for_the_next_window_boundary():
    # ZIO's "windowed" (an instant effect) and Effect-TS's "delays until the nearest window
    # boundary" (each run takes 1.5 windows: the window it ends in is skipped)
    assert run_times(lambda clock: succeed(None), Schedule.windowed(0.1) & Schedule.recurs(4)) == [
        0.0, 0.1, 0.2, 0.30000000000000004, 0.4]
    assert run_times(lambda clock: sleep(1.5), Schedule.windowed(1) & Schedule.recurs(3)) == [
        0.0, 2.5, 4.5, 6.5]


def test_elapsed_outputs_the_time_since_the_first_step():
    outputs = []
    run_times(lambda clock: sleep(2), Schedule.elapsed().tap_output(outputs.append) & Schedule.recurs(3))
    assert outputs == [Duration.seconds(s) for s in (0, 2, 4, 6)]


def test_reset_after_starts_the_schedule_again():
    # ZIO's "Reset after some inactivity": recurs(5) would allow 5 retries, but the 5th try
    # fails only after 10s, which resets the schedule, so the 10th try (which succeeds) comes
    tries = Ref(0)

    def attempt_once(n):
        if n == 5:
            return sleep(10).flat_map(lambda _: fail("Boom"))
        return succeed(n) if n == 10 else fail("Boom")

    flaky = tries.update_and_get(lambda n: n + 1).flat_map(attempt_once)
    exit_, _ = on_clock(flaky.retry(Schedule.recurs(5).reset_after(5)))
    assert exit_.value == 10
    exit2, _ = on_clock(Ref(0).update_and_get(lambda n: n + 1).flat_map(
        lambda n: sleep(10).flat_map(lambda _: fail("Boom")) if n == 5 else fail("Boom"))
        .retry(Schedule.recurs(5)))
    assert exit2.cause == Fail("Boom")  # without reset_after: 6 tries, then the error


def test_tap_output_runs_its_effect_at_every_step():
    # ZIO's "perform log for each recurrence of effect": 4 runs and 4 steps (the last too)
    ref = Ref(0)
    schedule = Schedule.recurs(3).tap_output(lambda _: ref.update(lambda n: n + 1))
    run(ref.update(lambda n: n + 1).repeat(schedule))
    assert run(ref.get()) == 8
    seen = []
    exit_, _ = on_clock(fail("e").retry(Schedule.spaced(1).tap_output(seen.append) & Schedule.recurs(2)))
    assert seen == [0, 1, 2] and exit_.cause == Fail("e")


def test_a_failing_tap_fails_the_retry():
    exit_, _ = on_clock(fail("e").retry(Schedule.recurs(3).tap_output(lambda _: fail("tap failed"))))
    assert exit_.cause == Fail("tap failed")


def test_modify_delay():
    # ZIO's "modified linear delay": each delay doubled
    assert Schedule.linear(0.1).modify_delay(lambda out, d: d * 2).delays(4) == [0.2, 0.4, 0.6, 0.8]
    assert Schedule.spaced(1).modify_delay(lambda n, d: Duration.seconds(n)).delays(3) == [0.0, 1.0, 2.0]
    exit_, _ = on_clock(succeed(1).repeat(Schedule.spaced(1).modify_delay(lambda n, d: -1)))
    assert isinstance(exit_.cause.defects()[0], ValueError)
    assert "modify_delay's function expects a non-negative duration" in str(exit_.cause.defects()[0])


def test_collect_all():
    # ZIO's "Collect all inputs into a list": collectWhile / collectUntil
    assert count_runs(Schedule.recur_while(lambda n: n < 10).collect_all()) == (10, list(range(1, 10)))
    assert count_runs(Schedule.recur_until(lambda n: 1 < n < 10).collect_all()) == (2, [1])
    assert count_runs(Schedule.recurs(0).collect_all()) == (1, [])


def test_retry_and_repeat_while_and_until():
    tries = Ref(0)
    flaky = tries.update_and_get(lambda n: n + 1).flat_map(lambda n: fail(n))
    exit_, _ = on_clock(flaky.retry_while(lambda n: n < 3))
    assert exit_.cause == Fail(3)
    exit2, _ = on_clock(flaky.retry_until(lambda n: n == 7))
    assert exit2.cause == Fail(7)
    recovers = Ref(0).update_and_get(lambda n: n + 1).flat_map(lambda n: fail(n) if n < 3 else succeed("ok"))
    assert on_clock(recovers.retry_while(lambda e: True))[0].value == "ok"
    counter = Ref(0)
    assert run(counter.update_and_get(lambda n: n + 1).repeat_while(lambda n: n < 5)) == 5
    assert run(counter.update_and_get(lambda n: n + 1).repeat_until(lambda n: n % 4 == 0)) == 8
    boom = Ref(0).update_and_get(lambda n: n + 1).flat_map(lambda n: die(RuntimeError("bug")) if n == 2 else succeed(n))
    assert run_exit(boom.repeat_while(lambda n: True)).cause.defects()  # a defect stops it


def test_new_schedules_reject_bad_input():
    for make in (Schedule.windowed, Schedule.fixed, Schedule.spaced(1).reset_after):
        with pytest.raises(ValueError, match="expects a duration > 0, got 0"):
            make(0)
        with pytest.raises(ValueError, match="non-negative duration, got -1"):
            make(-1)
        with pytest.raises(TypeError, match="expects a number of seconds or a Duration, got str"):
            make("1s")
    for bad_fn in (Schedule.recur_while, Schedule.recur_until, Schedule.forever().tap_output,
                   Schedule.forever().modify_delay):
        with pytest.raises(TypeError, match="expects a function, got int 3"):
            bad_fn(3)
    for method in ("retry_while", "retry_until", "repeat_while", "repeat_until"):
        with pytest.raises(TypeError, match=f"{method} expects a function, got int 3"):
            getattr(succeed(1), method)(3)
    with pytest.raises(TypeError, match="jittered expects numbers, got str"):
        Schedule.spaced(1).jittered("0.5")
