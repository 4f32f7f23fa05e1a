"""The benchmarks: each function takes a `Config` and returns a `harness.Section`.

Rule for what is timed: everything one operation needs is inside the timed region (the
effects or coroutines it runs are built there too), except for the flat_map chains, whose
build time is reported as a row of its own.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import os
import re
import subprocess
import sys
import time
import timeit
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import effectpy
from effectpy import Deferred, Effect, for_each_par, succeed, suspend, sync, yield_now, zip_par

from harness import VALUE, Ratio, Row, Section, Variant, fmt_bytes, fmt_time, measure, perf_counter

EFFECTPY_ASYNCIO = "effectpy (asyncio)"
EFFECTPY_TRIO = "effectpy (trio)"


@dataclass
class Config:
    quick: bool
    effectpy_trio_na: str | None  # why effectpy cannot run on trio here, or None
    run_py: str  # path of run.py, for the fresh-process memory probes

    def plan(self, full: tuple[int, int], quick: tuple[int, int]) -> tuple[int, int]:
        """(repeats, runs per repeat) for this mode."""
        return quick if self.quick else full

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def warmup(self) -> bool:
        return not self.quick


def probe_effectpy_trio() -> str | None:
    """None if ``effectpy.run(..., backend="trio")`` works, else the reason it does not."""
    try:
        if effectpy.run(succeed(1).map(lambda x: x + 1), backend="trio") != 2:
            return 'effectpy.run(..., backend="trio") returned a wrong value'
    except Exception as exc:  # noqa: BLE001 - anything means "not available"
        return f'effectpy.run(..., backend="trio") raised {type(exc).__name__}: {exc}'
    return None


def equals(expected: Any) -> Callable[[Any], None]:
    def check(result: Any) -> None:
        if result != expected:
            shown = repr(result)
            raise AssertionError(f"wrong result: {shown[:80]}")
    return check


def plan_text(repeats: int, inner: int) -> str:
    return (f"{repeats} fresh event loop(s) x {inner} run(s) per variant, interleaved; "
            "gc.collect() before each run; best = min, median over all runs")


def with_effectpy_trio(variants: list[Variant], cfg: Config, make_effect: Callable[[], Any],
                       check: Callable[[Any], object] | None) -> list[Variant]:
    """Put the effectpy-on-trio variant last, next to the trio baseline."""
    na = None if cfg.effectpy_trio_na is None else "no effectpy trio backend (see the header)"
    return [*variants, Variant(EFFECTPY_TRIO, "trio", make_effect=make_effect, check=check, na=na)]


def backend_ratios(asyncio_label: str, anyio_label: str, trio_label: str,
                   target: float) -> list[Ratio]:
    return [
        Ratio(EFFECTPY_ASYNCIO, asyncio_label, target),
        Ratio(EFFECTPY_ASYNCIO, anyio_label),
        Ratio(EFFECTPY_TRIO, trio_label, target),
    ]


# --- flat_map chains ------------------------------------------------------------------


def build_left_chain(n: int) -> Effect[Any, Any, int]:
    """``succeed(0).flat_map(+1).flat_map(+1)...``: n left-nested steps, built eagerly."""
    e: Effect[Any, Any, int] = succeed(0)
    for _ in range(n):
        e = e.flat_map(lambda x: succeed(x + 1))
    return e


def _recursive_step(k: int) -> Effect[Any, Any, int]:
    return succeed(k) if k == 0 else succeed(k - 1).flat_map(_recursive_step)


def recursive_chain(n: int) -> Effect[Any, Any, int]:
    """Right-nested: each step builds the next one as it runs."""
    return _recursive_step(n)


async def left_floor(n: int) -> int:
    """The left-nested chain's own code, with no interpreter: each step's function called
    (its effect made and dropped)."""
    step = _plus_one_effect
    x = 0
    for _ in range(n):
        step(x)
        x += 1
    return x


def _plus_one_effect(x: int) -> Effect[Any, Any, int]:
    return succeed(x + 1)


async def recursive_floor(n: int) -> int:
    """The right-nested chain's own code, with no interpreter: each step's function called
    (the next step's effect made and dropped)."""
    k = n
    while k:
        _recursive_step(k)
        k -= 1
    return k


async def _plus_one(x: int) -> int:
    return x + 1


async def sequential_awaits(n: int) -> int:
    x = 0
    for _ in range(n):
        x = await _plus_one(x)
    return x


LEFT_RUN = "effectpy: run prebuilt left-nested chain"
LEFT_BUILD = "effectpy: build left-nested chain (not run)"
RECURSIVE = "effectpy: right-nested recursive chain"
AWAITS = "asyncio: sequential awaits of a coroutine"
LEFT_FLOOR = "floor: left chain's functions called, no interpreter"
RECURSIVE_FLOOR = "floor: recursive chain's functions called, no interpreter"


def measure_builds(n: int, samples: int) -> tuple[Row, Effect[Any, Any, int]]:
    """Time ``samples`` builds of the left-nested chain; keep the last chain."""
    row = Row(LEFT_BUILD, "time", count=n, unit="step")
    chain: Effect[Any, Any, int] | None = None
    for _ in range(samples):
        chain = None
        gc.collect()
        t0 = perf_counter()
        chain = build_left_chain(n)
        row.samples.append(perf_counter() - t0)
    assert chain is not None
    return row, chain


def measure_chains(n: int, chain: Effect[Any, Any, int], build_row: Row, repeats: int,
                   inner: int, warmup: bool, floors: bool = False) -> list[Row]:
    variants = [
        Variant(LEFT_RUN, "asyncio", make_effect=lambda: chain, check=equals(n)),
        Variant(RECURSIVE, "asyncio", make_effect=lambda: recursive_chain(n), check=equals(0)),
        Variant(AWAITS, "asyncio", op=lambda: sequential_awaits(n), check=equals(n)),
    ]
    if floors:
        variants += [
            Variant(LEFT_FLOOR, "asyncio", op=lambda: left_floor(n), check=equals(n)),
            Variant(RECURSIVE_FLOOR, "asyncio", op=lambda: recursive_floor(n), check=equals(0)),
        ]
    rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="step", warmup=warmup)
    return [rows[0], build_row, *rows[1:]]


def chain_ratios(target: float | None) -> list[Ratio]:
    return [
        Ratio(LEFT_RUN, AWAITS, target, "left-nested run / asyncio awaits"),
        Ratio(RECURSIVE, AWAITS, target, "right-nested recursive / asyncio awaits"),
        Ratio(LEFT_BUILD, AWAITS, None, "left-nested build (no run) / asyncio awaits"),
    ]


def bench_flat_map_chain(cfg: Config) -> Section:
    n = cfg.size(100_000, 20_000)
    repeats, inner = cfg.plan((5, 2), (1, 1))
    sec = Section("flat_map_chain", f"a {n:,}-step flat_map chain vs {n:,} sequential awaits "
                  "of `async def f(x): return x + 1` in one asyncio loop",
                  plan_text(repeats, inner) + f"; build: {repeats * inner} build(s), outside any loop")
    build_row, chain = measure_builds(n, repeats * inner)
    sec.rows = measure_chains(n, chain, build_row, repeats, inner, cfg.warmup, floors=True)
    sec.ratios = chain_ratios(2.0) + [
        Ratio(LEFT_FLOOR, AWAITS, None, "floor of the left-nested run / asyncio awaits"),
        Ratio(RECURSIVE_FLOOR, AWAITS, None, "floor of the right-nested run / asyncio awaits"),
    ]
    sec.notes.append("the left-nested chain is built before timing its runs; its build time "
                     "is the 'build' row (mostly CPython's cyclic GC: the chain is 2 tracked "
                     "objects per step)")
    return sec


def _peak_rss_bytes() -> int:
    """This process's peak resident set size.

    Linux: VmHWM, which starts afresh at exec (ru_maxrss does not: a child process
    inherits its parent's figure, so a big parent would hide the child's growth)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def probe(spec: str) -> dict[str, Any]:
    """Run in a fresh interpreter by ``run.py --probe KIND:N``: the peak-RSS growth of one job."""
    kind, _, n_text = spec.partition(":")
    n = int(n_text)
    jobs: dict[str, Callable[[], Any]] = {
        "left": lambda: effectpy.run(build_left_chain(n)),
        "recursive": lambda: effectpy.run(recursive_chain(n)),
        "asyncio": lambda: asyncio.run(sequential_awaits(n)),
    }
    job = jobs[kind]
    effectpy.run(succeed(0))  # import and warm everything up first
    asyncio.run(sequential_awaits(10))
    gc.collect()
    before = _peak_rss_bytes()
    t0 = perf_counter()
    result = job()
    seconds = perf_counter() - t0
    after = _peak_rss_bytes()
    return {"kind": kind, "n": n, "result": result, "seconds": seconds,
            "peak_rss_before": before, "peak_rss_after": after, "peak_rss_growth": after - before}


def run_probe(cfg: Config, spec: str) -> float:
    out = subprocess.run([sys.executable, cfg.run_py, "--probe", spec], capture_output=True,
                         text=True, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"probe {spec} failed: {out.stderr.strip()[-300:]}")
    return float(json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_growth"])


def _probe_op(cfg: Config, spec: str) -> Callable[[], Any]:
    async def op() -> float:
        return run_probe(cfg, spec)
    return op


async def _traced_peak(make: Callable[[], Any], expected: int) -> float:
    """tracemalloc's peak while awaiting ``make()`` (tracing started just before)."""
    tracemalloc.start()
    try:
        result = await make()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if result != expected:
        raise AssertionError(f"wrong result {result!r}")
    return float(peak)


def bench_million_chain(cfg: Config) -> Section:
    n = cfg.size(1_000_000, 50_000)
    small = n // 10  # for the constant-memory jobs under tracemalloc (slow: about 6x)
    repeats, inner = cfg.plan((3, 1), (1, 1))
    builds = cfg.size(2, 1)
    sec = Section("million_chain", f"a {n:,}-step flat_map chain completes: time and peak memory"
                  + (f" (--quick: {n:,} steps, not a million)" if cfg.quick else ""),
                  plan_text(repeats, inner) + f"; build: {builds} build(s); memory rows: "
                  "one run each")

    # Peak RSS in fresh interpreters first, while this process is still small.
    probe_rows: list[Row] = []
    if cfg.quick:
        sec.notes.append("peak-RSS rows (a fresh process per job) are skipped in --quick")
    else:
        for kind, label in [("left", "effectpy: left-nested chain, build + run"),
                            ("recursive", "effectpy: right-nested recursive chain"),
                            ("asyncio", "asyncio: sequential awaits")]:
            probe_rows += measure([Variant(f"peak RSS growth, fresh process: {label}", "asyncio",
                                           op=_probe_op(cfg, f"{kind}:{n}"))],
                                  repeats=1, inner=1, mode=VALUE, count=n, unit="step",
                                  warmup=False)
        sec.notes.append("peak RSS growth: VmHWM (ru_maxrss off Linux) after the job minus "
                         "before it, in a fresh interpreter that already ran a tiny effect "
                         "and coroutine")

    build_row, chain = measure_builds(n, builds)
    sec.rows = measure_chains(n, chain, build_row, repeats, inner, warmup=False)
    sec.ratios = chain_ratios(None)
    del chain
    gc.collect()

    sizes: dict[str, float] = {}

    async def left_build_and_run() -> float:
        tracemalloc.start()
        try:
            e = build_left_chain(n)
            sizes["built"] = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            result = await e._run()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        if result != n:
            raise AssertionError(f"wrong result {result!r}")
        return float(peak)

    traced = measure([
        Variant(f"tracemalloc peak: effectpy left-nested chain, build + run ({n:,} steps)",
                "asyncio", op=left_build_and_run),
    ], repeats=1, inner=1, mode=VALUE, count=n, unit="step", warmup=False)
    traced += measure([
        Variant(f"tracemalloc peak: effectpy right-nested recursive chain ({small:,} steps)",
                "asyncio", op=lambda: _traced_peak(lambda: recursive_chain(small)._run(), 0)),
        Variant(f"tracemalloc peak: asyncio sequential awaits ({small:,} steps)", "asyncio",
                op=lambda: _traced_peak(lambda: sequential_awaits(small), small)),
    ], repeats=1, inner=1, mode=VALUE, unit="run", warmup=False)
    sec.rows += traced + probe_rows
    if "built" in sizes and traced[0].ok:
        built, peak = sizes["built"], traced[0].best
        sec.notes.append(f"of the build + run peak, the built chain is {fmt_bytes(built)} "
                         f"({built / n:.0f} B/step: an Effect node and a lambda per step); "
                         f"running it adds {fmt_bytes(peak - built)} ({(peak - built) / n:.1f} "
                         "B/step: the run loop's continuation stack)")
    sec.notes.append(f"the recursive chain and the awaits run in constant memory, so they are "
                     f"traced over {small:,} steps (tracemalloc slows them about 6x); the "
                     "peak-RSS rows run them at full length")
    return sec


# --- concurrency: zip_par, for_each_par, fork/join -------------------------------------


def bench_zip_par_1000(cfg: Config) -> Section:
    import anyio
    import trio

    n = 1000
    repeats, inner = cfg.plan((5, 12), (1, 3))
    expected = tuple(range(n))

    def make_effect() -> Effect[Any, Any, tuple[int, ...]]:
        return zip_par(*[yield_now.as_(i) for i in range(n)])

    async def aio_one(i: int) -> int:
        await asyncio.sleep(0)
        return i

    async def aio_gather() -> tuple[int, ...]:
        return tuple(await asyncio.gather(*[aio_one(i) for i in range(n)]))

    async def anyio_group() -> tuple[int, ...]:
        results: list[int | None] = [None] * n

        async def one(i: int) -> None:
            await anyio.sleep(0)
            results[i] = i

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(one, i)
        return tuple(results)  # type: ignore[arg-type]

    async def trio_nursery() -> tuple[int, ...]:
        results: list[int | None] = [None] * n

        async def one(i: int) -> None:
            await trio.sleep(0)
            results[i] = i

        async with trio.open_nursery() as nursery:
            for i in range(n):
                nursery.start_soon(one, i)
        return tuple(results)  # type: ignore[arg-type]

    check = equals(expected)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=make_effect, check=check),
        Variant("asyncio.gather", "asyncio", op=aio_gather, check=check),
        Variant("anyio task group (asyncio)", "anyio", op=anyio_group, check=check),
        Variant("trio nursery", "trio", op=trio_nursery, check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, make_effect, check)
    sec = Section("zip_par_1000", f"zip_par of {n:,} effects that each yield once "
                  f"(yield_now.as_(i)) vs {n:,} coroutines/tasks that each sleep(0)",
                  plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="branch",
                       warmup=cfg.warmup)
    sec.ratios = backend_ratios("asyncio.gather", "anyio task group (asyncio)", "trio nursery", 1.3)
    return sec


def bench_for_each_par_10k(cfg: Config) -> Section:
    import anyio
    import trio

    n, par = 10_000, 100
    repeats, inner = cfg.plan((4, 3), (1, 1))
    expected = [x * 2 for x in range(n)]

    def make_effect() -> Effect[Any, Any, list[int]]:
        return for_each_par(range(n), lambda x: succeed(x * 2), parallelism=par)

    async def aio_semaphore_gather() -> list[int]:
        sem = asyncio.Semaphore(par)

        async def one(x: int) -> int:
            async with sem:
                return x * 2

        return await asyncio.gather(*[one(x) for x in range(n)])

    async def anyio_group() -> list[int]:
        sem = anyio.Semaphore(par)
        results: list[int] = [0] * n

        async def one(x: int) -> None:
            async with sem:
                results[x] = x * 2

        async with anyio.create_task_group() as tg:
            for x in range(n):
                tg.start_soon(one, x)
        return results

    async def trio_nursery() -> list[int]:
        sem = trio.Semaphore(par)
        results: list[int] = [0] * n

        async def one(x: int) -> None:
            async with sem:
                results[x] = x * 2

        async with trio.open_nursery() as nursery:
            for x in range(n):
                nursery.start_soon(one, x)
        return results

    check = equals(expected)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=make_effect, check=check),
        Variant("asyncio Semaphore(100) + gather", "asyncio", op=aio_semaphore_gather, check=check),
        Variant("anyio task group + Semaphore(100)", "anyio", op=anyio_group, check=check),
        Variant("trio nursery + Semaphore(100)", "trio", op=trio_nursery, check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, make_effect, check)
    sec = Section("for_each_par_10k", f"for_each_par over {n:,} pure items "
                  f"(lambda x: succeed(x * 2)), parallelism={par}, vs {n:,} tasks behind a "
                  f"Semaphore({par})", plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="item",
                       warmup=cfg.warmup)
    sec.ratios = backend_ratios("asyncio Semaphore(100) + gather",
                                "anyio task group + Semaphore(100)",
                                "trio nursery + Semaphore(100)", 0.5)
    return sec


def join_all(fibers: list[Any], n: int) -> Effect[Any, Any, int]:
    """Join ``fibers[0..n)`` one after the other; succeed with how many were joined."""
    def join_from(i: int) -> Effect[Any, Any, int]:
        if i == n:
            return succeed(n)
        return fibers[i].join().flat_map(lambda _: join_from(i + 1))
    return join_from(0)


def fork_all(child: Effect[Any, Any, Any], n: int, fibers: list[Any],
             then: Callable[[], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
    """Fork ``child`` n times (appending each Fiber to ``fibers``), then run ``then()``."""
    fork_one = child.fork()
    push = fibers.append

    def forked(fiber: Any) -> Effect[Any, Any, Any]:
        push(fiber)
        return fork_next()

    def fork_next() -> Effect[Any, Any, Any]:
        if len(fibers) < n:
            return fork_one.flat_map(forked)
        return then()

    return suspend(fork_next)


def fork_join_effect(n: int) -> Effect[Any, Any, int]:
    def program() -> Effect[Any, Any, int]:
        fibers: list[Any] = []
        return fork_all(yield_now, n, fibers, lambda: join_all(fibers, n))
    return suspend(program)


def bench_fork_join_10k(cfg: Config) -> Section:
    import anyio
    import trio

    n = 10_000
    repeats, inner = cfg.plan((4, 3), (1, 1))

    async def aio_child() -> None:
        await asyncio.sleep(0)

    async def aio_tasks() -> int:
        tasks = [asyncio.create_task(aio_child()) for _ in range(n)]
        for t in tasks:
            await t
        return len(tasks)

    async def anyio_child() -> None:
        await anyio.sleep(0)

    async def anyio_group() -> int:
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(anyio_child)
        return n

    async def trio_child() -> None:
        await trio.sleep(0)

    async def trio_nursery() -> int:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trio_child)
        return n

    check = equals(n)
    eff = fork_join_effect(n)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=lambda: eff, check=check),
        Variant("asyncio create_task + await each", "asyncio", op=aio_tasks, check=check),
        Variant("anyio task group", "anyio", op=anyio_group, check=check),
        Variant("trio nursery", "trio", op=trio_nursery, check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, lambda: eff, check)
    sec = Section("fork_join_10k", f"fork {n:,} fibers that each yield_now once, then join "
                  "them all, vs create_task + await (anyio/trio: start_soon + group exit)",
                  plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="fiber",
                       warmup=cfg.warmup)
    sec.ratios = backend_ratios("asyncio create_task + await each", "anyio task group",
                                "trio nursery", 1.5)
    return sec


# --- memory of suspended fibers ---------------------------------------------------------


def _trace_start() -> int:
    gc.collect()
    tracemalloc.start()
    return tracemalloc.get_traced_memory()[0]


def _trace_current() -> int:
    return tracemalloc.get_traced_memory()[0]


def _trace_stop() -> None:
    if tracemalloc.is_tracing():
        tracemalloc.stop()


def suspended_memory_effect(n: int) -> Effect[Any, Any, float]:
    """Bytes per fiber suspended on a Deferred (traced memory while all n are suspended)."""
    def program() -> Effect[Any, Any, float]:
        d: Deferred[Any, None] = Deferred()
        fibers: list[Any] = []
        marks: dict[str, float] = {}

        def begin() -> None:
            marks["before"] = _trace_start()

        def settle() -> Effect[Any, Any, Any]:
            if all(f.state == "suspended" for f in fibers):
                return sync(measured)
            return yield_now.flat_map(lambda _: settle())

        def measured() -> None:
            marks["per_fiber"] = (_trace_current() - marks["before"]) / n
            _trace_stop()

        def release_and_join() -> Effect[Any, Any, Any]:
            return (settle()
                    .flat_map(lambda _: d.succeed(None))
                    .flat_map(lambda _: join_all(fibers, n))
                    .map(lambda _: marks["per_fiber"]))

        return (sync(begin)
                .flat_map(lambda _: fork_all(d.await_(), n, fibers, release_and_join))
                .ensuring(sync(_trace_stop)))
    return suspend(program)


async def tasks_waiting_memory(n: int) -> float:
    """Bytes per asyncio Task awaiting an Event (traced memory while all n wait)."""
    ev = asyncio.Event()
    try:
        before = _trace_start()
        tasks = [asyncio.create_task(ev.wait()) for _ in range(n)]
        await asyncio.sleep(0)  # FIFO ready queue: every task has now run to ev.wait()
        per = (_trace_current() - before) / n
    finally:
        _trace_stop()
    ev.set()
    for t in tasks:
        await t
    return per


async def group_tasks_waiting_memory(n: int, lib: str) -> float:
    """Bytes per task awaiting an Event in a trio nursery (``lib="trio"``) or an anyio task
    group (``"anyio"``): traced memory while all n wait."""
    mod = importlib.import_module(lib)
    ev = mod.Event()
    try:
        async with (mod.open_nursery() if lib == "trio" else mod.create_task_group()) as group:
            before = _trace_start()
            for _ in range(n):
                group.start_soon(ev.wait)
            while ev.statistics().tasks_waiting < n:
                await mod.sleep(0)
            per = (_trace_current() - before) / n
            _trace_stop()
            ev.set()
    finally:
        _trace_stop()
    return float(per)


def bench_suspended_memory_10k(cfg: Config) -> Section:
    n = cfg.size(10_000, 2_000)
    repeats, inner = cfg.plan((2, 1), (1, 1))

    eff = suspended_memory_effect(n)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=lambda: eff),
        Variant("asyncio Task awaiting Event.wait()", "asyncio", op=lambda: tasks_waiting_memory(n)),
        Variant("anyio task awaiting Event.wait()", "anyio", op=lambda: group_tasks_waiting_memory(n, "anyio")),
        Variant("trio task awaiting Event.wait()", "trio", op=lambda: group_tasks_waiting_memory(n, "trio")),
    ]
    variants = with_effectpy_trio(variants, cfg, lambda: eff, None)
    sec = Section("suspended_memory_10k", f"memory per suspended fiber: {n:,} fibers suspended "
                  f"on Deferred().await_() vs {n:,} tasks awaiting an Event",
                  f"{repeats} run(s) each; tracemalloc current-memory growth while all are "
                  f"suspended, / {n:,}")
    sec.rows = measure(variants, repeats=repeats, inner=inner, mode=VALUE, unit="fiber",
                       warmup=False)
    sec.ratios = backend_ratios("asyncio Task awaiting Event.wait()",
                                "anyio task awaiting Event.wait()",
                                "trio task awaiting Event.wait()", 2.0)
    sec.notes.append("includes everything a suspended fiber/task keeps alive (its "
                     "registration with the Deferred/Event, the parent's bookkeeping, and "
                     "the list of handles where there is one)")
    return sec


# --- tracing overhead -------------------------------------------------------------------


def _counting_instrument() -> Any:
    """An Instrument overriding every hook in HOOKS, counting the calls per hook.

    `Instruments.emit` calls an instrument for each hook it overrides, so with this one
    attached every event site the runtime reaches is counted once."""
    from effectpy.lowlevel import HOOKS, Instrument

    def hook(name: str) -> Callable[..., None]:
        def count(self: Any, *args: Any) -> None:
            self.counts[name] += 1
        count.__name__ = name
        return count

    def init(self: Any) -> None:
        self.counts = Counter()

    cls = type("CountingInstrument", (Instrument,),
               {"__init__": init, **{name: hook(name) for name in HOOKS}})
    return cls()


def _emitted_hook_names() -> set[str]:
    """The hook names passed to ``emit("...")`` anywhere in effectpy's source."""
    root = os.path.dirname(os.path.abspath(effectpy.__file__))
    names: set[str] = set()
    for folder, _dirs, files in os.walk(root):
        for fname in files:
            if fname.endswith(".py"):
                with open(os.path.join(folder, fname), encoding="utf-8") as fh:
                    names.update(re.findall(r'\.emit\(\s*"(\w+)"', fh.read()))
    return names


def count_event_sites(n: int) -> Counter[str]:
    """How many event sites one fork-join of n fibers reaches (emit calls, per hook), counted
    with an instrument attached; without one each of them is one `is not None` check."""
    from effectpy.lowlevel import instrument

    counter = _counting_instrument()
    with instrument(counter):
        result = effectpy.run(fork_join_effect(n))
    if result != n:
        raise AssertionError(f"wrong result {result!r}")
    counts: Counter[str] = counter.counts
    if counts["fiber_started"] != n + 1:
        raise AssertionError(f"counted {counts['fiber_started']} fiber_started, expected {n + 1}")
    return counts


def event_site_check_cost(number: int, repeats: int) -> list[float]:
    """Seconds per event-site check with no instrument attached, one figure per repeat.

    Times ``inst = f._runtime.instrument; if inst is not None: pass`` (the code at every
    event site) on a real Fiber of a finished run, with ``f`` a local variable as ``self`` is
    in the runtime, minus the same timeit loop with an empty body."""
    fiber = effectpy.run(yield_now.fork().flat_map(lambda f: f.join().as_(f)))
    if fiber._runtime.instrument is not None:
        raise AssertionError("expected a fiber of a run without instruments")
    env = {"_fiber": fiber}
    check = timeit.Timer("inst = f._runtime.instrument\nif inst is not None: pass",
                         "f = _fiber", globals=env)
    empty = timeit.Timer("pass", "f = _fiber", globals=env)
    check.timeit(number // 10)  # warm up (and let the interpreter specialise the loads)
    out = []
    for _ in range(repeats):
        # each figure: the best of 3 alternating timings of each loop (a shared host has
        # slow phases that would otherwise hit one of the two loops only)
        with_check, without = [], []
        for _ in range(3):
            with_check.append(check.timeit(number))
            without.append(empty.timeit(number))
        out.append(max(0.0, (min(with_check) - min(without)) / number))
    return out


class _RecordingAround:
    """``around`` for a variant run inside ``effectpy.trace.record()``: a fresh record block
    per run (entered and left outside the timed region); keeps the last trace for the check."""

    def __init__(self) -> None:
        self.trace: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with effectpy.trace.record() as trace:
            self.trace = trace
            yield

    def check_forks(self, expected_forks: int) -> Callable[[Any], None]:
        """After timing: the trace has the expected number of fork events; then drop it."""
        def check(_result: Any) -> None:
            trace, self.trace = self.trace, None
            forks = sum(1 for e in trace.events if e.kind == "fork")
            if forks != expected_forks:
                raise AssertionError(f"the recorded trace has {forks} fork events, "
                                     f"expected {expected_forks}")
        return check


def bench_trace_overhead(cfg: Config) -> Section:
    import trio

    import effectpy.trace

    n = 10_000
    # one run per fresh loop, many loops: the variants alternate run by run, so the
    # machine's slow phases (seconds long on a shared host) hit them alike
    repeats, inner = cfg.plan((15, 1), (2, 1))
    not_recorded = "effectpy (asyncio), not recording"
    recorded = "effectpy (asyncio), inside trace.record()"
    trio_plain = "trio nursery, no instrument"
    trio_inst = "trio nursery + tuple-appending trio Instrument"

    # 1. Time: the fork_join_10k workload with and without a recorder, and the trio
    #    baseline with and without a trivial recording trio Instrument.
    eff = fork_join_effect(n)
    recording = _RecordingAround()
    base_check = equals(n)
    forks_check = recording.check_forks(n + 1)  # the root fiber and its n children

    def check_recorded(result: Any) -> None:
        base_check(result)
        forks_check(result)

    class TupleInstrument(trio.abc.Instrument):
        """Appends (what, task id, time) per task spawn, exit and step."""

        def __init__(self) -> None:
            self.events: list[tuple[str, int, float]] = []

        def task_spawned(self, task: Any) -> None:
            self.events.append(("spawned", id(task), time.monotonic()))

        def task_exited(self, task: Any) -> None:
            self.events.append(("exited", id(task), time.monotonic()))

        def before_task_step(self, task: Any) -> None:
            self.events.append(("before", id(task), time.monotonic()))

        def after_task_step(self, task: Any) -> None:
            self.events.append(("after", id(task), time.monotonic()))

    trio_events: dict[str, float] = {}
    last_inst: list[TupleInstrument] = []

    @contextmanager
    def trio_instrumented() -> Iterator[None]:
        inst = TupleInstrument()
        trio.lowlevel.add_instrument(inst)
        try:
            yield
        finally:
            trio.lowlevel.remove_instrument(inst)
        last_inst[:] = [inst]

    def check_trio_instrumented(result: Any) -> None:
        base_check(result)
        inst = last_inst.pop()
        spawned = sum(1 for e in inst.events if e[0] == "spawned")
        if spawned != n:
            raise AssertionError(f"the trio instrument saw {spawned} spawns, expected {n}")
        trio_events["per_task"] = len(inst.events) / n

    async def trio_child() -> None:
        await trio.sleep(0)

    async def trio_nursery() -> int:
        async with trio.open_nursery() as nursery:
            for _ in range(n):
                nursery.start_soon(trio_child)
        return n

    variants = [
        Variant(not_recorded, "asyncio", make_effect=lambda: eff, check=base_check),
        Variant(recorded, "asyncio", make_effect=lambda: eff, check=check_recorded,
                around=recording),
        Variant(trio_plain, "trio", op=trio_nursery, check=base_check),
        Variant(trio_inst, "trio", op=trio_nursery, check=check_trio_instrumented,
                around=trio_instrumented),
    ]
    sec = Section("trace_overhead", f"cost of trace.record() on the fork_join_10k workload "
                  f"(fork {n:,} fibers that each yield_now once, join them all): time, memory "
                  "per event, and the event sites' share when nothing records",
                  plan_text(repeats, inner) + "; memory: tracemalloc, one run each; "
                  "site checks: timeit")
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="fiber",
                       warmup=cfg.warmup)

    # 2. Memory per recorded event: traced memory kept after a recorded run (the trace),
    #    divided by the number of events in it.
    mem: dict[str, Any] = {}

    async def per_event() -> float:
        run_eff = fork_join_effect(mem_n)
        with effectpy.trace.record() as trace:
            before = _trace_start()
            try:
                result = await run_eff._run()
                len(trace)  # (moves the events recorded last into the compact store)
                gc.collect()
                grown = _trace_current() - before
            finally:
                _trace_stop()
        equals(mem_n)(result)
        events = trace.events
        forks = sum(1 for e in events if e.kind == "fork")
        if forks != mem_n + 1:
            raise AssertionError(f"{forks} fork events, expected {mem_n + 1}")
        mem.update(events=len(events), grown=grown,
                   kinds=", ".join(f"{c:,} {k}" for k, c in
                                   Counter(e.kind for e in events).most_common()))
        return grown / len(events)

    async def unrecorded_residue() -> float:
        run_eff = fork_join_effect(mem_n)
        before = _trace_start()
        try:
            result = await run_eff._run()
            gc.collect()
            grown = _trace_current() - before
        finally:
            _trace_stop()
        equals(mem_n)(result)
        return float(grown)

    # tracemalloc slows the run about 10x: one run each (the figures hardly vary), and
    # 2,000 fibers in --quick
    mem_n = cfg.size(n, 2_000)
    per_event_row, residue_row = measure([
        Variant(f"recorded trace ({mem_n:,} fibers): traced memory per event", "asyncio",
                op=per_event),
        Variant(f"not recording ({mem_n:,} fibers): traced memory left after the run",
                "asyncio", op=unrecorded_residue),
    ], repeats=1, inner=1, mode=VALUE, unit="event", warmup=False)
    residue_row.unit = "run"
    events_row = Row("recorded events per fiber", "count", unit="fiber")
    if "events" in mem:
        events_row.samples.append(mem["events"] / mem_n)
    else:
        events_row.na = "the memory run failed (see above)"
    sec.rows += [per_event_row, events_row, residue_row]

    # 3. Event sites with nothing attached: (sites reached per fiber) x (cost of one site's
    #    `is not None` check), over the measured time per fiber without a recorder.
    sites_row = Row("event sites reached per fiber (counted)", "count", unit="fiber")
    check_row = Row("one event-site check, no instrument (timeit)", "time", unit="check")
    share_row = Row("event-site checks: sites x check cost", "time", count=n, unit="fiber")
    unknown_hooks: set[str] = set()
    try:
        counts = count_event_sites(n)
        sites = sum(counts.values())
        sites_row.samples.append(sites / n)
        check_row.samples = event_site_check_cost(cfg.size(500_000, 200_000),
                                                  cfg.size(7, 2))
        share_row.samples = [sites * c for c in check_row.samples]
        from effectpy.lowlevel import HOOKS
        unknown_hooks = _emitted_hook_names() - set(HOOKS)
    except Exception as exc:  # noqa: BLE001 - shown as ERROR, exit status 1
        for r in (sites_row, check_row, share_row):
            if not r.samples:
                r.error = f"{type(exc).__name__}: {exc}"
        counts = Counter()
    sec.rows += [sites_row, check_row, share_row]

    sec.ratios = [
        Ratio(recorded, not_recorded, 1.5, "recording / not recording (effectpy, asyncio)"),
        Ratio(trio_inst, trio_plain, None, "trio: tuple-appending Instrument / none"),
        Ratio("event-site checks: sites x check cost", not_recorded, 0.05,
              "event-site checks / not recording (time share)", percent=True),
    ]

    sec.notes.append(
        "recording: a fresh `with effectpy.trace.record():` per run, entered and left outside "
        "the timed region (gc.collect() and the timer reads are inside it); after timing, each "
        f"trace is checked to hold {n + 1:,} fork events (the root and its {n:,} children)")
    per_task = trio_events.get("per_task")
    sec.notes.append(
        "trio baseline: an Instrument appending a (hook, id(task), time.monotonic()) tuple per "
        "task_spawned / task_exited / before_task_step / after_task_step"
        + (f" ({per_task:.1f} tuples per task; " if per_task is not None else " (")
        + "effectpy records fewer events per fiber, see below, but each with a trace-local "
        "fiber id, a timestamp and the fiber's name); the issue puts a fuller recording trio "
        "instrument at about 2.5x and VizTracer at about 4x on this load (neither is "
        "measured here)")
    if "events" in mem:
        sec.notes.append(
            f"memory: tracemalloc current-memory growth over a recorded run of the same "
            f"workload, after gc.collect(), is {fmt_bytes(mem['grown'])} for "
            f"{int(mem['events']):,} events ({mem['kinds']}) of {mem_n:,} fibers: all the "
            "recorder keeps (the events, their timestamps and ids, its id tables), measured "
            "once its last events are in the compact store and before any TraceEvent is made; "
            "the 'not recording' row is what an unrecorded run leaves behind (the noise floor "
            "of this measure); more in trace_storage")
    if counts:
        per_hook = ", ".join(f"{k} {v / n:.2f}" for k, v in counts.most_common())
        sec.notes.append(
            "event-site share: with a counting instrument attached (it overrides every hook, "
            f"so each site reached calls it once) one fork-join reaches {per_hook} sites per "
            "fiber; with none attached each of those is one `inst = fiber._runtime.instrument; "
            "if inst is not None` check, timed in isolation with timeit on a real Fiber (minus "
            "the empty timeit loop) at "
            f"{fmt_time(min(check_row.samples))}; their product over the 'not recording' time "
            "per fiber is the share. Limits: the isolated check runs hot (specialised loads, "
            "warm caches), so it leaves out second-order costs (code size, cache misses); it "
            "assumes the run takes the same path with and without an instrument (true for "
            "this deterministic workload)")
    if unknown_hooks:
        sec.notes.append(f"WARNING: effectpy emits hooks outside HOOKS ({sorted(unknown_hooks)}); "
                         "the counting instrument does not see them, so the site count is low")
    return sec


# --- queues -------------------------------------------------------------------------------


def queue_effect(n: int, par: int, maxsize: int, chunk: int = 1,
                 loop: str = "for_each") -> Effect[Any, Any, int]:
    """``par`` producers offer n items in all (distinct ints) into a ``Queue(maxsize)``,
    ``par`` consumers take n/par each; succeeds with the sum taken. ``chunk`` 1: one `offer`
    / `take` per item; more: `offer_all` of ``chunk`` items, and `take` then
    `take_up_to(chunk - 1)`. ``loop`` "for_each": the workers are `for_each` loops (the
    library's loop, as asyncio's are ``for`` loops); "flat_map": hand-written recursion,
    ``offer(i).flat_map(lambda _: loop(i + 1))`` (a closure and a flat_map node per item)."""
    from effectpy import Queue, for_each

    per = n // par

    def program() -> Effect[Any, Any, int]:
        q: Queue[int] = Queue(maxsize)
        offer, offer_all, take, take_up_to = q.offer, q.offer_all, q.take, q.take_up_to

        def producer(start: int) -> Effect[Any, Any, None]:
            stop = start + per
            if chunk > 1:
                return for_each(range(start, stop, chunk),
                                lambda i: offer_all(range(i, min(i + chunk, stop))), discard=True)
            if loop == "for_each":
                return for_each(range(start, stop), offer, discard=True)

            def step(i: int) -> Effect[Any, Any, None]:
                if i == stop:
                    return succeed(None)
                return offer(i).flat_map(lambda _: step(i + 1))
            return suspend(lambda: step(start))

        def consumer() -> Effect[Any, Any, int]:
            if chunk > 1:  # take waits for an item; take_up_to takes what else is there
                def batch(k: int, acc: int) -> Effect[Any, Any, int]:
                    if k == per:
                        return succeed(acc)
                    return take().flat_map(lambda x: take_up_to(min(chunk, per - k) - 1).flat_map(
                        lambda xs: batch(k + 1 + len(xs), acc + x + sum(xs))))
                return suspend(lambda: batch(0, 0))
            if loop == "for_each":
                taking = take()
                return for_each(range(per), lambda _: taking).map(sum)

            def step(k: int, acc: int) -> Effect[Any, Any, int]:
                if k == per:
                    return succeed(acc)
                return take().flat_map(lambda x: step(k + 1, acc + x))
            return suspend(lambda: step(0, 0))

        workers = [producer(p * per) for p in range(par)] + [consumer() for _ in range(par)]
        return zip_par(*workers).map(lambda results: sum(results[par:]))
    return suspend(program)


def bench_queue_throughput(cfg: Config) -> Section:
    import trio

    n, par, maxsize, chunk = cfg.size(100_000, 20_000), 4, 100, 100
    per = n // par
    repeats, inner = cfg.plan((3, 2), (1, 1))

    async def aio_queue() -> int:
        q: asyncio.Queue[int] = asyncio.Queue(maxsize)

        async def producer(start: int) -> int:
            put = q.put
            for i in range(start, start + per):
                await put(i)
            return 0

        async def consumer() -> int:
            get = q.get
            acc = 0
            for _ in range(per):
                acc += await get()
            return acc

        results = await asyncio.gather(*[producer(p * per) for p in range(par)],
                                       *[consumer() for _ in range(par)])
        return sum(results[par:])

    async def trio_channel() -> int:
        send, receive = trio.open_memory_channel[int](maxsize)
        sums = [0] * par

        async def producer(start: int) -> None:
            for i in range(start, start + per):
                await send.send(i)

        async def consumer(j: int) -> None:
            acc = 0
            for _ in range(per):
                acc += await receive.receive()
            sums[j] = acc

        async with trio.open_nursery() as nursery:
            for p in range(par):
                nursery.start_soon(producer, p * per)
            for j in range(par):
                nursery.start_soon(consumer, j)
        return sum(sums)

    batched_label = f"effectpy offer_all / take + take_up_to, chunks of {chunk} (asyncio)"
    recursion_label = "effectpy, hand-written flat_map loops (asyncio)"
    check = equals(n * (n - 1) // 2)
    single = lambda: queue_effect(n, par, maxsize)  # noqa: E731
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=single, check=check),
        Variant("asyncio.Queue put / get", "asyncio", op=aio_queue, check=check),
        Variant(recursion_label, "asyncio",
                make_effect=lambda: queue_effect(n, par, maxsize, loop="flat_map"), check=check),
        Variant(batched_label, "asyncio", make_effect=lambda: queue_effect(n, par, maxsize, chunk),
                check=check),
        Variant(f"trio memory channel({maxsize}) send / receive", "trio", op=trio_channel,
                check=check),
    ]
    variants = with_effectpy_trio(variants, cfg, single, check)
    sec = Section("queue_throughput", f"{n:,} items through a Queue(maxsize={maxsize}), "
                  f"{par} producers (offer) and {par} consumers (take), each a for_each loop, "
                  f"vs asyncio.Queue({maxsize}) with {par}+{par} tasks (put / get in for loops)",
                  plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="item",
                       warmup=cfg.warmup)
    sec.ratios = [
        Ratio(EFFECTPY_ASYNCIO, "asyncio.Queue put / get", 1.5),
        Ratio(recursion_label, "asyncio.Queue put / get",
              label="effectpy flat_map loops / asyncio.Queue"),
        Ratio(batched_label, "asyncio.Queue put / get", label="effectpy batched / asyncio.Queue"),
        Ratio(EFFECTPY_TRIO, f"trio memory channel({maxsize}) send / receive", 1.5),
    ]
    sec.notes.append("one offer and one take per item are two effects run by the fiber run "
                     "loop: when they need not wait, each, with its loop's continuation, is one "
                     "run-loop step. The flat_map row writes the loops by hand, as recursion "
                     "(an offer node, two flat_map nodes and two closures per item): that "
                     "building is what it costs over the for_each row. The batched row moves "
                     f"the same items with one offer_all per {chunk} items and a take_up_to "
                     "after each take")
    return sec


# --- pictures -----------------------------------------------------------------------------


def _recorded_trace(n: int) -> Any:
    """A recorded for_each_par of ``n`` fibers (parallelism 500) on a TestClock."""
    import effectpy.trace
    from effectpy import TestClock, sleep

    program = for_each_par(range(n), lambda i: sleep(0.001 * (i % 7)).as_(i), parallelism=500)
    clock = TestClock()
    with effectpy.trace.record() as trace:
        asyncio.run(clock.drive(program))
    return effectpy.trace.Trace(trace.events, clock=trace.clock)


def _varied_trace(n: int) -> Any:
    """``n`` fibers of many shapes on a TestClock: half of them a for_each_par whose items
    hold a resource and one in ten fails (caught), the other half 200 for_each_pars of
    n / 400 items each, one after another."""
    import effectpy.trace
    from effectpy import TestClock, acquire_release, fail, for_each, sleep

    def item(i: int) -> Any:
        conn = acquire_release(succeed(f"conn{i}"), lambda c: sync(lambda: None))
        body = sleep(0.001 * (i % 7)).flat_map(lambda _: fail(f"bad {i}") if i % 10 == 0 else succeed(i))
        return conn.flat_map(lambda _: body).either()

    batch = max(n // 400, 1)
    program = zip_par(for_each_par(range(n // 2), item, parallelism=500),
                      for_each(range(200), lambda k: for_each_par(range(batch), lambda i: sleep(0.001).as_(i))))
    with effectpy.trace.record() as trace:
        asyncio.run(TestClock().drive(program))
    return effectpy.trace.Trace(trace.events, clock=trace.clock)


def bench_render_timeline(cfg: Config) -> Section:
    sizes = (100, 1_000) if cfg.quick else (100, 10_000, 100_000)
    repeats = 2 if cfg.quick else 3
    sec = Section("render_timeline", "rendering the SVG timeline of recorded traces "
                  f"(for_each_par of N fibers, parallelism 500, on a TestClock; in a full run also "
                  f"100,000 fibers of many shapes): time and file size",
                  f"best of {repeats} renders of one trace per size; gc.collect() before each")
    traces = [(f"{n:,} fibers", _recorded_trace(n)) for n in sizes]
    if not cfg.quick:
        traces.append(("100,000 fibers of many shapes", _varied_trace(100_000)))
    for name, trace in traces:
        times = []
        svg = ""
        for _ in range(repeats):
            gc.collect()
            t0 = perf_counter()
            svg = trace.to_svg()
            times.append(perf_counter() - t0)
        sec.rows.append(Row(f"render {name} ({len(trace.events):,} events)", "time", times,
                            count=1, unit="render"))
        sec.rows.append(Row(f"SVG size, {name}", "bytes", [float(len(svg.encode()))], unit="file"))
    sec.notes.append("more than 24 siblings forked in one scope are drawn as one group lane of "
                     "counts over time, so the size stops growing with N; the time is dominated "
                     "by reading the events. Target: 100,000 fibers in under 3 s, into a file "
                     "under 10 MB. The widget's frame times on such a trace: "
                     "python benchmarks/widget_frames.py")
    return sec


# --- streams ------------------------------------------------------------------------------


def bench_stream_pipeline(cfg: Config) -> Section:
    from effectpy import Stream

    n = cfg.size(1_000_000, 100_000)
    repeats, inner = cfg.plan((3, 1), (1, 1))

    def f(x: int) -> int:
        return x * 3

    def g(x: int) -> bool:
        return x % 2 == 0

    expected = sum(y for y in (f(x) for x in range(n)) if g(y))

    async def generators() -> int:
        return sum(y for y in (f(x) for x in range(n)) if g(y))

    async def async_generators() -> int:
        async def source() -> Any:
            for x in range(n):
                yield x

        async def mapped(items: Any) -> Any:
            async for x in items:
                yield f(x)

        async def kept(items: Any) -> Any:
            async for x in items:
                if g(x):
                    yield x

        acc = 0
        async for x in kept(mapped(source())):
            acc += x
        return acc

    def pipeline() -> Any:
        return Stream.range(n).map(f).filter(g).run_fold(0, lambda acc, x: acc + x)

    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=pipeline, check=equals(expected)),
        Variant("generator pipeline", "asyncio", op=generators, check=equals(expected)),
        Variant("async generator pipeline", "asyncio", op=async_generators, check=equals(expected)),
    ]
    sec = Section("stream_pipeline", f"Stream.range({n:,}).map(f).filter(g).run_fold(...) vs the same "
                  "pipeline as plain generators and as async generators",
                  plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="item", warmup=cfg.warmup)
    sec.ratios = [Ratio(EFFECTPY_ASYNCIO, "async generator pipeline", 3.0),
                  Ratio(EFFECTPY_ASYNCIO, "generator pipeline")]
    sec.notes.append("effectpy pulls and transforms chunks of 1,024 items (list comprehensions), "
                     "which is why it can beat an item-at-a-time generator pipeline")
    return sec


BENCHMARKS: dict[str, Callable[[Config], Section]] = {
    "flat_map_chain": bench_flat_map_chain,
    "million_chain": bench_million_chain,
    "zip_par_1000": bench_zip_par_1000,
    "for_each_par_10k": bench_for_each_par_10k,
    "fork_join_10k": bench_fork_join_10k,
    "suspended_memory_10k": bench_suspended_memory_10k,
    "trace_overhead": bench_trace_overhead,
    "render_timeline": bench_render_timeline,
    "stream_pipeline": bench_stream_pipeline,
    "queue_throughput": bench_queue_throughput,
}


def environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    return {"python": sys.version.split()[0], "implementation": sys.implementation.name,
            "platform": sys.platform, "cpus": str(os.cpu_count()),
            "effectpy": getattr(effectpy, "__version__", "?"), "anyio": v("anyio"),
            "trio": v("trio")}
