"""TestClock: virtual time that moves when told, once every fiber has suspended."""

import asyncio

import pytest

from effectpy import (
    Clock, Context, Duration, Effect, Failure, Scope, TestClock, TestClockLayer, race, sleep,
    sync, zip_par,
)


def env_for(clock):
    return Context().with_service(Clock, clock)


def test_advance_without_await_right_after_create_task():
    clock = TestClock()

    async def main():
        task = asyncio.create_task(sleep(10).as_("woke")._run(env_for(clock)))
        clock.advance(10)  # the fiber has not even started yet
        return await task

    assert asyncio.run(main()) == "woke"
    assert clock.now() == 10


def test_not_enough_time_does_not_wake():
    clock = TestClock()

    async def main():
        task = asyncio.create_task(sleep(10)._run(env_for(clock)))
        await clock.advance(9.5)
        done_early = task.done()
        await clock.advance(0.5)
        await task
        return done_early

    assert asyncio.run(main()) is False


def test_sleepers_wake_in_deadline_order_each_seeing_its_deadline_as_now():
    clock = TestClock()
    seen = []

    def sleeper(name, seconds):
        return sleep(seconds).flat_map(lambda _: sync(lambda: seen.append((name, clock.now()))))

    async def main():
        task = asyncio.create_task(zip_par(sleeper("c", 3), sleeper("a", 1), sleeper("b", 2))._run(env_for(clock)))
        await clock.advance(5)
        await task

    asyncio.run(main())
    assert seen == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.now() == 5


def test_sleeps_chained_within_one_advance_all_fire():
    clock = TestClock()

    async def main():
        eff = sleep(1).flat_map(lambda _: sleep(1)).flat_map(lambda _: sleep(1)).map(lambda _: clock.now())
        task = asyncio.create_task(eff._run(env_for(clock)))
        await clock.advance(3)
        return await task

    assert asyncio.run(main()) == 3.0


def test_awaiting_advance_waits_until_woken_fibers_suspend_again():
    clock = TestClock()
    log = []

    async def main():
        eff = sleep(1).flat_map(lambda _: sync(lambda: log.append("woke"))).flat_map(lambda _: sleep(100))
        task = asyncio.create_task(eff._run(env_for(clock)))
        await clock.advance(1)
        assert log == ["woke"]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_coroutine_sleep_on_test_clock_and_current_time():
    clock = TestClock()

    async def impl(ctx):
        c = ctx.get(Clock)
        start = await c.current_time()
        await c.sleep(Duration.seconds(2))
        return await c.current_time() - start

    async def main():
        task = asyncio.create_task(Effect(impl)._run(env_for(clock)))
        clock.advance(2)
        return await task

    assert asyncio.run(main()) == 2.0


def test_race_on_test_clock_is_deterministic_and_instant():
    clock = TestClock()

    async def main():
        scope = Scope()
        env = await TestClockLayer(clock).build_scoped(Context(), scope)
        task = asyncio.create_task(race(sleep(1).as_("fast"), sleep(2).as_("slow"))._run(env))
        clock.advance(1.0)
        result = await task
        await scope.close()
        return result, clock.pending_sleeps

    assert asyncio.run(main()) == ("fast", 0)


def test_timeout_on_test_clock():
    clock = TestClock()

    async def main():
        task = asyncio.create_task(sleep(10).timeout(Duration.seconds(5))._run(env_for(clock)))
        clock.advance(6.0)
        with pytest.raises(Failure) as info:
            await task
        return info.value.error

    err = asyncio.run(main())
    assert isinstance(err, TimeoutError)


def test_advance_outside_a_loop_moves_time_at_once():
    clock = TestClock(start=5)
    clock.advance(Duration.millis(1500))
    assert clock.now() == 6.5


def test_bad_input():
    with pytest.raises(ValueError):
        TestClock().advance(-1)
    with pytest.raises(TypeError):
        TestClock("0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TestClockLayer(Clock())  # type: ignore[arg-type]


def test_duration_arithmetic():
    assert Duration.seconds(1) + Duration.millis(500) == Duration.millis(1500)
    assert Duration.minutes(1) > Duration.seconds(59)
    assert Duration.seconds(2) * 3 == Duration.seconds(6)
    assert Duration.seconds(1) - Duration.seconds(3) == Duration.seconds(0)
    assert Duration.hours(1).total_seconds() == 3600
    with pytest.raises(ValueError):
        Duration.seconds(-1)
    with pytest.raises(TypeError):
        Duration.seconds("1")  # type: ignore[arg-type]
