"""Diagnostics in the SVG timeline: for a program made to have each bug, a flag on the lane
of the fiber at fault at the diagnostic's time, with its message as hover text, a band for
as long as it lasted, a few words placed with no text over another, and the legend's entry;
none for the fixed twin, whose picture is the one drawn without diagnostics."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from effectpy.trace import Trace
from effectpy.trace._flags import CLEAR, RISE, flag_words
from effectpy.trace._story import Story
from effectpy.trace._timeline import WIDTH, _Canvas
from _bugs import BUGS
from _pictures import SVG, overlaps, visible

KINDS = sorted(BUGS)


def flags(svg: str) -> list[tuple[float, float, str]]:
    """(x, y, hover text) of each flag in the picture."""
    out = []
    for g in ET.fromstring(svg).iter(f"{SVG}g"):
        if g.get("class") == "eptl-diagnostic":
            (title,) = g.findall(f"{SVG}title")
            (inner,) = g.findall(f"{SVG}g")
            x, y = re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", inner.get("transform", "")).groups()
            out.append((float(x), float(y), title.text or ""))
    return out


def arrow_ends(svg: str) -> list[tuple[float, float]]:
    """(x, y of its head) of each fork and interruption arrow."""
    return [(float(line.get("x2")), float(line.get("y2"))) for line in ET.fromstring(svg).iter(f"{SVG}line")
            if line.get("marker-end") in ("url(#eptl-fork)", "url(#eptl-cancel)")]


def spans(svg: str) -> list[tuple[float, float, str]]:
    """(x, width, hover text) of each band of a diagnostic that lasted."""
    return [(float(r.get("x")), float(r.get("width")), r.find(f"{SVG}title").text or "")
            for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.get("class") == "eptl-diagnostic-span"]


def texts(svg: str) -> list[str]:
    return [visible(t) for t in ET.fromstring(svg).iter(f"{SVG}text")]


@pytest.fixture(scope="module", params=KINDS)
def bug(request):
    buggy, fixed = BUGS[request.param]
    return request.param, buggy(), fixed()


def test_each_diagnostic_is_flagged_at_its_fibers_lane_and_time(bug):
    kind, trace, _ = bug
    found = trace.diagnose()
    assert [d.kind for d in found] == [kind]
    svg = trace.to_svg()
    canvas = _Canvas(trace, WIDTH, found)
    (d,) = found
    lane = canvas.lanes[canvas.lane_of[d.fibers[0]]]
    (flag,) = flags(svg)
    assert flag[2] == d.message  # its hover text
    assert flag[1] == pytest.approx(lane.mid - RISE, abs=0.05)  # above its fiber's bar
    # at its time, unless an arrow comes down to its lane there (whose head it would hide)
    x = canvas.x(d.at)
    for arrow in sorted(a for a, end in arrow_ends(svg) if lane.top < end < lane.top + lane.height):
        if abs(x - arrow) < CLEAR:
            x = arrow + CLEAR
    assert flag[0] == pytest.approx(x, abs=0.05)
    if kind in ("never_ended", "unreleased", "slow_interrupt"):  # at a fork, at an interruption
        assert x > canvas.x(d.at) + 5
    assert "diagnostic: hover it for what may be wrong" in texts(svg)  # in the legend
    assert overlaps(svg) == []


def test_what_lasted_gets_a_band_as_long_as_it(bug):
    kind, trace, _ = bug
    (d,) = trace.diagnose()
    svg = trace.to_svg()
    if d.seconds is None:
        assert spans(svg) == [] and "how long it lasted" not in texts(svg)
        return
    canvas = _Canvas(trace, WIDTH, [d])
    ((x, width, tip),) = spans(svg)
    assert tip == d.message
    assert x == pytest.approx(canvas.x(d.at), abs=0.05)
    assert width == pytest.approx(max(canvas.x(d.at + d.seconds) - canvas.x(d.at), 3), abs=0.1)
    assert "how long it lasted" in texts(svg)


def test_a_flag_says_what_it_is_in_a_few_words(bug):
    kind, trace, _ = bug
    (d,) = trace.diagnose()
    words = flag_words(d, Story(trace))
    expected = {"leak": "leak: outlived #1 handler", "unreleased": "never released",
                "slow_interrupt": "slow interrupt: 4 s", "slow_finalizer": "slow cleanup: 2 s",
                "never_ended": ""}
    if kind == "blocked_loop":
        assert re.fullmatch(r"blocked the loop \d+(\.\d+)? ms", words), words
    else:
        assert words == expected[kind]
    if words:
        (shown,) = [t for t in ET.fromstring(trace.to_svg()).iter(f"{SVG}text") if visible(t) == words]
        assert shown.find(f"{SVG}title").text == d.message


def test_the_fixed_twin_has_no_flag_and_is_drawn_as_without_diagnostics(bug):
    _, trace, fixed = bug
    svg = fixed.to_svg()
    assert flags(svg) == [] and spans(svg) == []
    assert svg == fixed.to_svg(diagnostics=False)
    # and the buggy one drawn without diagnostics has none either
    assert flags(trace.to_svg(diagnostics=False)) == []


def test_the_diagnostics_drawn_can_be_chosen():
    trace = BUGS["slow_finalizer"][0]()
    assert flags(trace.to_svg(diagnostics=[])) == []
    assert len(flags(trace.to_svg(diagnostics=trace.diagnose(slow_finalizer=1)))) == 1
    assert flags(trace.to_svg(diagnostics=trace.diagnose(slow_finalizer=3))) == []
    for bad in ("leak", [1, 2], 3):
        with pytest.raises(TypeError, match="diagnostics must be True, False, or a list of Diagnostic"):
            trace.to_svg(diagnostics=bad)


def test_flags_of_one_lane_spread_out_and_their_words_never_overlap():
    from effectpy.trace import TraceEvent
    # one fiber with two slow releases and an unreleased resource at one instant
    events = [TraceEvent(0, 0.0, "fork", 1, None, None, "main", {})]
    for r in (1, 2, 3):
        events.append(TraceEvent(len(events), 0.0, "acquire", 1, None, None, "main", {"resource": r, "value": f"'r{r}'"}))
    for r in (1, 2):
        events.append(TraceEvent(len(events), 1.0, "release", 1, None, None, "main",
                                 {"resource": r, "exit": "success", "seconds": 1.0}))
    events.append(TraceEvent(len(events), 1.0, "exit", 1, None, None, "main", {"outcome": "success"}))
    trace = Trace(events, clock="TestClock")
    assert [d.kind for d in trace.diagnose()] == ["unreleased", "slow_finalizer", "slow_finalizer"]
    svg = trace.to_svg()
    xs = sorted(x for x, _, _ in flags(svg))
    assert len(xs) == 3 and all(b - a >= 14 for a, b in zip(xs, xs[1:]))
    assert overlaps(svg) == []
    shown = texts(svg)
    assert "never released" in shown or any(t.startswith("+") for t in shown)  # placed, or counted


def many_leaks(n: int) -> Trace:
    """main forks n children at once and ends; they outlive it (n leaks, one lane group)."""
    from effectpy.trace import TraceEvent
    events = [TraceEvent(0, 0.0, "fork", 1, None, None, "main", {})]
    for k in range(n):
        events.append(TraceEvent(len(events), 0.0, "fork", k + 2, 1, None, "child", {}))
    events.append(TraceEvent(len(events), 1.0, "exit", 1, None, None, "main", {"outcome": "success"}))
    for k in range(n):
        events.append(TraceEvent(len(events), 2.0, "exit", k + 2, None, None, "child", {"outcome": "success"}))
    return Trace(events, clock="TestClock")


def stands_for(title: str) -> int:
    """How many diagnostics a flag's hover text speaks of."""
    lines = title.split("\n")
    more = re.fullmatch(r"\.\.\. and (\d+) more: trace\.diagnose\(\) lists them all", lines[-1])
    return len(lines) - 1 + int(more.group(1)) if more else len(lines)


def test_many_flags_on_one_lane_stay_in_the_picture_and_one_stands_for_those_without_room():
    trace = many_leaks(200)
    assert len(trace.diagnose()) == 200
    svg = trace.to_svg()
    width = float(ET.fromstring(svg).get("width"))
    found = flags(svg)
    assert 1 <= len(found) < 200
    assert all(_Canvas(trace, WIDTH, []).plot_x0 <= x <= width for x, _, _ in found)
    assert sum(stands_for(title) for _, _, title in found) == 200  # none lost
    (last,) = [f for f in found if stands_for(f[2]) > 1]
    assert f"(and {stands_for(last[2]) - 1} more)" in svg  # said beside it (or in its lane's "+n")
    assert overlaps(svg) == []


def test_a_diagnostic_given_outside_the_trace_time_is_flagged_at_its_edge():
    from effectpy.trace import Diagnostic
    trace = many_leaks(1)
    c = _Canvas(trace, WIDTH, [])
    far = [Diagnostic("never_ended", (2,), 1e6, "far away"), Diagnostic("never_ended", (2,), -5.0, "long before")]
    xs = sorted(x for x, _, _ in flags(trace.to_svg(diagnostics=far)))
    # at the plot's start (right of the fork arrow there), and at its end
    assert c.plot_x0 <= xs[0] <= c.plot_x0 + CLEAR and xs[1] == c.plot_x1


@pytest.mark.parametrize("kwargs, error, match", [
    ({"kind": "oops"}, ValueError, "kind must be one of leak, unreleased"),
    ({"fibers": ()}, TypeError, "fibers must be a non-empty tuple"),
    ({"fibers": [1]}, TypeError, "fibers must be a non-empty tuple"),
    ({"at": float("nan")}, ValueError, "at must be a finite number"),
    ({"seconds": float("inf")}, ValueError, "seconds must be a finite number"),
    ({"seconds": -1.0}, ValueError, "seconds must be a finite number"),
])
def test_a_diagnostic_is_checked_when_made(kwargs, error, match):
    from effectpy.trace import Diagnostic
    fields = {"kind": "leak", "fibers": (1,), "at": 0.0, "message": "m", **kwargs}
    with pytest.raises(error, match=match):
        Diagnostic(**fields)


def slow_releases(n: int) -> Trace:
    """One fiber releasing n resources, each for a second, all at once: n slow finalizers."""
    from effectpy.trace import TraceEvent
    events = [TraceEvent(0, 0.0, "fork", 1, None, None, "main", {})]
    for r in range(1, n + 1):
        events.append(TraceEvent(len(events), 0.0, "acquire", 1, None, None, "main", {"resource": r, "value": f"'r{r}'"}))
    for r in range(1, n + 1):
        events.append(TraceEvent(len(events), 2.0, "release", 1, None, None, "main",
                                 {"resource": r, "exit": "success", "seconds": 1.0}))
    events.append(TraceEvent(len(events), 2.0, "exit", 1, None, None, "main", {"outcome": "success"}))
    return Trace(events, clock="TestClock")


def test_what_lasted_keeps_its_band_when_its_flag_joins_another():
    trace = slow_releases(30)
    assert [d.kind for d in trace.diagnose()] == ["slow_finalizer"] * 30
    svg = trace.to_svg()
    assert len(spans(svg)) == 30 and len(flags(svg)) < 30
