"""What the pictures say about a trace (`effectpy.trace._story`): labels, internal fibers,
caught and unhandled failures and what came of them, cleanup, results, the title rule, and
the layout's label placer."""

import effectpy
from effectpy import acquire_release, fail, sleep, succeed, sync, zip_par
from effectpy.trace import Trace, TraceEvent
from effectpy.trace._layout import Placer
from effectpy.trace._story import Story, default_title, title_of
from effectpy.trace._text import fit, fmt_duration, text_box
from _pictures import traced


def failures(trace):
    story = Story(trace)
    return [(story.labels[m.fiber], m.kind, m.text) for m in story.marks if m.event in ("fail", "die")]


def test_a_failure_is_caught_when_its_fiber_goes_on_and_says_what_came_of_it():
    trace = traced(fail("a").catch_all(lambda e: succeed("fallback")))
    assert failures(trace) == [("#1 main", "caught", "'a' caught \u2192 recovered \u2192 'fallback'")]
    mapped = traced(fail("a").map_error(lambda e: "b"))
    assert failures(mapped) == [("#1 main", "caught", "'a' caught \u2192 then 'b'"), ("#1 main", "fail", "'b'")]
    assert Story(mapped).result(1) == ("\u2717 'b'", "failure")


def test_a_failure_and_its_failing_finalizer_are_how_the_fiber_ended_each_drawn_once():
    def boom(_):
        raise OSError("cannot close")

    program = acquire_release(succeed("conn"), lambda c: sync(lambda: boom(c)),
                              lambda c: fail("query failed"))
    trace = traced(program)
    # three events (the failure, the finalizer's defect, the failure with both): two glyphs
    assert [e.kind for e in trace.events if e.kind in ("fail", "die")] == ["fail", "die", "fail"]
    assert failures(trace) == [("#1 main", "fail", "'query failed'"), ("#1 main", "die", "OSError: cannot close")]
    assert Story(trace).result(1) == ("\u2717 'query failed'", "failure")


def test_cleanup_after_an_interruption_is_a_releasing_stretch():
    held = acquire_release(succeed("conn"), lambda c: sleep(0.05))
    trace = traced(zip_par(held.flat_map(lambda _: sleep(5)).named("worker"), sleep(1).flat_map(lambda _: fail("x"))).either())
    story = Story(trace)
    worker = next(f for f in story.fibers if f.name == "worker")
    assert story.releasing(worker.id) == (1.0, 1.05)
    assert story.releasing(1) is None  # main was never interrupted
    assert [story.tip(m) for m in story.marks if m.event == "release"] == [
        "#2 worker releases conn at 1.05 s (its use ended: interrupted)"]


def test_labels_and_internal_fibers():
    trace = traced(sleep(1).timeout(5).named("job"))
    story = Story(trace)
    assert [story.labels[f.id] for f in story.fibers] == ["#1 job", "#2 timeout[0]", "#3 \u2699 timeout timer"]
    assert story.owner == {3: 1}
    with effectpy.trace.record() as plain:
        effectpy.run(succeed(1))
    assert Story(plain).labels == {1: "#1 main"}


def test_one_title_rule():
    trace = Trace([TraceEvent(0, 0.0, "fork", 1, None, None, "job", {}),
                   TraceEvent(1, 0.0, "fork", 2, None, None, None, {}),
                   TraceEvent(2, 0.0, "fork", 3, 1, None, "effectpy:buffer pump", {})])
    assert title_of(trace.fibers(), None) == "effectpy timeline: job"
    assert title_of(trace.fibers(), "given") == "given"
    assert default_title(["a", "b", "c", "d", "e"]) == "effectpy timeline: a, b, c (+2 more)"
    assert default_title([None, "effectpy:timeout timer"]) == "effectpy timeline"


def test_durations_for_people():
    assert [fmt_duration(s) for s in (0, 4.7909e-05, 1.2e-3, 3.4, 0.9996, 125)] == [
        "0", "47.9 \u00b5s", "1.2 ms", "3.4 s", "1 s", "2 min 5 s"]


def test_the_placer_gives_each_label_a_free_place_or_none():
    place = Placer(200, 100)
    first = place.place("alpha beta", 10, [(10, 20, "start")])
    assert first == (10, 20, "start")
    # the same place is taken: the next candidate that is free
    assert place.place("gamma", 10, [(12, 22, "start"), (10, 60, "start")]) == (10, 60, "start")
    assert place.place("delta", 10, [(15, 21, "start")]) is None
    assert place.place("too long for the room left", 10, [(150, 90, "start")]) is None  # outside
    assert place.place("end", 10, [(190, 90, "end")], right=195) == (190, 90, "end")
    x0, y0, x1, y1 = text_box(10, 20, "alpha beta", 10)
    assert not place.free((x0 + 1, y0 + 1, x1 - 1, y1 - 1))


def test_fit_cuts_with_an_ellipsis():
    assert fit("short", 10, 100) == "short"
    cut = fit("a rather long label that does not fit", 10, 80)
    assert cut.endswith("\u2026") and text_box(0, 0, cut, 10)[2] <= 80
