"""Streams: lazy, pull-based, chunked; failures fail the stream; resources released once."""

import asyncio
import contextlib
import itertools

import _backend
import pytest
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture

from effectpy import (
    Clock, Context, Deferred, Fail, Failure, Queue, Ref, Stream, TestClock, acquire_release, fail,
    never, sleep, succeed, sync, yield_now, zip_par,
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


# --- map_par: bounded, ordered, streaming ----------------------------------------------------


@pytest.mark.parametrize("upstream", ["one chunk", "one item per chunk"])
def test_map_par_streams_n_calls_at_a_time_and_hands_each_result_on_when_ready(upstream):
    clock = TestClock()
    env = Context().with_service(Clock, clock)
    durations = [3, 1, 1, 1, 4, 1]
    inside, peak = [0], [0]

    def work(i):
        def enter():
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        return sync(enter).flat_map(lambda _: sleep(durations[i])).flat_map(
            lambda _: sync(lambda: inside.__setitem__(0, inside[0] - 1))).as_(i)

    source = Stream.range(6) if upstream == "one chunk" else Stream.range(6).map_effect(succeed)
    stamped = source.map_par(2, work).map(lambda i: (i, clock.now()))
    out, _ = run(zip_par(stamped.run_collect(), clock.adjust(100)).provide(env))
    # 0 (3 s) and 1 start at t=0; 2 when 1 ends (t=1), 3 at t=2; 0-3 are out at t=3, when 0
    # is done; 4 (4 s) and 5 start then, and are out at t=7
    assert out == [(0, 3.0), (1, 3.0), (2, 3.0), (3, 3.0), (4, 7.0), (5, 7.0)]
    assert peak[0] == 2


def test_map_par_with_take_starts_few_calls():
    started = []

    def charge(x):  # e.g. charge customer x
        return sync(lambda: started.append(x)).as_(x * 10)

    taken = Stream.from_iterable(itertools.count()).map_par(4, charge).take(3)
    assert run(taken.run_collect()) == [0, 10, 20]
    assert len(started) <= 3 + 2 * 4  # not a whole upstream chunk (1,024 items)


def test_map_par_fails_at_the_failed_call_after_the_results_before_it():
    seen = []
    calls = Stream.range(10).map_par(3, lambda x: fail("bad") if x == 4 else succeed(x))
    exit_ = run_exit(calls.run_for_each(lambda x: sync(lambda: seen.append(x))))
    assert exit_.cause == Fail("bad")
    assert seen == [0, 1, 2, 3]

    seen.clear()
    upstream_fails = Stream.range(6).map_effect(lambda x: fail("up") if x == 3 else succeed(x))
    exit2 = run_exit(upstream_fails.map_par(2, succeed).run_for_each(lambda x: sync(lambda: seen.append(x))))
    assert exit2.cause == Fail("up")
    assert seen == [0, 1, 2]

    after = []
    first_fails = Stream.range(1000).map_par(2, lambda x: fail("first") if x == 0 else sync(lambda: after.append(x)))
    assert run_exit(first_fails.run_drain()).cause == Fail("first")
    assert len(after) <= 2  # no call starts once one has failed (n were running at most)


def test_map_par_releases_what_a_call_acquired_when_the_call_ends():
    log = []

    def call(x):
        return acquire_release(sync(lambda: log.append(f"open {x}")), lambda _: sync(lambda: log.append(f"close {x}"))).as_(x)

    def check(x):  # when a result comes out, its call has ended: its resource is released
        return sync(lambda: log.append(("closed already", f"close {x}" in log)))

    run(Stream.range(3).map_par(2, call).run_for_each(check))
    assert [entry for entry in log if isinstance(entry, tuple)] == [("closed already", True)] * 3
    assert sorted(entry for entry in log if isinstance(entry, str)) == [
        "close 0", "close 1", "close 2", "open 0", "open 1", "open 2"]


# --- stages with fibers hand on what came before a failure ------------------------------------


@pytest.mark.parametrize("stage", ["buffer", "merge"])
def test_items_before_an_upstream_failure_are_handed_on_before_it(stage):
    took_1 = Deferred()  # the consumer has item 1: item 2 comes after it, in a later chunk
    failing = Deferred()  # upstream fails: item 2 and the failure wait in the stage

    def item(x):
        if x == 2:
            return took_1.await_().as_(2)
        if x == 3:
            return failing.succeed(None).flat_map(lambda _: fail("boom"))
        return succeed(x)

    upstream = Stream.range(5).map_effect(item)
    staged = upstream.buffer(10) if stage == "buffer" else upstream.merge(Stream.from_iterable([]))
    seen = []

    def consume(x):
        if x != 1:
            return sync(lambda: seen.append(x))
        return sync(lambda: seen.append(x)).flat_map(lambda _: took_1.succeed(None)).flat_map(
            lambda _: failing.await_())

    exit_ = run_exit(staged.run_for_each(consume))
    assert exit_.cause == Fail("boom")
    assert seen == [0, 1, 2]


# --- async for, on both backends ---------------------------------------------------------------


def on_backend(main, guard=30):
    """Run ``main`` (plain async code) on the current test's backend; a hang fails after
    ``guard`` seconds (the tests never wait for it)."""
    if _backend._current["backend"] == "asyncio":
        return asyncio.run(asyncio.wait_for(main(), guard))
    import trio

    async def guarded():
        with trio.fail_after(guard):
            return await main()
    return trio.run(guarded)


@pytest.mark.timeout(30)
def test_async_for_runs_stages_with_fibers_to_the_end():
    streams = {
        "buffer": Stream.range(5).buffer(2),
        "merge": Stream.range(3).merge(Stream.range(10, 13)),
        "grouped_within": Stream.range(5).grouped_within(2, 60),
        "map_par": Stream.range(5).map_par(2, succeed),
    }

    async def main():
        return {name: [x async for x in stream] for name, stream in streams.items()}

    out = on_backend(main, guard=10)
    assert out["buffer"] == [0, 1, 2, 3, 4]
    assert sorted(out["merge"]) == [0, 1, 2, 10, 11, 12]
    assert out["grouped_within"] == [[0, 1], [2, 3], [4]]
    assert out["map_par"] == [0, 1, 2, 3, 4]


def test_async_for_pulls_nothing_ahead_and_releases_before_the_end_or_the_failure():
    pulled = []
    log = []

    def counted(x):
        pulled.append(x)
        return x

    async def main():
        seen = []
        one_at_a_time = Stream.range(3, 6).zip(Stream.from_iterable(range(100), chunk_size=1).map(counted))
        async for item in one_at_a_time:
            seen.append((item, len(pulled)))
        async for item in resource_stream(log).zip(Stream.range(5)):
            seen.append(item)
        seen.append(list(log))  # released before the loop saw the end
        log.clear()
        with pytest.raises(Failure) as failure:
            async for item in resource_stream(log).map_effect(lambda _: fail("nope")):
                pass
        seen.append((failure.value.cause, list(log)))  # released before the loop saw the failure
        return seen

    assert on_backend(main) == [
        ((3, 0), 1), ((4, 1), 2), ((5, 2), 3),
        ("res", 0), ["open", "close ok"],
        (Fail("nope"), ["open", "close err"]),
    ]


def test_leaving_an_iterate_block_early_releases_the_resources_before_it_ends():
    log = []
    infinite = Stream.from_iterable(itertools.count())

    async def main():
        out = []
        async with resource_stream(log).zip(infinite).iterate() as items:
            async for item in items:
                break
        out.append(list(log))  # released when the block ended
        log.clear()
        with pytest.raises(ValueError):
            async with resource_stream(log).zip(infinite).iterate() as items:
                async for item in items:
                    raise ValueError("body failed")
        out.append(list(log))
        log.clear()
        async with contextlib.aclosing(aiter(resource_stream(log).zip(infinite).buffer(2))) as items:
            async for item in items:
                break
        out.append(list(log))
        return out

    assert on_backend(main) == [["open", "close err"]] * 3


def test_cancelling_the_body_of_an_iterate_block_releases_the_resources_before_it_ends():
    log = []
    stream = resource_stream(log).zip(Stream.repeat_effect(succeed(1))).buffer(2)

    async def main():
        if _backend._current["backend"] == "asyncio":
            inside = asyncio.Event()

            async def consume():
                async with stream.iterate() as items:
                    async for _ in items:
                        inside.set()
                        await asyncio.Event().wait()  # cancelled here

            task = asyncio.ensure_future(consume())
            await inside.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            import trio
            with trio.CancelScope() as scope:
                async with stream.iterate() as items:
                    async for _ in items:
                        scope.cancel()
                        await trio.sleep_forever()  # cancelled here
        return list(log)  # the task has ended: the resources are released

    assert on_backend(main) == ["open", "close err"]


def test_breaking_out_of_a_plain_async_for_releases_without_waiting_for_the_run_to_end():
    log = []
    released = Deferred()
    resource = Stream.acquire_release(sync(lambda: log.append("open")).as_("res"),
                                      lambda r: released.succeed(None))
    stream = resource.zip(Stream.from_iterable(itertools.count()))

    async def main():
        async for _ in stream:
            break
        # the iterator was dropped at the break: its run is interrupted and releases
        await released.await_().timeout(10)
        return log

    assert on_backend(main) == ["open"]


def test_closing_an_iteration_that_never_pulled_opens_nothing():
    log = []

    async def main():
        async with resource_stream(log).iterate():
            pass
        items = aiter(resource_stream(log))
        await items.aclose()
        await items.aclose()  # closing twice does nothing
        return [x async for x in items], log

    assert on_backend(main) == ([], [])
