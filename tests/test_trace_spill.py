"""record(path=...): the trace written as the run goes on, and read back after a kill."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import effectpy
import effectpy.trace._recorder as recorder_module
from effectpy import Clock, Context, TestClock, fail, for_each, sleep, succeed, yield_now, zip_par
from effectpy.trace import Trace, TraceFormatError, record

ROOT = Path(__file__).resolve().parents[1]


def program():
    return zip_par(succeed(1).named("one"), fail("boom").named("two")).exit()


def test_the_file_holds_every_event_and_loads_as_the_trace(tmp_path):
    path = tmp_path / "run.jsonl"
    with record(path=path) as trace:
        effectpy.run(program())
    loaded = Trace.load(path)
    assert loaded == trace and not loaded.truncated and loaded.clock == "live"
    lines = path.read_text().splitlines()
    assert '"streamed": true' in lines[0] and lines[-1] == f'{{"clock": "live", "end": true, "events": {len(trace)}}}'
    # an event line is what to_jsonl writes for it
    assert lines[1:-1] == trace.to_jsonl().splitlines()[1:]


def test_with_a_capacity_memory_keeps_the_last_events_and_the_file_all(tmp_path):
    path = tmp_path / "run.jsonl"
    with record(capacity=10, path=path) as trace:
        effectpy.run(for_each(range(50), lambda _: yield_now.fork().flat_map(lambda f: f.join())))
    loaded = Trace.load(path)
    assert len(trace) == 10 and trace.dropped == len(loaded) - 10 and loaded.dropped == 0
    assert loaded.events[-10:] == trace.events


def test_the_clock_adopted_is_in_the_header_and_the_end_line(tmp_path):
    clock = TestClock()
    path = tmp_path / "run.jsonl"
    with record(path=path) as trace:
        effectpy.run(zip_par(sleep(1), clock.adjust(1)).provide(Context().with_service(Clock, clock)))
    text = path.read_text()
    assert text.startswith('{"clock": "TestClock"') and text.rstrip().endswith(f'"events": {len(trace)}}}')
    assert Trace.load(path) == trace


def test_events_reach_the_file_while_the_run_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(recorder_module, "FLUSH_EVERY", 0.01)
    path = tmp_path / "run.jsonl"
    with record(path=path):
        effectpy.run(program())
        deadline = time.monotonic() + 30
        while '"name": "two"' not in path.read_text():  # written by the flusher thread
            assert time.monotonic() < deadline, "the events never reached the file"
            time.sleep(0.01)
        assert '"end": true' not in path.read_text()
    assert '"end": true' in path.read_text()


def truncated_copy(complete: str, cut: int) -> str:
    """A streamed file as a kill leaves it: no end line, the last event line cut short."""
    lines = complete.splitlines(keepends=True)[:-1]
    return "".join(lines[:-1]) + lines[-1][:cut]


def test_a_file_cut_by_a_kill_loads_every_complete_event_and_says_it_is_truncated(tmp_path):
    path = tmp_path / "run.jsonl"
    with record(path=path) as trace:
        effectpy.run(program())
    complete = path.read_text()
    for cut in (0, 1, 40, len(complete.splitlines()[-2])):
        path.write_text(truncated_copy(complete, cut))
        loaded = Trace.load(path)
        whole_last = cut == len(complete.splitlines()[-2])  # cut just before its newline
        assert loaded.truncated and loaded.events == trace.events[:len(trace) - (0 if whole_last else 1)]
        assert "truncated" in loaded.summary() and "truncated" in loaded.to_svg()
    path.write_text("".join(complete.splitlines(keepends=True)[:-1]))  # no end line only
    assert Trace.load(path).truncated and Trace.load(path) == trace


@pytest.mark.parametrize("damage, message", [
    (lambda lines: lines[:2] + ["{not json\n"] + lines[2:], "line 3: not valid JSON"),
    (lambda lines: lines[:-1] + ["garbage\n"], "not valid JSON"),  # complete, yet corrupt
    (lambda lines: lines + ['{"seq": 99}\n'], "a line after the end line"),
    (lambda lines: lines[:-1] + ['{"clock": "live", "end": true, "events": 2}\n'], "announces 2 events"),
    (lambda lines: lines[:-1] + ['{"end": 1, "events": 2, "clock": "live"}\n'], "an end line is"),
    (lambda lines: [lines[0].replace('"streamed": true', '"events": 3, "streamed": true')] + lines[1:],
     "counts its events in its end line"),
])
def test_corruption_anywhere_but_a_cut_last_line_is_rejected(tmp_path, damage, message):
    path = tmp_path / "run.jsonl"
    with record(path=path):
        effectpy.run(program())
    path.write_text("".join(damage(path.read_text().splitlines(keepends=True))))
    with pytest.raises(TraceFormatError, match=message):
        Trace.load(path)


def test_a_whole_file_cut_short_is_rejected_and_save_never_leaves_half_a_file(tmp_path):
    with record() as trace:
        effectpy.run(program())
    path = trace.save_jsonl(tmp_path / "whole.jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["whole.jsonl"]  # (the temporary is gone)
    text = path.read_text()
    path.write_text(text[:-30])
    with pytest.raises(TraceFormatError, match="not valid JSON|truncated file"):
        Trace.load(path)


def test_a_bad_path_fails_before_the_run_and_a_failing_disk_only_warns(tmp_path):
    ran = []
    with pytest.raises(FileNotFoundError):
        with record(path=tmp_path / "no" / "such" / "dir.jsonl"):
            ran.append(True)
    with pytest.raises(TypeError, match="record's path must be None or a file path, got int 3"):
        with record(path=3):  # type: ignore[arg-type]
            pass
    assert not ran
    if not os.path.exists("/dev/full"):
        return
    with pytest.warns(RuntimeWarning, match="could not be written to /dev/full"):
        with record(path="/dev/full") as trace:
            assert effectpy.run(zip_par(succeed(1), succeed(2))) == (1, 2)
    assert len(trace.fibers()) == 3  # the trace in memory is whole


CHILD = textwrap.dedent("""
    import sys
    import effectpy
    from effectpy import for_each, sleep, yield_now, zip_par
    from effectpy.trace import record

    def round_(k):
        work = zip_par(*[yield_now.named(f"round-{k}")] * 3)
        return work.flat_map(lambda _: effectpy.sync(lambda: print(f"round {k} done", flush=True)))

    with record(path=sys.argv[1]):
        effectpy.run(for_each(range(10**9), lambda k: round_(k).flat_map(lambda _: sleep(0.001)),
                              discard=True))
""")


def test_a_process_killed_mid_run_leaves_a_loadable_trace_of_all_but_its_last_moments(tmp_path):
    """SIGKILL: no handler, no atexit, no flush. What the flusher handed to the OS (at
    least every second) is in the file; the load says the trace is truncated."""
    path = tmp_path / "killed.jsonl"
    with subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}) as child:
        try:
            assert child.stdout is not None
            for line in child.stdout:  # the run is under way ...
                if line.strip() == "round 5 done":
                    break
            deadline = time.monotonic() + 60
            while '"name": "round-5"' not in path.read_text():  # ... and round 5 is on disk
                assert time.monotonic() < deadline, "round 5 never reached the file"
                assert child.poll() is None
                time.sleep(0.05)
            assert child.poll() is None
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    trace = Trace.load(path)
    assert trace.truncated
    assert [e.seq for e in trace.events] == list(range(len(trace)))
    rounds = {f.name for f in trace.fibers() if f.name}
    assert {f"round-{k}" for k in range(6)} <= rounds
    assert all(f.outcome == "success" for f in trace.fibers() if f.name in {f"round-{k}" for k in range(5)})
    assert trace.leaks().fibers  # the root was still running when the process died
