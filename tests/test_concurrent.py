"""zip_par, race, race_success, for_each_par, timeout: structured and leak-free."""

import asyncio

import pytest

from effectpy import (
    NONE, Both, Context, Deferred, Fail, Ref, Some, TestClock, acquire_release, die, fail,
    for_each_par, never, partition_par, race, race_success, sleep, succeed, sync, validate_par,
    yield_now, zip_par,
)
from effectpy.trace import record
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import do


def clock_env():
    from effectpy import Clock
    clock = TestClock()
    return clock, Context().with_service(Clock, clock)


def run_on_clock(eff, advance_by):
    """Run `eff` on a TestClock advanced by `advance_by` seconds; its exit and the time."""
    clock, env = clock_env()
    exit_, _ = run(zip_par(eff.exit(), clock.adjust(advance_by)).provide(env))
    return exit_, clock.now()


def test_zip_par_returns_values_in_order_and_runs_concurrently():
    # each branch waits for the next one's signal: only possible if they run concurrently
    a, b = Deferred(), Deferred()
    left = a.await_().flat_map(lambda _: b.succeed(None)).as_("left")
    right = a.succeed(None).flat_map(lambda _: b.await_()).as_("right")
    assert run(zip_par(left, right)) == ("left", "right")


def test_zip_par_fail_fast_interrupts_siblings_and_waits_for_finalizers():
    log = []
    started = Deferred()
    slow = started.succeed(None).flat_map(lambda _: never).ensuring(
        sleep(0.01).flat_map(lambda _: sync(lambda: log.append("sibling cleaned"))))
    failing = started.await_().flat_map(lambda _: fail("boom"))
    exit_ = run_exit(zip_par(slow, failing).ensuring(sync(lambda: log.append("after zip_par"))))
    assert exit_.cause == Fail("boom")
    assert log == ["sibling cleaned", "after zip_par"]


def test_zip_par_simultaneous_failures_are_all_kept():
    # the second branch is uninterruptible: it fails too while the first failure is handled
    gate = Deferred()
    both = run_exit(zip_par(gate.await_().flat_map(lambda _: fail("x")),
                            gate.await_().flat_map(lambda _: die(ValueError("y"))).uninterruptible(),
                            gate.succeed(None)))
    assert both.cause.failures() == ["x"]
    assert isinstance(both.cause.defects()[0], ValueError)
    assert isinstance(both.cause, Both)


def test_zip_par_failure_of_an_interrupted_sibling_finalizer_is_kept():
    started = Deferred()
    sibling = started.succeed(None).flat_map(lambda _: never).ensuring(fail("cleanup failed"))
    exit_ = run_exit(zip_par(sibling, started.await_().flat_map(lambda _: fail("first"))))
    assert exit_.cause.failures() == ["first", "cleanup failed"]


def test_race_first_to_complete_wins_and_losers_are_cleaned_up():
    log = []

    def branch(name, delay):
        return sleep(delay).as_(name).ensuring(sync(lambda: log.append(f"{name} done")))

    (exit_, now) = run_on_clock(race(branch("slow", 2), branch("fast", 1), branch("slower", 3)), 5)
    assert exit_.value == "fast"
    assert sorted(log) == ["fast done", "slow done", "slower done"]


def test_race_first_completion_decides_even_if_it_is_a_failure():
    timer = sleep(0.5).flat_map(lambda _: fail("timeout"))
    exit_, now = run_on_clock(race(sleep(2).as_("primary"), timer), 10)
    assert exit_.cause == Fail("timeout")
    assert exit_.cause.failures() == ["timeout"]


def test_race_success_ignores_failures_until_all_fail():
    exit_, _ = run_on_clock(race_success(sleep(1).flat_map(lambda _: fail("a")), sleep(2).as_("b")), 5)
    assert exit_.value == "b"
    exit2, _ = run_on_clock(race_success(sleep(1).flat_map(lambda _: fail("a")),
                                         sleep(2).flat_map(lambda _: fail("b"))), 5)
    assert sorted(exit2.cause.failures()) == ["a", "b"]


def test_race_losers_finalizers_finish_before_race_returns():
    log = []
    loser = never.ensuring(sleep(0.01).flat_map(lambda _: sync(lambda: log.append("loser cleaned"))))
    winner = yield_now.flat_map(lambda _: yield_now).as_("win")
    assert run(race(loser, winner).tap(lambda _: sync(lambda: log.append("race returned")))) == "win"
    assert log == ["loser cleaned", "race returned"]


def test_for_each_par_bounds_parallelism_and_keeps_order():
    in_flight = Ref(0)
    peak = []

    def work(i):
        enter = in_flight.update_and_get(lambda n: n + 1).tap(lambda n: peak.append(n))
        leave = in_flight.update(lambda n: n - 1)
        return enter.flat_map(lambda _: yield_now).flat_map(lambda _: leave).as_(None if i == 3 else i * 2)

    result = run(for_each_par(range(20), work, parallelism=3))
    assert result == [None if i == 3 else i * 2 for i in range(20)]
    assert max(peak) == 3


def test_for_each_par_first_failure_stops_started_and_unstarted_items():
    started = []
    cleaned = []

    def work(i):
        body = sync(lambda: started.append(i)).flat_map(
            lambda _: fail(f"item {i}") if i == 2 else never)
        return body.ensuring(sync(lambda: cleaned.append(i)))

    exit_ = run_exit(for_each_par(range(100), work, parallelism=4))
    assert exit_.cause == Fail("item 2")
    assert sorted(started) == [0, 1, 2]  # item 3 would start next: it never does
    assert sorted(cleaned) == [0, 1, 2]  # 0 and 1 were interrupted and cleaned up


def test_for_each_par_handles_100k_items():
    assert run(for_each_par(range(100_000), lambda x: succeed(x * 2), parallelism=100))[-1] == 199_998


def test_for_each_par_empty():
    assert run(for_each_par([], lambda x: succeed(x))) == []


def test_each_item_has_its_own_scope():
    log = []

    def item(i):
        res = acquire_release(sync(lambda: log.append(f"acquire {i}")).as_(i),
                              lambda r: sync(lambda: log.append(f"release {r}")))
        return res.flat_map(lambda r: yield_now.as_(r))

    assert run(for_each_par([1, 2], item, parallelism=1)) == [1, 2]
    assert log == ["acquire 1", "release 1", "acquire 2", "release 2"]


def test_timeout_fails_and_interrupts_the_effect():
    log = []
    eff = never.ensuring(sync(lambda: log.append("interrupted"))).timeout(5)
    exit_, now = run_on_clock(eff, 6)
    [err] = exit_.cause.failures()
    assert isinstance(err, TimeoutError) and "5s" in str(err)
    assert log == ["interrupted"] and now == 6


@pytest.mark.asyncio_only
def test_timeout_leaves_no_timer_when_effect_wins():
    clock, env = clock_env()

    async def main():
        task = asyncio.create_task(sleep(1).as_("ok").timeout(5)._run(env))
        await clock.advance(1)
        result = await task
        return result, clock.pending_sleeps

    assert asyncio.run(main()) == ("ok", 0)


def test_timeout_option_and_timeout_to():
    assert run_on_clock(sleep(10).timeout_option(1), 2)[0].value == NONE
    assert run_on_clock(sleep(1).as_(3).timeout_option(2), 2)[0].value == Some(3)
    assert run_on_clock(sleep(10).timeout_to(1, "default"), 2)[0].value == "default"


def test_bad_arguments_fail_at_construction():
    with pytest.raises(TypeError, match="at least one effect"):
        zip_par()
    with pytest.raises(TypeError, match="at least one effect"):
        race()
    with pytest.raises(TypeError, match="unpack it"):
        zip_par([succeed(1), succeed(2)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parallelism"):
        for_each_par([1], succeed, parallelism=0)
    with pytest.raises(ValueError, match="non-negative"):
        sleep(-1)
    with pytest.raises(ValueError, match="non-negative"):
        succeed(1).timeout(-0.5)
    with pytest.raises(TypeError, match="expected an Effect"):
        zip_par(succeed(1), 5)  # type: ignore[arg-type]


def test_item_function_raising_fails_the_group_with_a_defect():
    def bad(i):
        raise KeyError(i)
    exit_ = run_exit(for_each_par([1, 2], bad))
    assert isinstance(exit_.cause.defects()[0], KeyError)


def test_interrupting_the_parent_interrupts_every_branch():
    log = []
    started = Deferred()

    def branch(i):
        return started.succeed(None).flat_map(lambda _: never).ensuring(sync(lambda: log.append(i)))

    def go(fiber):
        return started.await_().flat_map(lambda _: fiber.interrupt())

    ex = run(zip_par(branch(0), branch(1), branch(2)).fork().flat_map(go))
    assert ex.is_interrupted()
    assert sorted(log) == [0, 1, 2]


def test_unstarted_coroutine_branches_are_closed_not_leaked_as_warnings():
    import gc
    import warnings

    async def fetch(n):
        await asyncio.sleep(0)
        return succeed(n)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_exit(zip_par(fail("boom"), fetch("A"))).cause == Fail("boom")
        assert run(race(succeed(1), fetch("B"))) == 1
        gc.collect()


def test_a_losers_failing_finalizer_is_never_swallowed():
    def boom():
        raise RuntimeError("finalizer failed")

    started = Deferred()
    slow = started.succeed(None).flat_map(lambda _: never).ensuring(sync(boom))
    timed = run_exit(slow.timeout(0.05))
    assert isinstance(timed.cause.failures()[0], TimeoutError)
    assert isinstance(timed.cause.defects()[0], RuntimeError)
    lost = run_exit(race(slow, started.await_().as_("fast")))
    assert isinstance(lost.cause.defects()[0], RuntimeError)  # reported, not dropped
    failed = run_exit(race(slow, started.await_().flat_map(lambda _: fail("first"))))
    assert failed.cause.failures() == ["first"] and failed.cause.defects()


def test_nested_groups_are_stack_safe():
    def depth(n):
        if n == 0:
            return succeed(0)
        from effectpy import suspend
        return suspend(lambda: zip_par(depth(n - 1), succeed(None))).map(lambda t: t[0] + 1)

    assert run(depth(3000)) == 3000

    def tree(n):
        if n == 0:
            return succeed(1)
        return for_each_par([n - 1], tree, parallelism=4).map(lambda xs: xs[0] + 1)

    assert run(tree(2000)) == 2001


# --- partition_par, validate_par, fork_all, Fiber.join_all / interrupt_all ----------------


def check_even(n):
    return fail(f"{n} is odd") if n % 2 else succeed(n)


def test_partition_par_does_not_fail_fast():
    done = []

    def item(n):
        # the failures come first: a fail-fast combinator would interrupt the others
        return (check_even(n) if n % 2 else sleep(0).flat_map(lambda _: check_even(n))).tap(
            lambda v: sync(lambda: done.append(v)))

    assert run(partition_par(range(7), item)) == (["1 is odd", "3 is odd", "5 is odd"], [0, 2, 4, 6])
    assert sorted(done) == [0, 2, 4, 6]  # every success ran to its end
    assert run(partition_par([], check_even)) == ([], [])


def test_partition_par_bounds_parallelism_and_fails_on_a_defect():
    in_flight = Ref(0)
    peak = []

    def work(i):
        enter = in_flight.update_and_get(lambda n: n + 1).tap(lambda n: peak.append(n))
        return enter.flat_map(lambda _: yield_now).flat_map(
            lambda _: in_flight.update(lambda n: n - 1)).flat_map(lambda _: check_even(i))

    assert run(partition_par(range(10), work, parallelism=2))[1] == [0, 2, 4, 6, 8]
    assert max(peak) == 2
    cleaned = []
    slow = never.ensuring(sync(lambda: cleaned.append("slow")))
    exit_ = run_exit(partition_par([0, 1], lambda i: slow if i == 0 else die(KeyError("bug"))))
    assert isinstance(exit_.cause.defects()[0], KeyError) and cleaned == ["slow"]


def test_validate_par_keeps_every_error_in_the_cause():
    exit_ = run_exit(validate_par(range(6), check_even))
    assert exit_.cause.failures() == ["1 is odd", "3 is odd", "5 is odd"]
    assert exit_.cause == Both(Both(Fail("1 is odd"), Fail("3 is odd")), Fail("5 is odd"))
    assert run(validate_par([2, 4], check_even, parallelism=1)) == [2, 4]
    from effectpy import Failure
    with pytest.raises(Failure) as info:
        run(validate_par([1, 3], check_even))
    assert info.value.error == "1 is odd"  # the first, in input order


def test_fork_all_is_one_fiber_for_all_of_them():
    from effectpy import fork_all
    gate = Deferred()

    def item(i):
        return gate.await_().as_(i * 10)

    @do
    def program():
        fiber = yield fork_all([item(i) for i in range(3)])
        assert not fiber.is_done()  # it returned at once
        yield gate.succeed(None)
        return (yield fiber.join())

    with record() as trace:
        assert run(program) == [0, 10, 20]
    by_name = {f.name: f for f in trace.fibers()}
    main = by_name["fork_all"].parent
    assert trace.fiber(main).parent is None  # fork_all's fiber is the caller's child
    assert all(by_name[f"fork_all[{i}]"].parent == by_name["fork_all"].id for i in range(3))


def test_fork_all_fails_fast_and_is_interrupted_as_one():
    from effectpy import fork_all
    cleaned = []

    def slow(i):
        return never.ensuring(sync(lambda: cleaned.append(i)))

    exit_ = run(fork_all([slow(0), fail("boom"), slow(2)]).flat_map(lambda f: f.await_()))
    assert exit_.cause == Fail("boom") and cleaned == [0]  # the third never started
    cleaned.clear()
    exit2 = run(fork_all([slow(0), slow(1)]).flat_map(lambda f: yield_now.flat_map(lambda _: f.interrupt())))
    assert exit2.is_interrupted() and sorted(cleaned) == [0, 1]
    assert run(fork_all([]).flat_map(lambda f: f.join())) == []
    with pytest.raises(TypeError, match="fork_all expects an iterable of effects, got Effect"):
        fork_all(succeed(1))
    with pytest.raises(TypeError, match="fork_all's effect #1 expected an Effect, got int 3"):
        fork_all([succeed(1), 3])


def test_join_all_waits_for_every_fiber_and_keeps_every_failure():
    from effectpy import Fiber
    clock, env = clock_env()
    gates = [Deferred(), Deferred()]

    def slow(i):
        return gates[i].await_().as_(f"slow {i}")

    @do
    def program():
        fibers = [(yield succeed(1).fork()), (yield slow(0).fork())]
        joining = yield Fiber.join_all(fibers).fork()
        yield clock.adjust(1)  # everything has run until it waits (TestClock's rule)
        waited = not joining.is_done()
        yield gates[0].succeed(None)
        values = yield joining.join()
        failing = [(yield fail("a").fork()), (yield slow(1).fork()), (yield fail("b").fork())]
        joining = yield Fiber.join_all(failing).exit().fork()
        yield clock.adjust(1)
        waited_after_a_failure = not joining.is_done()
        yield gates[1].succeed(None)
        return waited, values, waited_after_a_failure, (yield joining.join())

    waited, values, waited_after_a_failure, exit_ = run(program.provide(env))
    assert waited and values == [1, "slow 0"]
    assert waited_after_a_failure and exit_.cause == Both(Fail("a"), Fail("b"))
    with pytest.raises(TypeError, match="Fiber.join_all expects fibers, got int 1"):
        Fiber.join_all([1])


def test_interrupt_all_interrupts_them_at_once_and_waits_for_their_finalizers():
    from effectpy import Fiber
    log = []
    started = [Deferred(), Deferred()]
    stopping = [Deferred(), Deferred()]

    def worker(i):
        # each finalizer waits until the other one runs: interrupting them one after the
        # other (each interrupt waiting for its finalizer) would deadlock
        finalizer = stopping[i].succeed(None).flat_map(lambda _: stopping[1 - i].await_()).flat_map(
            lambda _: sync(lambda: log.append(f"stopped {i}")))
        return started[i].succeed(None).flat_map(lambda _: never).on_interrupt(finalizer)

    @do
    def program():
        fibers = []
        for i in range(2):
            fibers.append((yield worker(i).fork()))
        for d in started:
            yield d.await_()
        result = yield Fiber.interrupt_all(fibers)
        return result, [f.poll().is_interrupted() for f in fibers]

    assert run(program.timeout(5)) == (None, [True, True])
    assert sorted(log) == ["stopped 0", "stopped 1"]
    with pytest.raises(TypeError, match="Fiber.interrupt_all expects an iterable of fibers, got int 3"):
        Fiber.interrupt_all(3)


def test_new_combinators_reject_bad_input():
    for combinator in (partition_par, validate_par):
        name = combinator.__name__
        with pytest.raises(TypeError, match=f"{name} expects an iterable of items, got int 3"):
            combinator(3, succeed)
        with pytest.raises(TypeError, match=f"{name} expects a function, got int 3"):
            combinator([1], 3)
        with pytest.raises(ValueError, match=f"{name}'s parallelism must be None or an int >= 1, got 0"):
            combinator([1], succeed, parallelism=0)


def test_partition_and_validate_items_are_children_of_the_caller_and_interrupted_with_it():
    for combinator in (partition_par, validate_par):
        cleaned = []
        started = Deferred()

        def item(i):
            begin = started.succeed(None) if i == 1 else succeed(None)
            return begin.flat_map(lambda _: never).ensuring(sync(lambda: cleaned.append(i)))

        def interrupt_when_started(fiber):
            return started.await_().flat_map(lambda _: fiber.interrupt())

        with record() as trace:
            exit_ = run(combinator(range(2), item).fork().flat_map(interrupt_when_started))
        assert exit_.is_interrupted() and sorted(cleaned) == [0, 1]
        name = combinator.__name__
        items = [f for f in trace.fibers() if f.name in (f"{name}[0]", f"{name}[1]")]
        assert len(items) == 2 and all(f.outcome == "interrupted" for f in items)
        caller = trace.fiber(items[0].parent)
        assert caller.parent is not None and trace.fiber(caller.parent).parent is None
