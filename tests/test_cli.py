"""`python -m effectpy trace|render`: pictures from scripts and saved traces, clear errors,
exit codes scripts can rely on."""

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from effectpy.trace import Trace

GUIDE_RACE = textwrap.dedent("""
    from effectpy import race, sleep, succeed, acquire_release, sync

    def fetch(name, seconds):
        conn = acquire_release(succeed(name), lambda c: sync(lambda: None))
        return conn.flat_map(lambda _: sleep(seconds)).as_(name).named(name)

    main = race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4))
""")


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "effectpy", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_trace_a_script_main_effect_on_a_test_clock(tmp_path):
    script = tmp_path / "race_demo.py"
    script.write_text(GUIDE_RACE)
    out = cli("trace", script, "--svg", "a.svg", "--jsonl", "a.jsonl", "--perfetto", "a.json",
              "--test-clock", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "timeline:" in out.stdout and "leaks: none" in out.stdout
    ET.parse(tmp_path / "a.svg")
    trace = Trace.load(tmp_path / "a.jsonl")
    assert trace.clock == "TestClock"
    assert {f.name: f.outcome for f in trace.fibers() if f.name}["Backup"] == "success"
    # the same program on the virtual clock gives the same picture, byte for byte
    again = cli("trace", script, "--svg", "b.svg", "--test-clock", cwd=tmp_path)
    assert again.returncode == 0
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_trace_a_script_that_runs_itself_and_fails(tmp_path):
    script = tmp_path / "failing.py"
    script.write_text(textwrap.dedent("""
        import effectpy
        from effectpy import fail, zip_par, sleep
        effectpy.run(zip_par(sleep(0.001), fail("database down")))
    """))
    out = cli("trace", script, cwd=tmp_path)
    assert out.returncode == 1
    assert "database down" in out.stderr
    assert (tmp_path / "failing.trace.svg").exists()  # the default output, kept for the bug report


def test_render_a_saved_trace(tmp_path):
    script = tmp_path / "race_demo.py"
    script.write_text(GUIDE_RACE)
    traced = cli("trace", script, "--jsonl", "t.jsonl", "--svg", "traced.svg", "--test-clock", cwd=tmp_path)
    assert traced.returncode == 0
    out = cli("render", "t.jsonl", "--summary", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "t.svg").exists() and "fibers" in out.stdout
    # one title rule: the picture of a trace is the same, however it was made
    assert (tmp_path / "t.svg").read_text() == (tmp_path / "traced.svg").read_text()
    assert ">effectpy timeline</text>" in (tmp_path / "t.svg").read_text()


def test_clear_errors_and_exit_codes(tmp_path):
    missing = cli("trace", "nope.py", cwd=tmp_path)
    assert missing.returncode == 3 and "no script at nope.py" in missing.stderr
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    nothing = cli("trace", empty, cwd=tmp_path)
    assert nothing.returncode == 3 and "no effect was run" in nothing.stderr
    no_main = cli("trace", empty, "--test-clock", cwd=tmp_path)
    assert no_main.returncode == 3 and "needs a `main` effect" in no_main.stderr
    bad_main = tmp_path / "bad_main.py"
    bad_main.write_text("main = 42\n")
    wrong = cli("trace", bad_main, cwd=tmp_path)
    assert wrong.returncode == 3 and "expected an Effect" in wrong.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a trace\n")
    malformed = cli("render", bad, cwd=tmp_path)
    assert malformed.returncode == 3 and "not valid JSON" in malformed.stderr
    assert cli("render", "missing.jsonl", cwd=tmp_path).returncode == 3
    assert cli("frobnicate", cwd=tmp_path).returncode == 2
    assert cli("trace", cwd=tmp_path).returncode == 2


def test_cli_main_is_importable_without_side_effects():
    import effectpy.__main__ as cli_module
    assert cli_module.main(["render", str(Path("/nonexistent/x.jsonl"))]) == 3


def test_unreadable_and_unwritable_files_are_bad_input(tmp_path):
    script = tmp_path / "race_demo.py"
    script.write_text(GUIDE_RACE)
    (tmp_path / "adir").mkdir()
    assert cli("render", "adir", cwd=tmp_path).returncode == 3
    unwritable = cli("trace", script, "--test-clock", "--svg", "/nonexistent/dir/x.svg", cwd=tmp_path)
    assert unwritable.returncode == 3 and "cannot write" in unwritable.stderr
    assert cli("trace", script, "--jsonl", "t.jsonl", "--test-clock", cwd=tmp_path).returncode == 0
    text = (tmp_path / "t.jsonl").read_text().replace('"scope": 1', '"scope": "abc"')
    (tmp_path / "bad_data.jsonl").write_text(text)
    out = cli("render", "bad_data.jsonl", cwd=tmp_path)
    assert out.returncode == 3 and "line 3: data['scope'] of this scope_open event must be an int" in out.stderr


def test_trace_runs_any_script_as_main_with_its_arguments(tmp_path):
    """Like `python -m cProfile`: the script runs as __main__ with its own argv, and every
    effect run it makes is in the trace."""
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import sys
        import effectpy
        from effectpy import sleep, succeed, zip_par

        def main():
            n = int(sys.argv[1])
            for i in range(n):
                effectpy.run(zip_par(succeed(i), sleep(0)).named(f"run{i}"))
            print("argv:", sys.argv[1:])

        if __name__ == "__main__":
            main()
    """))
    out = cli("trace", script, "3", "-1.5", "-two words", "--svg", "app.svg", "--jsonl", "app.jsonl", "--", "--svg",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # a negative number, words with a space, and all after `--`, are the script's
    assert "argv: ['3', '-1.5', '-two words', '--svg']" in out.stdout
    ET.parse(tmp_path / "app.svg")
    roots = [f.name for f in Trace.load(tmp_path / "app.jsonl").fibers() if f.parent is None]
    assert roots == ["run0", "run1", "run2"]


def test_the_tour_traced_by_the_cli_gives_one_picture(tmp_path):
    out = cli("trace", ROOT / "examples" / "tour.py", "--svg", "tour.svg", "--jsonl", "tour.jsonl", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    ET.parse(tmp_path / "tour.svg")
    trace = Trace.load(tmp_path / "tour.jsonl")
    roots = [f for f in trace.fibers() if f.parent is None]
    assert len(roots) == 4  # the four stories, one after another on the tour's one clock
    assert [r.start for r in roots] == sorted(r.start for r in roots) and roots[-1].start > 0
    assert (tmp_path / "tour" / "race.svg").exists()  # the tour also wrote its own pictures


def test_test_clock_runs_main_and_explains_a_main_that_is_not_an_effect(tmp_path):
    script = tmp_path / "plain.py"
    script.write_text("def main():\n    print('hi')\n\nif __name__ == '__main__':\n    main()\n")
    out = cli("trace", script, "--test-clock", cwd=tmp_path)
    assert out.returncode == 3
    assert "main() returned NoneType, expected an Effect" in out.stderr
    assert "without it the script runs as __main__" in out.stderr


def test_ctrl_c_still_writes_the_trace_so_far(tmp_path):
    script = tmp_path / "stopped.py"
    script.write_text(textwrap.dedent("""
        import effectpy
        from effectpy import acquire_release, succeed, sync

        def stop():
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

        held = acquire_release(succeed("db"), lambda r: sync(lambda: print("released", r)))
        effectpy.run(held.flat_map(lambda _: sync(stop)).named("worker"))
    """))
    out = cli("trace", script, "--svg", "s.svg", "--jsonl", "s.jsonl", cwd=tmp_path)
    assert out.returncode == 130, out.stderr
    assert "released db" in out.stdout and "writing the trace recorded so far" in out.stderr
    ET.parse(tmp_path / "s.svg")
    trace = Trace.load(tmp_path / "s.jsonl")
    assert [r.released is not None for r in trace.resources()] == [True]


def test_the_pictures_come_from_a_bounded_recording_and_the_jsonl_holds_every_event(tmp_path):
    script = tmp_path / "many.py"
    script.write_text("import effectpy\nmain = effectpy.for_each_par(range(30), effectpy.succeed)\n")
    out = cli("trace", script, "--capacity", "10", "--svg", "m.svg", "--jsonl", "m.jsonl", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    saved = Trace.load(tmp_path / "m.jsonl")
    dropped = len(saved) - 10
    assert f"{dropped} oldest events dropped" in out.stdout and "m.jsonl (every event)" in out.stdout
    assert f"{dropped} events dropped" in (tmp_path / "m.svg").read_text()
    for bad in ("0", "lots"):
        wrong = cli("trace", script, "--capacity", bad, cwd=tmp_path)
        assert wrong.returncode == 2 and "expected a number of events >= 1" in wrong.stderr
    unwritable = cli("trace", script, "--jsonl", "/nonexistent/dir/t.jsonl", cwd=tmp_path)
    assert unwritable.returncode == 3 and "cannot write /nonexistent/dir/t.jsonl" in unwritable.stderr


FOREVER = textwrap.dedent("""
    import effectpy
    from effectpy import for_each, sleep, sync, yield_now, zip_par

    def round_(k):
        done = sync(lambda: print(f"round {k} done", flush=True))
        return zip_par(yield_now.named(f"round-{k}"), yield_now).flat_map(lambda _: done)

    main = for_each(range(10**9), lambda k: round_(k).flat_map(lambda _: sleep(0.001)), discard=True)
""")


def test_a_killed_trace_run_leaves_a_jsonl_that_render_draws_as_truncated(tmp_path):
    import os
    import signal
    import time

    script = tmp_path / "forever.py"
    script.write_text(FOREVER)
    command = [sys.executable, "-m", "effectpy", "trace", str(script), "--jsonl", "k.jsonl"]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if line.strip() == "round 3 done":
                    break
            deadline = time.monotonic() + 60
            while '"name": "round-3"' not in (tmp_path / "k.jsonl").read_text():
                assert time.monotonic() < deadline and child.poll() is None
                time.sleep(0.05)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=60)
    out = cli("render", "k.jsonl", "--summary", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "k.jsonl ends early (the process that wrote it died first)" in out.stderr
    assert "truncated" in out.stdout and "truncated" in (tmp_path / "k.svg").read_text()
# --- plain asyncio (--asyncio) and the standalone page (--html) -------------------------------

GATHER_LEAK = textwrap.dedent("""
    import asyncio

    async def fetch_user():
        await asyncio.sleep(0.001)
        raise ConnectionError("user service down")

    async def fetch_orders():
        await asyncio.sleep(10)

    async def main():
        try:
            await asyncio.gather(fetch_user(), fetch_orders())
        except ConnectionError:
            pass
""")


def test_trace_asyncio_runs_an_async_main_and_records_its_tasks(tmp_path):
    script = tmp_path / "leak.py"
    script.write_text(GATHER_LEAK)
    out = cli("trace", script, "--asyncio", "--jsonl", "a.jsonl", "--html", "a.html", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "page:" in out.stdout and "leaks: \n#3 fetch_orders outlived its parent #1 main" in out.stdout
    trace = Trace.load(tmp_path / "a.jsonl")
    assert [(f.name, f.parent, f.outcome) for f in trace.fibers()] == [
        ("main", None, "success"), ("fetch_user", 1, "failure"), ("fetch_orders", 1, "interrupted")]
    page = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<title>" in page


def test_trace_asyncio_records_a_script_that_runs_itself(tmp_path):
    script = tmp_path / "itself.py"
    script.write_text(GATHER_LEAK + "\nif __name__ == '__main__':\n    asyncio.run(main())\n")
    out = cli("trace", script, "--asyncio", "--jsonl", "b.jsonl", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [f.name for f in Trace.load(tmp_path / "b.jsonl").fibers()] == ["main", "fetch_user", "fetch_orders"]


def test_an_async_main_without_asyncio_says_what_to_pass(tmp_path):
    script = tmp_path / "leak.py"
    script.write_text(GATHER_LEAK)
    out = cli("trace", script, cwd=tmp_path)
    assert out.returncode == 3 and "pass --asyncio to run it with asyncio.run" in out.stderr
    out = cli("trace", script, "--asyncio", "--test-clock", cwd=tmp_path)
    assert out.returncode == 3 and "--test-clock cannot run" in out.stderr
    plain = tmp_path / "plain.py"
    plain.write_text("import asyncio\nasyncio.run(asyncio.sleep(0))\n")
    out = cli("trace", plain, cwd=tmp_path)
    assert out.returncode == 3 and "pass --asyncio to record plain asyncio tasks" in out.stderr


def test_render_writes_the_standalone_page(tmp_path):
    script = tmp_path / "race_demo.py"
    script.write_text(GUIDE_RACE)
    assert cli("trace", script, "--jsonl", "r.jsonl", "--test-clock", cwd=tmp_path).returncode == 0
    out = cli("render", "r.jsonl", "--html", "r.html", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == Trace.load(tmp_path / "r.jsonl").to_html()
    assert not (tmp_path / "r.svg").exists()  # --html alone writes no SVG


@pytest.mark.parametrize("argv", [
    ["trace", "app.py", "--svgg", "out.svg"],
    ["trace", "--jsnl", "out.jsonl", "app.py"],
    ["trace", "app.py", "--htm", "out.html"],  # no abbreviations either
])
def test_an_unknown_option_is_refused_not_passed_to_the_script(tmp_path, argv):
    (tmp_path / "app.py").write_text("import sys\nprint('ran', sys.argv[1:])\n")
    out = cli(*argv, cwd=tmp_path)
    assert out.returncode == 2 and "ran" not in out.stdout
    assert f"unrecognized option {argv[2] if argv[1] == 'app.py' else argv[1]}" in out.stderr
    assert "the script's own options go after --" in out.stderr
    assert out.stderr.startswith("usage: python -m effectpy trace SCRIPT.py")  # trace's own usage
