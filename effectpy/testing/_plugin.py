"""The effectpy pytest plugin (entry point ``pytest11``: ``effectpy``).

Fixtures ``test_clock``, ``effect_env`` and ``effect_trace``; when a test that used
``effect_trace`` fails, its trace is saved as a timeline SVG plus JSONL for the bug report
and the failure report says where. See `effectpy.testing`.

Data flows one way: the fixture records (``effectpy.trace.record``, keeping the last
`DEFAULT_CAPACITY` events unless the marker says otherwise) and leaves the `Trace` in the
item's stash; the report hook saves it only for a failed call and names the files in a
report section and in the report's ``user_properties`` (so junitxml and pytest-xdist see
them); the terminal summary lists them. Only public pytest APIs are used, and nothing is
kept in module globals: per-run state lives in ``config.stash`` / ``item.stash``.

The JSONL is written while the test runs (``record(path=...)``, into the trace directory),
so a test process that is killed (a hang stopped by CI, a crash) still leaves the trace of
the test it was running; the fixture deletes the file again unless the test failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from .._core._clock import Clock
from .._core._context import Context
from .._test_clock import TestClock
from ..trace import Trace, record
from ..trace._recorder import DEFAULT_CAPACITY
from . import DEFAULT_TRACE_DIR, trace_file_stem

# The trace of the running test, set by the effect_trace fixture.
_TRACE: Final = pytest.StashKey[Trace]()
# The JSONL the fixture writes while the test runs (None: it could not), and whether the
# report hook keeps it (the call failed).
_SPILL: Final = pytest.StashKey["Path | None"]()
_KEEP: Final = pytest.StashKey[bool]()
# Where traces of failing tests go (absolute), resolved once per run.
_TRACE_DIR: Final = pytest.StashKey[Path]()
# The user_properties names under which a report carries the saved files' paths.
SVG_PROPERTY: Final = "effectpy_trace_svg"
JSONL_PROPERTY: Final = "effectpy_trace_jsonl"
# Lines of `Trace.summary()` (with its diagnostics) shown in a failure report; the files
# have the rest.
SUMMARY_LINES: Final = 20


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("effectpy")
    group.addoption(
        "--effectpy-trace-dir", metavar="DIR", default=None,
        help=("where to save the timeline SVG and JSONL trace of each failing test that used "
              f"the effect_trace fixture (default: <rootdir>/{DEFAULT_TRACE_DIR}; a relative "
              "DIR is taken from the current directory)"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "effect_trace(**options): options for the effect_trace fixture, passed to "
                   "effectpy.trace.record() (capacity=, clock=, source=, path=, asyncio=)")
    option: str | None = config.getoption("effectpy_trace_dir")
    if option is None:
        directory = config.rootpath / DEFAULT_TRACE_DIR
    elif not option.strip():
        raise pytest.UsageError("--effectpy-trace-dir expects a directory, got an empty string")
    else:
        directory = config.invocation_params.dir / Path(option).expanduser()
    if directory.exists() and not directory.is_dir():
        raise pytest.UsageError(f"--effectpy-trace-dir expects a directory, got the file {directory}; "
                                "pass a directory (it is created when a traced test fails)")
    config.stash[_TRACE_DIR] = directory


@pytest.fixture(name="test_clock")
def fresh_test_clock() -> TestClock:
    """A fresh `effectpy.TestClock` at time 0: time moves only on ``advance``/``adjust``."""
    return TestClock()


@pytest.fixture
def effect_env(test_clock: TestClock) -> Context:
    """A `Context` providing the ``test_clock`` fixture as the `Clock`:
    ``effectpy.run(program.provide(effect_env))``."""
    return Context().with_service(Clock, test_clock)


@pytest.fixture
def effect_trace(request: pytest.FixtureRequest) -> Iterator[Trace]:
    """The live `Trace` of every effect run during the test (``effectpy.trace.record()``,
    keeping the last `DEFAULT_CAPACITY` events).

    If the test fails, the trace is saved as a timeline SVG and JSONL in
    ``--effectpy-trace-dir`` and the failure report says where; the JSONL is written as the
    test runs, so a killed test process leaves it too.
    ``@pytest.mark.effect_trace(capacity=..., source=True)`` passes options to ``record``
    (``capacity=None`` keeps every event in memory)."""
    marker = request.node.get_closest_marker("effect_trace")
    if marker is not None and marker.args:
        raise TypeError("@pytest.mark.effect_trace takes keyword options of effectpy.trace.record() "
                        f"(capacity=, clock=, source=, path=, asyncio=), got positional {marker.args!r}")
    options: dict[str, Any] = {"capacity": DEFAULT_CAPACITY, **(marker.kwargs if marker is not None else {})}
    node = request.node
    with contextlib.ExitStack() as stack:
        created: list[Path] = []
        spill = None if "path" in options else _spill_path(node, created)
        try:
            trace = stack.enter_context(record(**options) if spill is None else record(**options, path=spill))
        except OSError:  # (the directory vanished: an xdist worker's passing test removed it)
            spill, trace = None, stack.enter_context(record(**options))
        stack.callback(_discard_unless_kept, node, spill, created)
        node.stash[_TRACE], node.stash[_SPILL] = trace, spill
        yield trace


def _spill_path(node: pytest.Item, created: list[Path]) -> Path | None:
    """Where the test's JSONL goes as it runs, its directory made (noting in ``created``
    the directories made, innermost first), or None if it cannot be."""
    directory: Path = node.config.stash[_TRACE_DIR]
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    created += missing
    return directory / f"{trace_file_stem(node.nodeid)}.trace.jsonl"


def _discard_unless_kept(node: pytest.Item, spill: Path | None, created: list[Path]) -> None:
    """After the recording ended: the JSONL stays only for a failed call (whose report
    named it); otherwise it goes, with the directories made for it if they are empty."""
    if spill is None or node.stash.get(_KEEP, False):
        return
    spill.unlink(missing_ok=True)
    for directory in created:
        try:
            directory.rmdir()
        except OSError:  # not empty: another test's traces are there
            return


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
        item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # tryfirst makes this the outermost wrapper, so it sees the final outcome (after xfail).
    report = yield
    if report.when == "call" and report.failed:
        trace = item.stash.get(_TRACE, None)
        if trace is not None:
            report.sections.append(("effectpy trace", _save(item, report, trace)))
    return report


def _save(item: pytest.Item, report: pytest.TestReport, trace: Trace) -> str:
    """Save a failed test's trace; what to say in its report (never raises: the test's own
    failure is what matters)."""
    summary = _shortened(trace.summary().splitlines())
    if not len(trace):
        return "\n".join(["effect_trace recorded no events, so no trace files were written.", *summary])
    directory = item.config.stash[_TRACE_DIR]
    stem = trace_file_stem(item.nodeid)
    lines = ["The effect trace of this failed test, for the bug report:"]
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        lines.append(f"  not saved: cannot create {directory} ({exc})")
        return "\n".join([*lines, *summary])
    spilled = item.stash.get(_SPILL, None)
    if spilled is not None:
        item.stash[_KEEP] = True  # (written as the test ran; the fixture completes it)

    def save_jsonl(path: Path) -> Path:
        return spilled if spilled is not None else trace.save_jsonl(path)

    writers: list[tuple[str, str, str, Callable[[Path], Path]]] = [
        ("timeline", ".svg", SVG_PROPERTY, lambda path: trace.save_svg(path, title=item.nodeid)),
        ("events  ", ".trace.jsonl", JSONL_PROPERTY, save_jsonl),
    ]
    for label, suffix, prop, save in writers:
        try:
            path = save(directory / f"{stem}{suffix}")
        except Exception as exc:  # noqa: BLE001 - a renderer bug must not hide the test's failure
            lines.append(f"  {label}  not written ({type(exc).__name__}: {exc})")
            continue
        shown = _shown(path, item.config)
        lines.append(f"  {label}  {shown}")
        report.user_properties.append((prop, shown))
        item.user_properties.append((prop, shown))  # reaches junitxml (teardown report)
    return "\n".join([*lines, *summary])


def _shortened(summary: list[str]) -> list[str]:
    """At most SUMMARY_LINES lines of a summary: the failures listed in the middle give way
    first, so that what points at the bug (the diagnostics, the leaks) is always shown."""
    if len(summary) <= SUMMARY_LINES:
        return summary
    tail = next((i for i, line in enumerate(summary)
                 if line.startswith(("resources:", "diagnostics:", "leaks:"))), len(summary))
    keep = max(SUMMARY_LINES - 1 - (len(summary) - tail), 2)
    if keep < tail:
        summary = [*summary[:keep], f"  ... {tail - keep} more failures (see the JSONL)", *summary[tail:]]
    if len(summary) > SUMMARY_LINES:
        summary[SUMMARY_LINES:] = [f"... {len(summary) - SUMMARY_LINES} more lines (see the JSONL)"]
    return summary


def _shown(path: Path, config: pytest.Config) -> str:
    """``path`` relative to where pytest was started if it is under it, else absolute."""
    try:
        return str(path.relative_to(config.invocation_params.dir))
    except ValueError:
        return str(path)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the saved traces at the end, so they show with ``--tb=no`` or ``-q`` too."""
    saved: dict[str, list[str]] = {}
    for report in terminalreporter.stats.get("failed", []):
        if getattr(report, "when", None) == "call":
            for name, value in getattr(report, "user_properties", ()):
                if name in (SVG_PROPERTY, JSONL_PROPERTY):
                    saved.setdefault(report.nodeid, []).append(str(value))
    if not saved:
        return
    terminalreporter.write_sep("-", "effectpy traces of failed tests")
    for nodeid, paths in saved.items():
        terminalreporter.write_line(nodeid)
        for path in paths:
            terminalreporter.write_line(f"    {path}")
