"""Queue: offer_all, take_up_to, take_all, poll, await_shutdown, and the races around them.

Every test runs on asyncio and trio; none sleeps: fibers are interleaved with `yield_now`.
"""

import asyncio

import pytest

import effectpy._core._loop as loop_module
from effectpy import Queue, QueueShutdown, succeed, sync, yield_now
from effectpy._option import NONE, Some
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import do, settle


def is_shutdown_failure(exit_):
    return (not exit_.is_success() and exit_.cause.is_failure_only()
            and isinstance(exit_.cause.failures()[0], QueueShutdown))


def take_n(q, n):
    """Take ``n`` items one by one, in order."""
    @do
    def go():
        out = []
        for _ in range(n):
            out.append((yield q.take()))
        return out
    return go


# --- offer_all ----------------------------------------------------------------------------


def test_offer_all_on_an_unbounded_queue_keeps_order():
    q = Queue(maxsize=None)
    assert run(q.offer_all([1, 2, 3]).zip(q.offer_all(iter([4, 5])))) == ([], [])
    assert run(q.take_all()) == [1, 2, 3, 4, 5]


def test_offer_all_on_a_dropping_queue_returns_the_rejected_items():
    q = Queue(maxsize=3, strategy="dropping")
    q.put_nowait(0)
    assert run(q.offer_all([1, 2, 3, 4])) == [3, 4]
    assert run(q.take_all()) == [0, 1, 2]


def test_offer_all_on_a_sliding_queue_keeps_the_newest():
    q = Queue(maxsize=3, strategy="sliding")
    assert run(q.offer_all(range(5))) == []
    assert run(q.take_all()) == [2, 3, 4]


def test_offer_all_is_rerunnable_with_a_generator():
    q = Queue()
    eff = q.offer_all(x * 10 for x in range(3))
    run(eff.zip(eff))
    assert run(q.take_all()) == [0, 10, 20, 0, 10, 20]


def test_backpressure_offer_all_waits_for_room():
    q = Queue(maxsize=2)

    @do
    def scenario():
        producer = yield q.offer_all(range(7)).fork()
        yield settle()
        assert q.qsize() == 2 and not producer.is_done()
        taken = yield take_n(q, 7)
        rejected = yield producer.join()
        return taken, rejected

    assert run(scenario) == (list(range(7)), [])


def test_interrupted_offer_all_keeps_what_it_added_and_adds_no_more():
    q = Queue(maxsize=2)

    @do
    def scenario():
        producer = yield q.offer_all([1, 2, 3, 4]).fork()
        yield settle()
        exit_ = yield producer.interrupt()
        yield settle()
        return exit_.is_interrupted(), (yield q.take_all()), len(q._offerers)

    assert run(scenario) == (True, [1, 2], 0)


# --- take_up_to, take_all, poll ----------------------------------------------------------


def test_take_up_to_never_waits():
    q = Queue()
    run(q.offer_all(range(5)))
    assert run(q.take_up_to(2)) == [0, 1]
    assert run(q.take_up_to(10)) == [2, 3, 4]
    assert run(q.take_up_to(3)) == []
    assert run(q.take_up_to(0)) == []
    assert run(q.take_all()) == []


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_take_up_to_bad_input(bad):
    with pytest.raises(ValueError):
        Queue().take_up_to(bad)


def test_take_all_and_take_up_to_make_room_for_every_waiting_offerer():
    q = Queue(maxsize=2)

    @do
    def scenario():
        yield q.offer_all(["a", "b"])
        offerers = []
        for item in "cde":
            offerers.append((yield q.offer(item).fork()))
        yield settle()
        first = yield q.take_all()   # room for two: c and d get in, e still waits
        yield settle()
        second = yield q.take_up_to(5)  # room for two more: e gets in
        results = []
        for f in offerers:
            results.append((yield f.join()))
        return first, second, results, (yield q.take_all())

    assert run(scenario) == (["a", "b"], ["c", "d"], [True, True, True], ["e"])


def test_poll():
    q = Queue(maxsize=1)
    assert run(q.poll()) is NONE

    @do
    def scenario():
        yield q.offer("x")
        offerer = yield q.offer("y").fork()  # waits: the queue is full
        yield settle()
        first = yield q.poll()  # makes room: the offerer gets in
        yield offerer.join()
        return first, (yield q.poll()), (yield q.poll())

    assert run(scenario) == (Some("x"), Some("y"), NONE)


# --- shutdown -----------------------------------------------------------------------------


def test_await_shutdown_and_is_shutdown():
    q = Queue()
    log = []

    @do
    def scenario():
        waiter = yield q.await_shutdown().flat_map(lambda _: sync(lambda: log.append("woke"))).fork()
        yield settle()
        before = (list(log), (yield q.is_shutdown()))
        yield q.shutdown()
        yield waiter.join()
        yield q.await_shutdown()  # at once, now
        return before, list(log), (yield q.is_shutdown())

    assert run(scenario) == (([], False), ["woke"], True)


def test_shutdown_wakes_every_waiting_taker_and_offerer():
    takers_q = Queue()
    offerers_q = Queue(maxsize=1)
    offerers_q.put_nowait("full")

    @do
    def scenario():
        fibers = []
        for i in range(5):
            fibers.append((yield takers_q.take().fork()))
            fibers.append((yield offerers_q.offer(i).fork()))
            fibers.append((yield offerers_q.offer_all([i, i]).fork()))
        yield settle()
        assert all(f.state == "suspended" for f in fibers)
        yield takers_q.shutdown()
        yield offerers_q.shutdown()
        exits = []
        for f in fibers:
            exits.append((yield f.await_()))
        return exits

    exits = run(scenario.timeout(5))
    assert len(exits) == 15 and all(is_shutdown_failure(ex) for ex in exits)
    assert not takers_q._takers and not offerers_q._offerers


def test_every_operation_fails_after_shutdown():
    q = Queue(maxsize=2)
    run(q.offer("dropped at shutdown").zip(q.shutdown()).zip(q.shutdown()))
    for eff in (q.offer(1), q.offer_all([1]), q.take(), q.take_up_to(1), q.take_all(), q.poll(),
                q.put(1), q.get()):
        assert is_shutdown_failure(run_exit(eff)), eff
    with pytest.raises(QueueShutdown):
        q.put_nowait(1)
    with pytest.raises(QueueShutdown):
        q.get_nowait()
    assert run(q.size()) == 0


@pytest.mark.parametrize("delay", [0, 1, 2, 3, 5, 8, 13])
def test_shutdown_racing_with_offers_and_takes_never_hangs(delay):
    q = Queue(maxsize=2)
    taken = []

    def producer(p):
        return do(lambda: (yield q.offer((p, i))) for i in range(10**9))

    def consumer():
        return q.take().flat_map(lambda x: sync(lambda: taken.append(x))).forever()

    @do
    def scenario():
        fibers = []
        for p in range(4):
            fibers.append((yield q.offer_all([(p, -1)] * 3).flat_map(
                lambda _, p=p: q.offer((p, 0)).forever()).fork()))
            fibers.append((yield consumer().fork()))
        yield settle(delay) if delay else succeed(None)
        yield q.shutdown()
        exits = []
        for f in fibers:
            exits.append((yield f.await_()))
        return exits

    exits = run(scenario.timeout(5))
    assert all(is_shutdown_failure(ex) for ex in exits)
    assert not q._takers and not q._offerers


# --- parallel producers and consumers ------------------------------------------------------


def producers_and_consumers(q, producers=4, consumers=4, per_producer=150):
    """Producers offer (p, i) with offer and offer_all; consumers read with take, take_up_to
    and poll; the queue is shut down once everything is taken. Returns what each consumer
    took, in order."""
    total = producers * per_producer
    taken = [[] for _ in range(consumers)]
    count = [0]

    def produce(p):
        @do
        def go():
            i = 0
            while i < per_producer:
                if i % 3 == 0:
                    chunk = [(p, j) for j in range(i, min(i + 4, per_producer))]
                    yield q.offer_all(chunk)
                    i += len(chunk)
                else:
                    yield q.offer((p, i))
                    i += 1
        return go

    def record(c, items):
        taken[c].extend(items)
        count[0] += len(items)

    def consume(c):
        kind = c % 3
        if kind == 0:
            step = q.take().map(lambda x: record(c, [x]))
        elif kind == 1:
            step = q.take_up_to(3).flat_map(
                lambda xs: sync(lambda: record(c, xs)) if xs else yield_now)
        else:
            step = q.poll().flat_map(
                lambda o: sync(lambda: record(c, [o.value])) if o.is_some() else yield_now)
        return step.forever()

    @do
    def scenario():
        workers = []
        for c in range(consumers):
            workers.append((yield consume(c).fork()))
        makers = []
        for p in range(producers):
            makers.append((yield produce(p).fork()))
        for f in makers:
            yield f.join()
        while count[0] < total:
            yield yield_now
        yield q.shutdown()
        for f in workers:
            yield f.await_()
        return taken

    return scenario, total


def check_nothing_lost_and_fifo(taken, producers, per_producer):
    every = sorted(x for batch in taken for x in batch)
    assert every == sorted((p, i) for p in range(producers) for i in range(per_producer))
    for batch in taken:  # one consumer sees each producer's items in the order offered
        for p in range(producers):
            mine = [i for (q, i) in batch if q == p]
            assert mine == sorted(mine)


@pytest.mark.parametrize("maxsize", [1, 3, 0])
def test_parallel_producers_and_consumers_lose_nothing(maxsize):
    scenario, _ = producers_and_consumers(Queue(maxsize=maxsize))
    taken = run(scenario.timeout(10))
    check_nothing_lost_and_fifo(taken, 4, 150)


@pytest.mark.parametrize("budget", [2, 3, 5, 7])
def test_nothing_lost_when_fibers_yield_between_check_and_wait(budget, monkeypatch):
    # a tiny step budget makes fibers yield between any two steps, e.g. between a take
    # finding the queue empty and registering as a waiter (an offer may come in between)
    monkeypatch.setattr(loop_module, "STEP_BUDGET", budget)
    scenario, _ = producers_and_consumers(Queue(maxsize=2), per_producer=40)
    taken = run(scenario.timeout(10))
    check_nothing_lost_and_fifo(taken, 4, 40)


# --- interruption -------------------------------------------------------------------------


def test_interrupted_waiting_offer_adds_nothing():
    q = Queue(maxsize=1)
    q.put_nowait("x")

    @do
    def scenario():
        offerer = yield q.offer("lost").fork()
        yield settle()
        exit_ = yield offerer.interrupt()
        return exit_.is_interrupted(), (yield q.take_all()), len(q._offerers)

    assert run(scenario) == (True, ["x"], 0)


def test_woken_offerer_interrupted_before_running_hands_the_room_on():
    q = Queue(maxsize=1)
    q.put_nowait("x")

    @do
    def scenario():
        first = yield q.offer("a").fork()
        second = yield q.offer("b").fork()
        yield settle()
        x = yield q.take()             # room for one: wakes the first offerer...
        yield first.interrupt()        # ...which is interrupted before it runs
        ok = yield second.join()       # so the second one gets the room
        return x, ok, (yield q.take_all())

    assert run(scenario.timeout(5)) == ("x", True, ["b"])


def test_interrupted_take_while_items_arrive_loses_nothing():
    q = Queue()

    @do
    def scenario():
        takers = []
        for _ in range(3):
            takers.append((yield q.take().fork()))
        yield settle()
        yield q.offer_all(["a", "b", "c"])  # wakes all three...
        # ...interrupt two of them before they run (interrupt() then waits for the first
        # one's end, and the others run meanwhile: the third may succeed first)
        exits = [(yield takers[0].interrupt()), (yield takers[2].interrupt())]
        got = [(yield takers[1].join())] + [ex.value for ex in exits if ex.is_success()]
        assert exits[0].is_interrupted()
        rest = yield q.take_all()
        return sorted([*got, *rest])

    assert run(scenario.timeout(5)) == ["a", "b", "c"]


def test_interrupted_waiting_take_leaves_no_waiter_behind():
    q = Queue()

    @do
    def scenario():
        taker = yield q.take().fork()
        yield settle()
        waiting = len(q._takers)
        exit_ = yield taker.interrupt()
        yield q.offer("a")
        return waiting, exit_.is_interrupted(), len(q._takers), (yield q.take_all())

    assert run(scenario) == (1, True, 0, ["a"])


def test_waiting_take_in_an_uninterruptible_region_is_not_interrupted():
    q = Queue()
    got = []

    @do
    def scenario():
        taker = yield (q.take().flat_map(lambda x: sync(lambda: got.append(x)))
                       .uninterruptible().fork())
        yield settle()
        interrupter = yield taker.interrupt().fork()
        yield settle()
        still_waiting = taker.poll() is None
        yield q.offer("a")
        exit_ = yield interrupter.join()
        return still_waiting, exit_.is_interrupted(), (yield q.take_all())

    assert run(scenario.timeout(5)) == (True, True, [])
    assert got == ["a"]


def test_a_waiting_take_or_offer_is_one_run_loop_wait():
    # the wait is a WAIT node: no frames of its own on the fiber's stack, and the waiter is
    # the fiber's canceller (the baton is passed by the run loop, not by a handler frame)
    q = Queue(maxsize=1)

    @do
    def scenario():
        taker = yield q.take().fork()
        yield settle()
        take_frames, take_waiter = len(taker._stack), taker._canceller is q._takers[0]
        yield q.offer("a")
        yield q.offer("b")
        offerer = yield q.offer("c").fork()
        yield settle()
        offer_frames, offer_waiter = len(offerer._stack), offerer._canceller is q._offerers[0]
        return take_frames, take_waiter, offer_frames, offer_waiter, (yield take_n(q, 2))

    assert run(scenario.timeout(5)) == (0, True, 0, True, ["b", "c"])


def test_take_is_one_rerunnable_node_per_queue():
    q = Queue()
    take = q.take()
    assert q.take() is take and q.get() is take
    q.put_nowait("a")
    q.put_nowait("b")
    assert run(take.zip(take)) == ("a", "b")
    assert Queue().take() is not take


def test_a_waiting_offer_retries_with_its_own_item():
    q = Queue(maxsize=1)
    q.put_nowait("x")

    @do
    def scenario():
        first = yield q.offer("a").fork()
        yield settle()
        second = yield q.offer("b").fork()
        yield settle()
        got = yield take_n(q, 3)
        return got, (yield first.join()), (yield second.join())

    assert run(scenario.timeout(5)) == (["x", "a", "b"], True, True)


def test_repr():
    q = Queue(maxsize=2)
    q.put_nowait(1)
    assert repr(q) == "<Queue 1/2 items>"
    run(q.shutdown())
    assert repr(q) == "<Queue 0/2 items, shut down>"


def test_queue_operations_say_what_they_are_in_reprs_and_effect_trees():
    from effectpy.trace import effect_tree

    q = Queue(maxsize=2)
    assert repr(q.take()) == "<Effect queue.take>"
    assert repr(q.offer(1)) == "<Effect queue.offer>"
    assert repr(q.take_up_to(3)) == "<Effect take_up_to>"
    source = effect_tree(q.take_up_to(3).flat_map(lambda _: q.poll())).source
    assert "1. take_up_to" in source
    assert "suspend(" not in source


def test_interrupted_takers_in_any_order_leave_no_live_waiter_and_the_deque_is_compacted(monkeypatch):
    from effectpy import for_each
    from effectpy._core._wait import _Waiter, _waiting

    # no O(n) search of the deque per cancelled waiter (quadratic for n waiters): a search
    # (`in`, `remove`) compares waiters
    monkeypatch.setattr(_Waiter, "__eq__", lambda self, other: pytest.fail("searched the waiters"))
    q = Queue()
    n = 1000

    def program():
        return for_each(range(n), lambda _: q.take().fork()).flat_map(
            lambda fibers: settle().flat_map(lambda _: for_each(
                reversed(fibers), lambda f: f.interrupt(), discard=True)))

    run(program())
    assert _waiting(q._takers) == 0
    # cancelled waiters are dropped in batches once they are most of the deque: what is
    # left is a handful at most
    assert len(q._takers) <= 17
    assert run(q.offer("x")) is True and q.qsize() == 1  # no cancelled waiter takes it
    assert run(q.take()) == "x"


def test_a_cancelled_waiter_is_skipped_by_signals_and_the_next_live_one_gets_the_item():
    from effectpy._core._wait import _waiting

    q = Queue()

    @do
    def scenario():
        first = yield q.take().fork()
        second = yield q.take().fork()
        yield settle()
        yield first.interrupt()
        assert _waiting(q._takers) == 1
        yield q.offer("item")
        return (yield second.join())

    assert run(scenario.timeout(5)) == "item"
    assert len(q._takers) == 0 and q._takers.cancelled == 0


def test_a_waiting_offer_is_not_starved_by_a_busy_producer():
    # the slow offer waits for room first; each time room is made it must get it before
    # the busy producer's next offer (which would otherwise keep taking the room first)
    from effectpy import for_each

    q = Queue(maxsize=2)

    @do
    def scenario():
        yield q.offer_all(["a", "b"])
        slow = yield q.offer("SLOW").fork()
        yield settle()
        busy = yield for_each(range(2000), q.offer, discard=True).fork()
        got = []
        while len(got) < 2003:
            got.append((yield q.take()))
            got.extend((yield q.take_up_to(10)))
        yield busy.join()
        return got, (yield slow.join())

    got, slow_result = run(scenario.timeout(10))
    assert slow_result is True
    # it gets in with the first room made (the busy producer's first offer may go straight
    # to the waiting taker, and its second take a place that was free too), not after the
    # busy producer is done
    assert got.index("SLOW") <= 4
    assert [x for x in got if x != "SLOW"] == ["a", "b", *range(2000)]


@pytest.mark.asyncio_only
def test_a_cancelled_asyncio_get_that_had_already_taken_gives_the_item_back():
    # as asyncio.Queue.get: a get cancelled once its item arrived keeps it in the queue
    from effectpy._core._wait import _waiting

    async def main():
        q = Queue(maxsize=2)
        getter = asyncio.ensure_future(q.get())
        while not _waiting(q._takers):
            await asyncio.sleep(0)
        q.put_nowait("x")    # the waiting take runs (and takes "x") before...
        q.put_nowait("y")
        getter.cancel()      # ...the task awaiting it resumes: it is cancelled
        with pytest.raises(asyncio.CancelledError):
            await getter
        return [q.get_nowait() for _ in range(q.qsize())]

    assert asyncio.run(main()) == ["x", "y"]  # back at the front, in order


@pytest.mark.asyncio_only
def test_a_get_cancelled_before_its_take_ran_takes_nothing_and_the_queue_never_overfills():
    # the task awaiting `get` carries the take: cancelled before it ran again, the take
    # never happens (its wake-up passes on), so there is nothing to give back
    from effectpy._core._wait import _waiting

    async def main():
        q = Queue(maxsize=1)
        getter = asyncio.ensure_future(q.get())
        while not _waiting(q._takers):
            await asyncio.sleep(0)
        q.put_nowait("x")  # wakes the waiting take...
        offer = asyncio.ensure_future(q.put("y"))  # (the queue is full: "y" waits)
        getter.cancel()    # ...whose task is cancelled before it runs again
        with pytest.raises(asyncio.CancelledError):
            await getter
        sizes = [q.qsize()]
        first = q.get_nowait()
        await offer        # the room "x" left goes to the waiting offer
        return sizes, [first, q.get_nowait()], q.qsize()

    assert asyncio.run(main()) == ([1], ["x", "y"], 0)


# --- ZIO's rule: an item offered while a taker waits is handed to it ----------------------


def with_a_waiting_taker(q, then):
    """Fork a take, let it wait, run ``then``; (what the taker got, then's value)."""
    @do
    def scenario():
        taker = yield q.take().fork()
        yield settle()
        result = yield then
        return (yield taker.join()), result
    return scenario


def test_a_dropping_queue_hands_the_first_item_to_a_waiting_taker_before_dropping():
    # ZIO's QueueSpec: with a taker waiting, offerAll(1, 2, 3, 4) on a dropping queue of 2
    # gives 1 to the taker, keeps 2 and 3, and drops only 4
    q = Queue(maxsize=2, strategy="dropping")
    assert run(with_a_waiting_taker(q, q.offer_all([1, 2, 3, 4]))) == (1, [4])
    assert run(q.take_all()) == [2, 3]
    single = Queue(maxsize=1, strategy="dropping")
    offers = single.offer("a").zip(single.offer("b")).zip(single.offer("c"))
    assert run(with_a_waiting_taker(single, offers)) == ("a", ((True, True), False))
    assert run(single.take_all()) == ["b"]


def test_a_sliding_queue_hands_the_first_item_to_a_waiting_taker():
    q = Queue(maxsize=2, strategy="sliding")
    assert run(with_a_waiting_taker(q, q.offer_all([1, 2, 3, 4]))) == (1, [])
    assert run(q.take_all()) == [3, 4]


def test_a_backpressure_queue_hands_items_to_waiting_takers_before_it_fills():
    q = Queue(maxsize=1)
    assert run(with_a_waiting_taker(q, q.offer_all([1, 2]))) == (1, [])
    assert run(q.take_all()) == [2]


def test_a_handed_item_is_not_lost_when_its_taker_is_interrupted_before_taking_it():
    q = Queue(maxsize=1, strategy="dropping")

    @do
    def scenario():
        taker = yield q.take().fork()
        yield settle()
        # handed the item, then interrupted in the same step, before it could run again
        yield q.offer("x").flat_map(lambda _: taker.interrupt())
        return (yield q.take_all())

    assert run(scenario) == ["x"]  # back in the queue


def test_a_handed_item_goes_with_the_queue_if_it_was_shut_down_meanwhile():
    q = Queue()

    @do
    def scenario():
        taker = yield q.take().fork()
        yield settle()
        yield q.offer("x").flat_map(lambda _: q.shutdown()).flat_map(lambda _: taker.interrupt())
        return q.qsize(), (yield q.take().exit())

    size, exit_ = run(scenario)
    assert size == 0 and is_shutdown_failure(exit_)


# --- take_n, take_between -----------------------------------------------------------------


def test_take_n_waits_for_exactly_n_items():
    q = Queue(maxsize=2)  # fewer places than items wanted: each item taken makes room

    @do
    def scenario():
        taking = yield q.take_n(5).fork()
        yield q.offer_all(range(7))
        got = yield taking.join()
        return got, (yield q.take_all())

    assert run(scenario.timeout(5)) == ([0, 1, 2, 3, 4], [5, 6])
    assert run(Queue().take_n(0)) == []


def test_take_between():
    q = Queue()
    q.put_nowait("a")
    q.put_nowait("b")
    q.put_nowait("c")
    assert run(q.take_between(1, 2)) == ["a", "b"]  # what there is, up to the most
    assert run(q.take_between(0, 5)) == ["c"]
    assert run(q.take_between(0, 5)) == []  # never waits for 0

    @do
    def scenario():
        taking = yield q.take_between(2, 10).fork()
        yield q.offer("x")
        yield settle()
        waiting = not taking.is_done()  # 1 of at least 2
        yield q.offer_all(["y", "z"])
        return waiting, (yield taking.join())

    waiting, got = run(scenario)
    assert waiting and got[:2] == ["x", "y"] and set(got) <= {"x", "y", "z"}


def test_an_interrupted_take_between_puts_its_items_back_in_order():
    q = Queue()

    @do
    def scenario():
        taking = yield q.take_between(3, 3).fork()
        yield q.offer_all(["a", "b"])
        yield settle()
        yield taking.interrupt()
        yield q.offer("c")
        return (yield q.take_all())

    assert run(scenario) == ["a", "b", "c"]


def test_an_interrupted_take_between_hands_its_items_to_waiting_takers_first():
    q = Queue()

    @do
    def scenario():
        taking = yield q.take_between(3, 3).fork()
        yield settle()
        yield q.offer_all(["a", "b"])  # both go to the taker (it wants 3)
        yield settle()
        others = [(yield q.take().fork())]  # waits for an item: none is left
        yield settle()
        yield taking.interrupt()  # "a" goes to the waiting taker, "b" back to the queue
        return (yield others[0].join()), (yield q.take_all())

    assert run(scenario) == ("a", ["b"])


def test_take_n_and_take_between_fail_on_shutdown_and_reject_bad_input():
    q = Queue()
    exit_ = run_exit(zip_par_take_and_shutdown(q))
    assert is_shutdown_failure(exit_)
    with pytest.raises(ValueError, match="take_n expects an int >= 0, got -1"):
        q.take_n(-1)
    with pytest.raises(ValueError, match="take_between expects lo <= hi, got lo=3, hi=2"):
        q.take_between(3, 2)
    with pytest.raises(ValueError, match="take_between expects an int >= 0, got '1'"):
        q.take_between("1", 2)


def zip_par_take_and_shutdown(q):
    from effectpy import zip_par
    return zip_par(q.take_n(2), settle().flat_map(lambda _: q.offer(1)).flat_map(lambda _: q.shutdown()))
