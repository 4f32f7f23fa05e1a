"""Benchmarks of stream pipelines that use the operators with fibers and sub-scopes.

``stream_flat_map_merge``: two sources, each ``flat_map``-ped into small inner streams,
merged (each side pulled by a fiber of its own), then ``scan``-ned into a running sum;
against the same pipeline hand-written with asyncio async generators (an inner async
generator per item, and a merge of two tasks through a bounded ``asyncio.Queue``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from effectpy import NONE, Sink, Some, Stream

from cases import EFFECTPY_ASYNCIO, Config, equals, plan_text
from harness import Ratio, Section, Variant, measure

N = 100_000


def bench_stream_flat_map_merge(cfg: Config) -> Section:
    n = cfg.size(N, 20_000)
    per_side = n // 4  # each side: n / 4 items, each flat_mapped into two: n items in all
    repeats, inner = cfg.plan((5, 1), (1, 1))
    expected = 2 * sum(x + (x + 1) for x in range(per_side))

    def side() -> Stream[int]:
        return Stream.range(per_side).flat_map(lambda x: Stream.from_iterable((x, x + 1)))

    def pipeline() -> Any:
        return side().merge(side()).scan(0, lambda acc, x: acc + x).run(Sink.last())

    async def async_generators() -> Any:
        async def source() -> AsyncIterator[int]:
            for x in range(per_side):
                yield x

        async def pair(x: int) -> AsyncIterator[int]:
            yield x
            yield x + 1

        async def flat_map() -> AsyncIterator[int]:
            async for x in source():
                async for y in pair(x):
                    yield y

        async def merge(left: AsyncIterator[int], right: AsyncIterator[int]) -> AsyncIterator[int]:
            queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=16)
            done = object()

            async def pump(items: AsyncIterator[int]) -> None:
                async for x in items:
                    await queue.put(x)
                await queue.put(done)

            tasks = [asyncio.create_task(pump(left)), asyncio.create_task(pump(right))]
            live = 2
            try:
                while live:
                    x = await queue.get()
                    if x is done:
                        live -= 1
                    else:
                        yield x
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        async def scan(items: AsyncIterator[int], acc: int) -> AsyncIterator[int]:
            yield acc
            async for x in items:
                acc += x
                yield acc

        last: Any = NONE
        async for total in scan(merge(flat_map(), flat_map()), 0):
            last = Some(total)
        return last

    check = equals(Some(expected))
    variants = [
        Variant(EFFECTPY_ASYNCIO, "asyncio", make_effect=pipeline, check=check),
        Variant("async generator pipeline", "asyncio", op=async_generators, check=check),
    ]
    sec = Section("stream_flat_map_merge",
                  f"two Stream.range({per_side:,}).flat_map(2-item streams), merged, then scan to a "
                  f"running sum ({n:,} items), vs the same pipeline as asyncio async generators",
                  plan_text(repeats, inner))
    sec.rows = measure(variants, repeats=repeats, inner=inner, count=n, unit="item", warmup=cfg.warmup)
    sec.ratios = [Ratio(EFFECTPY_ASYNCIO, "async generator pipeline", 3.0)]
    sec.notes.append("each side's fiber hands merge whole chunks (at most 16 ahead), and merge hands "
                     "on what is there as one chunk; every inner stream is opened and closed in a "
                     "sub-scope of its own")
    return sec


BENCHMARKS = {
    "stream_flat_map_merge": bench_stream_flat_map_merge,
}
