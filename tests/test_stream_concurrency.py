"""Stream operators that run fibers or keep time: zip, zip_latest, merge, flat_map_par,
interrupt_when, debounce, timeout, group_by, partition, broadcast. Time is a TestClock's;
a program that would hang fails instead (``guarded``: a timeout on the virtual clock)."""

import itertools

import pytest
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import settle
from _streams import guarded, holding, hung, on_clock, resource, snapshot, stamped, timed, waits_forever

from effectpy import (
    Clock, Context, Deferred, Die, Fail, Schedule, Sink, Stream, TestClock, acquire_release, fail, never,
    scoped, sleep, succeed, sync, zip_par,
)
from effectpy.trace import record


# --- zip -------------------------------------------------------------------------------------


def test_zip_fails_when_one_side_fails_while_the_other_waits_forever():
    # ZIO's and Effect-TS's "zipWith prioritizes failures"
    assert guarded(Stream.from_effect(never).zip(Stream.from_effect(fail("Ouch"))).run_collect()).cause == Fail("Ouch")
    assert guarded(Stream.fail("Ouch").zip(Stream.never()).run_collect()).cause == Fail("Ouch")
    log = []
    exit_ = guarded(waits_forever(log, "left").zip(Stream.fail("Ouch")).run_collect())
    assert exit_.cause == Fail("Ouch") and log == ["left interrupted"]


def test_zip_ends_when_one_side_ends_while_the_other_waits_forever():
    assert guarded(Stream.empty().zip(Stream.never()).run_collect()).value == []
    log = []
    exit_ = guarded((Stream.range(2).zip(Stream.range(2) + waits_forever(log, "right")) + snapshot(log)).run_collect())
    assert exit_.value == [(0, 0), (1, 1), ["right interrupted"]]


def test_zip_does_not_pull_a_side_that_is_not_needed():
    # Effect-TS: the left side would fail if pulled once more
    left = Stream.from_iterable([[1, 2], [3, 4], [5]]).flat_map(Stream.from_iterable) + Stream.fail("boom")
    right = Stream.from_iterable([["a", "b"], ["c"]]).flat_map(Stream.from_iterable)
    assert run(left.zip(right).run_collect()) == [(1, "a"), (2, "b"), (3, "c")]


def test_zip_ends_the_longer_side_at_once():
    log = []
    released = Deferred()
    longer = Stream.acquire_release(sync(lambda: log.append("open")).as_("res"), lambda r: released.succeed(None))
    zipped = Stream.range(2).zip(longer + Stream.from_iterable(range(10**9)))
    # the merge goes on after the zip ended: its other side sees the release
    exit_ = guarded(zipped.merge(Stream.from_effect(released.await_().as_("released"))).run_collect())
    assert sorted(map(str, exit_.value)) == ["(0, 'res')", "(1, 0)", "released"]


def test_zip_pulls_both_sides_in_child_fibers_of_the_puller():
    with record() as trace:
        assert run(Stream.range(3).zip(Stream.range(3)).run_collect()) == [(0, 0), (1, 1), (2, 2)]
    fibers = trace.fibers()
    root = next(f for f in fibers if f.parent is None)
    pullers = [f for f in fibers if f.name in ("effectpy:zip pull [0]", "effectpy:zip pull [1]")]
    assert len(pullers) >= 2 and all(f.parent == root.id for f in pullers)
    assert not trace.leaks()


def test_what_a_pull_acquires_lives_with_the_stream_though_a_child_fiber_pulled_it():
    log = []
    conn = acquire_release(sync(lambda: log.append("open")).as_("conn"), lambda c: sync(lambda: log.append("close")))
    zipped = Stream.from_effect(conn).zip(Stream.succeed(1)).map(lambda pair: (pair, list(log)))
    assert run(zipped.run_collect()) == [(("conn", 1), ["open"])]  # still open when handed on
    assert log == ["open", "close"]


def test_zip_of_a_defect():
    error = ValueError("Ouch")

    def explode():
        raise error
    exit_ = run_exit(Stream.succeed(1).flat_map(lambda _: Stream.from_effect(sync(explode))).zip(
        Stream.succeed(1)).run_collect())
    assert exit_.cause.defects() == [error]


# --- zip_latest --------------------------------------------------------------------------------


def test_zip_latest_pairs_each_new_item_with_the_latest_of_the_other_side():
    left = timed([(1, "a"), (2, "b"), (2, "c")])  # at t = 1, 3, 5
    right = timed([(2, 0), (2, 1)])  # at t = 2, 4
    exit_, _ = on_clock(left.zip_latest(right).run_collect())
    assert exit_.value == [("a", 0), ("b", 0), ("b", 1), ("c", 1)]


def test_zip_latest_uses_the_last_item_of_what_came_before_the_other_sides_first():
    exit_, _ = on_clock(Stream.from_iterable([1, 2, 3]).zip_latest(timed([(1, "x"), (1, "y")])).run_collect())
    assert exit_.value == [(3, "x"), (3, "y")]  # ZIO: 1 and 2 are never used


def test_zip_latest_ends_when_both_end_or_when_one_ends_with_nothing():
    exit_, _ = on_clock(Stream.succeed("only").zip_latest(timed([(1, 0), (1, 1)])).run_collect())
    assert exit_.value == [("only", 0), ("only", 1)]  # goes on after the left side ended
    assert guarded(Stream.empty().zip_latest(Stream.never()).run_collect()).value == []
    assert guarded(Stream.never().zip_latest(Stream.empty()).run_collect()).value == []
    assert hung(guarded(Stream.succeed(1).zip_latest(Stream.never()).run_collect()))


def test_zip_latest_fails_with_either_side():
    assert guarded((Stream.range(2) + Stream.fail("boom")).zip_latest(Stream.range(3)).run_collect()).cause == Fail("boom")
    assert guarded(Stream.never().zip_latest(Stream.fail("ouch")).run_collect()).cause == Fail("ouch")


# --- merge ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("halt, ends", [("both", False), ("left", True), ("right", False), ("either", True)])
def test_merge_halt_strategies_when_the_left_side_ends(halt, ends):
    log = []
    left = timed([(1, 0), (1, 1), (1, 2)])  # at t = 1, 2, 3: the right side waits by then
    merged = left.merge(holding(log, "right", waits_forever(log, "right")), halt=halt)
    exit_ = guarded((merged + snapshot(log)).run_collect())
    if not ends:
        assert hung(exit_)
        return
    *items, seen = exit_.value
    assert sorted(map(str, items)) == ["0", "1", "2", "right"]
    # the right side was ended at once: its pull interrupted, then its resource released
    assert seen == ["open right", "right interrupted", "close right"]


def test_merge_halt_right_and_both():
    assert guarded(Stream.never().merge(Stream.range(3), halt="right").run_collect()).value == [0, 1, 2]
    assert sorted(guarded(Stream.range(3).merge(Stream.range(10, 12)).run_collect()).value) == [0, 1, 2, 10, 11]


def test_merge_keeps_each_sides_order_and_fails_with_either_side():
    exit_ = guarded(Stream.range(2000).map(lambda x: ("a", x)).merge(
        Stream.range(2000).map(lambda x: ("b", x))).run_collect())
    assert [x for side, x in exit_.value if side == "a"] == list(range(2000))
    assert [x for side, x in exit_.value if side == "b"] == list(range(2000))
    log = []
    exit2 = guarded(waits_forever(log, "left").merge(Stream.fail("boom")).run_collect())
    assert exit2.cause == Fail("boom") and log == ["left interrupted"]


# --- flat_map_par ----------------------------------------------------------------------------------


def test_flat_map_par_runs_at_most_n_inner_streams_at_once():
    durations = [6, 3, 1, 1]
    inside, peak = [0], [0]

    def inner(i):
        def enter():
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        leave = sync(lambda: inside.__setitem__(0, inside[0] - 1))
        return Stream.from_effect(sync(enter).flat_map(lambda _: sleep(durations[i])).flat_map(lambda _: leave).as_(i))

    clock = TestClock()
    exit_, _ = on_clock(stamped(Stream.range(4).flat_map_par(2, inner), clock).run_collect(), clock=clock)
    # 0 (6 s) and 1 (3 s) start at 0; 2 starts when 1 ends (3), 3 when 2 ends (4)
    assert exit_.value == [(1, 3.0), (2, 4.0), (3, 5.0), (0, 6.0)]
    assert peak[0] == 2


def test_flat_map_par_releases_each_inner_streams_resources_when_it_ends():
    log = []
    s = Stream.range(3).flat_map_par(3, lambda i: resource(log, str(i)) + Stream.from_effect(sleep(i).as_(f"done {i}")))
    exit_, _ = on_clock(s.map(lambda x: (x, list(log))).run_collect())
    after = {x: seen for x, seen in exit_.value if x.startswith("done")}
    assert "close 0" in after["done 1"] and "close 1" in after["done 2"]  # released as each ended
    assert sorted(log) == ["close 0", "close 1", "close 2", "open 0", "open 1", "open 2"]


def test_flat_map_par_fails_with_the_first_failure_and_stops_the_others():
    log = []
    started = []

    def inner(i):
        start = sync(lambda: started.append(i))
        if i == 0:  # an item at once, then it ends at t = 1, after the failure
            return Stream.from_effect(start.as_("a")) + Stream.from_effect(sleep(1)).drop(1)
        if i == 1:  # fails at t = 0.5
            return Stream.from_effect(start.flat_map(lambda _: sleep(0.5)).flat_map(lambda _: fail("inner failed")))
        return Stream.from_effect(start).flat_map(lambda _: waits_forever(log, str(i)))

    slow_consumer = Stream.range(10).flat_map_par(3, inner).map_effect(lambda x: sleep(5).as_(x))
    exit_ = guarded(slow_consumer.run_collect())
    assert exit_.cause == Fail("inner failed")
    assert started == [0, 1, 2]  # inner 0 ended after the failure: no new stream started then
    assert log == ["2 interrupted"]


def test_flat_map_par_with_take_interrupts_the_inner_streams_and_releases_them_once():
    log = []
    s = Stream.from_iterable(itertools.count()).flat_map_par(2, lambda i: resource(log, str(i)) + Stream.never())
    with record() as trace:
        assert sorted(guarded((s.take(2) + snapshot(log)).run_collect()).value[:2]) == ["0", "1"]
    assert sorted(log) == ["close 0", "close 1", "open 0", "open 1"]
    names = {f.name for f in trace.fibers()}
    assert {"effectpy:flat_map_par pump", "flat_map_par[0]", "flat_map_par[1]"} <= names
    assert not trace.leaks()


# --- interrupt_when -------------------------------------------------------------------------------


def test_interrupt_when_ends_the_stream_and_interrupts_the_pull_in_progress():
    log = []
    ticks = Stream.from_iterable(range(10)).map_effect(
        lambda x: sleep(1).as_(x).on_interrupt(sync(lambda: log.append(f"pull of {x} interrupted"))))
    exit_, _ = on_clock((ticks.interrupt_when(sleep(3.5)) + snapshot(log)).run_collect())
    assert exit_.value == [0, 1, 2, ["pull of 3 interrupted"]]


def test_interrupt_when_fails_with_the_effects_failure():
    exit_, _ = on_clock(Stream.never().interrupt_when(sleep(1).flat_map(lambda _: fail("stop"))).run_collect())
    assert exit_.cause == Fail("stop")


def test_interrupt_when_stops_the_effect_when_the_stream_ends_first():
    log = []
    watcher = never.on_interrupt(sync(lambda: log.append("watcher interrupted")))
    stream = timed([(1, 0), (1, 1), (1, 2)]).interrupt_when(watcher)  # the watcher is waiting by t = 1
    assert guarded((stream + snapshot(log)).run_collect()).value == [0, 1, 2, ["watcher interrupted"]]


def test_interrupt_when_a_deferred_is_completed():
    stop = Deferred()
    source = Stream.range(5).tap(lambda x: stop.succeed(None) if x == 2 else succeed(None)) + Stream.never()
    assert guarded(source.interrupt_when(stop.await_()).run_collect()).value == [0, 1, 2, 3, 4]


# --- debounce and timeout --------------------------------------------------------------------------


def test_debounce_hands_on_an_item_only_after_a_quiet_period():
    # Effect-TS: chunks [1] at 0, [3, 4] at 0.5, [5] at 2, [6, 7] at 2.5 -> 4 and 7
    chunks = timed([(0, [1]), (0.5, [3, 4]), (1.5, [5]), (0.5, [6, 7])]).flat_map(Stream.from_iterable)
    source = chunks + Stream.from_effect(sleep(10)).drop(1)  # then quiet, and the end at 12.5
    clock = TestClock()
    exit_, _ = on_clock(stamped(source.debounce(1), clock).run_collect(), clock=clock)
    assert exit_.value == [(4, 1.5), (7, 3.5)]


def test_debounce_at_the_end_and_on_failure():
    exit_, clock = on_clock(Stream.range(3).debounce(10).run_collect(), advance=0)
    assert exit_.value == [2] and clock.now() == 0.0  # the last item, at once
    assert on_clock(Stream.empty().debounce(5).run_collect())[0].value == []
    assert on_clock((Stream.succeed(1) + Stream.fail("x")).debounce(1).run_collect())[0].cause == Fail("x")


def test_debounce_runs_its_fibers_under_the_stream_and_stops_them():
    log = []
    with record() as trace:
        program = (Stream.succeed(1) + waits_forever(log, "upstream")).debounce(0.8).run_drain()
        clock = TestClock()

        def go(fiber):
            return clock.adjust(60).flat_map(lambda _: fiber.interrupt())
        ex = run(program.fork().flat_map(go).provide(Context().with_service(Clock, clock)))
    assert ex.is_interrupted() and log == ["upstream interrupted"]
    assert {"effectpy:debounce pump", "effectpy:debounce timer"} <= {f.name for f in trace.fibers()}
    assert not trace.leaks()


def test_timeout_ends_the_stream_when_an_item_is_too_slow():
    log = []
    slow = holding(log, "res", Stream.succeed(1) + waits_forever(log, "upstream")).timeout(1)
    exit_, clock = on_clock((slow + snapshot(log)).run_collect())
    assert exit_.value == ["res", 1, ["open res", "upstream interrupted", "close res"]]
    exit2, _ = on_clock(timed([(0.5, x) for x in range(5)]).timeout(1).run_collect())
    assert exit2.value == [0, 1, 2, 3, 4]  # each came within the limit
    assert run(Stream.never().timeout(0).run_collect()) == []


# --- group_by, partition, broadcast ------------------------------------------------------------------


def collect_group(kv):
    key, stream = kv
    return Stream.from_effect(stream.run_collect().map(lambda items: (key, items)))


def test_group_by_gives_a_substream_per_key_in_order_of_first_appearance():
    groups = Stream.from_iterable(range(10), chunk_size=4).group_by(lambda x: x % 3)
    assert sorted(run(groups.flat_map_par(3, collect_group).run_collect())) == [
        (0, [0, 3, 6, 9]), (1, [1, 4, 7]), (2, [2, 5, 8])]
    assert run(groups.map(lambda kv: kv[0]).run_collect()) == [0, 1, 2]


def test_group_by_fails_the_outer_stream_and_every_substream():
    failing = Stream.range(4) + Stream.fail("boom")
    exit_ = run_exit(failing.group_by(lambda x: x % 2).flat_map_par(2, collect_group).run_collect())
    assert exit_.cause == Fail("boom")
    exit2 = run_exit(Stream.range(3).group_by(lambda x: 1 / 0).run_collect())
    assert isinstance(exit2.cause.defects()[0], ZeroDivisionError)


def test_group_by_substream_runs_once_and_backpressures():
    twice = Stream.range(3).group_by(lambda x: 0).flat_map(
        lambda kv: Stream.from_effect(kv[1].run_drain().flat_map(lambda _: kv[1].run_drain())))
    exit_ = run_exit(twice.run_collect())
    assert isinstance(exit_.cause, Die) and "run only once" in str(exit_.cause.defects()[0])

    pulls = []
    gate = Deferred()
    source = Stream.from_iterable(range(1000), chunk_size=1).tap(lambda x: sync(lambda: pulls.append(x)))
    waiting = source.group_by(lambda x: 0, buffer=2).map_effect(
        lambda kv: gate.await_().flat_map(lambda _: kv[1].run(Sink.count())))

    def check(_):
        return sync(lambda: len(pulls)).flat_map(lambda n: gate.succeed(None).as_(n))
    counts = run(zip_par(waiting.run_collect(), settle().flat_map(check)))
    assert counts[0] == [1000]
    assert counts[1] <= 2 + 2  # the unread substream's buffer filled up, and the producer waited


def test_partition_splits_the_stream_in_a_scope():
    def both(pair):
        return zip_par(pair[0].run_collect(), pair[1].run_collect())
    assert run(scoped(Stream.range(10).partition(lambda x: x % 2 == 0).flat_map(both))) == (
        [0, 2, 4, 6, 8], [1, 3, 5, 7, 9])
    exit_ = run_exit(scoped((Stream.range(3) + Stream.fail("boom")).partition(lambda x: x > 0).flat_map(both)))
    assert set(exit_.cause.failures()) == {"boom"}


def test_partition_releases_upstream_and_stops_its_fiber_when_the_scope_closes():
    log = []
    source = holding(log, "res", Stream.from_iterable(range(10**9)))
    with record() as trace:
        first = run(scoped(source.partition(lambda x: isinstance(x, int)).flat_map(
            lambda pair: pair[0].run(Sink.take(3)))))
    assert first == [0, 1, 2] and log == ["open res", "close res"]
    assert "effectpy:partition pump" in {f.name for f in trace.fibers()}
    assert not trace.leaks()


def test_broadcast_gives_every_stream_every_item():
    def all_of(streams):
        return zip_par(*(s.run_collect() for s in streams))
    assert run(scoped(Stream.range(5).broadcast(3, maximum_lag=2).flat_map(all_of))) == ([0, 1, 2, 3, 4],) * 3
    exit_ = run_exit(scoped((Stream.range(2) + Stream.fail("boom")).broadcast(2, 4).flat_map(all_of)))
    assert set(exit_.cause.failures()) == {"boom"}


def test_broadcast_runs_at_most_maximum_lag_chunks_ahead_of_the_slowest():
    pulls = []
    gate = Deferred()
    source = Stream.from_iterable(range(100), chunk_size=1).tap(lambda x: sync(lambda: pulls.append(x)))

    def consume(streams):
        fast, slow = streams

        def check(_):
            return sync(lambda: len(pulls)).flat_map(lambda n: gate.succeed(None).as_(n))
        late = gate.await_().flat_map(lambda _: slow.run_collect())
        return zip_par(fast.run_collect(), late, settle().flat_map(check))

    fast, slow, ahead = run(scoped(source.broadcast(2, maximum_lag=3).flat_map(consume)))
    assert fast == slow == list(range(100))
    assert ahead <= 3 + 2


def test_a_broadcast_stream_that_stopped_no_longer_holds_the_others_back():
    def consume(streams):
        return zip_par(streams[0].take(1).run_collect(), streams[1].run_collect())
    exit_ = guarded(scoped(Stream.from_iterable(range(50), chunk_size=1).broadcast(2, maximum_lag=1).flat_map(consume)))
    assert exit_.value == ([0], list(range(50)))


# --- every operator, stopped early by take ------------------------------------------------------------


OPERATORS = {
    "zip": lambda s: s.zip(Stream.from_iterable(range(10**9))),
    "zip_latest": lambda s: s.zip_latest(Stream.succeed(0)),
    "merge": lambda s: s.merge(Stream.never()),
    "merge(halt=left)": lambda s: s.merge(Stream.never(), halt="left"),
    "flat_map": lambda s: s.flat_map(Stream.succeed),
    "flat_map_par": lambda s: s.flat_map_par(2, Stream.succeed),
    "interrupt_when": lambda s: s.interrupt_when(never),
    "timeout": lambda s: s.timeout(60),
    "debounce": lambda s: s.debounce(0),
    "scan": lambda s: s.scan(0, lambda acc, x: x),
    "sliding": lambda s: s.sliding(2),
    "changes": lambda s: s.changes(),
    "intersperse": lambda s: s.intersperse(","),
    "zip_with_index": lambda s: s.zip_with_index(),
    "take_until": lambda s: s.take_until(lambda x: False),
    "drop_while": lambda s: s.drop_while(lambda x: False),
    "catch_all": lambda s: s.catch_all(lambda e: Stream.empty()),
    "retry": lambda s: s.retry(Schedule.recurs(1)),
    "ensuring": lambda s: s.ensuring(succeed(None)),
    "concat": lambda s: s + Stream.never(),
    "group_by": lambda s: s.group_by(lambda x: 0).flat_map_par(1, lambda kv: kv[1]),
}


@pytest.mark.parametrize("name", OPERATORS)
def test_stopped_early_every_operator_releases_upstream_once_and_leaves_no_fiber(name):
    log = []
    source = holding(log, "res", Stream.from_iterable(range(10**9)))
    with record() as trace:
        exit_ = guarded((OPERATORS[name](source).take(3) + snapshot(log)).run_collect())
    assert exit_.is_success() and len(exit_.value) == 4
    assert exit_.value[-1] == ["open res", "close res"]  # released before the run went on
    assert log == ["open res", "close res"]  # and once
    assert not trace.leaks(), trace.leaks().describe()


@pytest.mark.parametrize("name", OPERATORS)
def test_interrupting_the_consumer_stops_every_operators_fibers_and_releases_once(name):
    log = []
    seen = Deferred()
    source = holding(log, "res", Stream.from_iterable(range(10**9)))
    program = OPERATORS[name](source).tap(lambda _: seen.succeed(None)).run_drain()
    with record() as trace:
        exit_ = run(program.fork().flat_map(lambda fiber: seen.await_().flat_map(lambda _: fiber.interrupt())))
    assert exit_.is_interrupted()
    assert log == ["open res", "close res"]
    assert not trace.leaks(), trace.leaks().describe()


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("build, error, message", [
    (lambda: Stream.range(3).merge(Stream.range(3), halt="first"), ValueError,
     "Stream.merge's halt must be one of 'both', 'left', 'right', 'either', got 'first'"),
    (lambda: Stream.range(3).merge([1]), TypeError, "Stream.merge expects a Stream, got list"),
    (lambda: Stream.range(3).zip_latest(None), TypeError, "Stream.zip_latest expects a Stream, got NoneType"),
    (lambda: Stream.range(3).flat_map_par(0, Stream.succeed), ValueError, "flat_map_par's n must be an int >= 1, got 0"),
    (lambda: Stream.range(3).flat_map_par(2, None), TypeError, "Stream.flat_map_par"),
    (lambda: Stream.range(3).interrupt_when(5), TypeError, "Stream.interrupt_when"),
    (lambda: Stream.range(3).debounce(-1), ValueError, "Stream.debounce expects a non-negative duration, got -1"),
    (lambda: Stream.range(3).timeout("1s"), TypeError, "Stream.timeout"),
    (lambda: Stream.range(3).group_by(None), TypeError, "Stream.group_by"),
    (lambda: Stream.range(3).group_by(abs, buffer=0), ValueError, "group_by's buffer must be an int >= 1, got 0"),
    (lambda: Stream.range(3).partition(abs, buffer=-1), ValueError, "partition's buffer must be an int >= 1, got -1"),
    (lambda: Stream.range(3).broadcast(0, 4), ValueError, "broadcast's n must be an int >= 1, got 0"),
    (lambda: Stream.range(3).broadcast(2, 0), ValueError, "broadcast's maximum_lag must be an int >= 1, got 0"),
])
def test_bad_input_is_rejected_when_the_stream_is_built(build, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()
