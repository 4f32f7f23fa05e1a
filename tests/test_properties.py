"""Property tests: random programs, interrupted at random (virtual) times, never leak.

Whatever the shape of the program (nested zip_par / race / for_each_par / timeout /
acquire_release / uninterruptible regions) and wherever the interruption lands, every
resource acquired is released exactly once and every fiber started has ended.
"""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effectpy
from effectpy import (
    Clock, Context, TestClock, acquire_release, die, fail, for_each_par, never, race, sleep,
    succeed, sync, zip_par,
)
from effectpy.lowlevel import Instrument, instrument

leaves = st.one_of(
    st.tuples(st.just("sleep"), st.integers(0, 5)),
    st.tuples(st.just("fail"), st.integers(0, 5)),
    st.tuples(st.just("die"), st.integers(0, 5)),
    st.just(("succeed",)),
    st.just(("never",)),
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


def build(tree: Any, log: list[tuple[str, int]], counter: list[int]) -> Any:
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
    if kind == "zip_par":
        return zip_par(*[build(c, log, counter) for c in tree[1]])
    if kind == "race":
        return race(*[build(c, log, counter) for c in tree[1]])
    if kind == "for_each_par":
        return for_each_par(tree[1], lambda c: build(c, log, counter), parallelism=tree[2])
    if kind == "timeout":
        return build(tree[1], log, counter).timeout(tree[2])
    if kind == "fork":  # a supervised child, left running when its parent moves on
        child = build(tree[1], log, counter)
        return child.fork().flat_map(lambda _: sleep(tree[2]))
    if kind == "catch":
        return build(tree[1], log, counter).catch_all(lambda _: succeed(0))
    assert kind == "resource"
    inner = build(tree[1], log, counter)

    def acquire() -> int:
        counter[0] += 1
        log.append(("acquire", counter[0]))
        return counter[0]

    res = acquire_release(sync(acquire), lambda r: sync(lambda: log.append(("release", r))))
    return res.flat_map(lambda _: inner)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs, st.integers(0, 8))
def test_random_programs_interrupted_anywhere_release_everything(tree: Any, interrupt_at: int) -> None:
    log: list[tuple[str, int]] = []
    program = build(tree, log, [0])
    clock = TestClock()
    env = Context().with_service(Clock, clock)

    def supervise(fiber: Any) -> Any:
        return sleep(interrupt_at).flat_map(lambda _: fiber.interrupt())

    ledger = Ledger()
    with instrument(ledger):
        driven = zip_par(program.fork().flat_map(supervise), clock.adjust(20)).provide(env)
        exit_, _ = effectpy.run(driven)

    acquired = [r for what, r in log if what == "acquire"]
    released = [r for what, r in log if what == "release"]
    assert sorted(released) == sorted(acquired), log
    assert len(set(released)) == len(released), log  # exactly once
    assert ledger.started == ledger.ended
    assert exit_.is_success() or exit_.is_failure()
    assert clock.pending_sleeps == 0
