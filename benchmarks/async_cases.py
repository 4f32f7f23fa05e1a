"""Benchmarks of effects whose bodies are coroutines: ``Effect(lambda ctx: coro())``.

This is how most Python users write effectpy (the guide's form), so each row pits it against
the plain asyncio (and trio) code doing the same awaits. Every step awaits the backend's
``sleep(0)`` once: a real suspension, so the event loop runs between steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from effectpy import Context, Effect, for_each, for_each_par, zip_par

from cases import (
    EFFECTPY_ASYNCIO, EFFECTPY_TRIO, Config, _trace_current, _trace_start, _trace_stop, equals,
    fork_all, group_tasks_waiting_memory, join_all, plan_text, tasks_waiting_memory, with_effectpy_trio,
)
from harness import VALUE, Ratio, Section, Variant, measure

N = 10_000

# The sequence row's floor: each step's effect made, its body awaited, nothing interpreted.
FLOOR = "floor: Effect made, body awaited"


def _body(sleep0: Callable[[], Awaitable[None]], i: int) -> Callable[[Context], Awaitable[int]]:
    """The coroutine function of step ``i``: ``await sleep0(); return i``."""
    async def body(ctx: Context) -> int:
        await sleep0()
        return i
    return body


def _step(sleep0: Callable[[], Awaitable[None]]) -> Callable[[int], Effect[Any, Any, int]]:
    """``i -> Effect(async: await sleep(0); return i)`` on the backend of ``sleep0``."""
    def step(i: int) -> Effect[Any, Any, int]:
        return Effect(_body(sleep0, i))
    return step


def _asyncio_sleep0() -> Awaitable[None]:
    return asyncio.sleep(0)


def _trio_sleep0() -> Awaitable[None]:
    import trio
    return trio.sleep(0)


def _ratios(asyncio_label: str, trio_label: str, target: float) -> list[Ratio]:
    return [Ratio(EFFECTPY_ASYNCIO, asyncio_label, target), Ratio(EFFECTPY_TRIO, trio_label, target)]


def bench_async_sequence(cfg: Config) -> Section:
    n = cfg.size(N, 2_000)
    repeats, inner = cfg.plan((5, 3), (1, 1))
    expected = list(range(n))

    async def aio_loop() -> list[int]:
        async def one(i: int) -> int:
            await asyncio.sleep(0)
            return i
        return [await one(i) for i in range(n)]

    async def trio_loop() -> list[int]:
        import trio

        async def one(i: int) -> int:
            await trio.sleep(0)
            return i
        return [await one(i) for i in range(n)]

    async def floor_loop() -> list[int]:
        # what any interpreter of these effects does at least: make each step's body and
        # its Effect as the effectpy variant does, then await the body (in a plain loop)
        ctx = Context()
        out = []
        for i in range(n):
            body = _body(_asyncio_sleep0, i)
            Effect(body)
            out.append(await body(ctx))
        return out

    aio_step, trio_step = _step(_asyncio_sleep0), _step(_trio_sleep0)
    check = equals(expected)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=lambda: for_each(range(n), aio_step), check=check),
        Variant("asyncio await loop", "asyncio", op=aio_loop, check=check),
        Variant(FLOOR, "asyncio", op=floor_loop, check=check),
        Variant("trio await loop", "trio", op=trio_loop, check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, lambda: for_each(range(n), trio_step), check)
    sec = Section("async_sequence_10k", f"for_each over {n:,} Effect(async) bodies that each await "
                  f"sleep(0), one after another, vs a plain loop of {n:,} awaits",
                  plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="step", warmup=cfg.warmup)
    sec.ratios = _ratios("asyncio await loop", "trio await loop", 1.3)
    sec.ratios.append(Ratio(FLOOR, "asyncio await loop", label="floor (no interpreter) / asyncio await loop"))
    return sec


def bench_async_zip_par(cfg: Config) -> Section:
    n = cfg.size(N, 2_000)
    repeats, inner = cfg.plan((5, 2), (1, 1))
    expected = tuple(range(n))

    async def aio_gather() -> tuple[int, ...]:
        async def one(i: int) -> int:
            await asyncio.sleep(0)
            return i
        return tuple(await asyncio.gather(*[one(i) for i in range(n)]))

    async def trio_nursery() -> tuple[int, ...]:
        import trio
        results = [0] * n

        async def one(i: int) -> None:
            await trio.sleep(0)
            results[i] = i

        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(one, i)
        return tuple(results)

    aio_step, trio_step = _step(_asyncio_sleep0), _step(_trio_sleep0)
    check = equals(expected)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=lambda: zip_par(*map(aio_step, range(n))), check=check),
        Variant("asyncio.gather", "asyncio", op=aio_gather, check=check),
        Variant("trio nursery", "trio", op=trio_nursery, check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, lambda: zip_par(*map(trio_step, range(n))), check)
    sec = Section("async_zip_par_10k", f"zip_par of {n:,} Effect(async) bodies that each await "
                  f"sleep(0), vs asyncio.gather of {n:,} coroutines (trio: a nursery)",
                  plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="branch", warmup=cfg.warmup)
    sec.ratios = _ratios("asyncio.gather", "trio nursery", 1.3)
    return sec


def bench_async_for_each_par(cfg: Config) -> Section:
    n, par = cfg.size(N, 2_000), 100
    repeats, inner = cfg.plan((5, 2), (1, 1))
    expected = list(range(n))

    async def aio_semaphore_gather() -> list[int]:
        sem = asyncio.Semaphore(par)

        async def one(i: int) -> int:
            async with sem:
                await asyncio.sleep(0)
                return i
        return await asyncio.gather(*[one(i) for i in range(n)])

    async def trio_nursery() -> list[int]:
        import trio
        sem = trio.Semaphore(par)
        results = [0] * n

        async def one(i: int) -> None:
            async with sem:
                await trio.sleep(0)
                results[i] = i

        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(one, i)
        return results

    aio_step, trio_step = _step(_asyncio_sleep0), _step(_trio_sleep0)
    check = equals(expected)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio",
                make_effect=lambda: for_each_par(range(n), aio_step, parallelism=par), check=check),
        Variant(f"asyncio Semaphore({par}) + gather", "asyncio", op=aio_semaphore_gather, check=check),
        Variant(f"trio nursery + Semaphore({par})", "trio", op=trio_nursery, check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, lambda: for_each_par(range(n), trio_step, parallelism=par),
                                  check)
    sec = Section("async_for_each_par_10k", f"for_each_par over {n:,} Effect(async) bodies that "
                  f"each await sleep(0), parallelism={par}, vs {n:,} coroutines behind a "
                  f"Semaphore({par})", plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="item", warmup=cfg.warmup)
    sec.ratios = _ratios(f"asyncio Semaphore({par}) + gather", f"trio nursery + Semaphore({par})", 1.0)
    return sec


def bench_async_fork_join(cfg: Config) -> Section:
    n = cfg.size(N, 2_000)
    repeats, inner = cfg.plan((5, 2), (1, 1))

    async def aio_tasks() -> int:
        async def one() -> None:
            await asyncio.sleep(0)
        tasks = [asyncio.create_task(one()) for _ in range(n)]
        for t in tasks:
            await t
        return n

    async def trio_nursery() -> int:
        import trio
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trio.sleep, 0)
        return n

    def fork_join(step: Callable[[int], Effect[Any, Any, int]]) -> Effect[Any, Any, int]:
        fibers: list[Any] = []
        return fork_all(step(0), n, fibers, lambda: join_all(fibers, n))

    check = equals(n)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=lambda: fork_join(_step(_asyncio_sleep0)), check=check),
        Variant("asyncio create_task + await each", "asyncio", op=aio_tasks, check=check),
        Variant("trio nursery", "trio", op=trio_nursery, check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, lambda: fork_join(_step(_trio_sleep0)), check)
    sec = Section("async_fork_join_10k", f"fork {n:,} fibers whose Effect(async) body awaits "
                  f"sleep(0), then join each, vs create_task + await each (trio: start_soon + "
                  f"the nursery's exit)", plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="fiber", warmup=cfg.warmup)
    sec.ratios = _ratios("asyncio create_task + await each", "trio nursery", 1.5)
    return sec


def bench_async_suspended_memory(cfg: Config) -> Section:
    n = cfg.size(N, 2_000)

    def effect_waiting(event: Any, waiting: Callable[[], int]) -> Effect[Any, Any, float]:
        """Bytes per fiber while n forked fibers are each in an inline await of
        ``event.wait()``; then the event is set and the fibers joined."""
        from effectpy import suspend, sync, yield_now
        fibers: list[Any] = []
        marks: dict[str, float] = {}

        def begin() -> None:
            marks["before"] = _trace_start()

        def settle() -> Effect[Any, Any, Any]:
            if waiting() == n:
                return sync(measured)
            return yield_now.flat_map(lambda _: settle())

        def measured() -> None:
            marks["per_fiber"] = (_trace_current() - marks["before"]) / n
            _trace_stop()

        body = Effect(lambda ctx: event.wait())
        return suspend(lambda: sync(begin).flat_map(lambda _: fork_all(
            body, n, fibers,
            lambda: settle().flat_map(lambda _: sync(event.set))
            .flat_map(lambda _: join_all(fibers, n)).map(lambda _: marks["per_fiber"])))
            .ensuring(sync(_trace_stop)))

    def effect_asyncio() -> Effect[Any, Any, float]:
        event = asyncio.Event()
        return effect_waiting(event, lambda: len(event._waiters))  # type: ignore[attr-defined]

    def effect_trio() -> Effect[Any, Any, float]:
        import trio
        event = trio.Event()
        return effect_waiting(event, lambda: event.statistics().tasks_waiting)

    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=effect_asyncio),
        Variant("asyncio Task awaiting Event.wait()", "asyncio", op=lambda: tasks_waiting_memory(n)),
        Variant("trio task awaiting Event.wait()", "trio", op=lambda: group_tasks_waiting_memory(n, "trio")),
    ]
    variants = with_effectpy_trio(variants, cfg, effect_trio, None)
    sec = Section("async_suspended_memory_10k", f"memory per fiber suspended in an await: {n:,} "
                  f"fibers whose Effect(async) body awaits Event.wait() vs {n:,} tasks awaiting it",
                  "2 runs each; tracemalloc current-memory growth while all wait, / n")
    sec.rows = measure(variants, repeats=2, inner=1, mode=VALUE, unit="fiber", warmup=False)
    sec.ratios = _ratios("asyncio Task awaiting Event.wait()", "trio task awaiting Event.wait()", 2.0)
    return sec


BENCHMARKS: dict[str, Callable[[Config], Section]] = {
    "async_sequence_10k": bench_async_sequence,
    "async_zip_par_10k": bench_async_zip_par,
    "async_for_each_par_10k": bench_async_for_each_par,
    "async_fork_join_10k": bench_async_fork_join,
    "async_suspended_memory_10k": bench_async_suspended_memory,
}
