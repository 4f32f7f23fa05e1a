"""Trace events and the recorder: every fork, cancel, acquire, release and failure."""

import asyncio
import inspect
import warnings

import pytest

import effectpy
from effectpy import (
    Clock, Context, Deferred, TestClock, acquire_release, fail, for_each_par, never, race,
    scoped, sleep, succeed, sync, yield_now, zip_par,
)
from effectpy.lowlevel import Instrument, instrument
from effectpy.trace import KINDS, Trace, TraceEvent, record


def on_clock(program, advance=10):
    """`program` on a fresh TestClock advanced by `advance`; returns (exit, clock)."""
    clock = TestClock()
    env = Context().with_service(Clock, clock)
    exit_, _ = effectpy.run(zip_par(program.exit(), clock.adjust(advance)).provide(env))
    return exit_, clock


def race_program():
    def fetch(name, seconds):
        res = acquire_release(succeed(f"conn-{name}"), lambda c: sync(lambda: None))
        return res.flat_map(lambda _: sleep(seconds)).as_(name).named(name)
    return race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4))


def kinds(trace, fiber=None):
    return [e.kind for e in trace.events if fiber is None or e.fiber == fiber]


def test_event_fields_and_total_order():
    with record() as trace:
        on_clock(race_program())
    events = trace.events
    assert [e.seq for e in events] == list(range(len(events)))
    assert all(isinstance(e, TraceEvent) and e.kind in KINDS for e in events)
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    fibers = trace.fibers()
    assert [f.id for f in fibers] == list(range(1, len(fibers) + 1))  # trace-local, sequential


def test_race_story_is_in_the_trace():
    with record() as trace:
        exit_, _ = on_clock(race_program())
    assert exit_.value == "Backup"
    by_name = {f.name: f for f in trace.fibers()}
    assert by_name["Backup"].outcome == "success" and by_name["Backup"].end == 0.2
    assert by_name["Primary"].outcome == "interrupted" and by_name["Fallback"].outcome == "interrupted"
    cancels = [e for e in trace.events if e.kind == "cancel"]
    racer = by_name["Backup"].parent
    # each cancel names its target and the canceller (the fiber running the race)
    assert {e.fiber for e in cancels} == {by_name["Primary"].id, by_name["Fallback"].id}
    assert all(e.by == racer and e.data["reason"].startswith("race") for e in cancels)
    # every acquire has its release, and the losers' releases saw an interruption
    resources = trace.resources()
    assert len(resources) == 3 and all(r.released == 0.2 for r in resources)
    exits = {r.fiber: r.exit for r in resources}
    assert exits[by_name["Backup"].id] == "success"
    assert exits[by_name["Primary"].id] == "interrupted"
    scope_kinds = [(e.kind, e.data["kind"]) for e in trace.events if e.kind.startswith("scope")]
    assert ("scope_open", "race") in scope_kinds and ("scope_close", "race") in scope_kinds
    sleeps = [e for e in trace.events if e.kind == "sleep" and e.fiber == by_name["Primary"].id]
    assert sleeps[0].data == {"deadline": 0.3, "seconds": 0.3}


def test_same_test_clock_program_gives_identical_traces():
    traces = []
    for _ in range(3):
        with record() as trace:
            on_clock(race_program())
        traces.append(trace.to_jsonl())
    assert traces[0] == traces[1] == traces[2]


def test_failures_and_defects_are_events():
    def boom():
        raise ValueError("bad value")
    with record() as trace:
        effectpy.run_exit(zip_par(fail("typed"), sync(boom)).named("both"))
        effectpy.run_exit(sync(boom))
    fails = [e for e in trace.events if e.kind == "fail"]
    dies = [e for e in trace.events if e.kind == "die"]
    assert fails[0].data["error"] == "'typed'"
    assert dies and dies[-1].data["error"] == "ValueError: bad value"
    assert "Traceback" in dies[-1].data["cause"] or "ValueError" in dies[-1].data["cause"]


def test_suspend_resume_join_and_timeout_events():
    def program():
        return sleep(1).fork().flat_map(lambda f: f.join()).flat_map(lambda _: never.timeout(2))
    with record() as trace:
        on_clock(program())
    ks = kinds(trace)
    for kind in ("suspend", "resume", "join", "sleep", "wake", "timeout"):
        assert kind in ks, kind
    suspends = {e.data["on"] for e in trace.events if e.kind == "suspend"}
    assert {"join", "sleep"} <= suspends
    [timeout] = [e for e in trace.events if e.kind == "timeout"]
    assert timeout.ts == 3.0 and timeout.data == {"after": 2.0}


def test_host_cancellation_names_the_host():
    async def main():
        started = asyncio.Event()
        task = asyncio.create_task(sync(started.set).flat_map(lambda _: never)._run())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with record() as trace:
        asyncio.run(main())
    [cancel] = [e for e in trace.events if e.kind == "cancel"]
    assert cancel.by == "host" and cancel.data["reason"] == "host task cancelled"
    assert trace.fibers()[0].outcome == "interrupted"


def test_leaks_names_unended_fibers_and_unreleased_resources():
    gate = Deferred()

    async def main():
        scope = effectpy.Scope()
        leaky = acquire_release(succeed("socket"), lambda s: sync(lambda: None)).flat_map(
            lambda _: gate.await_()).named("leaky worker")
        # a daemon blocked forever, holding a resource: the trace shows the leak
        await leaky.fork_daemon()
        await yield_now
        return scope

    with record() as trace:
        asyncio.run(main())
    leaks = trace.leaks()
    assert leaks
    assert [f.name for f in leaks.fibers] == ["leaky worker"]
    assert [r.value for r in leaks.resources] == ["'socket'"]
    text = str(leaks)
    assert "leaky worker" in text and "never released" in text and "#1 > #2 leaky worker" in text
    assert "leaks:" in trace.summary()


def test_no_leaks_in_structured_programs():
    with record() as trace:
        on_clock(scoped(race_program()))
    assert not trace.leaks()
    assert "leaks: none" in trace.summary()


def test_flight_recorder_keeps_the_last_events_and_counts_dropped():
    with record(capacity=10) as trace:
        effectpy.run(for_each_par(range(50), lambda i: succeed(i)))
    assert len(trace.events) == 10
    assert trace.dropped > 0 and trace.overflow
    assert trace.events[-1].seq == trace.dropped + 9
    with pytest.raises(ValueError):
        with record(capacity=0):
            pass


def test_concurrent_unrelated_runs_are_not_mixed_in():
    async def main():
        async def recorded():
            with record() as trace:
                await zip_par(yield_now, yield_now)
            return trace

        async def unrelated():
            await for_each_par(range(20), lambda _: yield_now)

        trace, _ = await asyncio.gather(recorded(), unrelated())
        return trace

    trace = asyncio.run(main())
    assert len(trace.fibers()) == 3  # the recorded root and its two branches only


def test_a_raising_instrument_is_detached_and_the_result_unchanged():
    class Broken(Instrument):
        def fiber_started(self, fiber, parent):
            raise RuntimeError("instrument bug")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with instrument(Broken()), record() as trace:
            assert effectpy.run(zip_par(succeed(1), succeed(2))) == (1, 2)
    assert any("detached" in str(w.message) for w in caught)
    assert len(trace.fibers()) == 3  # the healthy recorder kept recording


@pytest.mark.parametrize("hook", ["fiber_started", "fiber_ended", "fiber_joined"])
def test_the_only_instrument_of_a_fibers_hook_is_detached_when_it_raises(hook):
    # these three hooks call their one instrument directly, not through Instruments.emit
    calls = []

    def broken(self, fiber, other):
        if hook == "fiber_started" and other is None:
            return  # the root's start is reported through emit: fail on a forked child's
        calls.append(hook)
        raise RuntimeError("instrument bug")

    Broken = type("Broken", (Instrument,), {hook: broken})
    program = succeed(1).fork().flat_map(lambda f: f.join()).fork().flat_map(lambda f: f.join())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with instrument(Broken()):
            assert effectpy.run(program) == 1
    assert calls == [hook]  # detached at its first failure
    assert any("detached" in str(w.message) and hook in str(w.message) for w in caught)


def test_with_warnings_as_errors_only_the_broken_instrument_is_detached():
    # two instruments take the hook (so it goes through emit); the broken one's warning,
    # an error here, fails the join, and the healthy one must stay attached and unblamed
    class Broken(Instrument):
        def fiber_joined(self, fiber, target):
            raise RuntimeError("instrument bug")

    class Healthy(Instrument):
        joins = 0

        def fiber_joined(self, fiber, target):
            self.joins += 1

    healthy = Healthy()
    join = succeed(1).fork().flat_map(lambda f: f.join())
    failures = []
    program = join.catch_all_defect(lambda e: succeed(failures.append(str(e)))).flat_map(lambda _: join)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with instrument(Broken()), instrument(healthy):
            assert effectpy.run(program) == 1
    assert "Broken" in failures[0] and "Healthy" not in failures[0]
    assert healthy.joins == 1  # the second join, after the broken one was detached


def test_a_fork_whose_started_hook_fails_with_warnings_as_errors_fails_and_is_not_waited_for():
    class Broken(Instrument):
        def fiber_started(self, fiber, parent):
            if parent is not None:
                raise RuntimeError("instrument bug")

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the "detached" warning fails the fork
        with instrument(Broken()):
            exit_ = effectpy.run_exit(succeed(1).fork().flat_map(lambda f: f.join()))
    [defect] = exit_.cause.defects()
    assert isinstance(defect, RuntimeWarning) and "detached" in str(defect)


def test_a_run_keeps_no_instrument_alive_once_it_has_ended():
    import gc
    import weakref

    class Ends(Instrument):
        def fiber_ended(self, fiber, exit):
            pass

    gc.disable()  # freed at once, not at the next collection: no reference cycle
    try:
        ends = Ends()
        gone = weakref.ref(ends)
        with instrument(ends):
            effectpy.run(succeed(1).fork().flat_map(lambda f: f.join()))
        del ends
        assert gone() is None
    finally:
        gc.enable()


def test_names_default_to_the_combinator_and_named_wins():
    with record() as trace:
        effectpy.run(zip_par(succeed(1), succeed(2).named("custom")))
        effectpy.run(for_each_par(range(2), succeed))
    names = [f.name for f in trace.fibers()]
    assert names == [None, "zip_par[0]", "custom", None, "for_each_par[0]", "for_each_par[1]"]


def test_trace_is_a_value():
    with record() as live:
        effectpy.run(succeed(1))
    frozen = Trace(live.events)
    assert frozen == live and frozen.fibers() == live.fibers()
    with pytest.raises(TypeError):
        Trace([("not", "an", "event")])  # type: ignore[list-item]


def test_source_locations_are_off_by_default_and_point_at_user_code():
    with record() as trace:
        effectpy.run(zip_par(succeed(1), succeed(2)))
    assert all("source" not in e.data for e in trace.events)

    with record(source=True) as trace:
        program = zip_par(succeed(1), succeed(2).named("second"))
        line = inspect.currentframe().f_lineno - 1  # the line above
        effectpy.run(program)
    forks = [e for e in trace.events if e.kind == "fork" and e.parent is not None]
    assert [e.data["source"] for e in forks] == [f"test_trace.py:{line}"] * 2


def test_a_fiber_outside_the_trace_uses_no_fiber_id():
    async def main():
        gate = asyncio.Event()
        victim = await sync(gate.set).flat_map(lambda _: never).fork_daemon()  # not recorded
        with record() as trace:
            async def cancel_from_inside():
                await gate.wait()
                await effectpy.succeed(1).flat_map(lambda _: victim.interrupt())
            await cancel_from_inside()
            await effectpy.succeed(2).fork().flat_map(lambda f: f.join())
        return trace

    trace = asyncio.run(main())
    ids = [f.id for f in trace.fibers()]
    assert ids == list(range(1, len(ids) + 1))  # no gaps
    join = next(e for e in trace.events if e.kind == "join")
    assert join.by == "a fiber outside this trace"


def test_cancel_by_a_fiber_outside_the_trace_names_it_so():
    from effectpy.trace._recorder import Recorder

    class Stub:
        def __init__(self, fid):
            self.id, self.name, self.daemon, self.source = fid, None, False, None
            self._ctx = effectpy.Context()

    recorder = Recorder()
    victim = Stub(10_001)
    recorder.fiber_started(victim, None)
    recorder.fiber_interrupted(victim, 99_999, "interrupt()")  # 99,999 never appeared
    [_, cancel] = recorder.events
    assert cancel.by == "a fiber outside this trace" and recorder._fids == {10_001: 1}


def test_pretty_cause_names_fibers_as_the_trace_does():
    from effectpy import Interrupt, Then
    effectpy.run(zip_par(succeed(1), succeed(2)))  # runtime fiber ids now start past 1
    stop_the_worker = never.named("worker").fork().flat_map(
        lambda worker: worker.interrupt().flat_map(lambda _: worker.join()))
    with record() as trace:
        exit_ = effectpy.run_exit(stop_the_worker.named("boss"))
    [runtime_id] = exit_.cause.interruptors()
    assert runtime_id != 1 and exit_.cause.pretty() == f"Interrupt: by fiber #{runtime_id}"
    assert trace.pretty_cause(exit_.cause) == "Interrupt: by fiber #1 boss"
    other = Then(Interrupt(runtime_id + 10**9), Interrupt("host"))
    assert trace.pretty_cause(other).splitlines() == [
        "Then:", "  Interrupt: by a fiber outside this trace", "  -- then, while handling it --",
        "  Interrupt: by host"]
    # a trace read back from JSONL keeps no runtime ids: it does not guess
    loaded = Trace.from_jsonl(trace.to_jsonl())
    assert loaded.pretty_cause(exit_.cause) == f"Interrupt: by runtime fiber {runtime_id}"
    with pytest.raises(TypeError, match="expects a Cause"):
        trace.pretty_cause(exit_)


@pytest.mark.parametrize("how", ["run", "drive", "trio"])
def test_a_daemon_ended_only_by_the_end_of_the_run_is_a_leak(how):
    from effectpy import Deferred, TestClock, never

    released = []
    started = Deferred()
    held = effectpy.acquire_release(effectpy.succeed("conn"), lambda _: effectpy.sync(lambda: released.append(1)))
    heartbeat = held.flat_map(lambda _: started.succeed(None)).flat_map(lambda _: never).named("heartbeat")
    program = heartbeat.fork_daemon().flat_map(lambda _: started.await_()).as_("done")
    with record() as trace:
        if how == "drive":
            exit_ = asyncio.run(TestClock().drive(program))
        else:
            exit_ = effectpy.run_exit(program, backend="trio" if how == "trio" else "asyncio")
    assert exit_.value == "done"
    assert released == [1]  # the run ended the daemon, and its cleanup ran
    leaks = trace.leaks()
    assert [f.name for f in leaks.outlived] == ["heartbeat"] and not leaks.fibers and not leaks.resources
    assert "fiber #2 heartbeat ran until the run ended, which interrupted it" in leaks.describe()
    assert "heartbeat ran until the run ended" in trace.summary(timings=False)
    # the reason survives a JSONL round trip
    assert Trace.from_jsonl(trace.to_jsonl()).leaks().outlived == leaks.outlived


def test_a_daemon_that_ended_by_itself_is_no_leak():
    from effectpy import Deferred

    gate = Deferred()
    program = gate.await_().fork_daemon().flat_map(lambda f: gate.succeed(None).flat_map(lambda _: f.join()))
    with record() as trace:
        effectpy.run(program)
    assert not trace.leaks()


def test_summary_and_leaks_leave_internal_fibers_out_and_say_what_was_caught():
    program = sleep(5).timeout(1).catch_all(lambda e: succeed("fallback"))
    with record() as trace:
        assert asyncio.run(TestClock().drive(program)).value == "fallback"
    timer = next(f for f in trace.fibers() if f.internal)
    assert timer.name == "effectpy:timeout timer" and timer.outcome == "failure"
    text = trace.summary()
    assert "fibers: 1 interrupted, 1 success (and 1 internal)" in text  # the timer is no failure
    assert "  1 s #1 main: fail TimeoutError('timed out after 1s') (caught \u2192 recovered \u2192 'fallback')" in text
    assert "timeout timer" not in text and "over 1 s (TestClock clock)" in text
    # an internal fiber ends with its owner: one that never ended is not the program's leak
    stuck = Trace([TraceEvent(0, 0.0, "fork", 1, None, None, "job", {}),
                   TraceEvent(1, 0.0, "fork", 2, 1, None, "effectpy:buffer pump", {}),
                   TraceEvent(2, 1.0, "exit", 1, None, None, "job", {"outcome": "success"})])
    assert not stuck.leaks() and "leaks: none" in stuck.summary()
