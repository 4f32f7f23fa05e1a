"""Fibers: fork, join, interrupt, supervision, interruptibility, host-task cancellation."""

import asyncio

import pytest

from effectpy import (
    Deferred, Exit, Fail, Failure, FiberRef, Interrupt, Queue, Ref, acquire_release, die, fail, never,
    sleep, succeed, sync, uninterruptible_mask, unit, yield_now,
)
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from effectpy import run as effectpy_run
from effectpy.lowlevel import with_fiber
from _effects import do


def test_fork_join():
    eff = succeed(20).map(lambda x: x + 1).fork().flat_map(lambda f: f.join())
    assert run(eff) == 21


def test_join_propagates_failure_and_await_gives_exit():
    assert run_exit(fail("x").fork().flat_map(lambda f: f.join())).cause == Fail("x")
    assert run(fail("x").fork().flat_map(lambda f: f.await_())) == Exit.fail("x")


def test_fiber_has_id_and_name():
    def check(f):
        assert isinstance(f.id, int)
        return f.join().as_(f.name)
    assert run(succeed(1).fork(name="worker").flat_map(check)) == "worker"
    assert run(succeed(1).named("labelled").fork().flat_map(check)) == "labelled"


def test_named_names_the_fiber_that_runs_it_wherever_it_sits():
    def name_seen(fiber):
        return succeed(fiber.name)

    def names(program):
        return run(program.fork().flat_map(lambda f: f.join()))

    here = with_fiber(name_seen)
    # not the outermost node: the fiber is named when its run reaches the `.named`
    assert names(sleep(0).flat_map(lambda _: here).named("inner").map(str.upper)) == "INNER"
    assert names(unit.flat_map(lambda _: here.named("late"))) == "late"
    # the first name given wins: fork(name=...), an outer .named, an earlier .named
    assert run(here.named("inner").fork(name="given").flat_map(lambda f: f.join())) == "given"
    assert names(here.named("inner").named("outer")) == "outer"
    assert names(unit.named("first").flat_map(lambda _: here.named("second"))) == "first"
    # a queue's waits are labelled for the instruments, and name nothing
    queue = Queue(1)
    waiter = queue.take().flat_map(lambda _: here)
    assert run(waiter.fork().flat_map(lambda f: queue.offer(1).flat_map(lambda _: f.join()))) is None


def test_the_library_names_its_own_fibers_as_internal():
    from effectpy import Stream
    from effectpy.lowlevel import Instrument, instrument

    class Names(Instrument):
        def __init__(self):
            self.seen = []

        def fiber_started(self, fiber, parent):
            self.seen.append((fiber.name, fiber.internal))

    names = Names()
    with instrument(names):
        run(sleep(0).timeout(5).named("job"))
        run(Stream.range(3).buffer(2).map_par(2, lambda i: sleep(0).as_(i)).run_collect())
    assert names.seen == [
        ("job", False), ("timeout[0]", False), ("effectpy:timeout timer", True),
        (None, False), ("effectpy:buffer pump", True), ("effectpy:map_par pump", True),
        ("map_par[0]", False), ("map_par[1]", False), ("map_par[2]", False)]


def test_interrupt_runs_finalizers_before_returning():
    log = []
    started = Deferred()

    body = (started.succeed(None).flat_map(lambda _: never)
            .ensuring(sync(lambda: log.append("finalized"))))

    def go(fiber):
        return started.await_().flat_map(lambda _: fiber.interrupt()).map(
            lambda ex: (list(log), ex))

    seen, ex = run(body.fork().flat_map(go))
    assert seen == ["finalized"]  # finalizer done before interrupt() returned
    assert ex.is_interrupted()
    assert ex.cause.interruptors()  # names who interrupted


def test_interrupt_twice_and_after_end_is_harmless():
    def go(fiber):
        return fiber.interrupt().zip(fiber.interrupt()).zip(fiber.join().exit())
    ((a, b), c) = run(never.fork().flat_map(go))
    assert a.is_interrupted() and b == a and c.is_interrupted()

    def done_first(fiber):
        return fiber.join().flat_map(lambda _: fiber.interrupt())
    assert run(succeed(7).fork().flat_map(done_first)) == Exit.succeed(7)


def test_join_twice_gives_same_result():
    assert run(succeed(3).fork().flat_map(lambda f: f.join().zip(f.join()))) == (3, 3)


def test_joining_a_fiber_that_has_ended_gives_its_exit_at_once_and_is_recorded():
    from effectpy.trace import record

    def twice(f):
        # the first join waits for the fiber; the second finds it ended
        return f.join().flat_map(lambda a: f.await_().map(lambda ex: (a, ex, f.is_done())))

    assert run(succeed(3).fork().flat_map(twice)) == (3, Exit.succeed(3), True)
    failed_twice = fail("x").fork().flat_map(lambda f: f.await_().flat_map(lambda _: f.join()))
    assert run_exit(failed_twice).cause == Fail("x")
    with record() as trace:
        run(succeed(3).fork().flat_map(twice))
    [child] = [f for f in trace.fibers() if f.parent is not None]
    assert [e.by for e in trace.events if e.kind == "join"] == [child.id, child.id]


def test_children_are_interrupted_when_parent_ends():
    log = []
    started = Deferred()
    child = started.succeed(None).flat_map(lambda _: never).ensuring(
        sync(lambda: log.append("child cleaned")))
    parent = child.fork().flat_map(lambda _: started.await_()).as_("parent done")
    assert run(parent) == "parent done"
    assert log == ["child cleaned"]


def test_child_interrupted_before_it_started_never_runs():
    log = []
    parent = sync(lambda: log.append("child ran")).fork().as_("parent done")
    assert run(parent) == "parent done"
    assert log == []


def test_parent_waits_for_child_finalizers_even_if_slow():
    log = []
    started = Deferred()
    slow_cleanup = sleep(0.01).flat_map(lambda _: sync(lambda: log.append("slow cleanup")))
    child = started.succeed(None).flat_map(lambda _: never).ensuring(slow_cleanup)
    parent = child.fork().flat_map(lambda _: started.await_())
    run(parent)
    assert log == ["slow cleanup"]


@pytest.mark.asyncio_only
def test_daemon_outlives_parent():
    gate = Deferred()
    log = []

    async def main():
        daemon = gate.await_().flat_map(lambda _: sync(lambda: log.append("daemon ran")))
        fiber = await daemon.fork_daemon()
        await gate.succeed(None)
        await fiber.join()
        return log

    assert asyncio.run(main()) == ["daemon ran"]


@pytest.mark.asyncio_only
def test_fork_in_scope_lives_until_scope_closes():
    from effectpy import Scope
    log = []

    async def main():
        scope = Scope()
        started = Deferred()
        body = started.succeed(None).flat_map(lambda _: never).ensuring(
            sync(lambda: log.append("closed with scope")))
        fiber = await body.fork_in(scope)
        await started.await_()
        assert not fiber.is_done()
        await scope.close()
        return fiber.poll()

    ex = asyncio.run(main())
    assert log == ["closed with scope"] and ex.is_interrupted()


def test_uninterruptible_region_completes_then_interrupt_is_delivered():
    log = []
    gate = Deferred()
    entered = Deferred()
    critical = (entered.succeed(None)
                .flat_map(lambda _: gate.await_())
                .flat_map(lambda _: sync(lambda: log.append("critical done")))
                .uninterruptible())
    after = sync(lambda: log.append("after region (must not run)"))
    body = critical.flat_map(lambda _: after)

    def go(fiber):
        interrupting = fiber.interrupt().fork()
        return (entered.await_()
                .flat_map(lambda _: interrupting)
                .flat_map(lambda i: yield_now.flat_map(lambda _: gate.succeed(None)).flat_map(lambda _: i.join())))

    ex = run(body.fork().flat_map(go))
    assert log == ["critical done"]
    assert ex.is_interrupted()


def test_uninterruptible_mask_restore_is_interruptible():
    log = []
    started = Deferred()

    def body(restore):
        return restore(started.succeed(None).flat_map(lambda _: never)).ensuring(
            sync(lambda: log.append("masked cleanup")))

    def go(fiber):
        return started.await_().flat_map(lambda _: fiber.interrupt())

    ex = run(uninterruptible_mask(body).fork().flat_map(go))
    assert ex.is_interrupted() and log == ["masked cleanup"]


def test_catch_all_cannot_catch_interruption():
    started = Deferred()
    caught = []
    body = started.succeed(None).flat_map(lambda _: never).catch_all_cause(
        lambda c: sync(lambda: caught.append(c)))
    ex = run(body.fork().flat_map(lambda f: started.await_().flat_map(lambda _: f.interrupt())))
    assert ex.is_interrupted() and caught == []


def test_acquire_and_release_are_uninterruptible_and_release_gets_exit():
    log = []
    acquiring = Deferred()
    gate = Deferred()
    acquire = acquiring.succeed(None).flat_map(lambda _: gate.await_()).as_("res")
    resource = acquire_release(acquire, lambda r, ex: sync(lambda: log.append((r, ex.is_interrupted()))))
    body = resource.flat_map(lambda r: never)

    def go(fiber):
        return (acquiring.await_()
                .flat_map(lambda _: fiber.interrupt().fork())
                .flat_map(lambda i: gate.succeed(None).flat_map(lambda _: i.join())))

    ex = run(body.fork().flat_map(go))
    assert ex.is_interrupted()
    assert log == [("res", True)]  # acquired fully, then released exactly once


def test_bracket_release_runs_exactly_once_on_every_outcome():
    for use, kind in ((lambda r: succeed(1), "success"), (lambda r: fail("e"), "failure"),
                      (lambda r: die(ValueError()), "defect")):
        log = []
        run_exit(acquire_release(succeed("r"), lambda r: sync(lambda: log.append(r)), use))
        assert log == ["r"], kind


@pytest.mark.asyncio_only
def test_host_task_cancellation_interrupts_runs_finalizers_and_reraises():
    log = []

    async def main():
        started = asyncio.Event()
        eff = sync(started.set).flat_map(lambda _: never).ensuring(
            sleep(0.001).flat_map(lambda _: sync(lambda: log.append("cleanup"))))
        task = asyncio.create_task(eff._run())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert asyncio.run(main()) is True
    assert log == ["cleanup"]


@pytest.mark.asyncio_only
def test_cancellation_inside_task_group_keeps_cancelling_bookkeeping():
    async def main():
        gate = asyncio.Event()
        eff = sync(gate.set).flat_map(lambda _: never)
        async with asyncio.timeout(10):  # an outer scope that must not be confused
            task = asyncio.create_task(eff._run())
            await gate.wait()
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        current = asyncio.current_task()
        assert current is not None
        return current.cancelling()

    assert asyncio.run(main()) == 0


@pytest.mark.asyncio_only
def test_timeout_of_asyncio_wait_for_cancels_effect_cleanly():
    log = []

    async def main():
        eff = never.ensuring(sync(lambda: log.append("cleaned")))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(eff._run(), 0.01)

    asyncio.run(main())
    assert log == ["cleaned"]


def test_keyboard_interrupt_propagates_after_finalizers():
    log = []

    def boom():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(sync(boom).ensuring(sync(lambda: log.append("finalized"))))
    assert log == ["finalized"]


def test_fiber_ref_is_inherited_on_fork_local_to_each_fiber_and_merged_back_on_join():
    ref = FiberRef("root")

    def child_sees():
        return ref.get().flat_map(lambda seen: ref.set("child").as_(seen))

    def parent(wait):  # the child's value reaches the parent on join (ZIO 2), not on await_
        return ref.set("parent").flat_map(
            lambda _: child_sees().fork().flat_map(wait)).flat_map(
            lambda seen: ref.get().map(lambda mine: (seen, mine)))
    assert run(parent(lambda f: f.join())) == ("parent", "child")
    assert run(parent(lambda f: f.await_().map(lambda ex: ex.value))) == ("parent", "parent")
    assert run(ref.get()) == "root"


def test_ref_updates():
    r = Ref(1)
    assert run(r.update_and_get(lambda x: x + 1)) == 2
    assert run(r.modify(lambda x: (x * 10, x + 1))) == 20
    assert run(r.get_and_set(0)) == 3
    assert run(r.get()) == 0


def test_interrupt_effect_of_a_sleeping_fiber_returns_quickly():
    def go(fiber):
        return yield_now.flat_map(lambda _: fiber.interrupt())
    ex = run(sleep(3600).fork().flat_map(go))
    assert ex.is_interrupted()


def test_interrupting_waiting_async_task_cancels_it():
    log = []

    async def slow():
        import anyio
        try:
            await anyio.sleep(3600)
        finally:
            log.append("task cancelled")

    from effectpy import from_async
    ex = run(from_async(slow).fork().flat_map(
        lambda f: yield_now.flat_map(lambda _: yield_now).flat_map(lambda _: f.interrupt())))
    assert ex.is_interrupted() and log == ["task cancelled"]


def test_self_describing_fiber_access():
    assert run(with_fiber(lambda f: succeed(f.state))) == "running"


def test_interrupt_cause_names_the_interruptor():
    def go(fiber):
        return with_fiber(lambda me: yield_now.flat_map(lambda _: fiber.interrupt()).map(
            lambda ex: (ex.cause.interruptors(), me.id)))
    who, me = run(never.fork().flat_map(go))
    assert who == [me]
    assert isinstance(Interrupt(me), Interrupt)


def test_failure_message_is_pretty():
    with pytest.raises(Failure, match="Fail: 'nope'"):
        run(fail("nope"))
    assert run_exit(unit).is_success()


def test_trio_cancellation_interrupts_runs_finalizers_and_reraises():
    import trio
    log = []

    async def main():
        started = trio.Event()
        eff = sync(started.set).flat_map(lambda _: never).ensuring(
            sleep(0.001).flat_map(lambda _: sync(lambda: log.append("cleanup"))))
        with trio.CancelScope() as cs:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(eff._run)
                await started.wait()
                cs.cancel()
        return cs.cancelled_caught

    assert trio.run(main) is True
    assert log == ["cleanup"]


def test_child_interrupting_its_parent_does_not_deadlock():
    log = []

    def body(me):
        watchdog = yield_now.flat_map(lambda _: me.interrupt())
        return watchdog.fork().flat_map(lambda _: never).ensuring(sync(lambda: log.append("parent cleaned")))

    ex = run(with_fiber(body).fork().flat_map(lambda f: f.await_()))
    assert ex.is_interrupted() and log == ["parent cleaned"]


def test_interruption_seen_inside_a_mask_is_delivered_when_the_mask_ends():
    log = []
    started = Deferred()

    def masked(restore):
        return restore(started.succeed(None).flat_map(lambda _: never)).exit().tap(
            lambda ex: sync(lambda: log.append(("inner", ex.is_interrupted()))))

    body = (uninterruptible_mask(masked)
            .flat_map(lambda _: sync(lambda: log.append("after the mask (must not run)"))))

    def go(fiber):
        return started.await_().flat_map(lambda _: fiber.interrupt())

    ex = run(body.fork().flat_map(go))
    assert ex.is_interrupted()
    assert log == [("inner", True)]


def test_second_restore_in_a_mask_is_interrupted_at_once():
    started = Deferred()
    log = []

    def masked(restore):
        first = restore(started.succeed(None).flat_map(lambda _: never)).exit()
        return first.flat_map(lambda _: restore(sync(lambda: log.append("second restore ran"))))

    ex = run(uninterruptible_mask(masked).fork().flat_map(
        lambda f: started.await_().flat_map(lambda _: f.interrupt())))
    assert ex.is_interrupted() and log == []


def test_typed_failures_are_still_caught_after_a_recovered_interruption_region():
    # an uninterruptible region that completes normally, then a typed failure that is caught
    body = sync(lambda: None).uninterruptible().flat_map(lambda _: fail("typed")).catch_all(
        lambda e: succeed(f"caught {e}"))
    assert run(body) == "caught typed"


def test_fork_in_a_closed_scope_is_a_clear_defect_not_a_hang():
    from effectpy import Scope
    scope = Scope()
    run(scope.close())
    exit_ = run_exit(sleep(0.01).fork_in(scope).flat_map(lambda f: f.join()))
    assert "scope is already closed" in str(exit_.cause.defects()[0])


def test_interrupt_requested_while_registering_a_wait_is_not_delayed():
    from effectpy import zip_par
    log = []

    def body(me):
        request = sync(lambda: me.interrupt_as("someone"))  # runs while zip_par registers
        sibling = sleep(30).flat_map(lambda _: sync(lambda: log.append("sibling finished")))
        return zip_par(request, sibling)

    ex = run(with_fiber(body).fork().flat_map(lambda f: f.await_()))
    assert ex.cause.interruptors() == ["someone"] and log == []


@pytest.mark.asyncio_only
def test_host_cancellation_does_not_swallow_a_failing_finalizer():
    def boom():
        raise RuntimeError("release failed")

    async def main():
        started = asyncio.Event()
        task = asyncio.create_task(sync(started.set).flat_map(lambda _: never).ensuring(sync(boom))._run())
        await started.wait()
        task.cancel()
        with pytest.raises(Failure) as info:
            await task
        return info.value

    failure = asyncio.run(main())
    assert isinstance(failure.cause.defects()[0], RuntimeError)
    assert isinstance(failure.__context__, asyncio.CancelledError)


def test_trio_cancellation_does_not_swallow_a_failing_finalizer():
    import trio

    def boom():
        raise RuntimeError("release failed")

    async def main():
        with trio.move_on_after(0.01):
            await never.ensuring(sync(boom))._run()

    with pytest.raises(Failure) as info:
        trio.run(main)
    assert isinstance(info.value.cause.defects()[0], RuntimeError)


def test_trio_daemons_are_interrupted_and_cleaned_up_when_the_run_ends():
    import trio
    log = []
    started = Deferred()

    async def main():
        daemon = started.succeed(None).flat_map(lambda _: never).ensuring(sync(lambda: log.append("daemon cleaned")))
        await daemon.fork_daemon().flat_map(lambda _: started.await_())._run()

    trio.run(main)
    assert log == ["daemon cleaned"]


def test_keyboard_interrupt_on_trio_runs_finalizers_and_propagates_unwrapped():
    import os
    import signal
    log = []
    use = sync(lambda: os.kill(os.getpid(), signal.SIGINT)).flat_map(lambda _: sleep(5))
    eff = acquire_release(sync(lambda: log.append("acquired")), lambda _: sync(lambda: log.append("released")),
                          lambda _: use)
    # Python's own Ctrl-C handler, even where this process was started with SIGINT ignored
    # (as a shell does for a command it runs in the background)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            effectpy_run(eff, backend="trio")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert log == ["acquired", "released"]


def test_fork_in_forgets_children_that_ended():
    from effectpy import Scope, for_each_par
    scope = Scope()
    run(for_each_par(range(50), lambda i: succeed(i).fork_in(scope).flat_map(lambda f: f.join())))
    assert len(scope._finalizers) == 0


def test_self_interrupt_in_an_uninterruptible_region_is_delivered_after_it():
    log = []
    body = with_fiber(lambda me: me.interrupt()).flat_map(
        lambda _: sync(lambda: log.append("rest of the region"))).uninterruptible().flat_map(
        lambda _: sync(lambda: log.append("after the region (must not run)")))
    ex = run(body.fork().flat_map(lambda f: f.await_()))
    assert ex.is_interrupted() and log == ["rest of the region"]


# --- OP nodes: a library operation's one-step fast path, with a slow path -----------------


def _op(fn, b=None, c=None):
    from effectpy._core._effect import _make
    from effectpy._core._nodes import OP
    return _make(OP, fn, b, c)


def _instead(eff):
    from effectpy._core._nodes import _Instead
    return _Instead(eff)


def test_op_succeeds_with_its_value_alone_and_under_flat_map():
    add = _op(lambda b, c, fiber: b + c, 2, 3)
    assert run(add) == 5
    assert run(add.flat_map(lambda x: succeed(x * 10))) == 50
    assert run(add.map(lambda x: x + 1)) == 6


def test_op_returning_instead_runs_that_effect_in_its_place():
    slow = _op(lambda b, c, fiber: _instead(sleep(0).map(lambda _: b)), "slow")
    assert run(slow) == "slow"
    assert run(slow.flat_map(lambda x: succeed(x + "!"))) == "slow!"
    # the slow path's failure skips the continuation
    failing = _op(lambda b, c, fiber: _instead(fail("no")))
    assert run_exit(failing.flat_map(lambda _: succeed("not run"))).cause.failures() == ["no"]


def test_op_is_given_the_fiber_that_runs_it():
    running = _op(lambda b, c, fiber: fiber)
    assert run(with_fiber(lambda me: running.map(lambda fiber: fiber is me)))
    assert run(with_fiber(lambda me: running.flat_map(lambda fiber: succeed(fiber is me))))


def test_op_value_may_itself_be_an_effect():
    inner = succeed(1)
    assert run(_op(lambda b, c, fiber: b, inner)) is inner
    assert run(_op(lambda b, c, fiber: b, inner).flat_map(lambda e: e.map(lambda x: x + 1))) == 2


def test_op_exception_is_a_defect_and_skips_the_continuation():
    boom = _op(lambda b, c, fiber: 1 / 0)
    seen = []
    for eff in (boom, boom.flat_map(lambda x: sync(lambda: seen.append(x)))):
        defects = run_exit(eff).cause.defects()
        assert len(defects) == 1 and isinstance(defects[0], ZeroDivisionError)
    assert seen == []
    # recoverable like any defect
    assert run(boom.flat_map(succeed).catch_all_cause(lambda c: succeed("caught"))) == "caught"


def test_continuation_after_an_op_failing_is_a_defect():
    eff = _op(lambda b, c, fiber: 1).flat_map(lambda _: 1 / 0)
    assert isinstance(run_exit(eff).cause.defects()[0], ZeroDivisionError)


def test_interruption_requested_by_an_op_under_flat_map_is_delivered_before_the_next_effect():
    # as after a sync step: the continuation builds the next effect, which never runs
    ran = []

    def interrupt_self(fiber, _, running):
        fiber.interrupt_as("test")
        return "v"

    @do
    def body():
        me = yield with_fiber(succeed)
        yield _op(interrupt_self, me).flat_map(lambda v: sync(lambda: ran.append(v)))
        ran.append("after")

    assert run_exit(body).is_interrupted()
    assert ran == []


def test_ops_under_flat_map_count_against_the_step_budget():
    # a fiber whose every step is an op that completes at once still lets others run
    from effectpy import Queue, zip_par
    q = Queue()
    n = 20_000

    def produce(i):
        return succeed(None) if i == n else q.offer(i).flat_map(lambda _: produce(i + 1))

    seen = []
    observer = yield_now.flat_map(lambda _: sync(lambda: seen.append(q.qsize())))
    run(zip_par(produce(0), observer))
    assert seen and seen[0] < n


def test_run_interrupts_the_daemons_still_running_when_it_ends_and_awaits_their_cleanup():
    log = []
    started = Deferred()
    held = acquire_release(sync(lambda: log.append("acquired")), lambda _: sync(lambda: log.append("released")))
    daemon = held.flat_map(lambda _: started.succeed(None)).flat_map(lambda _: never)

    def program():
        return daemon.fork_daemon().flat_map(lambda f: started.await_().as_(f))

    fiber = run(program())
    assert log == ["acquired", "released"]  # released before the run returned
    assert fiber.poll() is not None and fiber.poll().is_interrupted()


def test_daemon_forked_by_a_daemons_finalizer_is_ended_too():
    log = []
    started = Deferred()
    # forked by a finalizer, `late` starts uninterruptible (ZIO's rule): it opts in where
    # it waits, after it has entered its `ensuring`
    late = never.interruptible().ensuring(sync(lambda: log.append("late cleaned")))
    first = started.succeed(None).flat_map(lambda _: never).ensuring(late.fork_daemon().unit())
    run(first.fork_daemon().flat_map(lambda _: started.await_()))
    assert log == ["late cleaned"]


def test_a_daemon_waiting_on_a_queue_is_gone_after_the_run_and_loses_no_item():
    q = Queue()
    got = []
    run(q.take().flat_map(lambda x: sync(lambda: got.append(x))).fork_daemon())
    assert run(q.offer(1)) is True
    assert got == [] and q.qsize() == 1  # the item waits for a live taker
    assert run(q.take()) == 1


@pytest.mark.asyncio_only
def test_a_waiter_stranded_on_a_closed_loop_is_skipped_by_offers_on_another():
    # `await effect` leaves its daemons on the loop; this loop then closes with the
    # daemon still waiting in the queue: it can never run again
    q = Queue()
    got = []

    async def strand():
        await q.take().flat_map(lambda x: sync(lambda: got.append(x))).fork_daemon()
        await asyncio.sleep(0)

    asyncio.run(strand())
    assert len(q._takers) == 1
    assert run(q.offer(1)) is True  # no "Event loop is closed" defect
    assert q.qsize() == 1 and got == [] and len(q._takers) == 0
    assert run(q.take()) == 1


@pytest.mark.asyncio_only
def test_cancelled_while_ending_daemons_waits_for_their_finalizers_then_raises():
    # effectpy.run's own loop: Ctrl-C cancels the task that ends the daemons
    from effectpy import Context, from_async
    from effectpy._core._runtime import run_ending_daemons

    log = []

    async def main():
        in_cleanup, may_finish = asyncio.Event(), asyncio.Event()

        async def slow_cleanup():
            in_cleanup.set()
            await may_finish.wait()
            log.append("daemon cleaned")

        started = Deferred()
        daemon = started.succeed(None).flat_map(lambda _: never).ensuring(from_async(slow_cleanup))
        task = asyncio.ensure_future(run_ending_daemons(
            daemon.fork_daemon().flat_map(lambda _: started.await_()), Context()))
        await in_cleanup.wait()
        task.cancel()
        await asyncio.sleep(0)
        assert not task.done()  # still waiting for the finalizer
        may_finish.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        return log

    assert asyncio.run(main()) == ["daemon cleaned"]


def test_trio_a_busy_fiber_lets_other_trio_tasks_run_soon():
    # a fiber that never suspends is run in slices; between slices the trio driver lets
    # other trio tasks (timers, awaited coroutines) run, at the latest after ~2 ms: the
    # tick below must not wait for a thousand slices (about a million iterations)
    import trio

    from effectpy import from_async, race

    count = [0]
    busy = sync(lambda: count.__setitem__(0, count[0] + 1)).forever()

    async def tick():
        await trio.sleep(0)
        return "tick"

    assert effectpy_run(race(busy, from_async(tick)), backend="trio") == "tick"
    assert count[0] < 250_000


def test_trio_an_uninterruptible_effect_awaited_in_a_cancelled_scope_runs_its_region():
    import trio

    log = []

    async def main():
        with trio.CancelScope() as cs:
            cs.cancel()  # already cancelled when the await begins
            with pytest.raises(trio.Cancelled):
                await sync(lambda: log.append("region ran")).uninterruptible()

    trio.run(main)
    assert log == ["region ran"]


def test_trio_a_cancelled_get_that_had_already_taken_gives_the_item_back():
    import trio

    from effectpy import Channel

    async def once(kind):
        q = Queue() if kind == "queue" else Channel()
        got = []
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()

            async def getter():
                with scope:
                    got.append(await (q.get() if kind == "queue" else q.receive()))

            nursery.start_soon(getter)
            await trio.testing.wait_all_tasks_blocked()
            if kind == "queue":
                q.put_nowait("x")
            else:
                await q.send("x")
            scope.cancel()  # the take may run before the cancelled task resumes
        return got or list(q._items)  # delivered, or still (given back) in the queue

    async def main():
        return [await once(kind) for kind in ("queue", "channel") for _ in range(100)]

    import trio.testing  # noqa: F401
    assert all(r == ["x"] for r in trio.run(main))
