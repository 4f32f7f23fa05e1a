"""The run loop uses an explicit stack: deep chains and endless loops are safe."""

import asyncio
import sys
import tracemalloc

from effectpy import Ref, fail, run, run_exit, succeed, suspend, sync, unit, yield_now, zip_par


def test_left_nested_million_flat_maps():
    eff = succeed(0)
    for _ in range(1_000_000):
        eff = eff.flat_map(lambda x: succeed(x + 1))
    assert run(eff) == 1_000_000


def test_right_nested_million_flat_maps():
    def loop(n):
        return succeed(n) if n == 0 else succeed(n - 1).flat_map(loop)
    assert run(loop(1_000_000)) == 0


def test_left_nested_maps_and_deep_failure_unwinding():
    eff = fail("deep")
    for _ in range(200_000):
        eff = eff.map(lambda x: x + 1)
    assert run_exit(eff).cause.failures() == ["deep"]


def test_runs_under_a_tiny_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        def loop(n):
            return succeed(n) if n == 0 else succeed(n - 1).flat_map(loop)
        # run the loop directly on an existing event loop (asyncio.run itself needs stack)
        ev = asyncio.new_event_loop()
        try:
            assert ev.run_until_complete(loop(50_000)._run()) == 0
        finally:
            ev.close()
    finally:
        sys.setrecursionlimit(old)


def test_forever_runs_in_bounded_memory():
    counter = Ref(0)

    def step(n):
        return fail("stop") if n >= 60_000 else unit

    body = counter.update_and_get(lambda n: n + 1).flat_map(step)
    tracemalloc.start()
    try:
        run_exit(body.forever())  # warm up the interpreter's caches
        tracemalloc.reset_peak()
        run(counter.set(0))
        before = tracemalloc.get_traced_memory()[0]
        exit_ = run_exit(body.forever())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert exit_.cause.failures() == ["stop"]
    assert peak - before < 1_000_000  # 60k iterations: a leak of even 20 bytes each would show


def test_recursive_effect_loop_in_bounded_memory():
    counter = Ref(0)

    def loop():
        return counter.update_and_get(lambda n: n + 1).flat_map(
            lambda n: succeed(n) if n >= 60_000 else suspend(loop))

    tracemalloc.start()
    try:
        assert run(loop()) == 60_000
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        run(counter.set(0))
        run(loop())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - before < 1_000_000


def test_busy_fiber_does_not_starve_others():
    """A fiber in an endless pure loop still lets another fiber (and the event loop) run."""
    ticks = []

    async def main():
        spinner = sync(lambda: None).forever()
        other = yield_now.flat_map(lambda _: sync(lambda: ticks.append("other ran")))
        # the race ends when `other` completes; it could never run if the spinner hogged the loop
        from effectpy import race
        return await race(spinner, other.as_("done"))

    assert asyncio.run(main()) == "done"
    assert ticks == ["other ran"]


def test_descending_a_long_left_nested_chain_lets_others_run():
    """Pushing the frames of a prebuilt left-nested chain runs no user code, yet it is work:
    it counts against the fiber's step budget, so a long descent lets the loop run others."""
    n = 50_000
    ticks = [0]
    seen = []

    def tick(_):
        ticks[0] += 1
        return unit

    chain = succeed(0).flat_map(lambda x: sync(lambda: seen.append(ticks[0])).as_(x))
    for _ in range(n):
        chain = chain.flat_map(lambda x: succeed(x + 1))
    ticker = yield_now.flat_map(tick).forever()

    async def main():
        from effectpy import race
        return await race(chain, ticker)

    assert asyncio.run(main()) == n
    # the innermost step ran after the ticker had run between slices of the descent
    assert seen and seen[0] >= n // 2048 - 2


def test_busy_fiber_lets_plain_asyncio_tasks_run():
    async def main():
        flag = asyncio.Event()

        async def setter():
            flag.set()

        spin = sync(lambda: flag.is_set()).flat_map(lambda done: succeed("ok") if done else spin_again())

        def spin_again():
            return suspend(lambda: spin)

        task = asyncio.create_task(setter())
        result = await spin
        await task
        return result

    assert asyncio.run(main()) == "ok"


def test_zip_par_of_many_pure_effects():
    assert run(zip_par(*[succeed(i) for i in range(5000)])) == tuple(range(5000))
