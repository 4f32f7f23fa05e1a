"""The timeline widget's Python side: batches of events (each sent once), requests from views
that missed some, live updates, the static fallbacks. The browser side is tested in
test_widget_browser.py."""

import asyncio
import contextvars
import threading

import pytest

pytest.importorskip("anywidget")

import effectpy  # noqa: E402
from effectpy import TestClock, acquire_release, fail, race, sleep, succeed, sync  # noqa: E402
from effectpy.trace import Trace, TraceEvent, record  # noqa: E402
from effectpy.trace import _widget  # noqa: E402
from effectpy.trace._widget import TimelineWidget  # noqa: E402


@pytest.fixture
def sent(monkeypatch):
    """The messages widgets send to the browser."""
    box: list[dict] = []
    monkeypatch.setattr(TimelineWidget, "send", lambda self, content, buffers=None: box.append(content))
    return box


def rows(trace):
    return [[e.seq, e.ts, e.kind, e.fiber, e.parent, e.by, e.name, e.data] for e in trace.events]


def received(messages):
    """The events a browser would hold after these messages (checking each lands in order)."""
    events: list = []
    for m in messages:
        if m["type"] == "reset":
            events = []
        elif m["type"] == "events":
            assert m["start"] <= len(events), "a batch may not leave a gap"
            events[m["start"]:] = m["events"]
    return events


def race_program():
    return race(sleep(1).as_("slow").named("slow"),
                sleep(0.5).flat_map(lambda _: fail("boom")).named("fast"))


def run_recorded(program):
    with record() as trace:
        asyncio.run(TestClock().drive(program.exit()))
    return trace


def test_a_finished_trace_is_sent_once_in_one_batch(sent):
    trace = run_recorded(race_program())
    w = TimelineWidget(trace, title="race")
    assert sent == [{"type": "events", "start": 0, "events": rows(trace)}]
    assert w.sent == len(trace)
    assert w.flush() == 0 and len(sent) == 1  # nothing new: nothing sent


def test_large_traces_go_in_batches(sent, monkeypatch):
    monkeypatch.setattr(_widget, "BATCH", 7)
    trace = run_recorded(effectpy.for_each_par(range(10), lambda i: sleep(i / 10), parallelism=3))
    TimelineWidget(trace)
    assert len(trace) > 21
    assert all(len(m["events"]) <= 7 for m in sent)
    assert [m["start"] for m in sent] == list(range(0, len(trace), 7))
    assert received(sent) == rows(trace)


def test_a_view_that_missed_batches_gets_only_what_it_lacks(sent):
    trace = run_recorded(race_program())
    w = TimelineWidget(trace)
    sent.clear()
    w._on_request(w, {"type": "need", "have": 5}, [])
    assert sent == [{"type": "events", "start": 5, "events": rows(trace)[5:]}]
    sent.clear()
    for bad in ({"type": "need", "have": -1}, {"type": "need", "have": "0"}, {"type": "other"}, "need"):
        w._on_request(w, bad, [])
    assert sent == []


def test_a_clock_adopted_late_resends_the_rebased_events_once(sent):
    with record() as trace:
        w = TimelineWidget(trace)
        assert sent == [] and w.clock == "live"
        asyncio.run(TestClock().drive(race_program().exit()))
        w.flush()
    assert w.clock == "TestClock"
    assert received(sent) == rows(trace)


def test_live_sends_events_while_the_effect_runs_each_once(sent, monkeypatch):
    """The run waits at a gate until the widget has sent a batch, so the test sees a batch
    that was sent mid-run (no sleeping and hoping)."""
    gate, first_batch = threading.Event(), threading.Event()
    real = TimelineWidget.send

    def send(self, content, buffers=None):
        real(self, content, buffers)
        if content["type"] == "events":
            first_batch.set()

    monkeypatch.setattr(TimelineWidget, "send", send)
    program = effectpy.zip_par(
        sync(lambda: gate.wait(30)).named("waits for the test"),
        succeed(1).named("quick"),
    )
    with record() as trace:
        w = TimelineWidget(trace, program)
        mid_run: list = []
        with w.live(interval=0.005):
            context = contextvars.copy_context()  # the recorder is a context variable
            runner = threading.Thread(target=context.run, args=(effectpy.run, program))
            runner.start()
            assert first_batch.wait(30)
            assert w.running
            mid_run = received(sent)
            gate.set()
            runner.join()
        assert not w.running
    kinds = [r[2] for r in mid_run]
    assert "fork" in kinds and len(mid_run) < len(trace)
    assert received(sent) == rows(trace)
    starts = [m["start"] for m in sent if m["type"] == "events"]
    assert starts == sorted(set(starts))  # no batch sent twice
    assert 'data-fiber="' in w.effect_tree_svg  # annotated from the run at its end


def test_the_effect_tree_is_drawn_plain_then_annotated(sent):
    program = race_program()
    with record() as trace:
        w = TimelineWidget(trace, program)
        assert "race" in w.effect_tree_svg and "data-fiber" not in w.effect_tree_svg
        with w.live():
            asyncio.run(TestClock().drive(program.exit()))
    assert w.effect_tree_svg.count('data-fiber="') >= 3  # the race and its two branches
    assert TimelineWidget(trace).effect_tree_svg == ""


def test_mimebundle_has_the_static_svg_and_a_deterministic_summary(sent):
    program = acquire_release(succeed("conn"), lambda c: sync(lambda: None)).flat_map(
        lambda _: race_program())
    bundles = [TimelineWidget(run_recorded(program), title="t")._repr_mimebundle_()[0] for _ in range(2)]
    data = bundles[0]
    assert data["image/svg+xml"] == bundles[1]["image/svg+xml"]
    assert data["text/plain"] == bundles[1]["text/plain"]
    assert data["image/svg+xml"].startswith("<svg") and "slow" in data["image/svg+xml"]
    assert "application/vnd.jupyter.widget-view+json" in data
    text = data["text/plain"]
    assert text.splitlines()[:2] == ["TimelineWidget t: 3 fibers", "fibers: 1 failure, 1 interrupted, 1 success"]
    assert "  #3 fast: fail 'boom'" in text and "resources: 1 acquired, 1 released" in text


def test_the_summary_names_leaks_and_drops(sent):
    trace = Trace([TraceEvent(5, 0.0, "fork", 1, None, None, None, {}),
                   TraceEvent(6, 0.5, "acquire", 1, None, None, None, {"resource": 1, "value": "'db'"})],
                  dropped=5)
    text = TimelineWidget(trace).summary()
    assert text.splitlines() == ["TimelineWidget: 1 fibers, 5 oldest events dropped", "fibers: 1 still running",
                                 "resources: 1 acquired, 0 released", "leaks: ",
                                 "fiber #1 never ended (in #1)",
                                 "resource 1 ('db') never released (acquired by fiber #1, in #1)"]


def test_bad_arguments_are_clear_errors(sent):
    with pytest.raises(TypeError, match="expects a Trace, got list"):
        TimelineWidget([])
    with pytest.raises(TypeError, match="effect must be an Effect or None, got int"):
        TimelineWidget(Trace(), 3)
    w = TimelineWidget(Trace())
    for bad in (0, -1, "1", True):
        with pytest.raises(ValueError, match="interval must be a number of seconds > 0"):
            with w.live(bad):
                pass
    with pytest.raises(Exception, match="int"):
        w.selected = "3"


def test_trace_widget_is_the_widget(sent):
    trace = run_recorded(race_program())
    w = trace.widget(title="x")
    assert isinstance(w, TimelineWidget) and w.trace is trace and w.title == "x"
    from effectpy.trace import TimelineWidget as public  # loaded on first use
    assert public is TimelineWidget


def test_importing_effectpy_trace_does_not_import_widgets():
    import subprocess
    import sys
    code = ("import sys, effectpy, effectpy.trace; "
            "assert not {'anywidget', 'ipywidgets', 'IPython'} & set(sys.modules), sys.modules.keys()")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_bounded_recorder_that_drops_events_resends_its_window(sent):
    with record(capacity=8) as trace:
        w = TimelineWidget(trace)
        effectpy.run(effectpy.for_each_par(range(5), succeed))
        w.flush()
        assert trace.dropped > 0 and w.dropped == trace.dropped
        assert received(sent) == rows(trace) and len(rows(trace)) == 8
        before = len(sent)
        assert w.flush() == 0 and len(sent) == before  # nothing new, nothing sent
        effectpy.run(succeed(3))
        w.flush()
    assert received(sent) == rows(trace) and rows(trace)[-1][2] == "exit"


def test_readers_in_other_threads_never_corrupt_a_live_trace(sent):
    """Two live widgets read the trace from their threads while the run appends to it (a
    stress test: without the recorder's read lock, about a third of runs lost or repeated
    events)."""
    import sys
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for _ in range(5):
            with record() as trace:
                w1, w2 = TimelineWidget(trace), TimelineWidget(trace)
                with w1.live(interval=0.0001), w2.live(interval=0.0001):
                    effectpy.run(effectpy.for_each_par(range(200), lambda i: sleep(0), parallelism=20))
            assert [e.seq for e in trace.events] == list(range(len(trace)))
    finally:
        sys.setswitchinterval(old)


def test_live_keeps_flushing_a_bounded_trace_and_reports_a_failed_flush(sent, monkeypatch):
    with record(capacity=200) as trace:
        w = TimelineWidget(trace)
        with w.live(interval=0.0005):
            effectpy.run(effectpy.for_each_par(range(500), lambda i: sleep(0), parallelism=50))
    assert received(sent) == rows(trace)

    real, tried = TimelineWidget._flush, threading.Event()

    def broken(self, afresh):
        if threading.current_thread().name == "effectpy-widget-live":
            tried.set()
            raise OSError("comm closed")
        return real(self, afresh)

    monkeypatch.setattr(TimelineWidget, "_flush", broken)
    with pytest.raises(RuntimeError, match="stopped updating") as info:
        with w.live(interval=0.0001):
            assert tried.wait(30)  # the flusher failed (the block still ends normally)
    assert isinstance(info.value.__cause__, OSError) and not w.running


def test_flushes_of_a_live_trace_do_not_copy_what_was_sent(sent, monkeypatch):
    # a long live cell flushes ten times a second: each flush must cost what is new, not
    # a copy of the whole trace (which `Trace.events` makes)
    with record() as trace:
        w = TimelineWidget(trace)
        effectpy.run(effectpy.for_each(range(50), lambda i: succeed(i).fork()))
        monkeypatch.setattr(Trace, "events", property(lambda self: pytest.fail("copied the trace")))
        assert w.flush() > 0
        effectpy.run(succeed(1).fork())
        assert w.flush() > 0
        w._on_request(w, {"type": "need", "have": 3}, [])
    monkeypatch.undo()
    assert received(sent) == rows(trace)


def test_the_widget_titles_a_trace_as_the_svg_does(sent):
    trace = run_recorded(race_program().named("job"))
    w = TimelineWidget(trace)
    assert w.title == "" and w._heading == "effectpy timeline: job"
    assert ">effectpy timeline: job</text>" in w._repr_mimebundle_()[0]["image/svg+xml"]
    w.title = "mine"
    assert w._heading == "mine"
    w.title = ""
    assert w._heading == "effectpy timeline: job"


def test_the_browser_gets_the_svg_timelines_grammar(sent):
    from effectpy.trace._grammar import GLYPHS, LEGEND
    w = TimelineWidget(Trace())
    assert w._grammar["glyphs"] == GLYPHS and w._grammar["legend"] == [list(e) for e in LEGEND]
    assert w._grammar["internal"] == "effectpy:"


def test_the_browser_gets_the_diagnostics_each_with_its_event_and_words(sent):
    from _bugs import two_calls
    trace = two_calls(structured=False)
    w = TimelineWidget(trace)
    (d,) = trace.diagnose()
    assert w.diagnostics == [{"kind": "leak", "fibers": [3, 1], "at": d.at, "seconds": None, "seq": d.seq,
                              "message": d.message, "words": "leak: outlived #1 handler"}]
    (parent_exit,) = [e for e in trace.events if e.kind == "exit" and e.fiber == 1]
    assert d.seq == parent_exit.seq  # its place in the picture: the moment the parent ended
    assert TimelineWidget(two_calls(structured=True)).diagnostics == []


def test_a_live_widget_diagnoses_the_run_once_it_has_ended(sent):
    with record() as trace:
        w = TimelineWidget(trace)
        with w.live(interval=0.001):
            effectpy.run(effectpy.never.named("heartbeat").fork_daemon().as_("done"))
            assert w.diagnostics == []  # (nothing was recorded when it was made)
    assert [(d["kind"], d["words"]) for d in w.diagnostics] == [("leak", "leak: ran until the run ended")]
