"""Trace.load against hostile files: every failure a TraceFormatError naming its line, and
every trace that loads drawn by every renderer."""

import json
import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import effectpy
from effectpy.trace import KINDS, Trace, TraceFormatError, effect_tree, render_svg
from effectpy.trace._events import FIELDS, MAX_TS
from effectpy.trace._tree_picture import fallback_svg, picture_of
from effectpy.trace._browser import row as _row

HEADER = '{"format": "effectpy-trace", "version": 1, "events": 1, "dropped": 0, "clock": "live"}'


def event(**changes):
    base = {"seq": 0, "ts": 0.0, "kind": "fork", "fiber": 1, "parent": None, "by": None,
            "name": None, "data": {}}
    return json.dumps({**base, **changes})


def header(**changes):
    return json.dumps({**json.loads(HEADER), **changes})


DEEP = 100_000


@pytest.mark.parametrize("text, message", [
    (HEADER + "\n" + event(data={"x": 1}).replace('"x": 1', '"x": ' + "[" * DEEP + "]" * DEEP),
     "line 2: JSON nested too deeply"),
    (HEADER.replace('"events": 1', '"events": ' + "9" * 5000), "line 1: not a valid trace line"),
    (HEADER + "\n" + event(ts=1e308), "line 2: ts must be a number of seconds from -1e\\+12 to 1e\\+12"),
    (HEADER + "\n" + event(ts=-1e13), "line 2: ts must be"),
    (HEADER + "\n" + event().replace('"ts": 0.0', '"ts": NaN'), "line 2: not a valid trace line .NaN"),
    (HEADER + "\n" + event().replace('"ts": 0.0', '"ts": Infinity'), "line 2: not a valid trace line"),
    (header(events=True) + "\n" + event(), "'events' must be an int from 0 to 2\\*\\*53, got True"),
    (header(dropped=-5) + "\n" + event(), "'dropped' must be an int from 0 to 2\\*\\*53, got -5"),
    (header(dropped="5") + "\n" + event(), "'dropped' must be an int"),
    (header(version=True) + "\n" + event(), "trace format version True"),
    (header(clock=7) + "\n" + event(), "'clock' must be the clock's name"),
    (header(clock="c" * 101) + "\n" + event(), "'clock' must be the clock's name"),
    (header(streamed="yes") + "\n" + event(), "'streamed' must be true or false"),
    ("[1, 2]\n", "not an effectpy trace"),
    (HEADER + "\n" + event(fiber=2**60), "line 2: fiber must be an int from 1 to 2\\*\\*53, got 1152921504606846976"),
    (HEADER + "\n" + event(seq=10**30), "line 2: seq must be an int from 0 to 2\\*\\*53, got an int of 31 digits"),
    (HEADER + "\n" + event(by=True), "line 2: by must be null, a fiber id"),
    (HEADER + "\n" + event(name=["x"]), "line 2: name must be null or a string"),
    (HEADER + "\n" + event(kind="acquire", data={"value": "db"}), "line 2: this acquire event needs data\\['resource'\\]"),
    (HEADER + "\n" + event(kind="acquire", data={"resource": "r1"}), "data\\['resource'\\] of this acquire event must be an int"),
    (HEADER + "\n" + event(kind="retry", data={"delay": "soon"}), "data\\['delay'\\] of this retry event must be a finite number or null"),
    (HEADER + "\n" + event(data={"daemon": 1}), "data\\['daemon'\\] of this fork event must be true or false"),
    (HEADER + "\n" + event(data={"extra": {"nested": 1}}), "data\\['extra'\\] of this fork event must be a JSON scalar"),
    (HEADER + "\n" + event(kind="scope_open", data={"scope": -1, "kind": "zip_par"}), "data\\['scope'\\]"),
    (HEADER + "\n" + event()[:-1] + ', "x": 1}', "line 2: wrong fields"),
    (HEADER + "\n" + event(kind="exit", data={"outcome": "maybe"}),
     "data\\['outcome'\\] of this exit event must be 'success' or 'failure' or 'interrupted', got 'maybe'"),
])
def test_every_malformed_file_is_a_format_error_naming_its_line(text, message):
    with pytest.raises(TraceFormatError, match=message):
        Trace.from_jsonl(text)


def test_load_reads_bytes_that_are_not_utf8_as_a_format_error_with_the_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes((HEADER + "\n").encode() + b'{"seq": 0, "name": "\xff"}\n')
    with pytest.raises(TraceFormatError, match="line 2: not UTF-8 text"):
        Trace.load(path)


# --- any trace that loads can be drawn -------------------------------------------------------

TEXT = st.text(st.sampled_from("ab <&>\"'\n\t\x00\x1b\u202e\u2066\u200f\u0645\u00e9\U0001f600\ud800"),
               max_size=12)
TIMES = st.one_of(st.floats(-MAX_TS, MAX_TS, allow_nan=False), st.sampled_from([0.0, -MAX_TS, MAX_TS, 1e-9]))
IDS = st.integers(1, 6)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), TEXT,
                    st.floats(allow_nan=False, allow_infinity=False))
VALUES = {bool: st.booleans(), str: TEXT, int: st.integers(0, 2**53), "number": st.one_of(
    st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False))}


@st.composite
def loadable_events(draw):
    kind = draw(st.sampled_from(list(KINDS)))
    fields = FIELDS.get(kind, {})
    data = {key: draw(st.sampled_from(expected) if isinstance(expected, tuple) else VALUES[expected])
            for key, expected in fields.items() if draw(st.booleans())}
    if kind in ("scope_open", "scope_close"):
        data["scope"] = draw(st.integers(0, 4))
    if kind in ("acquire", "release"):
        data["resource"] = draw(st.integers(0, 4))
    data.update(draw(st.dictionaries(st.sampled_from(["x", "y"]), SCALARS, max_size=2)))
    return {"ts": draw(TIMES), "kind": kind, "fiber": draw(IDS), "parent": draw(st.none() | IDS),
            "by": draw(st.none() | IDS | TEXT), "name": draw(st.none() | TEXT), "data": data}


@st.composite
def loadable_files(draw):
    events = draw(st.lists(loadable_events(), max_size=25))
    seqs = sorted(draw(st.sets(st.integers(0, 2**53), min_size=len(events), max_size=len(events))))
    lines = [json.dumps({**e, "seq": s}, sort_keys=True) for e, s in zip(events, seqs)]
    head = {"format": "effectpy-trace", "version": 1, "clock": draw(TEXT), "dropped": draw(st.integers(0, 2**53)),
            "events": len(lines)}
    return "\n".join([json.dumps(head), *lines]) + "\n"


def check_svg(svg):
    ET.fromstring(svg)
    assert not any(c in svg for c in "\x00\x1b\u202e\u2066\u200f")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loadable_files())
def test_every_renderer_draws_any_trace_that_loads(text):
    trace = Trace.from_jsonl(text)
    assert Trace.from_jsonl(trace.to_jsonl()) == trace
    check_svg(trace.to_svg(title="t"))
    check_svg(fallback_svg(picture_of(trace.fiber_tree())))
    check_svg(fallback_svg(picture_of(effect_tree(effectpy.zip_par(effectpy.unit, effectpy.unit), trace))))
    json.dumps(trace.to_perfetto(), allow_nan=False)
    rows = [_row(e) for e in trace.events]
    assert not any(c in json.dumps(rows, ensure_ascii=False) for c in "\x00\x1b\u202e")
    assert not any(c in trace.summary() for c in "\x1b\u202e")
    trace.leaks().describe()
    from opentelemetry.sdk.trace import TracerProvider
    spans = trace.to_opentelemetry(TracerProvider().get_tracer("t"), epoch_ns=0)
    assert len(spans) == len(trace.fibers())
    assert all(math.isfinite(f.start) for f in trace.fibers())


def test_fibers_claiming_each_other_as_parents_are_each_drawn_once():
    lines = [HEADER.replace('"events": 1', '"events": 2'),
             event(seq=0, fiber=1, parent=2), event(seq=1, fiber=2, parent=1)]
    trace = Trace.from_jsonl("\n".join(lines) + "\n")
    assert [f.id for f in trace.tree_order()] == [1, 2]
    from opentelemetry.sdk.trace import TracerProvider
    assert len(trace.to_opentelemetry(TracerProvider().get_tracer("t"), epoch_ns=0)) == 2
    check_svg(trace.to_svg())


def test_the_renderers_draw_traces_at_the_edges_of_time(tmp_path):
    """Events at +-1e12 s (the largest a trace may hold) and one nanosecond apart."""
    lines = [HEADER.replace('"events": 1', '"events": 4'),
             event(seq=0, ts=-MAX_TS), event(seq=1, ts=MAX_TS, kind="exit", data={"outcome": "success"}),
             event(seq=2, ts=1e-9, fiber=2, parent=1), event(seq=3, ts=2e-9, fiber=2, kind="exit")]
    trace = Trace.from_jsonl("\n".join(lines) + "\n")
    check_svg(trace.to_svg())
    check_svg(render_svg(trace.fiber_tree()))
    json.dumps(trace.to_perfetto(), allow_nan=False)
