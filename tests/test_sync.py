"""Deferred, Semaphore, Queue: coordination between fibers that loses nothing."""

import asyncio

import pytest

from effectpy import (
    Deferred, Exit, Fail, Queue, QueueShutdown, Ref, Semaphore, for_each_par, never,
    succeed, sync, yield_now, zip_par,
)
from effectpy._core._wait import _waiting
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import do


def test_deferred_wakes_every_waiter_once():
    d = Deferred()
    waiters = [d.await_() for _ in range(3)]
    assert run(zip_par(*waiters, d.succeed("v"))) == ("v", "v", "v", True)
    assert run(d.succeed("again")) is False
    assert d.poll() == Exit.succeed("v")


def test_deferred_failure_propagates():
    d = Deferred()
    assert run_exit(zip_par(d.await_(), d.fail("nope"))).cause == Fail("nope")


def test_interrupted_deferred_waiter_is_removed():
    d = Deferred()

    def go(fiber):
        return yield_now.flat_map(lambda _: fiber.interrupt())

    ex = run(d.await_().fork().flat_map(go))
    assert ex.is_interrupted()
    assert d._waiters == []


def test_semaphore_bounds_concurrency():
    sem = Semaphore(2)
    inside = Ref(0)
    peak = []

    def work(i):
        body = inside.update_and_get(lambda n: n + 1).tap(lambda n: peak.append(n)).flat_map(
            lambda _: yield_now).flat_map(lambda _: inside.update(lambda n: n - 1))
        return sem.with_permit(body)

    run(for_each_par(range(10), work))
    assert max(peak) == 2
    assert sem.available == 2


def test_interrupted_semaphore_waiter_never_leaks_a_permit():
    sem = Semaphore(1)
    waiter = sem.with_permit(never)

    def settle(w):
        return yield_now.flat_map(lambda _: yield_now).as_(w)

    # hold the permit while the waiter queues up; when with_permit releases it, the waiter
    # is granted the permit and interrupted in the same step, before it could run again
    eff = sem.with_permit(waiter.fork().flat_map(settle)).flat_map(lambda w: w.interrupt())
    assert run(eff).is_interrupted()
    assert sem.available == 1


def test_interrupted_semaphore_waiter_before_grant():
    sem = Semaphore(1)
    eff = sem.with_permit(sem.with_permit(never).fork().flat_map(
        lambda w: yield_now.flat_map(lambda _: w.interrupt())))
    assert run(eff).is_interrupted()
    assert sem.available == 1


def test_semaphore_waiters_interrupted_in_any_order_free_the_line(monkeypatch):
    from effectpy import for_each
    from effectpy._semaphore import _Waiter

    # no O(n) search of the waiters per interrupted one (quadratic for n waiters): a
    # search (`in`, `remove`) compares waiters
    monkeypatch.setattr(_Waiter, "__eq__", lambda self, other: pytest.fail("searched the waiters"))
    sem = Semaphore(2)
    log = []

    def program():
        # (one permit held) a request for 2 waits first in line, then 100 requests for 1
        # behind it; interrupt them all, the last first, then the first
        big = sem.with_permits(2, sync(lambda: log.append("big")))
        small = [sem.with_permit(sync(lambda i=i: log.append(i))) for i in range(100)]
        return big.fork().flat_map(lambda b: for_each(small, lambda e: e.fork()).flat_map(
            lambda fibers: yield_now.flat_map(lambda _: for_each(
                [*reversed(fibers), b], lambda f: f.interrupt(), discard=True))))

    run(sem.with_permit(program()))
    assert log == [] and sem.available == 2
    assert "0 waiting" in repr(sem)
    assert run(sem.with_permits(2, succeed("free"))) == "free"


def test_interrupting_the_head_of_the_line_lets_a_smaller_request_behind_it_in():
    sem = Semaphore(2)
    got = []

    def program():
        # one permit held; a request for 2 waits at the head; a request for 1 waits behind
        # it (first come, first served); interrupting the head lets the 1 in at once
        big = sem.with_permits(2, sync(lambda: got.append("big")))
        small = sem.with_permit(sync(lambda: got.append("small")))
        return big.fork().flat_map(lambda b: yield_now.flat_map(lambda _: small.fork()).flat_map(
            lambda s: yield_now.flat_map(lambda _: b.interrupt()).flat_map(lambda _: s.join())))

    run(sem.with_permit(program()))
    assert got == ["small"]
    assert sem.available == 2


def test_semaphore_bad_input():
    with pytest.raises(ValueError):
        Semaphore(0)
    with pytest.raises(ValueError):
        Semaphore(2).with_permits(3, succeed(1))


@pytest.mark.asyncio_only
def test_queue_fifo_and_asyncio_style_methods():
    q = Queue(maxsize=3)
    q.put_nowait(1)
    q.put_nowait(2)
    assert run(q.offer(3)) is True
    with pytest.raises(asyncio.QueueFull):
        q.put_nowait(4)
    assert run(zip_par(q.take(), q.take(), q.take())) == (1, 2, 3)
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()

    async def main():
        await q.put("a")
        return await q.get()

    assert asyncio.run(main()) == "a"


def test_queue_many_producers_and_consumers_lose_nothing():
    q = Queue(maxsize=4)
    n = 500
    producers = [for_each_par(range(i, n, 4), q.offer, parallelism=1) for i in range(4)]
    consumers = [for_each_par(range(n // 4), lambda _: q.take(), parallelism=1) for _ in range(4)]
    result = run(zip_par(*producers, *consumers))
    taken = sorted(x for batch in result[4:] for x in batch)
    assert taken == list(range(n))


def test_interrupted_take_loses_no_item():
    q = Queue()

    def scenario(taker):
        return (yield_now.flat_map(lambda _: q.offer("item"))
                .flat_map(lambda _: taker.interrupt())
                .flat_map(lambda _: q.take()))

    assert run(q.take().fork().flat_map(scenario)) == "item"


def test_woken_taker_interrupted_before_running_hands_the_item_on():
    q = Queue()

    def scenario(takers):
        first, second = takers
        return (yield_now.flat_map(lambda _: yield_now)
                .flat_map(lambda _: q.offer("item"))  # wakes the first taker...
                .flat_map(lambda _: first.interrupt())  # ...which is interrupted before it runs
                .flat_map(lambda _: second.join().timeout(5)))

    takers = q.take().fork().zip(q.take().fork())
    assert run(takers.flat_map(scenario)) == "item"


def test_dropping_and_sliding_strategies():
    d = Queue(maxsize=1, strategy="dropping")
    assert run(d.offer(1).zip(d.offer(2))) == (True, False)
    assert d.get_nowait() == 1
    s = Queue(maxsize=1, strategy="sliding")
    run(s.offer(1).zip(s.offer(2)))
    assert s.get_nowait() == 2


def test_shutdown_wakes_waiting_takers():
    q = Queue()
    exit_ = run_exit(zip_par(q.take(), yield_now.flat_map(lambda _: q.shutdown())))
    assert isinstance(exit_.cause.failures()[0], QueueShutdown)
    assert isinstance(run_exit(q.offer(1)).cause.failures()[0], QueueShutdown)


def test_queue_bad_input():
    with pytest.raises(ValueError):
        Queue(maxsize=-1)
    with pytest.raises(ValueError):
        Queue(strategy="lifo")  # type: ignore[arg-type]


def test_blocking_runs_in_a_thread_without_stalling_fibers():
    import threading

    from effectpy import blocking
    release = threading.Event()
    log = []

    def blocking_work():
        release.wait(5)
        return "done"

    other = sync(lambda: log.append("other fiber ran")).flat_map(lambda _: sync(release.set))
    assert run(zip_par(blocking(blocking_work), other)) == ("done", None)
    assert log == ["other fiber ran"]


def test_timed_out_takers_do_not_pile_up():
    q = Queue()
    poll = q.take().timeout_option(0.0001)
    run(for_each_par(range(200), lambda _: poll, parallelism=1))
    assert _waiting(q._takers) == 0
    assert len(q._takers) <= 17  # cancelled waiters are dropped once they are most of them


@pytest.mark.asyncio_only
def test_waiters_stranded_on_a_closed_loop_do_not_break_later_runs():
    # `await effect` leaves its daemons on the loop; here the loop closes while they wait
    from effectpy import Context, never

    gate = Deferred()
    sem = Semaphore(1)

    async def strand():
        await gate.await_().fork_daemon()._run(Context())
        await sem.with_permit(never).fork_daemon()._run(Context())   # holds the permit
        await sem.with_permit(succeed(1)).fork_daemon()._run(Context())  # waits for it
        await asyncio.sleep(0)

    asyncio.run(strand())
    assert run(gate.succeed("done")) is True          # no "Event loop is closed"
    run(sem.release())                                 # the stranded holder's permit
    # the stranded waiter can never use the permit: it is skipped, not handed it
    assert run(sem.with_permit(succeed("got it")).timeout(5)) == "got it"
    assert sem.available == 1


@pytest.mark.asyncio_only
def test_a_stranded_waiter_at_the_head_does_not_block_requests_that_fit():
    from effectpy import Context, never

    sem = Semaphore(2)

    async def strand():
        await sem.with_permits(1, never).fork_daemon()._run(Context())      # holds 1 of 2
        await sem.with_permits(2, succeed(1)).fork_daemon()._run(Context())  # waits for 2
        await asyncio.sleep(0)

    asyncio.run(strand())
    assert run(sem.with_permits(1, succeed("got it")).timeout(5)) == "got it"


# --- Deferred.complete / interrupt, Semaphore.with_permits_if_available / resize -----------


def test_deferred_complete_runs_the_effect_once_and_keeps_its_outcome():
    from effectpy import Left, die, fail
    runs = Ref(0)
    d = Deferred()
    computed = runs.update_and_get(lambda n: n + 1)
    assert run(zip_par(d.await_(), d.await_(), d.complete(computed))) == (1, 1, True)
    assert run(d.complete(computed)) is False  # already completed: the effect still ran,
    assert run(runs.get()) == 2 and run(d.await_()) == 1  # but the first outcome stays
    failed = Deferred()
    assert run(failed.complete(fail("no")).zip(failed.await_().either())) == (True, Left("no"))
    died = Deferred()
    run(died.complete(die(KeyError("k"))))
    assert isinstance(run_exit(died.await_()).cause.defects()[0], KeyError)


def test_deferred_complete_of_an_interrupted_effect_does_not_leave_waiters_hanging():
    d = Deferred()
    started = Deferred()

    def go(completer):
        return started.await_().flat_map(lambda _: completer.interrupt()).flat_map(
            lambda _: d.await_().exit())

    exit_ = run(d.complete(started.succeed(None).flat_map(lambda _: never)).fork().flat_map(go))
    assert exit_.is_interrupted() and d.is_done()


def test_deferred_interrupt_interrupts_the_waiters():
    from effectpy import Interrupt
    from effectpy.lowlevel import with_fiber
    d = Deferred()

    def go(waiter):
        return d.interrupt().zip(d.interrupt()).zip(waiter.await_()).zip(with_fiber(lambda f: succeed(f.id)))

    ((first, second), exit_), me = run(d.await_().fork().flat_map(go))
    assert (first, second) == (True, False)
    assert exit_.is_interrupted() and exit_.cause == Interrupt(me)


def test_with_permits_if_available_never_waits():
    from effectpy import NONE, Some
    sem = Semaphore(2)
    ran = []
    job = sync(lambda: ran.append(sem.available) or "done")
    assert run(sem.with_permits_if_available(2, job)) == Some("done") and ran == [0]
    assert sem.available == 2  # given back
    held = sem.with_permit(sem.with_permits_if_available(2, job))
    assert run(held) == NONE and ran == [0]  # not run
    exit_ = run_exit(sem.with_permits_if_available(1, sync(lambda: 1 / 0)))
    assert exit_.cause.defects() and sem.available == 2  # released on failure too


def test_with_permits_if_available_does_not_overtake_a_waiter():
    from effectpy import NONE
    sem = Semaphore(2)

    def program():
        # one permit held; a request for 2 waits; a free permit is there, but taking it
        # would overtake the waiter
        big = sem.with_permits(2, succeed("big"))
        return big.fork().flat_map(lambda b: yield_now.flat_map(
            lambda _: sem.with_permits_if_available(1, succeed("small"))).zip(succeed(b)))

    got, big = run(sem.with_permit(program()).flat_map(lambda r: run_after(r)))
    assert got == NONE and big == "big"


def run_after(result):
    got, fiber = result
    return fiber.join().map(lambda v: (got, v))


def test_resize_grows_at_once_and_shrinks_as_permits_come_back():
    sem = Semaphore(1)
    order = []

    def job(name):
        return sem.with_permit(sync(lambda: order.append(name)))

    @do
    def program():
        waiting = yield job("waiter").fork()  # the one permit is held below
        yield yield_now
        assert sem.available == 0
        yield sem.resize(2)  # the waiter gets the new permit at once
        yield waiting.join()
        return sem.permits, sem.available

    assert run(sem.with_permit(program).timeout(5)) == (2, 1)  # (without resize: a deadlock)
    assert sem.available == 2


def test_resize_down_keeps_the_permits_held_and_grants_new_ones_once_enough_come_back():
    from effectpy import Clock, Context, TestClock
    sem = Semaphore(3)
    clock = TestClock()
    started, release = Deferred(), Deferred()

    @do
    def program():
        holder = yield sem.with_permits(3, started.succeed(None).flat_map(lambda _: release.await_())).fork()
        yield started.await_()
        yield sem.resize(1)  # the 3 permits held are kept
        during = sem.available
        late = yield sem.with_permit(succeed("late")).fork()
        yield clock.adjust(1)  # everything has run until it waits (TestClock's rule)
        blocked = not late.is_done()
        yield release.succeed(None)
        yield holder.join()
        return during, blocked, (yield late.join()), sem.available, sem.permits

    env = Context().with_service(Clock, clock)
    assert run(program.provide(env).timeout(5)) == (-2, True, "late", 1, 1)


def test_resize_bad_input_and_impossible_requests():
    sem = Semaphore(3)
    with pytest.raises(ValueError, match="Semaphore.resize expects a number of permits >= 1, got 0"):
        sem.resize(0)
    with pytest.raises(ValueError, match="got True"):
        sem.resize(True)

    def program():
        big = sem.with_permits(3, succeed("big"))
        return big.fork().flat_map(lambda b: yield_now.flat_map(lambda _: sem.resize(2).exit()))

    exit_ = run(sem.with_permit(program()))  # a waiter for 3 could never be served with 2
    assert "Semaphore.resize(2): a waiter asks for 3 permits" in str(exit_.cause.defects()[0])
    assert sem.permits == 3
    sem2 = Semaphore(3)
    built = sem2.with_permits(3, succeed(1))  # fine when built...
    run(sem2.resize(2))
    exit2 = run_exit(built)  # ...impossible when run: a clear defect, not a wait forever
    assert "the semaphore has 2 permits (resized), 3 were asked for" in str(exit2.cause.defects()[0])
    with pytest.raises(ValueError, match="permits must be an int from 1 to 2, got 3"):
        sem2.with_permits_if_available(3, succeed(1))
