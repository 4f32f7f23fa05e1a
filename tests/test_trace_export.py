"""Trace exports: JSONL (lossless, versioned, validated on load) and Perfetto JSON."""

import json
from pathlib import Path

import pytest

import effectpy
from effectpy import Clock, Context, TestClock, acquire_release, fail, race, sleep, succeed, sync, zip_par
from effectpy.trace import Trace, TraceFormatError, record

DATA = Path(__file__).parent / "data"


def guide_race_trace() -> Trace:
    """The guide's race (Primary 0.3s, Backup 0.2s, Fallback 0.4s) on a TestClock."""
    def fetch(name, seconds):
        conn = acquire_release(succeed(f"conn to {name}"), lambda c: sync(lambda: None))
        return conn.flat_map(lambda _: sleep(seconds)).as_({"service": name}).named(name)

    clock = TestClock()
    env = Context().with_service(Clock, clock)
    program = race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4))
    with record() as trace:
        effectpy.run(zip_par(program, clock.adjust(1)).provide(env))
    return trace


def test_jsonl_round_trip_is_lossless():
    trace = guide_race_trace()
    text = trace.to_jsonl()
    loaded = Trace.from_jsonl(text)
    assert loaded == trace
    assert loaded.to_jsonl() == text
    assert loaded.clock == "TestClock"
    assert loaded.fibers() == trace.fibers() and loaded.resources() == trace.resources()


def test_golden_trace_of_the_guide_race(tmp_path):
    """The same program gives the same trace as the one stored in tests/data."""
    golden = DATA / "guide_race.trace.jsonl"
    text = guide_race_trace().to_jsonl()
    assert text == golden.read_text(encoding="utf-8")
    saved = guide_race_trace().save_jsonl(tmp_path / "t.jsonl")
    assert Trace.load(saved) == Trace.load(golden)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("not json\n", "not valid JSON"),
    ('{"format": "something-else"}\n', "not an effectpy trace"),
    ('{"format": "effectpy-trace", "version": 99, "events": 0, "dropped": 0}\n', "version 99"),
    ('{"format": "effectpy-trace", "version": 1, "events": 2, "dropped": 0, "clock": "live"}\n'
     '{"seq": 0, "ts": 0, "kind": "fork", "fiber": 1, "parent": null, "by": null, "name": null, "data": {}}\n',
     "truncated"),
    ('{"format": "effectpy-trace", "version": 1, "events": 1, "dropped": 0, "clock": "live"}\n'
     '{"seq": 0, "ts": 0, "kind": "explode", "fiber": 1, "parent": null, "by": null, "name": null, "data": {}}\n',
     "unknown kind 'explode'"),
    ('{"format": "effectpy-trace", "version": 1, "events": 1, "dropped": 0, "clock": "live"}\n'
     '{"seq": 0, "ts": "soon", "kind": "fork", "fiber": 1, "parent": null, "by": null, "name": null, "data": {}}\n',
     "ts must be a number of seconds"),
    ('{"format": "effectpy-trace", "version": 1, "events": 1, "dropped": 0, "clock": "live"}\n'
     '{"seq": 0, "ts": 0, "kind": "fork", "fiber": 0, "parent": null, "by": null, "name": null, "data": {}}\n',
     "fiber must be an int from 1 to 2\\*\\*53"),
    ('{"format": "effectpy-trace", "version": 1, "events": 1, "dropped": 0, "clock": "live"}\n'
     '{"seq": 0, "ts": 0, "kind": "fork", "fiber": 1, "parent": null, "by": null, "name": null, "data": {}, "x": 1}\n',
     "unexpected"),
    ('{"format": "effectpy-trace", "version": 1, "events": 2, "dropped": 0, "clock": "live"}\n'
     '{"seq": 1, "ts": 0, "kind": "fork", "fiber": 1, "parent": null, "by": null, "name": null, "data": {}}\n'
     '{"seq": 1, "ts": 0, "kind": "exit", "fiber": 1, "parent": null, "by": null, "name": null, "data": {}}\n',
     "does not follow"),
])
def test_malformed_traces_are_rejected_clearly(text, message):
    with pytest.raises(TraceFormatError, match=message):
        Trace.from_jsonl(text)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trace file"):
        Trace.load(tmp_path / "missing.jsonl")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TraceFormatError, match="not UTF-8"):
        Trace.load(binary)


def test_hostile_user_text_never_breaks_exports():
    class Nasty:
        def __repr__(self):
            raise RuntimeError("no repr for you")

    name = '</script><script>alert("x")</script>\n"quoted" \u2028 \x00'
    with record() as trace:
        effectpy.run_exit(acquire_release(succeed(Nasty()), lambda r: sync(lambda: None))
                          .flat_map(lambda _: fail("x" * 10_000)).named(name))
    text = trace.to_jsonl()
    assert Trace.from_jsonl(text) == trace
    assert text.isascii() and len(text.split("\n")) == len(trace.events) + 2
    fail_event = next(e for e in trace.events if e.kind == "fail")
    assert len(fail_event.data["error"]) < 700 and "more characters" in fail_event.data["error"]
    acquire = next(e for e in trace.events if e.kind == "acquire")
    assert acquire.data["value"].startswith("<unrepresentable Nasty")
    json.dumps(trace.to_perfetto())  # serialisable


def validate_chrome_trace(doc):
    """The structural rules of the Trace Event Format that Perfetto's JSON importer relies on
    (as its json_trace_parser reads them): 'X' needs dur and nests per thread; a v1 flow is
    keyed by (cat, name, id) and its 'f' binds to the enclosing slice with bp=e; async 'b'/'e'
    need pid and id and pair by (cat, name, id); thread instants ('i', s=t) need tid."""
    assert set(doc) >= {"traceEvents"}
    events = doc["traceEvents"]
    slices: dict[int, list[tuple[float, float]]] = {}
    flows: dict[tuple[str, str, int], list[str]] = {}
    asyncs: dict[tuple[str, str, int], list[str]] = {}
    for ev in events:
        assert isinstance(ev["ph"], str) and isinstance(ev["pid"], int) and isinstance(ev["tid"], int)
        assert isinstance(ev["name"], str)
        ph = ev["ph"]
        if ph != "M":
            assert isinstance(ev["ts"], (int, float)) and ev["ts"] >= 0
        if ph == "X":
            assert ev["dur"] >= 0
            slices.setdefault(ev["tid"], []).append((ev["ts"], ev["ts"] + ev["dur"]))
        elif ph in ("s", "f"):
            flows.setdefault((ev["cat"], ev["name"], ev["id"]), []).append(ph)  # the importer's flow key
        elif ph in ("b", "e"):
            asyncs.setdefault((ev["cat"], ev["name"], ev["id"]), []).append(ph)  # its async track key
        elif ph == "i":
            assert ev["s"] in ("t", "p", "g")
        else:
            assert ph == "M", ph
    for tid, spans in slices.items():  # complete events on a thread must nest
        spans.sort(key=lambda s: (s[0], -s[1]))
        stack: list[tuple[float, float]] = []
        for start, end in spans:
            while stack and stack[-1][1] <= start and not (stack[-1][0] == start):
                stack.pop()
            if stack:
                assert end <= stack[-1][1] + 1e-6, (tid, (start, end), stack[-1])
            stack.append((start, end))
    assert all(sorted(v) == ["f", "s"] for v in flows.values()), flows
    assert all(sorted(v) == ["b", "e"] for v in asyncs.values()), asyncs
    return events


def test_perfetto_export_follows_the_trace_event_format():
    trace = guide_race_trace()
    doc = trace.to_perfetto()
    events = validate_chrome_trace(json.loads(json.dumps(doc)))
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"#3 Primary", "#4 Backup", "#5 Fallback"} <= names
    assert sum(1 for e in events if e["ph"] == "s" and e["cat"] == "fork") == len(trace.fibers()) - 1
    cancel_flows = [e for e in events if e["ph"] == "s" and e["cat"] == "cancel"]
    assert len(cancel_flows) == 2
    assert any(e["ph"] == "b" and e["name"] == "race" for e in events)
    assert any(e["ph"] == "i" and e["name"] == "release" for e in events)
    backup = next(e for e in events if e["ph"] == "X" and e["name"] == "#4 Backup")
    assert backup["dur"] == 200_000  # 0.2 s in microseconds, on the virtual clock
