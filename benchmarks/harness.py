"""Measurement machinery shared by the benchmarks (no benchmark lives here).

How a measurement is taken:

- Every *sample* is one run of one operation, timed with `time.perf_counter` inside the
  coroutine (or inside the effect), so event-loop startup and teardown are never timed.
- `gc.collect()` runs before every sample, outside the timed region.
- Samples are grouped in *repeats*: each repeat starts a fresh event loop (`asyncio.run`,
  `anyio.run` or `trio.run`) and takes ``inner`` samples in it.
- The variants of one benchmark are interleaved repeat by repeat (in a rotating order),
  so a slow phase of the machine hits all of them alike.
- One untimed warm-up repeat of one sample runs first unless the benchmark opts out.
- A variant may give ``around``: a context manager entered before each sample and left
  after it, both outside the timed region (``gc.collect()`` and the timer reads are inside
  it), for example to record the run with ``effectpy.trace.record()``.
- A benchmark reports the best (min) and the median sample of each variant.

A *variant* is one implementation of a benchmark's operation, on one backend:

- ``op``: an async function of no arguments, run by awaiting it in a coroutine on
  ``asyncio``, ``anyio`` (anyio on its asyncio backend) or ``trio``.
- ``make_effect``: a function returning the effect to run. On ``asyncio`` it is run with
  ``await effect._run()`` in the timing coroutine; on ``trio`` the whole sampling loop is
  itself an effect run with ``effectpy.run(..., backend="trio")`` and the timer reads are
  effect steps around the measured effect (the only trio entry point effectpy promises).

In ``"value"`` mode the operation returns the measured quantity (for example bytes per
fiber) instead of being timed.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
import traceback
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

perf_counter = time.perf_counter

TIME = "time"
VALUE = "value"


class NotAvailable(Exception):
    """Raised by a variant that cannot run here (a missing backend); shown as n/a."""


@dataclass
class Variant:
    label: str
    backend: str  # "asyncio", "anyio" or "trio"
    op: Callable[[], Awaitable[Any]] | None = None
    make_effect: Callable[[], Any] | None = None
    check: Callable[[Any], object] | None = None  # called on each result, outside timing
    na: str | None = None  # why this variant cannot run (printed as n/a)
    # entered before each sample and left after it, outside the timed region (op variants,
    # and make_effect variants on asyncio)
    around: Callable[[], AbstractContextManager[Any]] | None = None


@dataclass
class Row:
    label: str
    kind: str  # "time" (seconds per operation), "bytes" or "count" (a plain number)
    samples: list[float] = field(default_factory=list)
    count: int = 1  # units of work per operation (steps, items, fibers)
    unit: str = "op"
    na: str | None = None  # not available here: printed as n/a
    error: str | None = None  # the variant raised: printed as ERROR, exit status 1

    @property
    def ok(self) -> bool:
        return self.na is None and self.error is None and bool(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "kind": self.kind, "count": self.count,
                               "unit": self.unit}
        if self.ok:
            out.update(best=self.best, median=self.median, samples=self.samples,
                       best_per_unit=self.best / self.count,
                       median_per_unit=self.median / self.count)
        if self.na is not None:
            out["na"] = self.na
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Ratio:
    """``num / den`` (an effectpy row over a baseline row), with an optional target."""

    num: str
    den: str
    target: float | None = None
    label: str | None = None  # shorter text for the tables; defaults to "num / den"
    percent: bool = False  # print the ratio and the target as percentages (a share)

    def text(self) -> str:
        return self.label or f"{self.num} / {self.den}"

    def fmt(self, value: float) -> str:
        return f"{value * 100:.2f}%" if self.percent else f"{value:.2f}x"

    def target_text(self) -> str:
        if self.target is None:
            return ""
        return f"<= {self.target * 100:g}%" if self.percent else f"<= {self.target:g}x"


@dataclass
class Section:
    name: str
    title: str
    plan: str = ""  # how it was sampled, e.g. "5 loops x 20 runs"
    rows: list[Row] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, label: str) -> Row:
        for r in self.rows:
            if r.label == label:
                return r
        raise KeyError(label)

    def ratio_values(self, ratio: Ratio) -> tuple[float, float] | None:
        num, den = self.row(ratio.num), self.row(ratio.den)
        if not (num.ok and den.ok):
            return None
        # per unit, so rows with different counts compare per step / per item
        return ((num.best / num.count) / (den.best / den.count),
                (num.median / num.count) / (den.median / den.count))

    def verdict(self, ratio: Ratio) -> str:
        values = self.ratio_values(ratio)
        if ratio.target is None:
            return ""
        if values is None:
            return "n/a"
        best_ok, median_ok = (v <= ratio.target for v in values)
        if best_ok and median_ok:
            return "ok"
        if not best_ok and not median_ok:
            return "MISS"
        return "ok on best, MISS on median" if best_ok else "MISS on best, ok on median"

    def has_error(self) -> bool:
        return any(r.error is not None for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        ratios = []
        for ratio in self.ratios:
            values = self.ratio_values(ratio)
            ratios.append({
                "num": ratio.num, "den": ratio.den, "target": ratio.target,
                "percent": ratio.percent,
                "best": None if values is None else values[0],
                "median": None if values is None else values[1],
                "verdict": self.verdict(ratio),
            })
        return {"name": self.name, "title": self.title, "plan": self.plan,
                "rows": [r.to_json() for r in self.rows], "ratios": ratios,
                "notes": self.notes}


# --- running --------------------------------------------------------------------------


def _sampling_coroutine(op: Callable[[], Awaitable[Any]], inner: int, mode: str,
                        check: Callable[[Any], object] | None,
                        around: Callable[[], AbstractContextManager[Any]] | None = None,
                        ) -> Callable[[], Awaitable[list[float]]]:
    async def main() -> list[float]:
        out: list[float] = []
        for _ in range(inner):
            with around() if around is not None else nullcontext():
                gc.collect()
                t0 = perf_counter()
                result = await op()
                t1 = perf_counter()
            if check is not None:
                check(result)
            out.append(t1 - t0 if mode == TIME else float(result))
            del result
        return out
    return main


def _sampling_effect(make_effect: Callable[[], Any], inner: int, mode: str,
                     check: Callable[[Any], object] | None) -> Any:
    """The sampling loop as an effect, for effectpy on a backend entered with run()."""
    from effectpy import succeed, suspend, sync

    out: list[float] = []
    start = [0.0]

    def begin() -> None:
        gc.collect()
        start[0] = perf_counter()

    def record(result: Any) -> None:
        t1 = perf_counter()
        if check is not None:
            check(result)
        out.append(t1 - start[0] if mode == TIME else float(result))

    def sample(i: int) -> Any:
        if i == inner:
            return succeed(out)
        return (sync(begin)
                .flat_map(lambda _: suspend(make_effect))
                .flat_map(lambda result: sync(lambda: record(result)))
                .flat_map(lambda _: sample(i + 1)))

    return suspend(lambda: sample(0))


def run_repeat(variant: Variant, inner: int, mode: str) -> list[float]:
    """One fresh event loop, ``inner`` samples of ``variant``."""
    if variant.make_effect is not None:
        if variant.backend == "asyncio":
            make = variant.make_effect
            main = _sampling_coroutine(lambda: make()._run(), inner, mode, variant.check,
                                       variant.around)
            return asyncio.run(main())
        if variant.around is not None:
            raise ValueError("around is not supported for effectpy on a run() backend")
        import effectpy
        return effectpy.run(_sampling_effect(variant.make_effect, inner, mode, variant.check),
                            backend=variant.backend)
    assert variant.op is not None
    main = _sampling_coroutine(variant.op, inner, mode, variant.check, variant.around)
    if variant.backend == "asyncio":
        return asyncio.run(main())
    if variant.backend == "anyio":
        import anyio
        return anyio.run(main, backend="asyncio")
    if variant.backend == "trio":
        import trio
        return trio.run(main)
    raise ValueError(f"unknown backend {variant.backend!r}")


def _describe_error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:]
    where = f" at {last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno}" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


def measure(variants: list[Variant], *, repeats: int, inner: int, mode: str = TIME,
            count: int = 1, unit: str = "op", warmup: bool = True,
            kind: str | None = None) -> list[Row]:
    """Sample every variant ``repeats`` x ``inner`` times, interleaved; one Row each.

    ``kind`` (for the printing) defaults to "time" in TIME mode and "bytes" in VALUE mode."""
    if kind is None:
        kind = "time" if mode == TIME else "bytes"
    rows = {v.label: Row(v.label, kind, count=count, unit=unit, na=v.na) for v in variants}
    live = [v for v in variants if v.na is None]

    def attempt(v: Variant, n: int) -> list[float] | None:
        try:
            return run_repeat(v, n, mode)
        except NotAvailable as exc:
            rows[v.label].na = str(exc)
        except Exception as exc:  # noqa: BLE001 - reported in the table, exit status 1
            rows[v.label].error = _describe_error(exc)
        live.remove(v)
        return None

    if warmup:
        for v in list(live):
            attempt(v, 1)
    for r in range(repeats):
        k = r % len(live) if live else 0
        for v in live[k:] + live[:k]:
            samples = attempt(v, inner)
            if samples is not None:
                rows[v.label].samples.extend(samples)
    return [rows[v.label] for v in variants]


# --- formatting -----------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e9:.0f} ns"


def fmt_bytes(n: float) -> str:
    if abs(n) >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if abs(n) >= 10 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n:.0f} B"


def fmt_count(n: float) -> str:
    return f"{n:,.0f}" if abs(n) >= 1000 or n == int(n) else f"{n:.2f}"


def fmt_value(kind: str, v: float) -> str:
    if kind == "time":
        return fmt_time(v)
    if kind == "count":
        return fmt_count(v)
    return fmt_bytes(v)


def table(header: list[str], rows: list[list[str]], align: str, indent: str = "  ") -> list[str]:
    """A plain-text table; ``align`` has one letter per column, "l" or "r"."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align)]
        return (indent + "  ".join(parts)).rstrip()

    return [line(header), indent + "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def format_section(sec: Section) -> str:
    out = [f"{sec.name}: {sec.title}"]
    if sec.plan:
        out.append(f"  sampling: {sec.plan}")
    body = []
    for r in sec.rows:
        if r.error is not None:
            body.append([r.label, "ERROR", "", "", r.error])
        elif r.na is not None:
            body.append([r.label, "n/a", "", "", r.na])
        elif not r.samples:
            body.append([r.label, "n/a", "", "", "no samples"])
        else:
            per = (f"{fmt_value(r.kind, r.best / r.count)}/{r.unit}" if r.count > 1
                   else f"per {r.unit}")
            body.append([r.label, fmt_value(r.kind, r.best), fmt_value(r.kind, r.median), per,
                         str(len(r.samples))])
    out += table(["measurement", "best", "median", "best per unit", "runs"], body, "lrrrl")
    if sec.ratios:
        rbody = []
        for ratio in sec.ratios:
            values = sec.ratio_values(ratio)
            target = ratio.target_text()
            if values is None:
                rbody.append([ratio.text(), "n/a", "n/a", target, sec.verdict(ratio)])
            else:
                rbody.append([ratio.text(), ratio.fmt(values[0]), ratio.fmt(values[1]), target,
                              sec.verdict(ratio)])
        out.append("")
        out += table(["ratio (effectpy / baseline, per unit)", "best", "median", "target",
                      "verdict"], rbody, "lrrrl")
    for note in sec.notes:
        out.append(f"  note: {note}")
    return "\n".join(out)


def format_summary(sections: list[Section]) -> str:
    body = []
    for sec in sections:
        for ratio in sec.ratios:
            values = sec.ratio_values(ratio)
            target = ratio.target_text()
            best = "n/a" if values is None else ratio.fmt(values[0])
            median = "n/a" if values is None else ratio.fmt(values[1])
            body.append([sec.name, ratio.text(), best, median, target, sec.verdict(ratio)])
    lines = ["SUMMARY: effectpy / baseline per unit of work (below 1x: effectpy is faster or smaller)"]
    lines += table(["benchmark", "comparison", "best", "median", "target", "verdict"], body,
                   "llrrrl", indent="")
    return "\n".join(lines)
