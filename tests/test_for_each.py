"""for_each: the sequential loop over items (ZIO's foreach, Effect-TS's Effect.forEach)."""

import pytest

from effectpy import (
    Deferred, Die, Fail, Queue, Ref, fail, for_each, never, succeed, sync, yield_now, zip_par,
)
from effectpy.trace import effect_tree
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture


def test_results_in_order_and_items_run_one_after_another():
    log = []

    def work(i):
        return sync(lambda: log.append(("start", i))).flat_map(
            lambda _: yield_now).flat_map(lambda _: sync(lambda: log.append(("end", i)))).as_(i * 10)

    assert run(for_each([3, 1, 2], work)) == [30, 10, 20]
    # sequential: each item ends before the next starts
    assert log == [("start", 3), ("end", 3), ("start", 1), ("end", 1), ("start", 2), ("end", 2)]


def test_discard_keeps_no_results():
    seen = []
    assert run(for_each(range(4), lambda i: sync(lambda: seen.append(i)), discard=True)) is None
    assert seen == [0, 1, 2, 3]


def test_empty():
    assert run(for_each([], succeed)) == []
    assert run(for_each((), succeed, discard=True)) is None


def test_first_failure_stops_the_loop():
    started = []

    def work(i):
        return sync(lambda: started.append(i)).flat_map(
            lambda _: fail(f"item {i}") if i == 2 else succeed(i))

    exit_ = run_exit(for_each(range(10), work))
    assert exit_.cause == Fail("item 2")
    assert started == [0, 1, 2]


def test_a_raising_function_is_a_defect_naming_the_exception():
    def work(i):
        if i == 1:
            raise ValueError("bad item")
        return succeed(i)

    exit_ = run_exit(for_each(range(3), work))
    assert isinstance(exit_.cause, Die) and isinstance(exit_.cause.exception, ValueError)


def test_a_raising_function_on_the_first_item_is_a_defect_too():
    exit_ = run_exit(for_each([0], lambda i: 1 / i))
    assert isinstance(exit_.cause, Die) and isinstance(exit_.cause.exception, ZeroDivisionError)


def test_coroutines_are_lifted_and_other_results_are_a_clear_defect():
    async def double(x):
        return x * 2

    assert run(for_each([1, 2], double)) == [2, 4]
    exit_ = run_exit(for_each([1], lambda x: x))
    assert isinstance(exit_.cause, Die)
    assert "for_each's function expected an Effect, got int 1" in str(exit_.cause.exception)


def test_rerunnable_each_run_starts_over():
    ref = Ref(0)
    eff = for_each(range(3), lambda i: ref.update_and_get(lambda n: n + i))
    assert run(eff) == [0, 1, 3]
    assert run(eff) == [3, 4, 6]


def test_items_are_read_once_when_built():
    items = iter([1, 2, 3])
    eff = for_each(items, succeed)
    assert run(eff) == [1, 2, 3]
    assert run(eff) == [1, 2, 3]  # the iterator was read into the effect
    source = [1, 2]
    eff = for_each(source, succeed)
    source.append(3)
    assert run(eff) == [1, 2]


def test_a_million_items_in_constant_stack():
    assert run(for_each(range(1_000_000), succeed, discard=True)) is None
    assert run(for_each(range(100_000), lambda x: succeed(x * 2)))[-1] == 199_998


def test_interruption_stops_the_loop_between_items():
    started = []
    gate = Deferred()

    def work(i):
        if i == 1:
            return gate.succeed(None).flat_map(lambda _: never)
        return sync(lambda: started.append(i))

    def program():
        return for_each(range(5), work).fork().flat_map(
            lambda f: gate.await_().flat_map(lambda _: f.interrupt()))

    exit_ = run(program())
    assert exit_.cause.is_interrupted_only()
    assert started == [0]  # items 2..4 never ran


def test_offers_and_takes_through_a_queue():
    q = Queue(maxsize=2)
    producer = for_each(range(100), q.offer, discard=True)
    consumer = for_each(range(100), lambda _: q.take())
    _, taken = run(zip_par(producer, consumer))
    assert taken == list(range(100))


@pytest.mark.parametrize("items, message", [
    ("abc", "for_each expects an iterable of items, got str 'abc'"),
    (3, "for_each expects an iterable of items, got int 3"),
    (None, "for_each expects an iterable of items, got NoneType None"),
])
def test_bad_items_rejected_when_built(items, message):
    with pytest.raises(TypeError, match=message):
        for_each(items, succeed)


def test_bad_function_and_discard_rejected_when_built():
    with pytest.raises(TypeError, match="for_each expects a function, got an Effect"):
        for_each([1], succeed(1))
    with pytest.raises(TypeError, match="for_each expects a function, got int 3"):
        for_each([1], 3)
    with pytest.raises(TypeError, match="for_each's discard must be a bool, got str 'yes'"):
        for_each([1], succeed, discard="yes")


def test_effect_tree_draws_for_each():
    def work(i):
        return succeed(i)

    svg_source = effect_tree(for_each(range(7), work).map(sum)).source
    assert "for_each(work)" in svg_source
    assert "7 items · one after another" in svg_source
    assert "results in input order" in svg_source
    assert "results discarded" in effect_tree(for_each(range(7), work, discard=True)).source


def test_interruption_stops_a_loop_whose_items_never_wait():
    count = [0]

    def tick(_):
        count[0] += 1
        return succeed(None)

    def program():
        # the loop runs in slices of steps; between them the interrupter runs
        return for_each(range(10**9), tick, discard=True).fork().flat_map(
            lambda f: yield_now.flat_map(lambda _: f.interrupt()))

    assert run(program()).is_interrupted()
    assert 0 < count[0] < 10**6
