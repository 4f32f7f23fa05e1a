"""The trace_storage benchmark: what a recorded event costs to keep, to spill and to load.

Rows (see README.md, "trace_storage in detail"): traced memory per event (fork/join, and
zip_par rounds with their names and scopes), resident memory per event in a fresh process,
a bounded recorder's memory over ten times more fibers (flat), the time cost of writing the
trace to a file as it happens, and loading a saved trace (time per MB at two sizes, and
traced memory per byte of file).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import effectpy
import effectpy.trace
from effectpy import Effect, for_each, yield_now, zip_par

from cases import Config, equals, fork_join_effect, plan_text
from harness import VALUE, Ratio, Row, Section, Variant, fmt_bytes, measure, perf_counter


def zip_par_rounds(rounds: int, width: int = 10) -> Effect[Any, Any, None]:
    """``rounds`` zip_pars of ``width`` branches, one after the other."""
    return for_each(range(rounds), lambda _: zip_par(*[yield_now] * width), discard=True)


async def _traced_per_event(make: Callable[[], Effect[Any, Any, Any]]) -> tuple[float, int]:
    """(traced bytes per event kept, events) over a recorded, unbounded run of ``make()``."""
    effect = make()
    with effectpy.trace.record() as trace:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await effect._run()
            events = len(trace)  # (moves the last events into the store)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
    return grown / events, events


# --- fresh-process probes (resident memory) -------------------------------------------------


def _rss_bytes() -> int:
    """This process's resident memory now (Linux: /proc/self/statm)."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


ROUNDS = 5


def probe(spec: str) -> dict[str, Any]:
    """Run by ``run.py --probe trace_rss:N`` / ``trace_bounded:N`` in a fresh interpreter.

    trace_rss: resident-memory growth of an unbounded recording of `ROUNDS` fork/joins of
    N / `ROUNDS` fibers each, after the same fork/join unrecorded has warmed the allocator;
    the first round's growth too. trace_bounded: the growth of a recording with capacity
    10,000 over N fibers (zip_par rounds of 10), after 10,000 fibers of steady state."""
    kind, _, n_text = spec.partition(":")
    n = int(n_text)
    if kind == "trace_rss":
        per_round = n // ROUNDS
        effectpy.run(fork_join_effect(per_round))  # the fibers' own memory, reused below
        gc.collect()
        before = _rss_bytes()
        with effectpy.trace.record() as trace:
            effectpy.run(fork_join_effect(per_round))
            first_events = len(trace)
            gc.collect()
            first = _rss_bytes() - before
            for _ in range(ROUNDS - 1):
                effectpy.run(fork_join_effect(per_round))
            events = len(trace)
        gc.collect()
        grown = _rss_bytes() - before
        return {"kind": kind, "n": n, "events": events, "rss_growth": grown, "per_event": grown / events,
                "first_round_per_event": first / first_events}
    assert kind == "trace_bounded"
    effectpy.run(fork_join_effect(1000))
    with effectpy.trace.record(10_000) as trace:
        effectpy.run(zip_par_rounds(1000))  # 10,000 fibers: the steady state
        gc.collect()
        before = _rss_bytes()
        effectpy.run(zip_par_rounds(n // 10))
        gc.collect()
        grown = _rss_bytes() - before
        return {"kind": kind, "n": n, "events": trace.dropped + len(trace), "rss_growth": grown}


def run_probe(cfg: Config, spec: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, cfg.run_py, "--probe", spec], capture_output=True,
                         text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"probe {spec} failed: {out.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# --- loading --------------------------------------------------------------------------------


def _saved_trace(directory: str, fibers: int) -> str:
    path = os.path.join(directory, f"fork_join_{fibers}.jsonl")
    with effectpy.trace.record(path=path):
        effectpy.run(fork_join_effect(fibers))
    return path


def _load(path: str, traced: bool) -> tuple[float, int]:
    """(seconds, events) of one `Trace.load`, or (tracemalloc's peak, events) if ``traced``
    (tracing slows allocation several times: the two are measured apart)."""
    gc.collect()
    if traced:
        tracemalloc.start()
    try:
        t0 = perf_counter()
        trace = effectpy.trace.Trace.load(path)
        seconds = perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        tracemalloc.stop()
    return (float(peak) if traced else seconds), len(trace)


def bench_trace_storage(cfg: Config) -> Section:
    n = cfg.size(100_000, 10_000)
    sec = Section("trace_storage", "what a recorded event costs: memory kept (traced and resident), a "
                  "bounded recorder over many fibers, writing the trace as it happens, loading it",
                  "memory: one run each (tracemalloc, or resident memory in a fresh process); "
                  "spill time: " + plan_text(*cfg.plan((9, 1), (2, 1))) + "; load: best of "
                  f"{cfg.size(3, 1)}")

    # 1. Traced memory per event kept, unbounded.
    memory: dict[str, tuple[float, int]] = {}

    def traced(label: str, make: Callable[[], Effect[Any, Any, Any]]) -> Callable[[], Any]:
        async def op() -> float:
            memory[label] = await _traced_per_event(make)
            return memory[label][0]
        return op

    fork_join = f"traced memory per event kept: fork/join of {n:,} fibers"
    rounds = f"traced memory per event kept: {n // 10:,} zip_pars of 10"
    sec.rows += measure([Variant(fork_join, "asyncio", op=traced(fork_join, lambda: fork_join_effect(n))),
                         Variant(rounds, "asyncio", op=traced(rounds, lambda: zip_par_rounds(n // 10)))],
                        repeats=1, inner=1, mode=VALUE, unit="event", warmup=False)

    # 2. Resident memory per event, and a bounded recorder's growth, in fresh processes.
    rss_n = cfg.size(200_000, 20_000)
    few, many = cfg.size(100_000, 10_000), cfg.size(1_000_000, 50_000)
    probes: dict[str, dict[str, Any]] = {}

    def probed(spec: str, key: str) -> Callable[[], Any]:
        async def op() -> float:
            probes[spec] = run_probe(cfg, spec)
            return float(probes[spec][key])
        return op

    rss_label = (f"resident memory growth per event, fresh process: {ROUNDS} fork/joins of "
                 f"{rss_n // ROUNDS:,} fibers")
    few_label = f"bounded recorder (capacity 10,000), resident growth over {few:,} more fibers"
    many_label = f"bounded recorder (capacity 10,000), resident growth over {many:,} more fibers"
    rss_row, few_row, many_row = measure([
        Variant(rss_label, "asyncio", op=probed(f"trace_rss:{rss_n}", "per_event")),
        Variant(few_label, "asyncio", op=probed(f"trace_bounded:{few}", "rss_growth")),
        Variant(many_label, "asyncio", op=probed(f"trace_bounded:{many}", "rss_growth")),
    ], repeats=1, inner=1, mode=VALUE, unit="run", warmup=False)
    rss_row.unit = "event"
    sec.rows += [rss_row, few_row, many_row]

    # 3. Time: recording with the events written to a file as they happen.
    fibers = 10_000
    eff = fork_join_effect(fibers)
    workdir = tempfile.mkdtemp(prefix="effectpy-bench-")
    not_recorded = "fork/join 10,000: not recording"
    recorded = "fork/join 10,000: record()"
    spilled = "fork/join 10,000: record(path=...) (every event written to a file)"
    bounded_spilled = "fork/join 10,000: record(capacity=1,000, path=...)"

    def recording(capacity: int | None = None, spill: bool = False) -> Callable[[], Any]:
        """``around``: a fresh record block per run, entered and left outside the timing."""
        @contextmanager
        def around() -> Iterator[None]:
            path = os.path.join(workdir, "spill.jsonl") if spill else None
            with effectpy.trace.record(capacity, path=path):
                yield
        return around

    check = equals(fibers)
    repeats, inner = cfg.plan((9, 1), (2, 1))
    sec.rows += measure([
        Variant(not_recorded, "asyncio", make_effect=lambda: eff, check=check),
        Variant(recorded, "asyncio", make_effect=lambda: eff, check=check, around=recording()),
        Variant(spilled, "asyncio", make_effect=lambda: eff, check=check, around=recording(spill=True)),
        Variant(bounded_spilled, "asyncio", make_effect=lambda: eff, check=check,
                around=recording(1_000, spill=True)),
    ], repeats=repeats, inner=inner, count=fibers, unit="fiber", warmup=cfg.warmup)

    # 4. Loading a saved (streamed) trace: time per MB at two sizes, memory per byte.
    small, large = cfg.size(25_000, 2_500), cfg.size(100_000, 10_000)
    loads: dict[int, tuple[float, int]] = {}  # fibers -> (seconds, file size)
    for size in (small, large):
        path = _saved_trace(workdir, size)
        file_size = os.path.getsize(path)
        seconds, events = min(_load(path, traced=False) for _ in range(cfg.size(3, 1)))
        peak, _ = _load(path, traced=True)
        loads[size] = (seconds, file_size)
        os.remove(path)
        megabytes = file_size / 1e6
        sec.rows.append(Row(f"Trace.load, {events:,} events ({megabytes:.1f} MB): time per MB", "time",
                            [seconds / megabytes], unit="MB"))
        sec.rows.append(Row(f"Trace.load, {events:,} events: traced peak / file size", "count",
                            [peak / file_size], unit="load"))
    shutil.rmtree(workdir)

    sec.ratios = [
        Ratio(spilled, not_recorded, None, "record(path=...) / not recording"),
        Ratio(spilled, recorded, None, "record(path=...) / record()"),
        Ratio(recorded, not_recorded, 1.5, "record() / not recording"),
    ]
    if fork_join in memory:
        per_event, events = memory[fork_join]
        sec.notes.append(f"traced memory: the growth over a recorded run once its last events are in "
                         f"the store ({events:,} events for the fork/join), the recorder's fiber table "
                         f"included (about a third of it); target: at most 100 B per event "
                         f"({'met' if per_event <= 100 else 'MISSED'}: {per_event:.0f} B)")
    if f"trace_rss:{rss_n}" in probes:
        result = probes[f"trace_rss:{rss_n}"]
        per_event, first = result["per_event"], result["first_round_per_event"]
        traced_per_event = memory.get(fork_join, (float("nan"), 0))[0]
        sec.notes.append(
            f"resident memory: VmRSS after minus before a recording of {ROUNDS} fork/joins, in a fresh "
            f"interpreter that ran one unrecorded first; {per_event:.0f} B per event is "
            f"{per_event / traced_per_event:.2f}x the traced figure (target: within 2x); the first "
            f"round alone: {first:.0f} B ({first / traced_per_event:.2f}x; see README.md)")
    if f"trace_bounded:{few}" in probes and f"trace_bounded:{many}" in probes:
        sec.notes.append(f"bounded: after 10,000 fibers of steady state, {few:,} more fibers grow the "
                         f"resident memory by {fmt_bytes(probes[f'trace_bounded:{few}']['rss_growth'])} "
                         f"and {many:,} by {fmt_bytes(probes[f'trace_bounded:{many}']['rss_growth'])}: "
                         "flat (unbounded, each event would add the figure above)")
    if small in loads and large in loads:
        t_small, f_small = loads[small]
        t_large, f_large = loads[large]
        sec.notes.append(f"loading: {f_large / f_small:.1f}x the bytes took {t_large / t_small:.1f}x the "
                         "time (linear); the traced peak is what Trace.load allocates at most while "
                         "reading line by line (target: about 2x the file size at most)")
    return sec


BENCHMARKS: dict[str, Callable[[Config], Section]] = {
    "trace_storage": bench_trace_storage,
}
