"""effectpy benchmark suite: ``python benchmarks/run.py [--quick] [--only NAME] [--json PATH]``.

Prints, per benchmark, effectpy's figures and the baselines measured in the same run, then
a summary table of effectpy / baseline ratios. See benchmarks/README.md.
Exit status: 0, or 1 if a benchmark raised (a wrong result counts); n/a is not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import async_cases  # noqa: E402
import asyncio_trace_cases  # noqa: E402
import cases  # noqa: E402
import harness  # noqa: E402
import stream_cases  # noqa: E402
import trace_cases  # noqa: E402

BENCHMARKS = {**cases.BENCHMARKS, **async_cases.BENCHMARKS, **stream_cases.BENCHMARKS,
              **trace_cases.BENCHMARKS, **asyncio_trace_cases.BENCHMARKS}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Benchmark effectpy against raw asyncio, anyio and trio.")
    p.add_argument("--quick", action="store_true",
                   help="a fast smoke run: fewer repeats, million_chain at 100,000 steps")
    p.add_argument("--only", action="append", metavar="NAME", default=[],
                   help="run only this benchmark (repeatable, or comma-separated); "
                        f"one of: {', '.join(BENCHMARKS)}")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    p.add_argument("--list", action="store_true", help="list the benchmark names and exit")
    p.add_argument("--probe", metavar="KIND:N", help=argparse.SUPPRESS)  # internal
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe:
        probe = trace_cases.probe if args.probe.startswith("trace_") else cases.probe
        print(json.dumps(probe(args.probe)))
        return 0
    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    names = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; "
              f"choose from: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    selected = [n for n in BENCHMARKS if not names or n in names]

    env = cases.environment()
    trio_na = cases.probe_effectpy_trio()
    cfg = cases.Config(quick=args.quick, effectpy_trio_na=trio_na, run_py=os.path.abspath(__file__))
    print("effectpy benchmarks" + (" (--quick: smoke run, figures are rough)" if args.quick else ""))
    print("  " + ", ".join(f"{k} {v}" for k, v in env.items()))
    print(f"  effectpy on trio: {'available' if trio_na is None else 'n/a, ' + trio_na}")
    print("  times are per operation unless 'per unit'; ratios compare per unit of work")
    print(flush=True)

    sections: list[harness.Section] = []
    started = time.perf_counter()
    for name in selected:
        t0 = time.perf_counter()
        sec = BENCHMARKS[name](cfg)
        sections.append(sec)
        print(harness.format_section(sec))
        print(f"  ({time.perf_counter() - t0:.1f} s)")
        print(flush=True)
    total = time.perf_counter() - started

    print(harness.format_summary(sections))
    print(f"\ntotal {total:.1f} s")
    failed = [s.name for s in sections if s.has_error()]
    if failed:
        print(f"ERRORS in: {', '.join(failed)}")

    if args.json:
        doc = {"environment": env, "quick": args.quick, "effectpy_trio": trio_na or "available",
               "total_seconds": total, "benchmarks": [s.to_json() for s in sections]}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
        print(f"results written to {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
