"""Stream operators pulled in the consumer's fiber: sources, one-upstream stages, one stream
after another (concat, flat_map, catch_all, retry, ensuring), and sinks. Cases follow ZIO's
and Effect-TS's stream test suites."""

import itertools

import pytest
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _streams import guarded, on_clock, resource, snapshot

from effectpy import (
    NONE, Deferred, Die, Fail, Schedule, Sink, Some, Stream, TestClock, acquire_release, die, fail, succeed,
    suspend, sync,
)


def counted(pulls, stream):
    """``stream``, counting each item pulled from it in ``pulls``."""
    return stream.tap(lambda x: sync(lambda: pulls.append(x)))


# --- sources ------------------------------------------------------------------------------


def test_succeed_empty_fail_never():
    assert run(Stream.succeed(7).run_collect()) == [7]
    assert run(Stream.empty().run_collect()) == []
    assert run_exit(Stream.fail("boom").run_collect()).cause == Fail("boom")
    # never produces nothing and never ends: a merge that halts with the other side ends
    assert run(Stream.never().merge(Stream.range(3), halt="right").run_collect()) == [0, 1, 2]
    assert run(Stream.never().take(0).run_collect()) == []


# --- one upstream -------------------------------------------------------------------------


def test_scan_emits_the_initial_value_first_and_carries_the_state_across_chunks():
    s = Stream.from_iterable(range(1, 6), chunk_size=2)
    assert run(s.scan(0, lambda acc, x: acc + x).run_collect()) == [0, 1, 3, 6, 10, 15]
    assert run(Stream.empty().scan("init", lambda acc, x: acc + x).run_collect()) == ["init"]
    failing = (Stream.range(1, 3) + Stream.fail("bad")).scan(0, lambda acc, x: acc + x)
    seen = []
    exit_ = run_exit(failing.run_for_each(lambda x: sync(lambda: seen.append(x))))
    assert exit_.cause == Fail("bad") and seen == [0, 1, 3]


def test_zip_with_index_changes_intersperse_across_chunks():
    s = Stream.from_iterable(list("aabbbca"), chunk_size=2)
    assert run(s.zip_with_index().run_collect()) == list(zip("aabbbca", range(7), strict=True))
    assert run(s.changes().run_collect()) == ["a", "b", "c", "a"]
    assert run(Stream.from_iterable([None, None, 0, 0]).changes().run_collect()) == [None, 0]
    assert run(Stream.from_iterable([1, 2, 3], chunk_size=1).intersperse(0).run_collect()) == [1, 0, 2, 0, 3]
    assert run(Stream.succeed(1).intersperse(0).run_collect()) == [1]
    assert run(Stream.empty().intersperse(0).run_collect()) == []
    # ZIO #3729: a stream of one-item chunks from an effect
    assert run(Stream.repeat_effect(succeed(5)).take(3).intersperse("|").run_collect()) == [5, "|", 5, "|", 5]


def test_take_until_keeps_the_matching_item_and_drop_while():
    s = Stream.from_iterable(range(10), chunk_size=3)
    assert run(s.take_until(lambda x: x == 4).run_collect()) == [0, 1, 2, 3, 4]
    assert run(s.take_until(lambda x: x > 100).run_collect()) == list(range(10))
    assert run(s.drop_while(lambda x: x < 7).run_collect()) == [7, 8, 9]
    assert run(Stream.from_iterable([1, 5, 1]).drop_while(lambda x: x < 3).run_collect()) == [5, 1]
    assert run(s.drop_while(lambda x: True).run_collect()) == []
    pulls = []
    assert run(counted(pulls, Stream.from_iterable(itertools.count(), chunk_size=1)).take_until(
        lambda x: x == 2).run_collect()) == [0, 1, 2]
    assert pulls == [0, 1, 2]  # nothing pulled after the matching item


@pytest.mark.parametrize("chunks", [[[1, 2, 3, 4, 5]], [[1, 2], [3, 4, 5]], [[1], [2], [3], [4], [5]]])
def test_sliding_is_independent_of_chunk_boundaries(chunks):
    s = Stream.from_iterable(chunks).flat_map(Stream.from_iterable)
    assert run(s.sliding(2).run_collect()) == [[1, 2], [2, 3], [3, 4], [4, 5]]
    assert run(s.sliding(2, step=3).run_collect()) == [[1, 2], [4, 5]]
    assert run(s.sliding(3, step=3).run_collect()) == run(s.grouped(3).run_collect()) == [[1, 2, 3], [4, 5]]
    assert run(s.sliding(3, step=2).run_collect()) == [[1, 2, 3], [3, 4, 5]]
    assert run(s.sliding(6).run_collect()) == [[1, 2, 3, 4, 5]]  # shorter than a window


def test_sliding_at_the_end_follows_zio():
    four = Stream.from_iterable([1, 2, 3, 4], chunk_size=1)
    assert run(four.sliding(2, step=3).run_collect()) == [[1, 2], [4]]
    assert run(four.sliding(3, step=2).run_collect()) == [[1, 2, 3], [3, 4]]
    assert run(four.sliding(3).run_collect()) == [[1, 2, 3], [2, 3, 4]]
    assert run(Stream.empty().sliding(2).run_collect()) == []
    exit_ = run_exit((Stream.range(1, 4) + Stream.fail("Ouch") + Stream.range(4, 6)).sliding(2).run_collect())
    assert exit_.cause == Fail("Ouch")


@pytest.mark.parametrize("stage", ["take", "take_while", "take_until"])
def test_take_ends_its_upstream_at_once_while_the_run_goes_on(stage):
    released = Deferred()
    held = Stream.acquire_release(succeed("res"), lambda r: released.succeed(None)).flat_map(
        lambda r: Stream.succeed(r) + Stream.from_iterable(range(10**9)))
    cut = {"take": lambda s: s.take(2), "take_while": lambda s: s.take_while(lambda x: x != 1),
           "take_until": lambda s: s.take_until(lambda x: x == 0)}[stage](held)
    # the merge goes on after the take ended: its other side sees the release
    exit_ = guarded(cut.merge(Stream.from_effect(released.await_().as_("released"))).run_collect())
    assert sorted(map(str, exit_.value)) == ["0", "released", "res"]


def test_take_zero_opens_nothing():
    log = []
    assert run((resource(log).take(0) + snapshot(log)).run_collect()) == [[]]


# --- one stream after another ---------------------------------------------------------------


def test_concat_releases_the_first_stream_before_the_second_opens():
    log = []
    s = resource(log, "a") + snapshot(log) + resource(log, "b")
    assert run(s.run_collect()) == ["a", ["open a", "close a"], "b"]
    assert log == ["open a", "close a", "open b", "close b"]
    assert run(Stream.range(2).concat(Stream.range(5, 7)).run_collect()) == [0, 1, 5, 6]
    exit_ = run_exit((Stream.range(2) + Stream.fail("x") + Stream.range(3)).run_collect())
    assert exit_.cause == Fail("x")


def test_flat_map_runs_each_inner_stream_in_turn_and_releases_it_before_the_next():
    log = []
    s = Stream.range(3).flat_map(lambda i: resource(log, str(i)).map(lambda r: (r, list(log))))
    assert run(s.run_collect()) == [
        ("0", ["open 0"]),
        ("1", ["open 0", "close 0", "open 1"]),
        ("2", ["open 0", "close 0", "open 1", "close 1", "open 2"]),
    ]
    assert log[-1] == "close 2"
    assert run(Stream.range(4).flat_map(lambda i: Stream.range(i)).run_collect()) == [0, 0, 1, 0, 1, 2]


def test_flat_map_with_take_opens_only_the_inner_streams_it_needs():
    log = []
    s = Stream.from_iterable(itertools.count()).flat_map(
        lambda i: resource(log, str(i)) + Stream.from_iterable(itertools.count())).take(3)
    assert run(s.run_collect()) == ["0", 0, 1]
    assert log == ["open 0", "close 0"]


def test_flat_map_failures():
    assert run_exit(Stream.range(3).flat_map(lambda i: Stream.fail("inner") if i == 1 else Stream.succeed(i))
                    .run_collect()).cause == Fail("inner")
    assert run_exit((Stream.range(2) + Stream.fail("outer")).flat_map(Stream.succeed).run_collect()).cause == Fail("outer")
    exit_ = run_exit(Stream.range(2).flat_map(lambda i: i).run_collect())  # not a Stream: a defect
    assert isinstance(exit_.cause, Die) and "must return a Stream, got int" in str(exit_.cause.defects()[0])


def test_flat_map_over_many_inner_streams_runs_in_constant_stack():
    n = 20_000
    assert run(Stream.range(n).flat_map(lambda i: Stream.empty() if i % 2 else Stream.succeed(i)).run(Sink.count())) == n // 2


def test_catch_all_goes_on_with_the_handlers_stream_after_releasing_the_failed_one():
    log = []
    failing = resource(log, "a") + Stream.fail("boom")
    s = failing.catch_all(lambda e: snapshot(log).map(lambda seen: (e, seen)))
    assert run(s.run_collect()) == ["a", ("boom", ["open a", "close a"])]
    assert run((Stream.range(2) + Stream.fail(1)).or_else(Stream.range(5, 7)).run_collect()) == [0, 1, 5, 6]
    assert run(Stream.range(3).catch_all(lambda e: Stream.succeed("never")).run_collect()) == [0, 1, 2]
    # a failure to open (acquire) is caught too
    assert run(Stream.scoped(fail("no connection")).or_else(Stream.succeed("cached")).run_collect()) == ["cached"]


def test_catch_all_does_not_catch_defects_and_the_handlers_stream_fails_on_its_own():
    boom = ValueError("bug")
    exit_ = run_exit(Stream.from_effect(die(boom)).catch_all(lambda e: Stream.succeed("no")).run_collect())
    assert exit_.cause.defects() == [boom]
    exit2 = run_exit(Stream.fail("a").catch_all(lambda e: Stream.fail(e + "b")).run_collect())
    assert exit2.cause == Fail("ab")


def test_ensuring_runs_after_the_streams_own_finalizers_once_however_it_ends():
    log = []

    def guarded(stream):
        return (resource(log) + stream).ensuring(sync(lambda: log.append("ensuring")))

    assert run((guarded(Stream.range(2)) + snapshot(log)).run_collect()) == [
        "res", 0, 1, ["open res", "close res", "ensuring"]]
    log.clear()
    assert run_exit(guarded(Stream.fail("x")).run_collect()).cause == Fail("x")
    assert log == ["open res", "close res", "ensuring"]
    log.clear()
    assert run(guarded(Stream.from_iterable(itertools.count())).take(2).run_collect()) == ["res", 0]
    assert log == ["open res", "close res", "ensuring"]


def test_retry_runs_the_stream_again_on_the_schedule_and_starts_over_after_an_item():
    clock = TestClock()
    log = []
    attempts = []
    outcomes = {1: fail("fail 1"), 2: fail("fail 2"), 3: succeed("first"), 4: fail("fail 4"),
                5: succeed("second"), 6: succeed("third")}

    def source():
        attempts.append(clock.now())
        return outcomes[len(attempts)]

    two = resource(log).flat_map(lambda _: Stream.from_effect(suspend(source)) + Stream.from_effect(suspend(source)))
    stream = two.retry(Schedule.exponential(1) & Schedule.recurs(2))
    exit_, _ = on_clock(stream.run_collect(), clock=clock)
    # the whole stream runs again each time; "first" came through, so after "fail 4" the
    # schedule starts over: it waits 1 s (not 4 s), and two more retries are allowed
    assert exit_.value == ["first", "second", "third"]
    assert attempts == [0.0, 1.0, 3.0, 3.0, 4.0, 4.0]
    assert log == ["open res", "close res"] * 4  # acquired anew for each run, released once


def test_retry_and_catch_all_release_what_a_failed_opening_acquired_before_going_on():
    log = []
    opening = acquire_release(sync(lambda: log.append("open")), lambda _: sync(lambda: log.append("close")))
    broken = Stream.scoped(opening.flat_map(lambda _: fail("handshake failed")))
    assert run_exit(broken.retry(Schedule.recurs(2)).run_collect()).cause == Fail("handshake failed")
    assert log == ["open", "close"] * 3
    log.clear()
    assert run(broken.catch_all(lambda e: snapshot(log)).run_collect()) == [["open", "close"]]


def test_retry_gives_up_with_the_last_error_and_leaves_defects_alone():
    tries = []
    always = Stream.from_effect(sync(lambda: tries.append(1)).flat_map(lambda _: fail(f"try {len(tries)}")))
    assert run_exit(always.retry(Schedule.recurs(2)).run_collect()).cause == Fail("try 3")
    dies = []
    defect = Stream.from_effect(sync(lambda: dies.append(1)).flat_map(lambda _: die(ValueError("bug"))))
    assert isinstance(run_exit(defect.retry(Schedule.recurs(5)).run_collect()).cause.defects()[0], ValueError)
    assert len(dies) == 1


# --- sinks --------------------------------------------------------------------------------


def test_sinks():
    s = Stream.from_iterable(range(1, 11), chunk_size=3)
    assert run(s.run(Sink.collect_all())) == list(range(1, 11))
    assert run(s.run(Sink.count())) == 10
    assert run(s.run(Sink.sum())) == 55
    assert run(s.run(Sink.head())) == Some(1)
    assert run(s.run(Sink.last())) == Some(10)
    assert run(Stream.empty().run(Sink.head())) == NONE
    assert run(Stream.empty().run(Sink.last())) == NONE
    assert run(Stream.empty().run(Sink.sum())) == 0
    assert run(s.run(Sink.take(4))) == [1, 2, 3, 4]
    assert run(Stream.range(2).run(Sink.take(4))) == [0, 1]
    assert run(s.run(Sink.fold(0, lambda acc: acc < 10, lambda acc, x: acc + x))) == 10  # 1+2+3+4
    assert run(s.run(Sink.fold("", lambda acc: True, lambda acc, x: acc + str(x)))) == "12345678910"
    seen = []
    assert run(s.run(Sink.for_each(lambda x: sync(lambda: seen.append(x))))) is None
    assert seen == list(range(1, 11))
    assert repr(Sink.take(3)) == "Sink.take(3)"


def test_sinks_that_have_enough_stop_pulling_and_release_the_stream():
    log = []
    pulls = []
    infinite = resource(log) + counted(pulls, Stream.from_iterable(range(10**9), chunk_size=1))
    assert run(infinite.run(Sink.head())) == Some("res")
    assert log == ["open res", "close res"] and pulls == []
    log.clear()
    assert run(infinite.run(Sink.take(3))) == ["res", 0, 1]
    assert log == ["open res", "close res"] and pulls == [0, 1]
    pulls.clear()
    assert run(infinite.drop(1).run(Sink.fold(0, lambda acc: acc < 3, lambda acc, x: acc + x))) == 3
    assert pulls == [0, 1, 2]
    pulls.clear()
    assert run(infinite.run(Sink.fold("start", lambda acc: False, lambda acc, x: 1 / 0))) == "start"
    assert pulls == []  # cont(initial) is False: nothing is pulled
    assert run(infinite.run(Sink.take(0))) == []


def test_sink_failures():
    assert run_exit((Stream.range(3) + Stream.fail("x")).run(Sink.count())).cause == Fail("x")
    exit_ = run_exit(Stream.range(3).run(Sink.for_each(lambda x: fail(x) if x == 1 else succeed(x))))
    assert exit_.cause == Fail(1)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("build, error, message", [
    (lambda: Stream.range(3).scan(0, "add"), TypeError, "Stream.scan"),
    (lambda: Stream.range(3).sliding(0), ValueError, "sliding's n must be an int >= 1, got 0"),
    (lambda: Stream.range(3).sliding(2, step=-1), ValueError, "sliding's step must be an int >= 1, got -1"),
    (lambda: Stream.range(3).take_until(None), TypeError, "Stream.take_until"),
    (lambda: Stream.range(3).drop_while(3), TypeError, "Stream.drop_while"),
    (lambda: Stream.range(3).concat([4]), TypeError, "Stream.concat expects a Stream, got list"),
    (lambda: Stream.range(3) + [4], TypeError, "unsupported operand"),
    (lambda: Stream.range(3).flat_map("f"), TypeError, "Stream.flat_map"),
    (lambda: Stream.range(3).catch_all(None), TypeError, "Stream.catch_all"),
    (lambda: Stream.range(3).or_else(succeed(1)), TypeError, "Stream.or_else expects a Stream, got Effect"),
    (lambda: Stream.range(3).ensuring(print), TypeError, "Stream.ensuring"),
    (lambda: Stream.range(3).retry(3), TypeError, "Stream.retry expects a Schedule, got int"),
    (lambda: Stream.range(3).take(-1), ValueError, "Stream.take expects an int >= 0, got -1"),
    (lambda: Stream.range(3).run(list), TypeError, "Stream.run expects a Sink, got type"),
    (lambda: Sink.take(-2), ValueError, "Sink.take expects an int >= 0, got -2"),
    (lambda: Sink.take(1.5), ValueError, "Sink.take expects an int >= 0, got 1.5"),
    (lambda: Sink.fold(0, None, lambda a, x: a), TypeError, "Sink.fold's cont"),
    (lambda: Sink.for_each(3), TypeError, "Sink.for_each"),
])
def test_bad_input_is_rejected_when_the_stream_is_built(build, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_retry_runs_the_schedules_tap_output_effects_at_every_step():
    # as Effect.retry does: the effects a schedule's tap_output asks for run at each step
    seen = []
    schedule = Schedule.spaced(1).tap_output(lambda n: sync(lambda: seen.append(n))) & Schedule.recurs(2)
    exit_, _ = on_clock(Stream.fail("e").retry(schedule).run_collect())
    assert seen == [0, 1, 2] and exit_.cause == Fail("e")
