"""PubSub: broadcast to every subscriber, per-subscriber buffers, scoped subscriptions.

Every test runs on asyncio and trio; none sleeps: fibers are interleaved with `yield_now`.
"""

import pytest

import effectpy._core._loop as loop_module
from effectpy import Deferred, QueueShutdown, scoped, sync, yield_now
from effectpy._option import NONE, Some
from effectpy._pubsub import PubSub, Subscription
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import do, settle


def is_shutdown_failure(exit_):
    return (not exit_.is_success() and exit_.cause.is_failure_only()
            and isinstance(exit_.cause.failures()[0], QueueShutdown))


def reader(sub, log):
    """Take from ``sub`` forever, appending to ``log``."""
    return sub.take().flat_map(lambda x: sync(lambda: log.append(x))).forever()


def test_every_subscriber_gets_every_item_published_after_it_subscribed():
    hub = PubSub()

    @do
    def scenario():
        nobody = yield hub.publish("before anyone")
        s1 = yield hub.subscribe()
        yield hub.publish(1)
        s2 = yield hub.subscribe()
        everyone = yield hub.publish_all([2, 3])
        return nobody, everyone, (yield s1.take_all()), (yield s2.take_all()), hub.subscriber_count

    assert run(scoped(scenario)) == (True, True, [1, 2, 3], [2, 3], 2)
    assert hub.subscriber_count == 0


def test_subscription_reads_like_a_queue():
    hub = PubSub(maxsize=10)

    @do
    def scenario():
        sub = yield hub.subscribe()
        empty = yield sub.poll()
        yield hub.publish_all(range(6))
        return (empty, (yield sub.take()), (yield sub.poll()), (yield sub.take_up_to(2)),
                (yield sub.size()), (yield sub.take_all()), (yield sub.take_up_to(5)))

    assert run(scoped(scenario)) == (NONE, 0, Some(1), [2, 3], 2, [4, 5], [])
    with pytest.raises(ValueError):
        Subscription(hub).take_up_to(-1)


def test_subscription_ends_with_its_scope():
    hub = PubSub()
    leaked = []

    @do
    def scenario():
        sub = yield hub.subscribe()
        leaked.append(sub)
        yield hub.publish("x")
        return hub.subscriber_count

    assert run(scoped(scenario)) == 1
    assert hub.subscriber_count == 0
    sub = leaked[0]
    for eff in (sub.take(), sub.poll(), sub.take_up_to(1), sub.take_all()):
        exit_ = run_exit(eff)
        assert is_shutdown_failure(exit_)
        assert "subscription has ended" in str(exit_.cause.failures()[0])
    assert run(hub.publish("y")) is True  # nobody listens any more
    assert "ended" in repr(sub)


def test_subscription_ends_with_the_subscribing_fiber():
    hub = PubSub()
    gate = Deferred()

    @do
    def scenario():
        listener = yield hub.subscribe().flat_map(lambda sub: gate.await_()).fork()
        waiting = yield hub.subscribe().flat_map(lambda sub: sub.take()).fork()
        yield settle()
        during = hub.subscriber_count
        yield gate.succeed(None)
        yield listener.join()
        yield waiting.interrupt()
        return during, hub.subscriber_count

    assert run(scenario) == (2, 0)


def test_backpressure_a_slow_subscriber_holds_the_others_back_only_beyond_its_bound():
    hub = PubSub(maxsize=2)
    fast_log = []

    @do
    def scenario():
        fast = yield hub.subscribe()
        slow = yield hub.subscribe()
        yield reader(fast, fast_log).fork()
        publisher = yield hub.publish_all(range(10)).fork()
        yield settle()
        # the slow one holds 0 and 1; item 2 reached the fast one and waits for room there
        first = (list(fast_log), (yield slow.size()), publisher.state)
        got = yield slow.take()   # room: 2 moves in, the publisher goes on with 3
        yield settle()
        second = (got, list(fast_log), (yield slow.size()))
        rest = []
        for _ in range(9):
            rest.append((yield slow.take()))
        ok = yield publisher.join()
        yield settle()
        return first, second, rest, ok, list(fast_log)

    first, second, rest, ok, final = run(scoped(scenario).timeout(5))
    assert first == ([0, 1, 2], 2, "suspended")
    assert second == (0, [0, 1, 2, 3], 2)
    assert rest == list(range(1, 10)) and ok is True
    assert final == list(range(10))


def test_backpressure_publish_waits_only_for_full_subscribers():
    hub = PubSub(maxsize=1)

    @do
    def scenario():
        full = yield hub.subscribe()
        yield hub.publish("x")
        roomy = yield hub.subscribe()
        publisher = yield hub.publish("y").fork()
        yield settle()
        early = yield roomy.poll()       # already there, while the publish still waits
        waiting = publisher.state
        x = yield full.take()            # room: y moves in, the publish completes
        done = yield publisher.join()
        return early, waiting, x, done, (yield full.take())

    assert run(scoped(scenario)) == (Some("y"), "suspended", "x", True, "y")


@pytest.mark.parametrize("strategy, slow_keeps, results", [
    ("dropping", [0, 1], [True, True] + [False] * 8),
    ("sliding", [8, 9], [True] * 10),
])
def test_dropping_and_sliding_subscribers_are_independent(strategy, slow_keeps, results):
    hub = PubSub(maxsize=2, strategy=strategy)
    fast_log = []

    @do
    def scenario():
        fast = yield hub.subscribe()
        slow = yield hub.subscribe()
        yield reader(fast, fast_log).fork()
        published = []
        for i in range(10):  # never waits, whatever the slow subscriber does
            published.append((yield hub.publish(i)))
            yield yield_now
        yield settle()
        return published, list(fast_log), (yield slow.take_all())

    assert run(scoped(scenario)) == (results, list(range(10)), slow_keeps)


def test_publish_all_with_dropping_reports_a_miss():
    hub = PubSub(maxsize=1, strategy="dropping")

    @do
    def scenario():
        sub = yield hub.subscribe()
        return (yield hub.publish_all([1, 2])), (yield sub.take_all())

    assert run(scoped(scenario)) == (False, [1])


def test_unsubscribing_releases_a_waiting_publisher():
    hub = PubSub(maxsize=1)

    @do
    def scenario():
        other = yield hub.subscribe()
        slow = yield hub.subscribe().flat_map(lambda sub: yield_now.forever()).fork()
        yield settle()
        yield hub.publish("a")
        publisher = yield hub.publish("b").fork()   # waits for both (both full)
        yield settle()
        yield other.take()                          # other has room: b moves in
        yield settle()
        still = publisher.state
        yield slow.interrupt()                      # the slow one unsubscribes
        done = yield publisher.join()
        return still, done, (yield other.take_all()), hub.subscriber_count

    assert run(scoped(scenario).timeout(5)) == ("suspended", True, ["b"], 1)


def test_interrupted_publish_is_withdrawn_where_it_still_waited():
    hub = PubSub(maxsize=1)

    @do
    def scenario():
        full = yield hub.subscribe()
        yield hub.publish("x")
        roomy = yield hub.subscribe()
        publisher = yield hub.publish("y").fork()
        yield settle()
        exit_ = yield publisher.interrupt()
        x = yield full.take()   # y was withdrawn from the full subscriber: nothing moves in
        after_take = yield full.size()
        y = yield roomy.take_all()
        yield hub.publish("z")
        return (exit_.is_interrupted(), y, x, after_take, (yield full.take_all()),
                (yield roomy.take_all()))

    assert run(scoped(scenario).timeout(5)) == (True, ["y"], "x", 0, ["z"], ["z"])


def test_interrupted_take_on_a_subscription_loses_no_item():
    hub = PubSub()

    @do
    def scenario():
        sub = yield hub.subscribe()
        first = yield sub.take().fork()
        second = yield sub.take().fork()
        yield settle()
        yield hub.publish("item")       # wakes the first taker...
        yield first.interrupt()         # ...which is interrupted before it runs
        return (yield second.join())

    assert run(scoped(scenario).timeout(5)) == "item"


def test_shutdown_fails_waiting_publishers_and_takers():
    hub = PubSub(maxsize=1)

    @do
    def scenario():
        full = yield hub.subscribe()
        yield hub.publish(1)
        publisher = yield hub.publish(2).fork()
        yield settle()
        empty = yield hub.subscribe()
        taker = yield empty.take().fork()
        waiter = yield hub.await_shutdown().fork()
        yield settle()
        states = (publisher.state, taker.state, waiter.state, (yield hub.is_shutdown()))
        yield hub.shutdown()
        yield hub.shutdown()  # idempotent
        exits = [(yield publisher.await_()), (yield taker.await_())]
        yield waiter.join()
        after = [(yield hub.publish(3).exit()), (yield hub.publish_all([3]).exit()),
                 (yield hub.subscribe().exit()), (yield full.take().exit()),
                 (yield full.poll().exit())]
        yield hub.await_shutdown()
        return states, exits, after, (yield hub.is_shutdown())

    states, exits, after, down = run(scoped(scenario).timeout(5))
    assert states == ("suspended", "suspended", "suspended", False)
    assert all(is_shutdown_failure(ex) for ex in exits + after)
    assert down is True and hub.subscriber_count == 0
    assert "shut down" in repr(hub)


@pytest.mark.parametrize("budget", [None, 2, 3, 5])
def test_parallel_publishers_every_subscriber_sees_everything_in_one_order(budget, monkeypatch):
    if budget is not None:  # fibers yield between any two steps
        monkeypatch.setattr(loop_module, "STEP_BUDGET", budget)
    hub = PubSub(maxsize=2)
    n, publishers, subscribers = 60, 3, 3
    logs = [[] for _ in range(subscribers)]

    def take_all_of(sub, log):
        @do
        def go():
            for _ in range(n * publishers):
                log.append((yield sub.take()))
        return go

    def publish_from(p):
        @do
        def go():
            for i in range(0, n, 2):
                if i % 4 == 0:
                    yield hub.publish_all([(p, i), (p, i + 1)])
                else:
                    yield hub.publish((p, i)).zip(hub.publish((p, i + 1)))
        return go

    @do
    def scenario():
        readers = []
        for log in logs:
            sub = yield hub.subscribe()
            readers.append((yield take_all_of(sub, log).fork()))
        writers = []
        for p in range(publishers):
            writers.append((yield publish_from(p).fork()))
        for f in writers + readers:
            yield f.join()

    run(scoped(scenario).timeout(10))
    expected = sorted((p, i) for p in range(publishers) for i in range(n))
    for log in logs:
        assert sorted(log) == expected
        assert log == logs[0]  # one order for everyone
        for p in range(publishers):
            mine = [i for (q, i) in log if q == p]
            assert mine == sorted(mine)


def test_bad_input():
    with pytest.raises(ValueError):
        PubSub(maxsize=-1)
    with pytest.raises(ValueError):
        PubSub(strategy="lifo")  # type: ignore[arg-type]
    hub = PubSub(maxsize=0)
    assert hub.maxsize == 0 and hub.strategy == "backpressure"
    assert repr(hub) == "<PubSub 0 subscribers>"
