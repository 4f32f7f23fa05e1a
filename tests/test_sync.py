"""Deferred, Semaphore, Queue: coordination between fibers that loses nothing."""

import asyncio

import pytest

from effectpy import (
    Deferred, Exit, Fail, Queue, QueueShutdown, Ref, Semaphore, for_each_par, never,
    succeed, sync, yield_now, zip_par,
)
from effectpy._core._wait import _waiting
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture


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
