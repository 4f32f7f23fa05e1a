"""The benchmarks: each function takes a `Config` and returns a `harness.Section`.

Rule for what is timed: everything one operation needs is inside the timed region (the
effects or coroutines it runs are built there too), except for the flat_map chains, whose
build time is reported as a row of its own.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import effectpy
from effectpy import Deferred, Effect, for_each_par, succeed, suspend, sync, yield_now, zip_par

from harness import VALUE, Ratio, Row, Section, Variant, fmt_bytes, measure, perf_counter

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


def recursive_chain(n: int) -> Effect[Any, Any, int]:
    """Right-nested: each step builds the next one as it runs."""
    def loop(k: int) -> Effect[Any, Any, int]:
        return succeed(k) if k == 0 else succeed(k - 1).flat_map(loop)
    return loop(n)


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
                   inner: int, warmup: bool) -> list[Row]:
    variants = [
        Variant(LEFT_RUN, "asyncio", make_effect=lambda: chain, check=equals(n)),
        Variant(RECURSIVE, "asyncio", make_effect=lambda: recursive_chain(n), check=equals(0)),
        Variant(AWAITS, "asyncio", op=lambda: sequential_awaits(n), check=equals(n)),
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
    sec.rows = measure_chains(n, chain, build_row, repeats, inner, cfg.warmup)
    sec.ratios = chain_ratios(2.0)
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


def bench_suspended_memory_10k(cfg: Config) -> Section:
    import anyio
    import trio

    n = cfg.size(10_000, 2_000)
    repeats, inner = cfg.plan((2, 1), (1, 1))

    async def aio_tasks() -> float:
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

    async def anyio_group() -> float:
        ev = anyio.Event()
        try:
            async with anyio.create_task_group() as tg:
                before = _trace_start()
                for _ in range(n):
                    tg.start_soon(ev.wait)
                while ev.statistics().tasks_waiting < n:
                    await anyio.sleep(0)
                per = (_trace_current() - before) / n
                _trace_stop()
                ev.set()
        finally:
            _trace_stop()
        return per

    async def trio_nursery() -> float:
        ev = trio.Event()
        try:
            async with trio.open_nursery() as nursery:
                before = _trace_start()
                for _ in range(n):
                    nursery.start_soon(ev.wait)
                while ev.statistics().tasks_waiting < n:
                    await trio.sleep(0)
                per = (_trace_current() - before) / n
                _trace_stop()
                ev.set()
        finally:
            _trace_stop()
        return per

    eff = suspended_memory_effect(n)
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=lambda: eff),
        Variant("asyncio Task awaiting Event.wait()", "asyncio", op=aio_tasks),
        Variant("anyio task awaiting Event.wait()", "anyio", op=anyio_group),
        Variant("trio task awaiting Event.wait()", "trio", op=trio_nursery),
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


BENCHMARKS: dict[str, Callable[[Config], Section]] = {
    "flat_map_chain": bench_flat_map_chain,
    "million_chain": bench_million_chain,
    "zip_par_1000": bench_zip_par_1000,
    "for_each_par_10k": bench_for_each_par_10k,
    "fork_join_10k": bench_fork_join_10k,
    "suspended_memory_10k": bench_suspended_memory_10k,
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
