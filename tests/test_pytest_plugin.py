"""The pytest plugin (effectpy/testing/_plugin.py) and the `effectpy.testing` helpers.

Most tests run an inner pytest session with `pytester` (in process, so the entry-point
plugin is loaded the way users get it) and look at its files and terminal output.
"""

import asyncio
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import effectpy
import effectpy.testing
from effectpy import Clock, Context, TestClock, race, service, sleep, succeed, zip_par
from effectpy.testing import DEFAULT_TRACE_DIR, trace_file_stem
from effectpy.trace import Trace

pytest_plugins = ["pytester"]

# A failing test whose trace tells a story: a race under a TestClock.
FAILING_RACE = """
import effectpy
from effectpy import race, sleep, zip_par

def test_race(test_clock, effect_env, effect_trace):
    program = race(sleep(0.3).as_("slow").named("slow"), sleep(0.2).as_("fast").named("fast"))
    result = effectpy.run(zip_par(program, test_clock.adjust(1)).provide(effect_env))
    assert result == ("slow", None)
"""

SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _svg_is_available() -> None:
    if not hasattr(Trace, "save_svg"):
        pytest.skip("Trace.save_svg (the timeline renderer, effectpy/trace/_timeline.py) is not in "
                    "this checkout yet; the JSONL part of this test ran")


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """An inner project configured like ours: warnings are errors."""
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    return pytester


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- the plugin is registered -----------------------------------------------------------


def test_registered_through_the_pytest11_entry_point(pytestconfig: pytest.Config) -> None:
    (ep,) = [ep for ep in entry_points(group="pytest11") if ep.name == "effectpy"]
    assert ep.value == "effectpy.testing._plugin"
    import effectpy.testing._plugin as plugin
    assert pytestconfig.pluginmanager.get_plugin("effectpy") is plugin


def test_option_is_in_help(inner: pytest.Pytester) -> None:
    result = inner.runpytest("--help")
    result.stdout.fnmatch_lines(["*--effectpy-trace-dir=DIR*"])


# --- fixtures, used directly ------------------------------------------------------------


def test_test_clock_is_a_fresh_test_clock(test_clock: TestClock) -> None:
    assert isinstance(test_clock, TestClock)
    assert test_clock.now() == 0.0 and test_clock.pending_sleeps == 0


def test_effect_env_provides_the_test_clock(test_clock: TestClock, effect_env: Context) -> None:
    assert effectpy.run(service(Clock).provide(effect_env)) is test_clock
    result = effectpy.run(zip_par(sleep(5).as_("woke"), test_clock.adjust(5)).provide(effect_env))
    assert result == ("woke", None)
    assert test_clock.now() == 5.0


def test_fixtures_with_asyncio_run(test_clock: TestClock, effect_env: Context) -> None:
    """The README's pattern for async code: plain asyncio.run inside a sync test."""
    async def main() -> object:
        task = asyncio.create_task(sleep(60).as_("done")._run(effect_env))
        test_clock.advance(60)  # time moves once the task has started and suspended
        return await task
    assert asyncio.run(main()) == "done"
    assert test_clock.now() == 60.0


def test_effect_trace_records_the_test_in_virtual_time(
        test_clock: TestClock, effect_env: Context, effect_trace: Trace) -> None:
    program = race(sleep(0.3).as_("slow").named("slow"), sleep(0.2).as_("fast").named("fast"))
    effectpy.run(zip_par(program, test_clock.adjust(1)).provide(effect_env))
    assert effect_trace.clock == "TestClock"
    outcomes = {f.name: (f.outcome, f.end) for f in effect_trace.fibers() if f.name in ("slow", "fast")}
    assert outcomes == {"slow": ("interrupted", 0.2), "fast": ("success", 0.2)}


@pytest.mark.effect_trace(capacity=3)
def test_marker_passes_options_to_record(effect_trace: Trace) -> None:
    effectpy.run(zip_par(succeed(1), succeed(2)))
    assert len(effect_trace.events) == 3 and effect_trace.dropped > 0


def test_marker_rejects_positional_options(inner: pytest.Pytester) -> None:
    inner.makepyfile("""
        import pytest

        @pytest.mark.effect_trace(10)
        def test_it(effect_trace):
            pass
    """)
    result = inner.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*takes keyword options of effectpy.trace.record()*got positional (10,)*"])


# --- failing tests save their trace -----------------------------------------------------


def test_failing_test_saves_svg_and_jsonl_where_the_option_says(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_race=FAILING_RACE)
    result = inner.runpytest("--effectpy-trace-dir", "reports/traces")
    result.assert_outcomes(failed=1)
    out = inner.path / "reports" / "traces"
    stem = trace_file_stem("test_race.py::test_race")
    assert _files(out) == [f"{stem}.svg", f"{stem}.trace.jsonl"]
    # The failing test's report says where, with the trace's summary.
    result.stdout.fnmatch_lines([
        "*_ test_race _*",
        "*AssertionError*",
        "*- effectpy trace -*",
        "The effect trace of this failed test, for the bug report:",
        f"  timeline  reports/traces/{stem}.svg",
        f"  events    reports/traces/{stem}.trace.jsonl",
        "*fibers over 1 s (TestClock clock)",
        "fibers: *1 interrupted*",
        "leaks: none",
        "*- effectpy traces of failed tests -*",
        "test_race.py::test_race",
        f"    reports/traces/{stem}.svg",
        f"    reports/traces/{stem}.trace.jsonl",
        "*1 failed*",
    ])
    trace = Trace.load(out / f"{stem}.trace.jsonl")
    assert trace.clock == "TestClock"
    outcomes = {f.name: f.outcome for f in trace.fibers() if f.name in ("slow", "fast")}
    assert outcomes == {"slow": "interrupted", "fast": "success"}
    _svg_is_available()
    svg = ET.parse(out / f"{stem}.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert "test_race.py::test_race" in (out / f"{stem}.svg").read_text(encoding="utf-8")


def test_default_directory_is_effectpy_traces_under_the_rootdir(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_race=FAILING_RACE)
    inner.runpytest().assert_outcomes(failed=1)
    stem = trace_file_stem("test_race.py::test_race")
    assert _files(inner.path / DEFAULT_TRACE_DIR) == [f"{stem}.svg", f"{stem}.trace.jsonl"]


def test_absolute_directory_is_shown_absolute(inner: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("elsewhere") / "traces"
    inner.makepyfile(test_race=FAILING_RACE)
    result = inner.runpytest(f"--effectpy-trace-dir={out}")
    stem = trace_file_stem("test_race.py::test_race")
    result.stdout.fnmatch_lines([f"  events    {out / stem}.trace.jsonl"])
    assert len(_files(out)) == 2


def test_names_are_safe_and_unique_for_parametrized_node_ids(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_ids="""
        import pytest, effectpy

        IDS = ["a/b", "a_b", "x::y", "../../up", "[nested]", "sp ace", "caf\\u00e9", "*?"]

        class TestIds:
            @pytest.mark.parametrize("v", IDS, ids=IDS)
            def test_p(self, effect_trace, v):
                effectpy.run(effectpy.succeed(v))
                assert False
    """)
    recorded = inner.inline_run("--effectpy-trace-dir", "out")
    failed = recorded.getfailures("pytest_runtest_logreport")
    assert len(failed) == 8
    nodeids = [r.nodeid for r in failed]
    assert "test_ids.py::TestIds::test_p[a/b]" in nodeids and "test_ids.py::TestIds::test_p[x::y]" in nodeids
    out = inner.path / "out"
    names = _files(out)
    assert all(p.is_file() for p in out.iterdir())  # nothing escaped into a subdirectory
    assert not any(p.name.endswith((".svg", ".jsonl")) for p in inner.path.iterdir())
    assert not (inner.path.parent / "up").exists()
    expected = sorted(trace_file_stem(n) + suffix for n in nodeids for suffix in (".svg", ".trace.jsonl"))
    assert names == expected and len(set(names)) == 16
    for name in names:
        assert SAFE_NAME.fullmatch(name), name
        assert not name.startswith(("-", ".")), name
    # Each report names its own files, and junitxml gets them as properties.
    for report in failed:
        props = dict(report.user_properties)
        assert props["effectpy_trace_jsonl"] == f"out/{trace_file_stem(report.nodeid)}.trace.jsonl"


def test_shows_with_tb_no_and_show_capture_no(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_race=FAILING_RACE)
    stem = trace_file_stem("test_race.py::test_race")
    for flags in (["--tb=no"], ["--show-capture=no"], ["-q"]):
        result = inner.runpytest(*flags)
        result.stdout.fnmatch_lines(["*- effectpy traces of failed tests -*", f"    effectpy-traces/{stem}.svg"])


def test_junitxml_gets_the_paths_as_properties(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_race=FAILING_RACE)
    inner.runpytest("--junitxml=report.xml", "-o", "junit_family=xunit1").assert_outcomes(failed=1)
    root = ET.parse(inner.path / "report.xml").getroot()
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    stem = trace_file_stem("test_race.py::test_race")
    assert props == {"effectpy_trace_svg": f"effectpy-traces/{stem}.svg",
                     "effectpy_trace_jsonl": f"effectpy-traces/{stem}.trace.jsonl"}


# --- what writes nothing ----------------------------------------------------------------


def test_passing_and_untraced_and_xfailed_tests_write_nothing(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_quiet="""
        import pytest, effectpy

        def test_passes(effect_trace):
            assert effectpy.run(effectpy.succeed(1)) == 1

        def test_fails_without_the_fixture():
            effectpy.run(effectpy.succeed(1))
            assert False

        @pytest.mark.xfail(strict=True)
        def test_xfails(effect_trace):
            effectpy.run(effectpy.succeed(1))
            assert False

        def test_fails_in_teardown_only(effect_trace, request):
            effectpy.run(effectpy.succeed(1))
            def boom():
                raise RuntimeError("teardown")
            request.addfinalizer(boom)
    """)
    result = inner.runpytest("-rA")
    result.assert_outcomes(passed=2, failed=1, xfailed=1, errors=1)
    assert not (inner.path / DEFAULT_TRACE_DIR).exists()
    assert "effectpy trace" not in result.stdout.str()


def test_failing_test_with_an_empty_trace_writes_nothing_and_says_so(inner: pytest.Pytester) -> None:
    inner.makepyfile("""
        def test_it(effect_trace):
            assert False
    """)
    result = inner.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- effectpy trace -*", "effect_trace recorded no events, so no trace files were written."])
    assert not (inner.path / DEFAULT_TRACE_DIR).exists()


# --- errors -----------------------------------------------------------------------------


def test_a_renderer_error_keeps_the_jsonl_and_the_test_failure(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_it="""
        import effectpy
        from effectpy.trace import Trace

        def test_it(effect_trace, monkeypatch):
            def broken(self, path, **kwargs):
                raise ValueError("renderer bug")
            monkeypatch.setattr(Trace, "save_svg", broken, raising=False)
            effectpy.run(effectpy.succeed(1))
            assert False, "the test's own failure"
    """)
    result = inner.runpytest()
    result.assert_outcomes(failed=1)
    stem = trace_file_stem("test_it.py::test_it")
    result.stdout.fnmatch_lines([
        "*AssertionError: the test's own failure*",
        "  timeline  not written (ValueError: renderer bug)",
        f"  events    effectpy-traces/{stem}.trace.jsonl",
    ])
    assert _files(inner.path / DEFAULT_TRACE_DIR) == [f"{stem}.trace.jsonl"]


def test_an_unusable_directory_is_reported_not_raised(inner: pytest.Pytester) -> None:
    (inner.path / "blocker").write_text("a file, not a directory")
    inner.makepyfile(test_race=FAILING_RACE)
    result = inner.runpytest("--effectpy-trace-dir", "blocker/traces")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not saved: cannot create *blocker*traces*"])


@pytest.mark.parametrize(("value", "message"), [
    ("", "*--effectpy-trace-dir expects a directory, got an empty string*"),
    ("afile", "*--effectpy-trace-dir expects a directory, got the file *afile*"),
])
def test_bad_option_values_are_usage_errors(inner: pytest.Pytester, value: str, message: str) -> None:
    (inner.path / "afile").write_text("")
    inner.makepyfile("def test_ok():\n    pass\n")
    result = inner.runpytest(f"--effectpy-trace-dir={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# --- effectpy.testing -------------------------------------------------------------------


def test_testing_module_exports_exactly_its_all() -> None:
    ns: dict[str, object] = {}
    exec("from effectpy.testing import *", ns)  # noqa: S102 - the star import under test
    ns.pop("__builtins__")
    assert sorted(ns) == sorted(effectpy.testing.__all__) == ["DEFAULT_TRACE_DIR", "trace_file_stem"]


def test_importing_testing_imports_neither_pytest_nor_anything_heavy() -> None:
    code = (
        "import sys, effectpy.testing\n"
        "assert 'pytest' not in sys.modules, 'effectpy.testing imported pytest'\n"
        "import effectpy.testing._plugin\n"
        "heavy = ('IPython', 'ipywidgets', 'graphviz', 'trio', 'jupyter_core', 'opentelemetry')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_trace_file_stem() -> None:
    assert trace_file_stem("t.py::test_x") == trace_file_stem("t.py::test_x")  # stable
    assert trace_file_stem("t.py::test_x[a/b]") != trace_file_stem("t.py::test_x[a_b]")
    long = trace_file_stem("tests/" + "d/" * 200 + "test_long.py::test_it[" + "p" * 300 + "]")
    assert len(long) <= 130 and SAFE_NAME.fullmatch(long)
    assert re.fullmatch(r"p+-[0-9a-f]{8}", long)  # the tail (the test's parameters) is kept
    assert SAFE_NAME.fullmatch(trace_file_stem("::[]///"))  # nothing readable left: just the hash
    with pytest.raises(TypeError, match="expects a pytest node id"):
        trace_file_stem(42)  # type: ignore[arg-type]


# --- bounded, and written as the test runs ----------------------------------------------


def test_the_trace_is_bounded_and_the_saved_jsonl_holds_every_event(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_many="""
        import pytest, effectpy

        @pytest.mark.effect_trace(capacity=5)
        def test_many(effect_trace):
            effectpy.run(effectpy.for_each_par(range(20), effectpy.succeed))
            assert False

        def test_default_bound(effect_trace):
            from effectpy.trace._recorder import DEFAULT_CAPACITY
            assert effect_trace._recorder._capacity == DEFAULT_CAPACITY
    """)
    inner.runpytest().assert_outcomes(failed=1, passed=1)
    stem = trace_file_stem("test_many.py::test_many")
    out = inner.path / DEFAULT_TRACE_DIR
    assert _files(out) == [f"{stem}.svg", f"{stem}.trace.jsonl"]
    saved = Trace.load(out / f"{stem}.trace.jsonl")
    assert not saved.truncated and len(saved) > 40
    assert f"{len(saved) - 5} events dropped" in (out / f"{stem}.svg").read_text(encoding="utf-8")


def test_a_killed_test_process_leaves_the_trace_of_the_test_it_was_running(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_hangs="""
        import effectpy

        def test_hangs(effect_trace):
            def ready():
                print("the test is under way", flush=True)
            effectpy.run(effectpy.zip_par(effectpy.sync(ready).named("ready"), effectpy.never.named("stuck")))
    """)
    stem = trace_file_stem("test_hangs.py::test_hangs")
    saved = inner.path / DEFAULT_TRACE_DIR / f"{stem}.trace.jsonl"
    command = [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "test_hangs.py"]
    with subprocess.Popen(command, cwd=inner.path, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if "the test is under way" in line:
                    break
            deadline = time.monotonic() + 60
            while not saved.exists() or '"name": "stuck"' not in saved.read_text():
                assert time.monotonic() < deadline and child.poll() is None
                time.sleep(0.05)
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=60)
    trace = Trace.load(saved)
    assert trace.truncated
    assert {f.name: f.outcome for f in trace.fibers() if f.name} == {"ready": "success", "stuck": None}
def test_a_long_summary_keeps_what_points_at_the_bug() -> None:
    from effectpy.testing._plugin import SUMMARY_LINES, _shortened

    failures = [f"  {i}s #{i}: fail 'boom'" for i in range(40)]
    tail = ["resources: 1 acquired, 0 released", "diagnostics:", "  leak: #3 outlived its parent #1",
            "leaks: ", "resource 1 never released"]
    shown = _shortened(["9 events, 3 fibers", "fibers: 40 failure", *failures, *tail])
    assert len(shown) == SUMMARY_LINES
    assert shown[:3] == ["9 events, 3 fibers", "fibers: 40 failure", failures[0]]
    assert shown[-len(tail):] == tail
    assert shown[-len(tail) - 1] == f"  ... {40 - (SUMMARY_LINES - 1 - len(tail) - 2)} more failures (see the JSONL)"
    short = ["1 fibers", "fibers: 1 success", "leaks: none"]
    assert _shortened(short) == short
