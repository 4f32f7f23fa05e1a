"""Streams: lazy, pull-based, chunked; failures fail the stream; resources released once."""

import asyncio
import itertools

import pytest
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture

from effectpy import (
    Clock, Context, Deferred, Fail, Queue, Ref, Stream, TestClock, fail, never, sleep, succeed,
    sync, yield_now, zip_par,
)


def test_building_runs_nothing_and_each_run_starts_over():
    calls = []
    stream = Stream.repeat_effect(sync(lambda: calls.append(1) or len(calls))).take(3)
    assert calls == []
    assert run(stream.run_collect()) == [1, 2, 3]
    assert run(stream.run_collect()) == [4, 5, 6]


def test_infinite_sources_terminate_with_take():
    assert run(Stream.from_iterable(itertools.count()).take(3).run_collect()) == [0, 1, 2]
    assert run(Stream.from_iterable(itertools.count()).take(0).run_collect()) == []


def test_operators():
    s = Stream.range(20)
    assert run(s.map(lambda x: x * 2).filter(lambda x: x % 3 == 0).run_collect()) == [0, 6, 12, 18, 24, 30, 36]
    assert run(s.take_while(lambda x: x < 3).run_collect()) == [0, 1, 2]
    assert run(s.drop(17).run_collect()) == [17, 18, 19]
    assert run(Stream.range(7).grouped(3).run_collect()) == [[0, 1, 2], [3, 4, 5], [6]]
    assert run(Stream.range(3).zip(Stream.range(10, 20)).run_collect()) == [(0, 10), (1, 11), (2, 12)]
    assert sorted(run(Stream.range(3).merge(Stream.range(10, 12)).run_collect())) == [0, 1, 2, 10, 11]
    assert run(s.run_fold(0, lambda a, x: a + x)) == 190
    assert run(Stream.unfold(1, lambda n: (n, n * 3) if n < 100 else None).run_collect()) == [1, 3, 9, 27, 81]
    assert run(Stream.from_effect(succeed("one")).run_collect()) == ["one"]
    seen = []
    assert run(Stream.range(3).tap(lambda x: sync(lambda: seen.append(x))).run_collect()) == [0, 1, 2]
    assert seen == [0, 1, 2]
    assert run(Stream.range(3).map_effect(lambda x: succeed(x + 1)).run_collect()) == [1, 2, 3]
    out = []
    assert run(Stream.range(3).run_for_each(lambda x: sync(lambda: out.append(x)))) is None and out == [0, 1, 2]
    assert run(Stream.range(5).run_drain()) is None


def test_map_par_is_bounded_and_ordered():
    inside = Ref(0)
    peak = []

    def work(x):
        enter = inside.update_and_get(lambda n: n + 1).tap(lambda n: peak.append(n))
        return enter.flat_map(lambda _: yield_now).flat_map(lambda _: inside.update(lambda n: n - 1)).as_(x * 10)

    assert run(Stream.range(12).map_par(3, work).run_collect()) == [x * 10 for x in range(12)]
    assert max(peak) == 3


def test_a_failing_stage_fails_the_stream_never_truncates():
    def boom(x):
        if x == 5:
            raise ValueError("bad item")
        return x

    exit_ = run_exit(Stream.range(10).map(boom).run_collect())
    assert isinstance(exit_.cause.defects()[0], ValueError)
    exit2 = run_exit(Stream.range(10).map_effect(lambda x: fail("nope") if x == 3 else succeed(x)).run_collect())
    assert exit2.cause == Fail("nope")
    exit3 = run_exit(Stream.range(10).buffer(2).map_effect(lambda x: fail("late") if x == 8 else succeed(x)).run_collect())
    assert exit3.cause == Fail("late")


def resource_stream(log):
    return Stream.acquire_release(sync(lambda: log.append("open")).as_("res"),
                                  lambda r, ex: sync(lambda: log.append(f"close {'ok' if ex.is_success() else 'err'}")))


def test_resources_release_exactly_once_on_every_ending():
    log = []
    assert run(resource_stream(log).run_collect()) == ["res"]
    assert log == ["open", "close ok"]
    log.clear()
    assert run(resource_stream(log).zip(Stream.from_iterable(itertools.count())).take(1).run_collect()) == [("res", 0)]
    assert log == ["open", "close ok"]
    log.clear()
    run_exit(resource_stream(log).map_effect(lambda _: fail("x")).run_collect())
    assert log == ["open", "close err"]


def test_consumer_interruption_releases_resources_and_stops_producers():
    log = []
    produced = Ref(0)
    started = Deferred()
    infinite = Stream.repeat_effect(produced.update_and_get(lambda n: n + 1))
    program = (resource_stream(log).zip(infinite).buffer(4)
               .tap(lambda _: started.succeed(None)).map_effect(lambda _: never).run_drain())

    def go(fiber):
        return started.await_().flat_map(lambda _: fiber.interrupt())

    ex = run(program.fork().flat_map(go))
    assert ex.is_interrupted()
    assert log == ["open", "close err"]
    count = run(produced.get())
    assert count <= 2 * 4 + 2  # the producer never ran more than the bound ahead
    assert run(yield_now.flat_map(lambda _: produced.get())) == count  # and it has stopped


def test_buffer_backpressure_bounds_the_producer():
    produced = []
    consumed = []
    gate = Deferred()
    source = Stream.repeat_effect(sync(lambda: produced.append(len(produced)) or len(produced))).take(50)
    program = source.buffer(5).map_effect(
        lambda x: (gate.await_() if x == 1 else succeed(None)).as_(x)).tap(lambda x: sync(lambda: consumed.append(x)))

    def check(_):
        return sync(lambda: len(produced))

    ahead = run(zip_par(program.run_drain(),
                        yield_now.flat_map(lambda _: yield_now).flat_map(lambda _: yield_now)
                        .flat_map(check).flat_map(lambda n: gate.succeed(None).as_(n))))[1]
    assert ahead <= 2 * 5 + 2  # the consumer was stuck on item 1: the producer stopped, bounded
    assert len(consumed) == 50


def test_from_queue_ends_when_the_queue_shuts_down():
    q = Queue()
    feed = q.offer(1).flat_map(lambda _: q.offer(2)).flat_map(lambda _: yield_now).flat_map(lambda _: q.shutdown())
    collected, _ = run(zip_par(Stream.from_queue(q).run_collect(), feed))
    assert collected == [1, 2]


def test_on_a_test_clock_grouped_within_and_throttle():
    clock = TestClock()
    env = Context().with_service(Clock, clock)

    def slow(x):
        return sleep(1).as_(x)  # one item per virtual second

    groups = Stream.range(7).map_effect(slow).grouped_within(10, 2.5)
    exit_, _ = run(zip_par(groups.run_collect().exit(), clock.adjust(100)).provide(env))
    # items at t=1..7; a group closes 2.5s after its first item: [1, 2, 3] at 3.5, [4, 5, 6] at 6.5, [7]
    assert exit_.value == [[0, 1, 2], [3, 4, 5], [6]]

    clock2 = TestClock()
    env2 = Context().with_service(Clock, clock2)
    stamps = []
    throttled = Stream.range(6).throttle(2, 1).tap(lambda _: sync(lambda: stamps.append(clock2.now())))
    run(zip_par(throttled.run_drain(), clock2.adjust(10)).provide(env2))
    assert stamps == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0]


@pytest.mark.asyncio_only
def test_async_for_and_breaking_out_releases():
    log = []

    async def main():
        out = []
        async for item in Stream.range(5):
            out.append(item)
        async for item in resource_stream(log).zip(Stream.from_iterable(itertools.count())):
            assert item == ("res", 0)
            break
        return out

    assert asyncio.run(main()) == [0, 1, 2, 3, 4]
    assert log[0] == "open" and log[1].startswith("close") and len(log) == 2


@pytest.mark.asyncio_only
def test_from_async_iterable_closes_the_generator():
    closed = []

    async def numbers():
        try:
            for i in itertools.count():
                await asyncio.sleep(0)
                yield i
        finally:
            closed.append(True)

    assert run(Stream.from_async_iterable(numbers()).take(3).run_collect()) == [0, 1, 2]
    assert closed == [True]


def test_bad_input():
    with pytest.raises(TypeError):
        Stream.from_iterable(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Stream.range(3).take(-1)
    with pytest.raises(ValueError):
        Stream.range(3).buffer(0)
    with pytest.raises(TypeError):
        Stream.range(3).map(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Stream.range(3).zip([1, 2])  # type: ignore[arg-type]


def test_merge_fails_when_a_side_fails_to_open():
    exit_ = run_exit(Stream.range(3).merge(Stream.scoped(fail("boom"))).run_collect().timeout(5))
    assert exit_.cause == Fail("boom")


@pytest.mark.asyncio_only
def test_merge_stops_its_producers_before_releasing_upstream_resources():
    log = []

    async def slow():
        try:
            yield "first"
            await asyncio.sleep(10)
            yield "never"
        finally:
            log.append("generator closed")

    merged = Stream.from_async_iterable(slow()).merge(Stream.range(3)).take(3)
    exit_ = run_exit(merged.run_collect())
    assert exit_.is_success() and len(exit_.value) == 3
    assert log == ["generator closed"]


def test_throttle_windows_survive_float_rounding():
    clock = TestClock()
    env = Context().with_service(Clock, clock)
    stamps = []
    s = Stream.range(100).throttle(1, 0.3).tap(lambda _: sync(lambda: stamps.append(round(clock.now(), 6)))).take(5)
    run(zip_par(s.run_drain(), clock.adjust(10)).provide(env))
    assert stamps == [0.0, 0.3, 0.6, 0.9, 1.2]
