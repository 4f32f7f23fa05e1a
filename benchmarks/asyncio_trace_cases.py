"""The cost of recording plain asyncio code: ``effectpy.trace.record(asyncio=True)``.

Each workload runs as plain asyncio, and inside ``record(asyncio=True)`` (the record block
is entered and left outside the timed region), so the ratio is what recording the tasks
costs: a task factory, a wrapper that times each step of each task, and the events (fork,
waits, exit, and a step event for a step of 1 ms or more).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import effectpy.trace

from cases import Config, plan_text
from harness import Ratio, Section, Variant, measure

N = 10_000
PLAIN = "asyncio, not recording"
RECORDED = "asyncio, inside record(asyncio=True)"


class _Recording:
    """``around``: a fresh ``record(asyncio=True)`` block per run; the check then looks at
    the trace (outside the timed region) and drops it."""

    def __init__(self) -> None:
        self.trace: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with effectpy.trace.record(asyncio=True) as trace:
            self.trace = trace
            yield

    def check(self, expected: int, tasks: int) -> Callable[[Any], None]:
        def check(result: Any) -> None:
            trace, self.trace = self.trace, None
            if result != expected:
                raise AssertionError(f"got {result!r}, expected {expected!r}")
            ended = sum(1 for e in trace.events if e.kind == "exit"
                        and e.data.get("outcome") == "success")
            if ended != tasks:
                raise AssertionError(f"the trace has {ended} tasks that ended, expected {tasks}")
        return check


def bench_asyncio_trace_overhead(cfg: Config) -> Section:
    n = cfg.size(N, 2_000)
    repeats, inner = cfg.plan((7, 2), (2, 1))
    expected = sum(range(n))

    async def waiting_tasks() -> int:
        """A TaskGroup of n tasks; each waits twice on a future that a loop callback
        completes (a real suspension, with no timer), then returns."""
        loop = asyncio.get_running_loop()

        async def worker(i: int) -> int:
            for _ in range(2):
                fut: asyncio.Future[int] = loop.create_future()
                loop.call_soon(fut.set_result, i)
                i = await fut
            return i

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(worker(i)) for i in range(n)]
        return sum(t.result() for t in tasks)

    async def trivial_tasks() -> int:
        """The worst case: gather n tasks that only pass once (``sleep(0)``)."""
        async def worker(i: int) -> int:
            await asyncio.sleep(0)
            return i
        return sum(await asyncio.gather(*(worker(i) for i in range(n))))

    def plain_check(result: Any) -> None:
        if result != expected:
            raise AssertionError(f"got {result!r}, expected {expected!r}")

    rows = []
    ratios = []
    for what, op, target in (("waiting", waiting_tasks, 1.5), ("trivial", trivial_tasks, None)):
        recording = _Recording()
        plain, recorded = f"{what} tasks: {PLAIN}", f"{what} tasks: {RECORDED}"
        variants = [
            Variant(plain, "asyncio", op=op, check=plain_check),
            Variant(recorded, "asyncio", op=op, check=recording.check(expected, n), around=recording),
        ]
        rows += measure(variants, repeats=repeats, inner=inner, count=n, unit="task", warmup=cfg.warmup)
        ratios.append(Ratio(recorded, plain, target, label=f"{what} tasks: recording / not"))
    sec = Section("asyncio_trace_overhead",
                  f"cost of record(asyncio=True) on {n:,} asyncio tasks: in a TaskGroup, each "
                  "waiting twice on a future (the target), and gathered, each only passing "
                  "once (the worst case: a task that does nothing)",
                  plan_text(repeats, inner))
    sec.rows = rows
    sec.ratios = ratios
    return sec


BENCHMARKS = {"asyncio_trace_overhead": bench_asyncio_trace_overhead}
