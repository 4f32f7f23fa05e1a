"""The %%effect cell magic, driven headless through IPython's InteractiveShell."""

import asyncio
import re
import signal
import threading
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("IPython")

from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

import effectpy  # noqa: E402
from effectpy.trace import Trace  # noqa: E402


@pytest.fixture
def shell():
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "effectpy")
    yield sh
    InteractiveShell.clear_instance()


RACE = """
from effectpy import race, sleep
def fetch(name, seconds):
    return sleep(seconds).as_(name).named(name)
race(fetch("Primary", 0.3), fetch("Backup", 0.2))  # the cell's effect
"""


def test_the_cell_value_is_the_effects_value_and_the_trace_is_kept(shell, tmp_path):
    svg = tmp_path / "race.svg"
    value = shell.run_cell_magic("effect", f"--test-clock --name tr --svg {svg} --no-widget", RACE)
    assert value == "Backup"
    trace = shell.user_ns["tr"]
    assert isinstance(trace, Trace) and trace.clock == "TestClock"
    assert {f.name: f.outcome for f in trace.fibers() if f.name}["Primary"] == "interrupted"
    ET.parse(svg)


def test_same_cell_on_the_test_clock_gives_the_same_picture(shell, tmp_path):
    for name in ("a", "b"):
        shell.run_cell_magic("effect", f"--test-clock --no-widget --svg {tmp_path / name}.svg", RACE)
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_top_level_await_and_statements_before_the_effect(shell):
    cell = "import asyncio\nawait asyncio.sleep(0)\nx = 20\neffectpy.succeed(x).map(lambda v: v + 1)\n"
    shell.user_ns["effectpy"] = effectpy
    assert shell.run_cell_magic("effect", "--no-widget", cell) == 21


def test_a_failing_effect_reports_its_cause_and_raises(shell):
    with pytest.raises(effectpy.Failure) as info:
        shell.run_cell_magic("effect", "--no-widget --name failed", "import effectpy\neffectpy.fail('boom')")
    assert info.value.error == "boom"
    assert any(e.kind == "fail" for e in shell.user_ns["failed"].events)


def test_a_cell_without_an_effect_is_a_clear_error(shell):
    with pytest.raises(ValueError, match="last line must be an expression"):
        shell.run_cell_magic("effect", "", "x = 1")
    with pytest.raises(TypeError, match="expected an Effect"):
        shell.run_cell_magic("effect", "--no-widget", "42")


def test_displays_the_live_widget_then_its_final_fallbacks_and_the_tree(shell):
    pytest.importorskip("anywidget")
    shown = []
    shell.display_pub.publish = lambda data, **kw: shown.append((data, kw))
    shell.run_cell_magic("effect", "--test-clock --tree", RACE)
    first, update, tree = shown
    widget_view = "application/vnd.jupyter.widget-view+json"
    # the widget is shown before the run (empty), then its display is updated with the whole run
    assert widget_view in first[0] and widget_view in update[0]
    assert update[1]["update"] and update[1]["transient"] == first[1]["transient"]
    assert first[0]["text/plain"].startswith("TimelineWidget: 0 fibers")
    assert update[0]["text/plain"].splitlines()[:2] == ["TimelineWidget: 3 fibers",
                                                         "fibers: 1 interrupted, 2 success"]
    assert "Backup" in update[0]["image/svg+xml"]
    assert "race" in tree[0]["image/svg+xml"] and widget_view not in tree[0]


def test_no_widget_shows_the_static_timeline(shell):
    shown = []
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    shell.run_cell_magic("effect", "--test-clock --no-widget", RACE)
    [only] = shown
    assert "Backup" in only["image/svg+xml"] and "application/vnd.jupyter.widget-view+json" not in only


def test_importing_effectpy_does_not_import_ipython():
    import subprocess
    import sys
    code = "import sys, effectpy; assert not {'IPython', 'ipywidgets', 'anywidget'} & set(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_inside_a_running_event_loop_the_run_is_still_recorded(shell):
    """In a Jupyter kernel a loop is running: the effect runs in a worker thread, which
    must see the recorder (a context variable)."""
    import asyncio

    async def in_kernel():
        return shell.run_cell_magic("effect", "--test-clock --no-widget --name tr", RACE)

    assert asyncio.run(in_kernel()) == "Backup"
    assert len(shell.user_ns["tr"].fibers()) == 3



# --- cells run as a user runs them: through shell.run_cell ----------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def in_kernel(fn):
    """Call ``fn()`` as a Jupyter kernel runs a cell: with an event loop running in this thread."""
    async def cell():
        return fn()
    return asyncio.run(cell())


def shown_tracebacks(shell):
    """The tracebacks IPython shows (ANSI colours removed), one string each."""
    shown = []
    shell._showtraceback = lambda etype, evalue, stb: shown.append(ANSI.sub("", "\n".join(stb)))
    return shown


@pytest.mark.parametrize("where", ["terminal", "kernel"])
def test_the_cell_value_is_run_cells_result_and_underscore(shell, where):
    cell = ("%%effect --no-widget\nimport asyncio, effectpy\nawait asyncio.sleep(0)\nx = 41\n"
            "effectpy.succeed(x).map(lambda v: v + 1)\n")
    run = lambda: shell.run_cell(cell, store_history=True)  # noqa: E731
    result = run() if where == "terminal" else in_kernel(run)
    assert result.success and result.result == 42
    assert shell.user_ns["_"] == 42 and shell.user_ns["x"] == 41


def test_a_text_only_frontend_shows_only_the_final_summary(shell):
    pytest.importorskip("anywidget")
    shell.display_formatter.active_types = ["text/plain"]  # as in a terminal
    shown = []
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    assert shell.run_cell(f"%%effect --test-clock\n{RACE}").result == "Backup"
    [only] = shown  # no widget shown empty before the run
    assert only["text/plain"].splitlines()[:2] == ["%%effect: 3 fibers", "fibers: 1 interrupted, 2 success"]


@pytest.mark.parametrize("where", ["terminal", "kernel"])
def test_a_defect_in_the_effect_has_no_chained_internals(shell, where):
    shown = shown_tracebacks(shell)
    cell = "%%effect --no-widget\nimport effectpy\neffectpy.sync(lambda: 1 / 0)\n"
    run = lambda: shell.run_cell(cell)  # noqa: E731
    error = (run() if where == "terminal" else in_kernel(run)).error_in_exec
    assert isinstance(error, effectpy.Failure)
    [defect] = error.cause.defects()
    assert isinstance(defect, ZeroDivisionError)
    for exc in (error, defect):
        assert exc.__cause__ is None and exc.__context__ is None
    [text] = shown
    assert "ZeroDivisionError: division by zero" in text and "1 / 0" in text
    assert "no running event loop" not in text and "During handling" not in text


@pytest.mark.parametrize("where", ["terminal", "kernel"])
@pytest.mark.parametrize("awaits", [False, True])
def test_an_error_in_the_cell_body_is_shown_once_from_the_users_code(shell, where, awaits):
    shown = shown_tracebacks(shell)
    wait = "await asyncio.sleep(0)\n" if awaits else ""
    cell = f"%%effect --no-widget\nimport asyncio, effectpy\n{wait}1 / 0\neffectpy.unit\n"
    run = lambda: shell.run_cell(cell)  # noqa: E731
    error = (run() if where == "terminal" else in_kernel(run)).error_in_exec
    assert isinstance(error, ZeroDivisionError)
    assert error.__cause__ is None and error.__context__ is None
    [text] = shown  # once: no inner run_cell showing it first
    frames = [ln for ln in text.splitlines() if ln.startswith(("File ", "Cell "))]
    # the cell that called the magic, then the cell's own code (the line counts %%effect)
    assert frames == ["Cell In[1], line 1", f"Cell In[1], line {4 if awaits else 3}"]
    assert "----> " + str(4 if awaits else 3) + " 1 / 0" in text
    for internal in ("_magic.py", "no running event loop", "During handling"):
        assert internal not in text


STOPPED = """
import signal, effectpy
from effectpy import acquire_release, never, sync

def ctrl_c():
    if how == "signal":  # SIGINT, as the terminal sends on Ctrl-C
        signal.raise_signal(signal.SIGINT)
    elif how == "raise":
        raise KeyboardInterrupt
    else:  # another thread will press Ctrl-C
        started.set()

acquire_release(sync(lambda: "conn"), lambda conn: sync(lambda: released.append(conn)),
                lambda conn: sync(ctrl_c).flat_map(lambda _: never))
"""


def check_the_stopped_run_was_kept(shell, tmp_path, stopped, shown, released):
    assert released == ["conn"]  # the run's finalizers ran
    assert stopped.value.__cause__ is None and stopped.value.__traceback__ is not None
    assert stopped.value.__context__ is None or stopped.value.__suppress_context__
    trace = shell.user_ns["tr"]
    assert isinstance(trace, Trace) and [f.outcome for f in trace.fibers()] in (["interrupted"], ["failure"])
    assert [r.released is not None for r in trace.resources()] == [True]
    svg = (tmp_path / "t.svg").read_text()
    ET.fromstring(svg)
    # the pictures' title is the one every renderer gives this trace, marked
    assert ">effectpy timeline (interrupted by Ctrl-C)</text>" in svg
    assert Trace.load(tmp_path / "t.jsonl") == trace and (tmp_path / "t.json").exists()
    [final] = [data for data in shown if "text/plain" in data]
    assert final["text/plain"].startswith(("tr (interrupted by Ctrl-C): 1 fibers",
                                           "TimelineWidget effectpy timeline (interrupted by Ctrl-C): 1 fibers"))


@pytest.mark.parametrize("how", ["signal", "raise"])
@pytest.mark.parametrize("widget", [False, True])
def test_ctrl_c_during_the_run_keeps_its_trace_then_raises(shell, tmp_path, how, widget):
    if widget:
        pytest.importorskip("anywidget")
    shown, released = [], []
    shell.display_pub.publish = lambda data, **kw: shown.append(data) if kw.get("update") or not widget else None
    shell.user_ns.update(how=how, released=released)
    files = f"--svg {tmp_path / 't.svg'} --jsonl {tmp_path / 't.jsonl'} --perfetto {tmp_path / 't.json'}"
    with pytest.raises(KeyboardInterrupt) as stopped:
        shell.run_cell_magic("effect", f"--name tr {files}" + ("" if widget else " --no-widget"), STOPPED)
    check_the_stopped_run_was_kept(shell, tmp_path, stopped, shown, released)


def test_ctrl_c_then_a_failing_finalizer_raises_that_failure_and_keeps_the_trace(shell, tmp_path):
    """As in plain Python, where a ``finally`` that raises replaces the KeyboardInterrupt."""
    shown = []
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    cell = ("import signal\n"
            "from effectpy import acquire_release, never, sync\n"
            "def close(conn):\n"
            "    raise OSError(f'cannot close {conn}')\n"
            "acquire_release(sync(lambda: 'conn'), lambda conn: sync(lambda: close(conn)),\n"
            "                lambda conn: sync(lambda: signal.raise_signal(signal.SIGINT)).flat_map(lambda _: never))\n")
    with pytest.raises(effectpy.Failure) as failed:
        shell.run_cell_magic("effect", f"--no-widget --name tr --svg {tmp_path / 't.svg'}", cell)
    assert failed.value.cause.interruptors() == ["host"]
    [defect] = failed.value.cause.defects()
    assert str(defect) == "cannot close conn" and "cannot close conn" in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__
    assert ">effectpy timeline (interrupted by Ctrl-C)</text>" in (tmp_path / "t.svg").read_text()
    assert shown[-1]["text/plain"].startswith("tr (interrupted by Ctrl-C): 1 fibers")
    assert shell.user_ns["tr"].resources()[0].released is not None


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill")
def test_ctrl_c_in_a_kernel_interrupts_the_worker_thread_and_keeps_the_trace(shell, tmp_path):
    """In a kernel the effect runs in a worker thread while this thread waits; Ctrl-C raises
    KeyboardInterrupt here (ipykernel lets SIGINT raise it while a cell runs)."""
    started, released, shown = threading.Event(), [], []
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    shell.user_ns.update(how="thread", started=started, released=released)
    main = threading.get_ident()
    presser = threading.Thread(target=lambda: started.wait() and signal.pthread_kill(main, signal.SIGINT))
    files = f"--svg {tmp_path / 't.svg'} --jsonl {tmp_path / 't.jsonl'} --perfetto {tmp_path / 't.json'}"

    def cell():
        previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as ipykernel does
        try:
            with pytest.raises(KeyboardInterrupt) as stopped:
                presser.start()
                shell.run_cell_magic("effect", f"--no-widget --name tr {files}", STOPPED)
            return stopped
        finally:
            signal.signal(signal.SIGINT, previous)
            presser.join()

    stopped = in_kernel(cell)
    check_the_stopped_run_was_kept(shell, tmp_path, stopped, shown, released)


def test_messages_name_fibers_by_their_trace_ids(shell):
    effectpy.run(effectpy.zip_par(effectpy.unit, effectpy.unit))  # runtime fiber ids now pass 1
    shown = []
    shell.display_pub.publish = lambda data, **kw: shown.append(data)
    cell = ("from effectpy import never\n"
            "stop_the_worker = never.named('worker').fork().flat_map(\n"
            "    lambda worker: worker.interrupt().flat_map(lambda _: worker.join()))\n"
            "stop_the_worker.named('boss')\n")
    with pytest.raises(effectpy.Failure) as failed:
        shell.run_cell_magic("effect", "--no-widget --name tr", cell)
    [runtime_id] = failed.value.cause.interruptors()
    assert runtime_id != 1
    assert str(failed.value) == "Interrupt: by fiber #1 boss"
    assert shown[-1] == {"text/plain": "Interrupt: by fiber #1 boss"}
    assert {f.id: f.name for f in shell.user_ns["tr"].fibers()} == {1: "boss", 2: "worker"}


def test_the_recording_is_bounded_and_the_jsonl_written_as_it_runs_holds_everything(shell, tmp_path):
    cell = "import effectpy\neffectpy.for_each_par(range(20), effectpy.succeed)"
    files = f"--svg {tmp_path / 't.svg'} --jsonl {tmp_path / 't.jsonl'}"
    shell.run_cell_magic("effect", f"--no-widget --name tr --capacity 5 {files}", cell)
    trace, saved = shell.user_ns["tr"], Trace.load(tmp_path / "t.jsonl")
    assert len(trace) == 5 and trace.dropped == len(saved) - 5 and saved.events[-5:] == trace.events
    assert f"{trace.dropped} events dropped" in (tmp_path / "t.svg").read_text()
    shell.run_cell_magic("effect", "--no-widget --name tr", cell)
    from effectpy.trace._recorder import DEFAULT_CAPACITY
    assert shell.user_ns["tr"]._recorder._capacity == DEFAULT_CAPACITY
