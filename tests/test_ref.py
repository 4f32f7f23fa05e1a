"""Ref, SynchronizedRef and FiberRef: shared cells, effectful serialised updates, and
fiber-local values forked into children and merged back when they are joined."""

import pytest

from effectpy import (
    Clock, Context, Deferred, Effect, Fail, Fiber, FiberRef, Ref, SynchronizedRef, TestClock, die,
    fail, never, sleep, succeed, zip_par,
)
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import do


def on_clock(program, advance=100):
    clock = TestClock()
    env = Context().with_service(Clock, clock)
    result, _ = run(zip_par(program, clock.adjust(advance)).provide(env))
    return result, clock.now()


# --- Ref ---------------------------------------------------------------------------------


def test_get_and_update_and_update_some():
    ref = Ref(1)
    assert run(ref.get_and_update(lambda n: n + 10)) == 1 and run(ref.get()) == 11
    run(ref.update_some(lambda n: None if n > 5 else 0))  # None: not applicable, unchanged
    assert run(ref.get()) == 11
    run(ref.update_some(lambda n: n * 2 if n % 2 else None))
    assert run(ref.get()) == 22
    for method in ("get_and_update", "update_some"):
        with pytest.raises(TypeError, match=f"Ref.{method} expects a function, got int 3"):
            getattr(ref, method)(3)


# --- SynchronizedRef ---------------------------------------------------------------------


def slow_increment(n):
    return sleep(1).as_(n + 1)  # reads, waits, writes: updates that overlapped would be lost


def test_effectful_updates_run_one_at_a_time():
    ref = SynchronizedRef(0)
    result, now = on_clock(zip_par(*[ref.update_effect(slow_increment) for _ in range(3)]))
    assert run(ref.get()) == 3 and now == 100
    # the same with a plain Ref: every update reads 0 (the three overlap), one increment stays
    plain = Ref(0)
    on_clock(zip_par(*[plain.get().flat_map(slow_increment).flat_map(plain.set) for _ in range(3)]))
    assert run(plain.get()) == 1


def test_plain_updates_wait_for_the_effectful_one_in_progress_and_get_does_not():
    ref = SynchronizedRef(1)
    started = Deferred()

    @do
    def program():
        updating = yield ref.update_effect(
            lambda n: started.succeed(None).flat_map(lambda _: slow_increment(n))).fork()
        yield started.await_()
        seen_during = yield ref.get()  # never waits: the value before the update
        yield ref.update(lambda n: n * 10)  # waits for the effectful update, then applies
        yield updating.join()
        return seen_during, (yield ref.get())

    assert on_clock(program)[0] == (1, 20)


def test_a_failed_or_interrupted_update_leaves_the_value_and_frees_the_ref():
    ref = SynchronizedRef(5)
    assert run_exit(ref.modify_effect(lambda n: fail("no"))).cause == Fail("no")
    assert run_exit(ref.update_effect(lambda n: die(KeyError("bug")))).cause.defects()
    exit_, _ = on_clock(ref.update_effect(lambda n: never).timeout(3).exit())
    assert isinstance(exit_.cause.failures()[0], TimeoutError)
    assert run(ref.get()) == 5
    assert run(ref.modify_effect(lambda n: succeed((f"was {n}", n + 1)))) == "was 5"  # not locked
    assert run(ref.update_and_get_effect(lambda n: succeed(n * 2))) == 12
    assert run(ref.get_and_update(lambda n: 0)) == 12 and run(ref.get()) == 0
    assert repr(ref) == "SynchronizedRef(0)"


def test_synchronized_ref_bad_input():
    ref = SynchronizedRef(0)
    for method in ("update_effect", "modify_effect", "update_and_get_effect"):
        with pytest.raises(TypeError, match=f"SynchronizedRef.{method} expects a function, got int 3"):
            getattr(ref, method)(3)
    exit_ = run_exit(ref.update_effect(lambda n: n + 1))  # not an effect: a clear defect
    assert "update_effect's function expected an Effect, got int 1" in str(exit_.cause.defects()[0])


# --- FiberRef: fork and join -------------------------------------------------------------


def test_fork_function_makes_the_childs_value():
    depth = FiberRef(0, fork=lambda n: n + 1)

    def child_depth():
        return depth.get().fork().flat_map(Fiber.join)

    assert run(child_depth()) == 0  # never set: the initial value, as in ZIO
    nested = depth.set(10).flat_map(lambda _: depth.get().fork().flat_map(Fiber.join).zip(
        child_depth().fork().flat_map(Fiber.join)))
    assert run(nested) == (11, 12)  # a grandchild: forked twice


def test_join_function_merges_the_childs_value_into_the_joiners():
    total = FiberRef(0, fork=lambda _: 0, join=lambda mine, child: mine + child)

    def add(n):
        return total.update(lambda t: t + n).fork().flat_map(Fiber.join)

    assert run(add(3).flat_map(lambda _: add(4)).flat_map(lambda _: total.get())) == 7
    assert run(total.set(10).flat_map(lambda _: add(1)).flat_map(lambda _: total.get())) == 11


def test_only_the_values_a_child_changed_are_merged_and_only_when_it_succeeds():
    a, b = FiberRef("a0"), FiberRef("b0")
    gate = Deferred()

    @do
    def program():
        child = yield gate.await_().flat_map(lambda _: a.set("a from child")).fork()
        yield b.set("b set by the parent after the fork")
        yield gate.succeed(None)
        yield child.join()
        merged = (yield a.get()), (yield b.get())
        failing = yield a.set("lost").flat_map(lambda _: fail("no")).fork()
        yield failing.join().either()
        return merged, (yield a.get())

    (merged_a, merged_b), after_failure = run(program)
    assert merged_a == "a from child"
    assert merged_b == "b set by the parent after the fork"  # the child's untouched b: not merged
    assert after_failure == "a from child"


def test_join_all_merges_every_fiber():
    seen = FiberRef((), join=lambda mine, child: mine + child)

    @do
    def program():
        fibers = []
        for tag in ("x", "y"):
            fibers.append((yield seen.update(lambda t, tag=tag: t + (tag,)).fork()))
        yield Fiber.join_all(fibers)
        return (yield seen.get())

    assert run(program) == ("x", "y")


def test_an_effect_awaited_in_a_coroutine_merges_back_with_the_join_rule():
    log = FiberRef("start", join=lambda mine, child: f"{mine} | {child}")
    untouched = FiberRef("kept", join=lambda mine, child: "never called")

    async def body(ctx):
        await log.set("set inside")
        return await untouched.get()

    program = log.set("outer").flat_map(lambda _: Effect(body)).flat_map(
        lambda inner: zip_par(log.get(), untouched.get()).map(lambda got: (inner, *got)))
    assert run(program) == ("kept", "outer | set inside", "kept")


def test_a_failing_fork_or_join_function_is_a_defect():
    bad_fork = FiberRef(0, fork=lambda n: 1 / n)
    exit_ = run_exit(bad_fork.set(0).flat_map(lambda _: succeed(1).fork()))
    assert isinstance(exit_.cause.defects()[0], ZeroDivisionError)
    exit2 = run_exit(bad_fork.set(0).flat_map(lambda _: zip_par(succeed(1), succeed(2), never)))
    assert isinstance(exit2.cause.defects()[0], ZeroDivisionError)
    bad_join = FiberRef(0, join=lambda mine, child: [][0])
    exit3 = run_exit(bad_join.set(1).fork().flat_map(Fiber.join))
    assert isinstance(exit3.cause.defects()[0], IndexError)


def test_fiber_ref_bad_input():
    with pytest.raises(TypeError, match="FiberRef's fork must be a function, got int 3"):
        FiberRef(0, fork=3)
    with pytest.raises(TypeError, match="FiberRef's join must be a function, got Effect"):
        FiberRef(0, join=succeed(1))
    with pytest.raises(TypeError):
        FiberRef(0, lambda n: n)  # fork and join are keyword-only
