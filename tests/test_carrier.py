"""Carriers: a fiber awaits its coroutines inline in one task, effects awaited inside its
coroutine run as its children, and interruption reaches (and waits for) all of them."""

import asyncio

import anyio
import pytest

from effectpy import (
    Clock, Context, Deferred, Effect, Failure, FiberRef, TestClock, acquire_release, fail, for_each,
    never, race, service, sleep, succeed, sync, uninterruptible_mask, yield_now, zip_par,
)
from effectpy.lowlevel import with_fiber
from effectpy.trace import record
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture


async def task_id() -> int:
    """The id of the task running this coroutine, after one trip round the event loop."""
    await anyio.sleep(0)
    return anyio.get_current_task().id


def one_body(i: int) -> Effect:
    return Effect(lambda ctx: task_id())


def test_a_fiber_awaits_all_its_coroutines_in_one_task():
    ids = run(for_each(range(20), one_body))
    assert len(set(ids)) == 1


def test_each_forked_fiber_has_its_own_carrier():
    a, b = run(zip_par(for_each(range(5), one_body), for_each(range(5), one_body)))
    assert len(set(a)) == 1 and len(set(b)) == 1 and a[0] != b[0]


def test_the_root_is_carried_by_the_task_that_awaits_it():
    async def main():
        here = anyio.get_current_task().id
        return here, await for_each(range(3), one_body)

    here, ids = anyio.run(main, backend="asyncio")
    assert set(ids) == {here}


def test_effects_awaited_in_a_coroutine_are_its_fibers_children():
    inner = sleep(0).as_(1).named("inner")

    async def body(ctx):
        a = await inner                         # await effect
        b = await inner._run(ctx)               # the low-level form
        c = (await inner._run_exit()).value     # an Exit, with the fiber's own context
        return a + b + c

    with record() as trace:
        assert run(Effect(body).named("outer")) == 3
    fibers = {f.id: f for f in trace.fibers()}
    [outer] = [f for f in fibers.values() if f.parent is None]
    assert outer.name == "outer"
    inners = [f for f in fibers.values() if f.name == "inner"]
    assert len(inners) == 3 and all(f.parent == outer.id for f in inners)


def test_nested_runs_see_the_callers_services_clock_and_fiber_refs():
    class Config:
        url = "postgres://"

    clock = TestClock()
    level = FiberRef(0)

    async def body(ctx):
        return (await service(Clock), await service(Config).map(lambda c: c.url), await level.get())

    env = Context().with_service(Clock, clock).with_service(Config, Config())
    got = run(level.locally(7, Effect(body)).provide(env))
    assert got[0] is clock and got[1:] == ("postgres://", 7)


def test_a_context_passed_explicitly_wins():
    class Config:
        pass

    async def body(ctx):
        inherited = await service(Config).exit()
        explicit = await service(Config).exit()._run(Context())
        return inherited.is_success(), explicit.is_success()

    assert run(Effect(body).provide(Context().with_service(Config, Config()))) == (True, False)


def test_fiber_ref_values_set_by_a_nested_run_pass_back_to_the_caller():
    level = FiberRef(0)

    async def body(ctx):
        await level.set(5)
        return await level.get()

    assert run(Effect(body).flat_map(lambda inner: level.get().map(lambda outer: (inner, outer)))) == (5, 5)


def test_a_nested_virtual_sleep_follows_the_callers_test_clock():
    clock = TestClock()
    seen = []

    async def body(ctx):
        await sleep(60)  # on the caller's TestClock: no real time passes
        seen.append(clock.now())
        return "woke"

    program = zip_par(Effect(body), clock.adjust(60)).provide(Context().with_service(Clock, clock))
    assert run(program) == ("woke", None)
    assert seen == [60.0]


def test_interrupting_the_outer_fiber_interrupts_its_nested_runs_and_waits_for_their_cleanup():
    log = []
    started = Deferred()
    nested = acquire_release(sync(lambda: log.append("acquired")).as_("db"),
                             lambda _: sync(lambda: log.append("released")),
                             lambda _: started.succeed(None).flat_map(lambda _: never))

    async def body(ctx):
        try:
            await nested.named("nested")
        finally:
            log.append("coroutine's finally")

    outer = Effect(body).ensuring(sync(lambda: log.append("outer's finalizer"))).named("outer")
    program = outer.fork().flat_map(lambda f: started.await_().flat_map(lambda _: f.interrupt()))
    with record() as trace:
        exit_ = run(program)
    assert exit_.is_interrupted()
    assert log == ["acquired", "released", "coroutine's finally", "outer's finalizer"]
    ids = {f.name: f.id for f in trace.fibers() if f.name}
    cancels = {(e.fiber, e.by) for e in trace.events if e.kind == "cancel"}
    assert (ids["nested"], ids["outer"]) in cancels  # the outer fiber cancels its nested run


def waits_forever(started: Deferred, log: list[str], note: str):
    """A body that says it started, then waits until its await is cancelled (noted)."""
    async def body(ctx):
        await started.succeed(None)
        try:
            await anyio.sleep_forever()
        finally:
            log.append(note)
    return body


def busy_for_a_while(started: Deferred, log: list[str], note: str):
    """A body that says it started, then awaits 50 times before it notes its end."""
    async def body(ctx):
        await started.succeed(None)
        for _ in range(50):
            await anyio.sleep(0)
        log.append(note)
    return body


def test_interrupting_an_inline_await_cancels_that_await_only():
    log = []
    started = Deferred()

    async def cleanup(ctx):
        await anyio.sleep(0)  # the carrier can still await: only the await was cancelled
        log.append("cleanup awaited")

    worker = Effect(waits_forever(started, log, "cancelled at its await")).ensuring(Effect(cleanup))
    exit_ = run(worker.fork().flat_map(lambda f: started.await_().flat_map(lambda _: f.interrupt())))
    assert exit_.is_interrupted()
    assert log == ["cancelled at its await", "cleanup awaited"]


def test_an_uninterruptible_inline_await_completes_and_the_interruption_comes_after_the_region():
    log = []
    started = Deferred()

    worker = Effect(busy_for_a_while(started, log, "await completed")).uninterruptible().flat_map(lambda _: sync(lambda: log.append("after the region")))
    exit_ = run(worker.fork().flat_map(lambda f: started.await_().flat_map(lambda _: f.interrupt())))
    assert exit_.is_interrupted()
    assert log == ["await completed"]


def test_an_uninterruptible_await_in_a_nested_run_is_not_cut_by_the_outer_interruption():
    log = []
    started = Deferred()

    async def body(ctx):
        await Effect(busy_for_a_while(started, log, "nested await completed")).uninterruptible()

    outer = Effect(body)
    exit_ = run(outer.fork().flat_map(lambda f: started.await_().flat_map(lambda _: f.interrupt())))
    assert exit_.is_interrupted() and log == ["nested await completed"]


class Config:
    url = "pg://"


def test_effects_awaited_in_an_uninterruptible_await_of_a_root_are_its_children_with_its_context():
    # on asyncio the root's task is the host's, which others may cancel: an uninterruptible
    # await there runs shielded in a task of its own, which still counts as the fiber's
    clock = TestClock()

    async def connect(ctx):
        config = await service(Config)
        await sleep(3600)  # on the root's TestClock (the live clock would hang the test)
        return f"connected to {config.url}"

    # the root acquires (uninterruptibly) while a forked fiber moves the clock
    connection = acquire_release(Effect(connect).named("connect"), lambda _: succeed(None),
                                 lambda conn: succeed(conn))
    program = clock.adjust(3600).fork().flat_map(lambda _: connection)
    with record() as trace:
        assert run(program.provide(Context().with_service(Config, Config()).with_service(Clock, clock))) == (
            "connected to pg://")
    roots = [f for f in trace.fibers() if f.parent is None]
    assert len(roots) == 1  # the nested runs (the service, the sleep) are in the tree


def test_effects_awaited_in_an_uninterruptible_region_of_the_root_see_its_services():
    async def read(ctx):
        return await service(Config).map(lambda c: c.url)

    program = Effect(read).uninterruptible().provide(Context().with_service(Config, Config()))
    with record() as trace:
        assert run(program) == "pg://"
    assert len([f for f in trace.fibers() if f.parent is None]) == 1


def test_a_host_cancellation_during_an_uninterruptible_await_comes_as_the_region_ends(each_backend):
    log = []

    async def main():
        with anyio.CancelScope() as scope:
            async def body(ctx):
                scope.cancel()  # the host's cancellation, while the await is shielded
                await anyio.sleep(0)
                log.append("region's await done")

            after = for_each(range(3), lambda i: sync(lambda: log.append(f"after the region {i}")))
            await (Effect(body).uninterruptible().flat_map(lambda _: after)
                   .ensuring(sync(lambda: log.append("finalizer"))))
        log.append(f"cancelled: {scope.cancelled_caught}")

    anyio.run(main, backend=each_backend)
    # (on trio, the steps after the region ran: the cancellation waited for the next await)
    assert log == ["region's await done", "finalizer", "cancelled: True"]


def test_a_fiber_forked_in_an_uninterruptible_region_starts_uninterruptible():
    """ZIO's rule: so a child that opts into interruption inside its own `on_interrupt`
    region is interrupted there (when its parent ends), and the handler runs."""
    log = []
    child = never.interruptible().on_interrupt(sync(lambda: log.append("handler ran")))
    parent = child.fork().uninterruptible()  # the parent ends at once: its child is interrupted
    run(parent)
    assert log == ["handler ran"]


def test_a_child_forked_in_an_uninterruptible_region_cannot_be_interrupted_outside_interruptible():
    log = []
    started = Deferred()
    child = started.succeed(None).flat_map(lambda _: sleep(0.01)).flat_map(
        lambda _: sync(lambda: log.append("ran to its end")))

    def go(restore):
        return child.fork().flat_map(lambda f: restore(started.await_().flat_map(lambda _: f.interrupt())))

    exit_ = run(uninterruptible_mask(go))
    assert exit_.is_success() and log == ["ran to its end"]


def test_the_circuit_breaker_of_the_guide_is_one_tree():
    """The guide's circuit breaker wraps each call as Effect(lambda ctx: wrapped(ctx)._run(ctx)):
    the nested runs are children of the fiber that runs the call."""
    calls = iter([fail("down"), fail("down"), succeed("up")])

    def wrapped(ctx):
        return next(calls).catch_all(lambda e: succeed(f"recovered from {e}"))

    call = Effect(lambda ctx: wrapped(ctx)._run(ctx))
    with record() as trace:
        assert run(for_each(range(3), lambda _: call)) == [
            "recovered from down", "recovered from down", "up"]
    roots = [f for f in trace.fibers() if f.parent is None]
    assert len(roots) == 1 and len(trace.fibers()) == 4
    assert all(f.parent == roots[0].id for f in trace.fibers() if f.id != roots[0].id)


def test_the_guides_circuit_breaker_in_a_program_is_one_tree_on_its_test_clock_and_interrupted_whole():
    from test_guide import CircuitBreaker  # the guide's code, as the guide writes it

    clock = TestClock()
    log = []
    second_call_waits = Deferred()

    def service(i):
        async def answer(ctx):
            try:
                if i == 1:
                    await second_call_waits.succeed(None)
                await sleep(3600)  # a nested run: on the caller's TestClock, or the test hangs
                log.append(f"call {i} answered at {clock.now():g}s")
                return f"response {i}"
            finally:
                log.append(f"call {i}'s finally")
        return acquire_release(sync(lambda: log.append(f"call {i} connected")),
                               lambda _: sync(lambda: log.append(f"call {i} closed")),
                               lambda _: Effect(answer)).named(f"service {i}")

    breaker = CircuitBreaker(failure_threshold=2, timeout_seconds=5)
    calls = for_each(range(3), lambda i: breaker.call(service(i))).named("calls")
    program = calls.fork().flat_map(lambda f: clock.adjust(3600).flat_map(
        lambda _: second_call_waits.await_()).flat_map(lambda _: f.interrupt()))
    with record() as trace:
        exit_ = run(program.provide(Context().with_service(Clock, clock)))

    assert exit_.is_interrupted()
    assert log == ["call 0 connected", "call 0 answered at 3600s", "call 0's finally", "call 0 closed",
                   "call 1 connected", "call 1's finally", "call 1 closed"]
    fibers = trace.fibers()
    named = {f.name: f for f in fibers if f.name}
    (root,) = [f for f in fibers if f.parent is None]
    assert named["calls"].parent == root.id
    # each call's `wrapped_effect(ctx)._run(ctx)` is a child of the fiber making the calls,
    # and the service's nested runs (the Deferred, the sleep) children of that one
    assert named["service 0"].parent == named["calls"].id
    assert named["service 1"].parent == named["calls"].id
    assert "service 2" not in named
    under_service_1 = [f for f in fibers if f.parent == named["service 1"].id]
    assert len(under_service_1) == 2
    cancels = {(e.fiber, e.by) for e in trace.events if e.kind == "cancel"}
    assert (named["service 1"].id, named["calls"].id) in cancels
    assert all(f.end is not None for f in fibers)  # every fiber of the tree ended


def test_a_race_loser_in_an_inline_await_is_cancelled_and_cleaned_up():
    log = []
    started = Deferred()

    slow = waits_forever(started, log, "slow cancelled")
    assert run(race(Effect(slow), started.await_().as_("fast"))) == "fast"
    assert log == ["slow cancelled"]


def test_a_coroutine_whose_fiber_is_interrupted_before_it_began_never_runs():
    log = []

    async def never_started(ctx):
        log.append("ran")  # pragma: no cover - must not run

    # the loser's coroutine is made, but its carrier has not begun to await it when the
    # winner (already done) interrupts it: it is closed unstarted (no "never awaited")
    assert run(race(Effect(never_started), succeed("fast"))) == "fast"
    assert log == []


@pytest.mark.asyncio_only
def test_cancelling_the_host_task_interrupts_the_run_and_keeps_cancelling_bookkeeping():
    log = []

    async def main():
        started = asyncio.Event()

        async def body(ctx):
            started.set()
            await asyncio.sleep(3600)

        task = asyncio.create_task(Effect(body).ensuring(sync(lambda: log.append("finalized")))._run())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelling() == 1  # the host's one request, not counted off by effectpy

        # asyncio.timeout around an effect: TimeoutError, finalizers run, nothing left over
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await Effect(body).ensuring(sync(lambda: log.append("timed out")))
        return asyncio.current_task().cancelling()

    assert asyncio.run(main()) == 0
    assert log == ["finalized", "timed out"]


@pytest.mark.asyncio_only
@pytest.mark.asyncio_only
@pytest.mark.parametrize("waits_on", ["sleep", "never"])
def test_a_host_cancellation_and_a_wake_in_the_same_turn_still_run_the_finalizers(waits_on):
    # the host's cancel() cancels the future the carrier parks on; a wake in the same
    # turn (here: another fiber's interruption) must not be lost with it
    log = []
    stopper_exit = []

    async def main():
        host = asyncio.current_task()

        def cancel_then_interrupt(root):
            host.cancel()
            root.interrupt_as("another fiber", "test")

        def stopper(root):
            return (yield_now.flat_map(lambda _: sync(lambda: cancel_then_interrupt(root)))
                    .exit().flat_map(lambda ex: sync(lambda: stopper_exit.append(ex))).fork_daemon())

        body = sleep(3600) if waits_on == "sleep" else never
        program = with_fiber(stopper).flat_map(lambda _: body).ensuring(
            sync(lambda: log.append("finalizer")))
        with pytest.raises(asyncio.CancelledError):
            await program
        assert host.cancelling() == 1
        await asyncio.sleep(0)

    asyncio.run(main())
    assert log == ["finalizer"]
    assert [ex.is_success() for ex in stopper_exit] == [True]


def test_the_fibers_own_interruption_of_its_inline_await_is_counted_off_its_task():
    """A root interrupted by another fiber while its coroutine awaits: the carrier (the
    host task) cancels its own task to end the await, then counts that off again."""
    async def main():
        async def long(ctx):
            await asyncio.sleep(3600)

        def stop_me_soon(me):
            return sleep(0.001).flat_map(lambda _: me.interrupt()).fork_daemon()

        with pytest.raises(Failure) as info:
            await with_fiber(stop_me_soon).flat_map(lambda _: Effect(long))
        assert info.value.cause.is_interrupted_only()
        return asyncio.current_task().cancelling()

    assert asyncio.run(main()) == 0


@pytest.mark.asyncio_only
def test_a_task_made_inside_a_fibers_coroutine_runs_its_effects_as_roots():
    async def body(ctx):
        return await asyncio.create_task(succeed(1).named("elsewhere")._run())

    with record() as trace:
        assert run(Effect(body).named("outer")) == 1
    assert {f.name: f.parent for f in trace.fibers()} == {"outer": None, "elsewhere": None}


def test_a_cancelled_error_raised_by_user_code_interrupts_the_fiber_on_both_backends():
    """One rule, on asyncio and trio, in coroutines and in synchronous code: the fiber
    ends interrupted ("cancelled"), `catch_all` does not catch it, `catch_all_cause` does."""
    async def body(ctx):
        raise asyncio.CancelledError()

    def raising():
        raise asyncio.CancelledError()

    for eff in (Effect(body), sync(raising)):
        exit_ = run_exit(eff.catch_all(lambda e: succeed("caught")))
        assert exit_.is_interrupted() and exit_.cause.interruptors() == ["cancelled"]
        assert run(eff.catch_all_cause(lambda c: succeed(c.is_interrupted_only()))) is True
        with pytest.raises(Failure):
            run(eff)


@pytest.mark.asyncio_only
def test_run_inside_a_running_loop_says_what_to_write_instead():
    import effectpy
    import trio

    async def asyncio_main():
        with pytest.raises(RuntimeError, match=r"await effect.*%%effect"):
            effectpy.run(succeed(1))
        with pytest.raises(RuntimeError, match="running event loop"):
            effectpy.run_exit(succeed(1), backend="trio")

    async def trio_main():
        with pytest.raises(RuntimeError, match="await effect"):
            effectpy.run(succeed(1), backend="trio")

    asyncio.run(asyncio_main())  # and no "coroutine was never awaited" warning (an error here)
    trio.run(trio_main)



# --- after an inline await: the next step (`_loop.resume_awaited`) ---------------------

def after_an_await(then):
    """An Effect(async) body that awaits once, continued by ``then`` (a flat_map function)."""
    return Effect(lambda ctx: task_id()).flat_map(then)


def test_after_an_await_the_next_body_runs_in_the_same_task():
    first = after_an_await(lambda a: Effect(lambda ctx: task_id()).map(lambda b: (a, b)))
    a, b = run(first)
    assert a == b


def test_after_an_await_a_failing_function_fails_the_fiber():
    def then(_):
        raise ValueError("in flat_map")

    exit_ = run_exit(after_an_await(then))
    assert isinstance(exit_.cause.defects()[0], ValueError)


def test_after_an_await_a_function_that_returns_no_effect_is_a_clear_error():
    exit_ = run_exit(after_an_await(lambda _: 42))
    [defect] = exit_.cause.defects()
    assert "flat_map's function expected an Effect, got int 42" in str(defect)


def test_after_an_await_a_body_that_returns_no_awaitable_is_a_clear_error():
    exit_ = run_exit(after_an_await(lambda _: Effect(lambda ctx: 42)))
    [defect] = exit_.cause.defects()
    assert "the function given to Effect must return an awaitable (or an Effect), got int 42" in str(defect)


def test_after_an_await_a_body_may_return_an_effect_or_any_awaitable():
    class Ready:
        def __await__(self):
            return (yield from task_id().__await__())

    assert run(after_an_await(lambda _: Effect(lambda ctx: succeed(7)))) == 7
    assert isinstance(run(after_an_await(lambda _: Effect(lambda ctx: Ready()))), int)


def test_after_an_await_the_body_fails_with_its_own_exception():
    async def boom():
        raise KeyError("body")

    exit_ = run_exit(after_an_await(lambda _: Effect(lambda ctx: boom())))
    assert isinstance(exit_.cause.defects()[0], KeyError)


def test_a_fiber_interrupted_in_an_await_that_swallows_it_begins_no_next_body():
    began = []

    def body(i):
        async def go(ctx):
            began.append(i)
            if i == 1:
                try:
                    await anyio.sleep_forever()
                except anyio.get_cancelled_exc_class():
                    return "swallowed"  # the await goes on to its end: the fiber must not
            return i
        return Effect(go)

    def until_second_began():
        return yield_now.flat_map(lambda _: succeed(None) if len(began) == 2 else until_second_began())

    exit_ = run(for_each(range(3), body).fork().flat_map(
        lambda f: until_second_began().flat_map(lambda _: f.interrupt())))
    assert exit_.cause.is_interrupted_only()
    assert began == [0, 1]


def test_recorded_awaits_after_an_await_are_each_seen():
    with record() as trace:
        run(for_each(range(3), one_body))
    assert [e.kind for e in trace.events if e.kind in ("suspend", "resume")] == ["suspend", "resume"] * 3


# --- an Effect(async) body as a fiber's first node (`_loop.start_loop`) ----------------

def as_root(eff):
    return eff


def as_forked(eff):
    return eff.fork().flat_map(lambda f: f.join())


def as_branch(eff):
    return zip_par(eff, succeed("other")).map(lambda pair: pair[0])


starts = pytest.mark.parametrize("start", [as_root, as_forked, as_branch])


@starts
def test_a_first_body_that_fails_fails_its_fiber(start):
    def fn(ctx):
        raise ValueError("in the body's function")

    exit_ = run_exit(start(Effect(fn)))
    assert isinstance(exit_.cause.defects()[0], ValueError)


@starts
def test_a_first_body_that_returns_no_awaitable_is_a_clear_error(start):
    exit_ = run_exit(start(Effect(lambda ctx: None)))
    [defect] = exit_.cause.defects()
    assert "the function given to Effect must return an awaitable (or an Effect), got NoneType" in str(defect)


@starts
def test_a_first_body_may_return_an_effect(start):
    assert run(start(Effect(lambda ctx: sleep(0).as_(5)))) == 5


@starts
def test_a_fiber_whose_last_await_ended_closes_its_scope(start):
    log = []
    eff = acquire_release(sync(lambda: log.append("acquire")), lambda _: sync(lambda: log.append("release"))) \
        .flat_map(lambda _: Effect(lambda ctx: task_id()))
    assert isinstance(run(start(eff)), int)
    assert log == ["acquire", "release"]


def test_a_fiber_whose_coroutines_never_suspend_still_lets_the_others_run():
    async def at_once():
        return 1  # awaited inline, it ends without ever suspending

    ticks = []
    ticker = sync(lambda: ticks.append(1)).flat_map(lambda _: yield_now).forever()
    busy = for_each(range(50_000), lambda i: Effect(lambda ctx: at_once()), discard=True)
    run(race(busy.map(lambda _: len(ticks)), ticker))
    # the busy fiber lets the others run at least every STEP_BUDGET awaits, as the loop
    # does every STEP_BUDGET steps (without that, asyncio's ticker never ran)
    assert len(ticks) >= 50_000 // 2048


def test_a_coroutine_making_many_short_nested_runs_still_lets_the_others_run():
    ticks = []
    ticker = sync(lambda: ticks.append(1)).flat_map(lambda _: yield_now).forever()

    async def body(ctx):
        for _ in range(3 * 2048):
            await for_each(range(3), succeed)  # a nested run that never suspends
        return len(ticks)

    # each nested run is one of the fiber's awaits: it lets the others run every
    # STEP_BUDGET of them (without that, the ticker never ran while the body did)
    assert run(race(Effect(body), ticker)) >= 3


def test_a_body_whose_function_interrupts_its_own_fiber_never_begins():
    began = []

    async def slow():
        began.append(True)
        await anyio.sleep(5)  # (were it to begin: the fiber would wait here, then end)

    def then(fiber):
        def fn(ctx):
            fiber.interrupt_as("test", "interrupted by the body's own function")
            return slow()
        return Effect(fn)

    program = with_fiber(lambda fiber: Effect(lambda ctx: task_id()).flat_map(lambda _: then(fiber)))
    assert run_exit(program).cause.is_interrupted_only()
    assert began == []


# --- an interruption asked for by the user's own function, between two awaits ----------
# Each program runs the same recording (the run loop) or not (its fast paths).

def after_tick_then(then):
    """A fiber that awaits once, then runs ``then(itself)`` as a flat_map function."""
    return with_fiber(lambda me: Effect(lambda ctx: task_id()).flat_map(lambda _: then(me)))


def both_ways(make):
    plain = run_exit(make())
    with record():
        recorded = run_exit(make())
    return repr(plain), repr(recorded)


def test_a_function_that_interrupts_its_fiber_stops_the_next_body_before_it_is_called():
    called = []

    def then(me):
        me.interrupt_as("test")
        return Effect(lambda ctx: called.append("fn") or task_id())

    assert run_exit(after_tick_then(then)).cause.is_interrupted_only()
    assert called == []


@pytest.mark.parametrize("outcome", ["succeeds", "raises"])
def test_a_function_that_interrupts_its_fiber_ends_the_same_whether_recorded_or_not(outcome):
    def then(me):
        me.interrupt_as("test")
        if outcome == "succeeds":
            return succeed(1)  # a value: the frames unwind before the interruption lands
        raise ValueError("boom")

    plain, recorded = both_ways(lambda: after_tick_then(then))
    assert plain == recorded


def test_a_body_whose_function_interrupts_its_fiber_and_gives_no_awaitable_ends_the_same_either_way():
    def body(me):
        def fn(ctx):
            me.interrupt_as("test")
            return 42
        return Effect(fn)

    plain, recorded = both_ways(lambda: after_tick_then(body))
    assert plain == recorded


def test_a_failure_after_a_self_interruption_still_reaches_its_handler():
    seen = []

    def then(me):
        me.interrupt_as("test")
        raise ValueError("boom")

    def handler(cause):
        seen.append(cause)  # (the handler's function sees the failure; its effect is interrupted)
        return succeed("handled")

    def make():
        return after_tick_then(then).catch_all_cause(handler)

    plain = run_exit(make())
    with record():
        recorded = run_exit(make())
    assert repr(plain) == repr(recorded)
    assert len(seen) == 2  # once each way


def test_a_fiber_that_keeps_yielding_takes_turns_with_a_carried_fiber():
    # the carried fiber's awaits each wait one trip round the event loop; the other fiber
    # runs once per trip, not a whole batch of its yields (on trio as on asyncio)
    ticks = []
    ticker = sync(lambda: ticks.append(1)).flat_map(lambda _: yield_now).forever()
    busy = for_each(range(200), lambda i: Effect(lambda ctx: anyio.sleep(0)), discard=True)
    run(race(busy, ticker))
    assert 0 < len(ticks) <= 4 * 200
