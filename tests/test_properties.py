"""Property tests: random programs, interrupted at random (virtual) times, never leak, on
both backends.

Whatever the shape of the program (nested zip_par / race / for_each_par / timeout /
acquire_release / uninterruptible regions, producers and consumers of a bounded Queue,
publishers and readers of a bounded PubSub, Semaphore permits, finalizers) and wherever the
interruption lands:

- every resource acquired is released exactly once, and every finalizer attached runs
  exactly once;
- every fiber started has ended, and no sleep is left on the clock;
- Queue: the items offered (and added) are the items taken plus the items left, each once;
- PubSub: each subscriber holds (taken plus left) every item whose publish completed, each
  once, in publish order, and nothing that was not published (a publish interrupted while
  waiting may have reached some subscribers: documented);
- Semaphore: every permit is back.

Counting is exact: each operation records its result in the same uninterruptible step
that completes it (``uninterruptible_mask``), so an interruption cannot fall between.
"""

from dataclasses import dataclass, field
from typing import Any

from _backend import each_backend, run  # noqa: F401 - each_backend runs every test on both backends
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from effectpy import (
    Clock, Context, PubSub, Queue, Semaphore, TestClock, acquire_release, die, fail, for_each,
    for_each_par, never, race, scoped, sleep, succeed, suspend, sync, uninterruptible_mask, zip_par,
)
from effectpy.lowlevel import Instrument, instrument

leaves = st.one_of(
    st.tuples(st.just("sleep"), st.integers(0, 5)),
    st.tuples(st.just("fail"), st.integers(0, 5)),
    st.tuples(st.just("die"), st.integers(0, 5)),
    st.just(("succeed",)),
    st.just(("never",)),
    st.tuples(st.just("produce"), st.integers(1, 4)),
    st.tuples(st.just("consume"), st.integers(1, 4)),
    st.tuples(st.just("publish"), st.integers(1, 4)),
    st.tuples(st.just("read"), st.integers(0, 1), st.integers(1, 4)),
)


def extend(children: Any) -> Any:
    many = st.lists(children, min_size=1, max_size=4)
    return st.one_of(
        st.tuples(st.just("zip_par"), many),
        st.tuples(st.just("race"), many),
        st.tuples(st.just("for_each_par"), many, st.integers(1, 3)),
        st.tuples(st.just("resource"), children),
        st.tuples(st.just("timeout"), children, st.integers(1, 6)),
        st.tuples(st.just("catch"), children),
        st.tuples(st.just("fork"), children, st.integers(0, 5)),
        st.tuples(st.just("uninterruptible"), st.integers(0, 5)),
        st.tuples(st.just("permit"), children),
        st.tuples(st.just("finalize"), children),
    )


programs = st.recursive(leaves, extend, max_leaves=12)


class Ledger(Instrument):
    def __init__(self) -> None:
        self.started: set[int] = set()
        self.ended: set[int] = set()

    def fiber_started(self, fiber: Any, parent: Any) -> None:
        self.started.add(fiber.id)

    def fiber_ended(self, fiber: Any, exit: Any) -> None:
        assert fiber.id not in self.ended
        self.ended.add(fiber.id)


@dataclass
class World:
    """The shared things a program uses, and what happened to them."""

    queue: Queue[int] = field(default_factory=lambda: Queue(2))
    hub: PubSub[int] = field(default_factory=lambda: PubSub(2))
    semaphore: Semaphore = field(default_factory=lambda: Semaphore(2))
    subscriptions: list[Any] = field(default_factory=list)
    log: list[tuple[str, int]] = field(default_factory=list)
    offered: list[int] = field(default_factory=list)
    taken: list[int] = field(default_factory=list)
    attempted: list[int] = field(default_factory=list)  # publishes begun, in order
    published: list[int] = field(default_factory=list)  # publishes completed
    read: list[list[int]] = field(default_factory=lambda: [[], []])
    entered: list[int] = field(default_factory=list)  # finalizers attached
    finalized: list[int] = field(default_factory=list)  # finalizers run
    counter: int = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter


def counted(operation: Any, record: Any) -> Any:
    """``operation`` interruptible while it waits; ``record(result)`` in the same step
    that completes it."""
    return uninterruptible_mask(lambda restore: restore(operation).flat_map(lambda v: sync(lambda: record(v))))


def repeat(n: int, make: Any) -> Any:
    return for_each(range(n), lambda _: suspend(make), discard=True)


def build(tree: Any, w: World) -> Any:
    kind = tree[0]
    if kind == "sleep":
        return sleep(tree[1])
    if kind == "fail":
        return sleep(tree[1]).flat_map(lambda _: fail("f"))
    if kind == "die":
        return sleep(tree[1]).flat_map(lambda _: die(RuntimeError("d")))
    if kind == "succeed":
        return succeed(1)
    if kind == "never":
        return never
    if kind == "uninterruptible":
        return sleep(tree[1]).uninterruptible()
    if kind == "produce":
        def offer() -> Any:
            item = w.next()
            return counted(w.queue.offer(item), lambda added: w.offered.append(item) if added else None)
        return repeat(tree[1], offer)
    if kind == "consume":
        return repeat(tree[1], lambda: counted(w.queue.take(), w.taken.append))
    if kind == "publish":
        def publish() -> Any:
            item = w.next()
            w.attempted.append(item)
            return counted(w.hub.publish(item), lambda _: w.published.append(item))
        return repeat(tree[1], publish)
    if kind == "read":
        which = tree[1]
        return repeat(tree[2], lambda: counted(w.subscriptions[which].take(), w.read[which].append))
    if kind == "zip_par":
        return zip_par(*[build(c, w) for c in tree[1]])
    if kind == "race":
        return race(*[build(c, w) for c in tree[1]])
    if kind == "for_each_par":
        return for_each_par(tree[1], lambda c: build(c, w), parallelism=tree[2])
    if kind == "timeout":
        return build(tree[1], w).timeout(tree[2])
    if kind == "fork":  # a supervised child, left running when its parent moves on
        child = build(tree[1], w)
        return child.fork().flat_map(lambda _: sleep(tree[2]))
    if kind == "catch":
        return build(tree[1], w).catch_all(lambda _: succeed(0))
    if kind == "permit":
        return w.semaphore.with_permit(build(tree[1], w))
    if kind == "finalize":
        inner = build(tree[1], w)

        def attach(restore: Any) -> Any:
            k = w.next()
            w.entered.append(k)
            return restore(inner).ensuring(sync(lambda: w.finalized.append(k)))
        return uninterruptible_mask(lambda restore: suspend(lambda: attach(restore)))
    assert kind == "resource"
    inner = build(tree[1], w)

    def acquire() -> int:
        n = w.next()
        w.log.append(("acquire", n))
        return n

    res = acquire_release(sync(acquire), lambda r: sync(lambda: w.log.append(("release", r))))
    return res.flat_map(lambda _: inner)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(programs, st.integers(0, 8))
def test_random_programs_interrupted_anywhere_release_everything(tree: Any, interrupt_at: int) -> None:
    w = World()
    clock = TestClock()
    env = Context().with_service(Clock, clock)

    def supervise(fiber: Any) -> Any:
        return sleep(interrupt_at).flat_map(lambda _: fiber.interrupt())

    def with_subscribers(subs: tuple[Any, Any]) -> Any:
        w.subscriptions[:] = subs
        program = build(tree, w)
        driven = zip_par(program.fork().flat_map(supervise), clock.adjust(20))
        left = zip_par(w.queue.take_all(), subs[0].take_all(), subs[1].take_all())
        return driven.flat_map(lambda ran: left.map(lambda rest: (ran, rest)))

    ledger = Ledger()
    with instrument(ledger):
        program = scoped(w.hub.subscribe().zip(w.hub.subscribe()).flat_map(with_subscribers))
        (exit_, _), (in_queue, *in_subscriptions) = run(program.provide(env))

    acquired = [r for what, r in w.log if what == "acquire"]
    released = [r for what, r in w.log if what == "release"]
    assert sorted(released) == sorted(acquired), w.log
    assert len(set(released)) == len(released), w.log  # exactly once
    assert sorted(w.finalized) == sorted(w.entered) and len(set(w.finalized)) == len(w.finalized)
    assert ledger.started == ledger.ended
    assert exit_.is_success() or exit_.is_failure()
    assert clock.pending_sleeps == 0
    # conservation
    assert sorted(w.taken + in_queue) == sorted(w.offered) and len(set(w.offered)) == len(w.offered)
    for held in (w.read[i] + in_subscriptions[i] for i in range(2)):
        assert sorted(held) == held and len(set(held)) == len(held)  # in order, each once
        assert set(w.published) <= set(held) <= set(w.attempted)
    assert w.semaphore.available == 2
