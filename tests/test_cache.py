"""Effect.cached: memoised for a time-to-live on the Clock, one computation shared by every
caller that comes while it runs (ZIO's and Effect-TS's ``cached``)."""

import pytest

from effectpy import (
    Clock, Context, Deferred, Duration, Fail, Ref, TestClock, fail, never, sleep, succeed, sync,
    zip_par,
)
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import do


def on_clock():
    clock = TestClock()
    return clock, Context().with_service(Clock, clock)


def test_the_value_is_kept_for_the_ttl_then_computed_again():
    clock, env = on_clock()
    calls = Ref(0)
    compute = calls.update_and_get(lambda n: n + 1)

    @do
    def program():
        get = yield compute.cached(Duration.seconds(10))
        first = [(yield get), (yield get)]
        yield clock.adjust(9.5)
        first.append((yield get))
        yield clock.adjust(0.5)  # 10s after the computation started: expired
        second = [(yield get), (yield get)]
        return first, second

    assert run(program.provide(env)) == ([1, 1, 1], [2, 2])


def test_each_run_of_cached_makes_a_new_cache():
    calls = Ref(0)
    make = calls.update_and_get(lambda n: n + 1).cached(60)
    both = make.flat_map(lambda get1: make.flat_map(lambda get2: get1.zip(get2).zip(get1)))
    assert run(both) == ((1, 2), 1)


def test_a_failure_is_kept_too():
    clock, env = on_clock()
    calls = Ref(0)
    failing = calls.update_and_get(lambda n: n + 1).flat_map(lambda n: fail(f"error {n}"))

    @do
    def program():
        get = yield failing.cached(5)
        exits = [(yield get.exit()), (yield get.exit())]
        yield clock.adjust(5)
        exits.append((yield get.exit()))
        return [e.cause for e in exits]

    assert run(program.provide(env)) == [Fail("error 1"), Fail("error 1"), Fail("error 2")]


def test_callers_that_come_while_it_computes_share_the_computation():
    clock, env = on_clock()
    calls = Ref(0)
    slow = calls.update_and_get(lambda n: n + 1).flat_map(lambda n: sleep(5).as_(n))

    @do
    def program():
        get = yield slow.cached(60)
        fibers = []
        for _ in range(3):
            fibers.append((yield get.fork()))
        yield clock.adjust(5)  # once all three have started and wait (TestClock's rule)
        values = []
        for f in fibers:
            values.append((yield f.join()))
        return values, (yield calls.get()), clock.now()

    assert run(program.provide(env)) == ([1, 1, 1], 1, 5.0)


def test_an_interrupted_computation_is_taken_over_by_a_waiting_caller():
    # the caller computing is interrupted: a caller that waited for it computes instead
    # (it is neither interrupted with it nor left waiting forever)
    clock, env = on_clock()
    calls = Ref(0)
    started = Deferred()
    slow = calls.update_and_get(lambda n: n + 1).flat_map(
        lambda n: started.succeed(None).flat_map(lambda _: never) if n == 1 else sleep(5).as_(n))

    @do
    def program():
        get = yield slow.cached(60)
        first = yield get.fork()
        yield started.await_()
        second = yield get.fork()
        yield clock.adjust(1)  # the second caller has started, and waits for the first
        interrupted = yield first.interrupt()
        yield clock.adjust(5)
        return interrupted.is_interrupted(), (yield second.join()), (yield get), (yield calls.get())

    assert run(program.provide(env).timeout(5)) == (True, 2, 2, 2)


def test_the_cached_effect_runs_with_the_context_it_was_made_in():
    clock, env = on_clock()
    calls = Ref(0)
    cached = calls.update_and_get(lambda n: n + 1).cached(10).provide(env)  # made on the TestClock

    @do
    def program():
        get = yield cached
        values = [(yield get)]
        yield clock.adjust(10)  # its ttl is on the clock it was made with
        values.append((yield get))
        return values

    assert run(zip_par(program, succeed(None))) == ([1, 2], None)


def test_bad_ttl_is_rejected_when_built():
    with pytest.raises(ValueError, match="cached expects a non-negative duration, got -1"):
        succeed(1).cached(-1)
    with pytest.raises(TypeError, match="cached expects a number of seconds or a Duration, got str"):
        succeed(1).cached("1m")


def test_a_zero_ttl_computes_each_time():
    calls = Ref(0)
    get_twice = calls.update_and_get(lambda n: n + 1).cached(0).flat_map(lambda get: get.zip(get))
    assert run(get_twice) == (1, 2)
    assert run_exit(sync(lambda: 1 / 0).cached(1).flat_map(lambda get: get)).cause.defects()
