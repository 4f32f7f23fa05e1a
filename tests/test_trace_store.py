"""Compact event storage, and a recorder bounded in everything it keeps."""

import gc
import json
import tracemalloc
from collections import Counter

import pytest

import effectpy
from effectpy import Clock, Context, TestClock, acquire_release, for_each, never, scoped, sleep, succeed, sync, yield_now, zip_par
from effectpy.trace import Trace, TraceEvent, record, render_svg
from effectpy.trace._events import MAX_TEXT
from effectpy.trace._store import CHUNK, EventStore, Events


def fork_join(n):
    """Fork n fibers (each yields once), then join them one by one."""
    return for_each(range(n), lambda _: yield_now.fork()).flat_map(
        lambda fibers: for_each(fibers, lambda f: f.join(), discard=True))


def test_events_read_back_as_recorded_across_chunks():
    n = CHUNK  # about 3 * CHUNK events: several chunks, and a part not yet moved
    with record() as trace:
        effectpy.run(fork_join(n))
    events = trace.events
    kinds = Counter(e.kind for e in events)
    # each child: fork, exit, join; the root: fork, exit (and, on the live clock, a `step`
    # event for any step the loaded machine made last 1 ms or more)
    assert (kinds["fork"], kinds["exit"], kinds["join"]) == (n + 1, n + 1, n) and set(kinds) <= {
        "fork", "exit", "join", "step"}
    assert len(events) == len(trace) == sum(kinds.values())
    assert [e.seq for e in events] == list(range(len(events)))
    assert all(isinstance(e, TraceEvent) for e in events)
    assert sum(e.kind == "fork" for e in events) == n + 1
    live = trace._current()
    assert live[CHUNK - 1: CHUNK + 2] == events[CHUNK - 1: CHUNK + 2]
    assert live[-1] == events[-1] and live[0] == events[0]
    assert list(live) == list(events)
    assert Trace.from_jsonl(trace.to_jsonl()) == trace
    with pytest.raises(IndexError, match="out of range"):
        live[len(events)]


def test_a_bounded_store_holds_the_last_events_and_numbers_them_on():
    store = EventStore(capacity=10, origin=0.0)
    for batch in range(5):
        slots = []
        for i in range(CHUNK):
            slots += ("resume", 1, None, None, None, {})
        store.extend(slots, [float(batch * CHUNK + i) for i in range(CHUNK)])
    assert len(store) == 10 and store.total == 5 * CHUNK and store.dropped == 5 * CHUNK - 10
    events = store.read(0, 10)
    assert [e.seq for e in events] == list(range(5 * CHUNK - 10, 5 * CHUNK))
    assert [e.ts for e in events] == [float(e.seq) for e in events]
    assert store.total - store.trimmed < 10 + 2 * CHUNK  # whole chunks dropped


def test_times_are_readings_minus_the_origin_to_the_nanosecond():
    store = EventStore(origin=100.0)
    store.extend(["wake", 1, None, None, None, {}] * 2, [100.30000000000001, 100.1234567894])
    assert [e.ts for e in store.read(0, 2)] == [0.3, 0.123456789]
    store.rebase(7.0)
    assert [e.ts for e in store.read(0, 2)] == [0.0, 0.0]


def test_a_clock_adopted_late_puts_the_earlier_stored_events_at_its_start():
    clock = TestClock()
    env = Context().with_service(Clock, clock)
    with record() as trace:
        effectpy.run(fork_join(CHUNK))  # live clock: more events than one chunk
        effectpy.run(zip_par(sleep(1).named("sleeper"), clock.adjust(2)).provide(env))
    assert trace.clock == "TestClock"
    sleeper = next(f for f in trace.fibers() if f.name == "sleeper")
    assert sleeper.end == 1.0
    assert {e.ts for e in trace.events[:3 * CHUNK]} == {0.0}


def test_names_are_bounded_and_shared_where_they_are_stored():
    huge = "L" * 2**20
    with record() as trace:
        effectpy.run(succeed(1).named(huge))
        for _ in range(3):
            effectpy.run(zip_par(succeed(1), succeed(2)))
    named = next(f for f in trace.fibers() if f.name and f.name.startswith("L"))
    assert len(named.name) < MAX_TEXT + 40 and named.name.endswith(f"[{2**20 - MAX_TEXT} more characters]")
    assert len(trace.to_jsonl()) < 20_000 and len(trace.to_svg()) < 60_000
    from opentelemetry.sdk.trace import TracerProvider
    spans = trace.to_opentelemetry(TracerProvider().get_tracer("t"), epoch_ns=0)
    assert max(len(span.name) for span in spans) < MAX_TEXT + 40
    firsts = [e.name for e in trace.events if e.name == "zip_par[0]"]
    assert len(firsts) == 6 and all(name is firsts[0] for name in firsts)  # one copy


def test_names_and_values_keep_no_memory_address():
    class Thing:
        pass

    with record() as trace:
        effectpy.run(acquire_release(succeed(Thing()), lambda _: sync(lambda: None)).named(repr(Thing())))
    text = trace.to_jsonl()
    assert " at 0x" not in text and "Thing object>" in text


def test_a_sleep_forever_is_recorded_with_no_deadline_and_the_trace_saves_and_loads():
    with record() as trace:
        effectpy.run(sleep(float("inf")).timeout(0.01).exit())
    sleep_event = next(e for e in trace.events if e.kind == "sleep")
    assert sleep_event.data == {"deadline": None, "seconds": None}
    assert Trace.from_jsonl(trace.to_jsonl()) == trace


# --- bounded in everything -------------------------------------------------------------


def rounds_of_fibers(rounds, per_round=50):
    """Each round: a scope, a resource and a zip_par of `per_round` fibers, joined."""
    def one_round(_):
        resource = acquire_release(succeed("r"), lambda _: sync(lambda: None))
        return scoped(resource.flat_map(lambda _: zip_par(*[yield_now] * per_round)))
    return for_each(range(rounds), one_round, discard=True)


def test_a_bounded_recorder_keeps_flat_memory_however_many_fibers():
    """Traced memory after 30,000 more fibers is what it was: the events, the fiber table
    and the scope and resource tables are all bounded. (Unbounded, the same 60,000 events
    keep over 5 MB; bounded, the store holds between `capacity` and `capacity` + 2
    chunks of events, about 0.5 MB of play.)"""
    with record(capacity=1_000) as trace:
        recorder = trace._recorder
        effectpy.run(rounds_of_fibers(200))  # 10,000 fibers: the steady state
        len(trace)  # (moves the raw events into the store)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            effectpy.run(rounds_of_fibers(600))  # 30,000 more fibers
            len(trace)
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert len(recorder._fids) <= 1_000 + 1 and not recorder._sids and not recorder._rids
    assert len(trace.events) == 1_000 and trace.dropped > 60_000
    assert grown < 1_000_000, f"the bounded recorder grew by {grown:,} bytes"


def test_the_pictures_of_a_bounded_recording_say_how_many_events_were_dropped():
    with record() as everything, record(capacity=10) as trace:
        effectpy.run(fork_join(20))
    dropped = trace.dropped
    assert dropped == len(everything) - 10 and len(trace) == 10
    assert f"{dropped} events dropped" in trace.to_svg()
    assert f"{dropped} events dropped" in render_svg(trace.fiber_tree())
    assert f"{dropped} oldest events dropped" in trace.summary()


def test_a_bounded_recorder_names_fibers_it_forgot_as_outside_the_trace():
    stop = effectpy.Deferred()

    def program():
        def victim_and_killer():
            return never.fork().flat_map(lambda victim: succeed(victim).zip(
                victim.interrupt().fork().flat_map(lambda killer: killer.join().as_(killer))))
        return victim_and_killer().flat_map(lambda pair: fork_join(20).flat_map(
            lambda _: pair[0].await_().map(lambda exit_: (pair, exit_))))

    with record(capacity=5) as trace:
        (victim, killer), victim_exit = effectpy.run(program())
        recorder = trace._recorder
        assert recorder.trace_id(killer.id) is None  # ended, then 20 more fibers ended
        assert trace.pretty_cause(victim_exit.cause) == "Interrupt: by a fiber outside this trace"
    del stop


def test_an_unbounded_recorder_closes_its_scope_and_resource_tables_as_they_close():
    with record() as trace:
        effectpy.run(rounds_of_fibers(5, per_round=2))
        recorder = trace._recorder
        assert not recorder._sids and not recorder._rids
    scopes = {e.data["scope"] for e in trace.events if e.kind == "scope_open"}
    resources = {e.data["resource"] for e in trace.events if e.kind == "acquire"}
    assert len(scopes) == 10 and len(resources) == 5  # every id distinct (5 scoped, 5 zip_par)
    assert all(r.released is not None for r in trace.resources())


def test_events_views_compare_and_index_like_tuples():
    store = EventStore(own_seqs=True)
    store.append(3, 0.5, "fork", 1, None, None, "main", {})
    store.append(7, 1.5, "exit", 1, None, None, "main", {"outcome": "success"})
    view = Events(store)
    assert len(view) == 2 and view[-1].seq == 7 and view[0:1] == (view[0],)
    assert view == tuple(view) and view[::-1] == tuple(reversed(tuple(view)))
    assert json.dumps([e.to_json() for e in view])
