"""Smoke test for the benchmark suite: `benchmarks/run.py --quick` runs end to end.

No timing is asserted: only that every benchmark runs (a wrong result or an exception makes
run.py exit with status 1) and shows up in the output and in the JSON.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "benchmarks" / "run.py"

NAMES = [
    "flat_map_chain", "million_chain", "zip_par_1000", "for_each_par_10k", "fork_join_10k",
    "suspended_memory_10k", "trace_overhead", "render_timeline", "stream_pipeline",
    "queue_throughput", "async_sequence_10k", "async_zip_par_10k", "async_for_each_par_10k",
    "async_fork_join_10k", "async_suspended_memory_10k", "stream_flat_map_merge", "trace_storage",
    "asyncio_trace_overhead",
]


def run_py(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(RUN_PY), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, check=False)


def test_benchmark_list_names_every_benchmark():
    proc = run_py("--list", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == NAMES


def test_quick_run_succeeds_and_reports_every_benchmark(tmp_path):
    out = tmp_path / "results.json"
    proc = run_py("--quick", "--json", str(out))
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    headers = [line.split(":", 1)[0] for line in proc.stdout.splitlines()]
    for name in NAMES:
        assert name in headers, f"no section for {name}"
    assert "SUMMARY" in proc.stdout
    assert "ERROR" not in proc.stdout
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [b["name"] for b in doc["benchmarks"]] == NAMES


def test_unknown_benchmark_name_is_rejected():
    proc = run_py("--only", "no_such_benchmark", timeout=30)
    assert proc.returncode == 2
    assert "no_such_benchmark" in proc.stderr
