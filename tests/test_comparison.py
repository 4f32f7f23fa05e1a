"""side_by_side: two traces one above the other on one time axis, a title for each, one
legend, no text over another; its notebook display, its text form and its files."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET

import pytest

from effectpy import TestClock, acquire_release, fail, sleep, succeed, sync, zip_par
from effectpy.trace import Comparison, Trace, record, side_by_side
from _bugs import two_calls
from _pictures import SVG, overlaps, text_boxes, visible


def traced(program) -> Trace:
    with record() as trace:
        asyncio.run(TestClock().drive(program.either()))
    return trace


def short_and_failing() -> Trace:  # 1 s, a failure
    return traced(zip_par(sleep(1).named("worker"), sleep(1).flat_map(lambda _: fail("down")).named("checker")))


def long_and_clean() -> Trace:  # 2 s, a resource
    conn = acquire_release(succeed("db"), lambda c: sync(lambda: None))
    return traced(zip_par(sleep(1).named("worker"), conn.flat_map(lambda _: sleep(2)).named("holder")))


def panels(svg: str) -> list[list[tuple[tuple[float, float, float, float], str]]]:
    """The texts of each picture (the top one, then the one below the rule), with boxes."""
    root = ET.fromstring(svg)
    (rule,) = [line for line in root.iter(f"{SVG}line") if line.get("class") == "eptl-rule"]
    y = float(rule.get("y1"))
    boxes = text_boxes(svg)
    return [[b for b in boxes if b[0][1] < y], [b for b in boxes if b[0][1] > y]]


def ticks(texts) -> list[tuple[float, str]]:
    """The time axis' labels (x of their middle, text)."""
    return [(round((b[0] + b[2]) / 2, 1), t) for b, t in texts if re.fullmatch(r"0|\d+(\.\d+)? (ms|s)", t)]


def test_two_traces_share_one_time_axis():
    top, bottom = short_and_failing(), long_and_clean()
    pair = side_by_side(top, bottom, titles=("one fails", "one holds a connection"))
    first, second = panels(pair.svg)
    assert ticks(first) == ticks(second) and ticks(first)[-1][1] == "2 s"  # the longer run's span, in both
    # a moment is at the same x in both: the workers both end at 1 s
    bars = {}
    for g in ET.fromstring(pair.svg).iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if title is not None and (title.text or "").startswith("#2 worker:"):
            rect = g.find(f"{SVG}rect")
            bars.setdefault("worker", []).append(float(rect.get("x")) + float(rect.get("width")))
    assert len(bars["worker"]) == 2 and bars["worker"][0] == bars["worker"][1]
    # alone, the short trace spans only its own second
    alone = [t for b, t in text_boxes(top.to_svg()) if t == "2 s"]
    assert alone == []


def test_what_never_ended_in_the_shorter_trace_ends_with_that_trace():
    from effectpy.trace import TraceEvent

    short = Trace([TraceEvent(0, 0.0, "fork", 1, None, None, "main", {}),
                   TraceEvent(1, 0.0, "fork", 2, 1, None, "forever", {}),
                   TraceEvent(2, 1.0, "exit", 1, None, None, "main", {"outcome": "success"})], clock="TestClock")
    long = Trace([TraceEvent(0, 0.0, "fork", 1, None, None, "main", {}),
                  TraceEvent(1, 4.0, "exit", 1, None, None, "main", {"outcome": "success"})], clock="TestClock")

    def ends(svg: str) -> dict[str, float]:  # where each bar of the top picture ends
        out = {}
        for g in ET.fromstring(svg).iter(f"{SVG}g"):
            title = g.find(f"{SVG}title")
            rect = g.find(f"{SVG}rect")
            if title is not None and rect is not None and (title.text or "").startswith("#"):
                out.setdefault(title.text.split(":")[0], float(rect.get("x")) + float(rect.get("width")))
        return out

    pair = ends(side_by_side(short, long).svg)
    # the daemon that never ended runs to its trace's end (1 s), with main, not to the 4 s axis
    assert pair["#2 forever"] == pair["#1 main"]


def test_each_picture_has_its_title_and_one_legend_explains_both():
    pair = side_by_side(short_and_failing(), long_and_clean(), titles=("one fails", "one holds a connection"))
    first, second = panels(pair.svg)
    assert first[0][1] == "one fails" and second[0][1] == "one holds a connection"
    assert pair.headings == ("one fails", "one holds a connection")
    shown = [t for _, t in first + second]
    assert shown.count("Legend") == 1 and "Legend" in [t for _, t in second]
    assert {"failure", "acquire", "release"} <= set(shown)  # the top's failure, the bottom's resource
    assert overlaps(pair.svg) == []


def test_default_titles_are_those_of_each_trace_alone():
    top, bottom = short_and_failing(), long_and_clean()
    pair = side_by_side(top, bottom)
    heading = [visible(t) for t in ET.fromstring(top.to_svg()).iter(f"{SVG}text")][0]
    assert pair.headings == (heading, heading) == ("effectpy timeline", "effectpy timeline")


def test_the_risky_and_the_safe_version_with_the_leak_flagged_above():
    risky, safe = two_calls(structured=False), two_calls(structured=True)
    pair = side_by_side(risky, safe, titles=("asyncio by hand", "asyncio.TaskGroup"))
    first, second = panels(pair.svg)
    assert "leak: outlived #1 handler" in [t for _, t in first]
    assert not any(t.startswith("leak") for _, t in second)
    assert [len(found) for found in pair.diagnostics] == [1, 0]
    assert pair.svg == side_by_side(two_calls(False), two_calls(True),
                                    titles=("asyncio by hand", "asyncio.TaskGroup")).svg  # deterministic
    assert "eptl-diagnostic" not in side_by_side(risky, safe, diagnostics=False).svg
    assert overlaps(pair.svg) == []


def test_long_titles_and_names_still_never_overlap():
    long = "a title that goes on and on " * 8
    pair = side_by_side(two_calls(False), short_and_failing(), titles=(long, long), width=700)
    assert overlaps(pair.svg) == []


def test_how_it_shows_and_saves(tmp_path):
    pair = side_by_side(short_and_failing(), long_and_clean(), titles=("one fails", "one holds"))
    assert isinstance(pair, Comparison)
    bundle = pair._repr_mimebundle_()
    assert bundle["image/svg+xml"] == pair.svg
    assert bundle["text/plain"] == str(pair) == pair.text
    assert pair.text.splitlines()[:3] == ["side by side, one time axis (0 to 2 s):", "one fails", "  3 fibers"]
    assert pair.save_svg(tmp_path / "pair.svg").read_text(encoding="utf-8") == pair.svg
    page = pair.save_html(tmp_path / "pair.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and pair.svg in page and page.count("no diagnostics") == 2
    risky = side_by_side(two_calls(False), two_calls(True)).to_html()
    assert "<li><b>leak</b>: #3 service2 outlived its parent #1 handler" in risky


@pytest.mark.parametrize("call, error, match", [
    (lambda t: side_by_side(t, "trace"), TypeError, "side_by_side's second must be a Trace, got str"),
    (lambda t: side_by_side("a.jsonl", t), TypeError, r"got str 'a.jsonl' \(for a saved one: Trace.load\(path\)\)"),
    (lambda t: side_by_side(t, t, titles="ab"), TypeError, r"titles must be a pair .*got 'ab'"),
    (lambda t: side_by_side(t, t, titles=("a", 1)), TypeError, "titles must be a pair"),
    (lambda t: side_by_side(t, t, diagnostics=None), TypeError, "diagnostics must be True or False, got None"),
    (lambda t: side_by_side(t, t, width=100), ValueError, "at least 600 pixels, got 100"),
    (lambda t: side_by_side(t, t, width="800"), TypeError, "whole number of pixels, got str '800'"),
])
def test_bad_arguments_are_refused(call, error, match):
    with pytest.raises(error, match=match):
        call(Trace())


def test_empty_traces_draw():
    pair = side_by_side(Trace(), Trace())
    assert ET.fromstring(pair.svg) is not None and overlaps(pair.svg) == []


def test_names_that_could_hide_or_reorder_text_are_shown_as_escapes_everywhere():
    from effectpy.trace import TraceEvent
    from effectpy.trace._browser import diagnostics
    evil = "evil\u202egnp.exe\x1b[31m"
    trace = Trace([TraceEvent(0, 0.0, "fork", 1, None, None, "main", {}),
                   TraceEvent(1, 0.0, "fork", 2, 1, None, evil, {}),
                   TraceEvent(2, 1.0, "exit", 1, None, None, "main", {"outcome": "success"}),
                   TraceEvent(3, 2.0, "exit", 2, None, None, evil, {"outcome": "success"})], clock="TestClock")
    (leak,) = trace.diagnose()
    assert evil in leak.message  # the diagnostic keeps the name as it is
    pair = side_by_side(trace, trace)
    for shown in (pair.svg, pair.to_html(), repr(diagnostics(trace))):
        assert "\u202e" not in shown and "\x1b" not in shown
    assert "evil\\u202egnp.exe\\x1b[31m" in pair.to_html()
