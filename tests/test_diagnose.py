"""trace.diagnose(): each diagnostic fires on a program made to have that bug, and stays
silent on its fixed twin."""

import asyncio
import contextlib
import time

import pytest

import effectpy
from effectpy import (
    Clock, Context, Duration, Layer, Scope, TestClock, acquire_release, never, sleep, succeed, sync,
    unit, zip_par,
)
from effectpy.trace._text import fmt_duration
from effectpy.trace import Diagnostic, Trace, TraceEvent, diagnose, record

pytest_plugins = ["pytester"]



def at(ts: float) -> str:
    """An instant as the messages write it: as the pictures' time axis does."""
    return fmt_duration(round(ts, 9))

def kinds(diagnostics):
    return [d.kind for d in diagnostics]


def on_test_clock(program, advance=10):
    clock = TestClock()
    return effectpy.run(zip_par(program, clock.adjust(advance)).provide(Context().with_service(Clock, clock)))


def fiber_named(trace, name):
    return next(f for f in trace.fibers() if f.name == name)


# --- leak -------------------------------------------------------------------------------


async def fetch_user():
    await asyncio.sleep(0.001)
    raise ConnectionError("user service down")


async def fetch_orders():
    await asyncio.sleep(10)


async def leaky_handler():
    await asyncio.gather(fetch_user(), fetch_orders())  # fails fast, orphans fetch_orders


async def safe_handler():
    async with asyncio.TaskGroup() as group:  # cancels fetch_orders before it ends
        group.create_task(fetch_user())
        group.create_task(fetch_orders())


def run_handler(handler):
    async def main():
        with contextlib.suppress(ConnectionError, ExceptionGroup):
            await asyncio.create_task(handler())

    with record(asyncio=True) as trace:
        asyncio.run(main())
    return trace


def test_leak_fires_on_a_gather_that_orphans_a_task_and_not_on_a_task_group():
    trace = run_handler(leaky_handler)
    (leak,) = [d for d in trace.diagnose() if d.kind == "leak"]
    orders, handler = fiber_named(trace, "fetch_orders"), fiber_named(trace, "leaky_handler")
    assert leak.fibers == (orders.id, handler.id) and leak.at == handler.end
    assert leak.message == (f"#{orders.id} fetch_orders outlived its parent #{handler.id} leaky_handler, "
                            f"which ended at {at(handler.end)}; it ended at {at(orders.end)} (interrupted)")
    assert run_handler(safe_handler).diagnose() == []


def test_leak_fires_on_a_daemon_that_only_the_end_of_the_run_stopped():
    with record() as trace:
        effectpy.run(never.named("heartbeat").fork_daemon().as_("done"))
    (leak,) = trace.diagnose()
    assert leak.kind == "leak" and leak.fibers == (2, 1)
    assert leak.message.startswith("#2 heartbeat ran until the run ended at ")
    with record() as trace:  # supervised: it ends with its parent, which waits for it
        effectpy.run(never.named("heartbeat").fork().as_("done"))
    assert trace.diagnose() == []


# --- unreleased -------------------------------------------------------------------------


def build_db(close):
    async def main():
        scope = Scope()
        layer = Layer.scoped(acquire_release(succeed("db"), lambda db: unit))
        await layer.build_scoped(Context(), scope)
        if close:
            await scope.close()

    with record() as trace:
        asyncio.run(main())
    return trace


def test_unreleased_fires_on_a_scope_never_closed_and_not_on_one_closed():
    trace = build_db(close=False)
    (d,) = trace.diagnose()
    (acquired,) = trace.resources()
    assert (d.kind, d.fibers, d.resource, d.at) == ("unreleased", (1,), 1, acquired.acquired)
    assert d.message == f"resource 1 ('db') acquired by #1 at {at(acquired.acquired)} was never released"
    assert build_db(close=True).diagnose() == []


# --- blocked_loop -----------------------------------------------------------------------


async def blocking_handler():
    await asyncio.sleep(0)
    time.sleep(0.06)  # the bug: a blocking call in a coroutine
    await asyncio.sleep(0)


async def fixed_handler():
    await asyncio.sleep(0)
    await asyncio.to_thread(time.sleep, 0.06)  # the fix: off the event loop
    await asyncio.sleep(0)


def run_task(coroutine_function):
    async def main():
        await asyncio.create_task(coroutine_function())

    with record(asyncio=True, source=True) as trace:
        asyncio.run(main())
    return trace


def test_blocked_loop_fires_on_a_blocking_call_in_a_coroutine_with_its_lines():
    trace = run_task(blocking_handler)
    (d,) = [d for d in trace.diagnose() if d.kind == "blocked_loop"]
    handler = fiber_named(trace, "blocking_handler")
    first = blocking_handler.__code__.co_firstlineno
    assert d.fibers == (handler.id,) and d.seconds >= 0.06
    assert d.source == f"test_diagnose.py:{first + 1}-{first + 3}"
    assert d.message.startswith(f"#{handler.id} blocking_handler held the event loop for ")
    assert d.message.endswith(f"s (test_diagnose.py:{first + 1}-{first + 3})")
    assert handler.start <= d.at <= handler.end
    # the fixed twin: no step of the handler held the loop
    fixed = run_task(fixed_handler)
    handler = fiber_named(fixed, "fixed_handler")
    assert [d for d in fixed.diagnose() if d.kind == "blocked_loop" and handler.id in d.fibers] == []


def synthetic(step_seconds, clock="live"):
    events = [
        TraceEvent(0, 0.0, "fork", 1, None, None, "main", {"source": "app.py:3"}),
        TraceEvent(1, 0.1, "step", 1, None, None, "main", {"seconds": step_seconds}),
        TraceEvent(2, 0.2, "exit", 1, None, None, "main", {"outcome": "success"}),
    ]
    return Trace(events, clock=clock)


def test_blocked_loop_on_synthetic_traces_and_its_threshold():
    (d,) = synthetic(0.08).diagnose()
    # on the live clock the step began `seconds` before its event; the fork says where
    assert (d.kind, d.fibers, d.at, d.seconds, d.source) == ("blocked_loop", (1,), 0.02, 0.08, "app.py:3")
    assert d.message == "#1 main held the event loop for 80 ms at 20 ms (app.py:3)"
    assert synthetic(0.01).diagnose() == []  # the fixed twin
    assert synthetic(0.08).diagnose(blocked_loop=0.1) == []
    assert kinds(synthetic(0.01).diagnose(blocked_loop=Duration.millis(5))) == ["blocked_loop"]
    assert synthetic(0.08).diagnose(blocked_loop=None) == []
    (virtual,) = synthetic(0.08, clock="TestClock").diagnose()
    assert virtual.at == 0.1  # no time passes on a virtual clock during a step


# --- slow_interrupt ---------------------------------------------------------------------


def interrupted_at_1(body):
    return body.named("victim").fork().flat_map(
        lambda fiber: sleep(1).flat_map(lambda _: fiber.interrupt())).named("boss")


def test_slow_interrupt_fires_on_an_uninterruptible_region_and_not_on_an_interruptible_one():
    with record() as trace:
        on_test_clock(interrupted_at_1(sleep(5).uninterruptible().flat_map(lambda _: never)))
    (d,) = trace.diagnose()
    victim, boss = fiber_named(trace, "victim"), fiber_named(trace, "boss")
    assert (d.kind, d.fibers, d.at, d.seconds) == ("slow_interrupt", (victim.id, boss.id), 1, 4)
    assert d.message == f"interrupting #{victim.id} victim (asked by #{boss.id} boss at 1 s) took 4 s to take effect"
    with record() as trace:
        on_test_clock(interrupted_at_1(sleep(5).flat_map(lambda _: never)))
    assert trace.diagnose() == []


def test_slow_interrupt_fires_when_the_fiber_runs_to_its_end_instead():
    # forked in an uninterruptible region, the victim starts (and stays) uninterruptible
    program = sleep(5).named("victim").fork().uninterruptible().flat_map(
        lambda fiber: sleep(1).flat_map(lambda _: fiber.interrupt())).named("boss")
    with record() as trace:
        on_test_clock(program)
    (d,) = trace.diagnose()
    assert d.kind == "slow_interrupt" and d.seconds == 4
    assert d.message.endswith("never took effect: the fiber ran to its end 4 s later")


def test_slow_interrupt_fires_on_a_task_that_ignores_its_cancellation_and_not_on_blocks():
    async def stubborn():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # the bug: it swallows the cancellation and goes on

    async def main():
        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        task.cancel()
        await task

    with record(asyncio=True) as trace:
        asyncio.run(main())
    (d,) = trace.diagnose(slow_interrupt=0.02)
    assert d.kind == "slow_interrupt" and d.fibers == (fiber_named(trace, "stubborn").id, 1)
    assert "never took effect: the fiber ran to its end" in d.message

    async def blocks():
        # asyncio cancels the task to leave these blocks; the task goes on: not an interruption
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.001):
                await asyncio.sleep(10)
        with contextlib.suppress(ExceptionGroup):
            async with asyncio.TaskGroup() as group:
                group.create_task(fetch_user())
                await asyncio.sleep(10)
        await asyncio.sleep(0.05)

    with record(asyncio=True) as trace:
        asyncio.run(blocks())
    assert trace.diagnose(slow_interrupt=0.02, slow_finalizer=0.02) == []


# --- slow_finalizer ---------------------------------------------------------------------


def test_slow_finalizer_fires_on_a_slow_release_and_not_on_a_quick_one():
    def program(release_seconds):
        conn = acquire_release(succeed("conn"), lambda c: sleep(release_seconds), lambda c: sleep(1))
        return conn.named("worker")

    with record() as trace:
        on_test_clock(program(2))
    (d,) = trace.diagnose()
    worker = fiber_named(trace, "worker")
    assert (d.kind, d.fibers, d.resource, d.at, d.seconds) == ("slow_finalizer", (worker.id,), 1, 1, 2)
    assert d.message == f"releasing resource 1 ('conn') of #{worker.id} worker took 2 s (from 1 s)"
    with record() as trace:
        on_test_clock(program(0))
    assert trace.diagnose() == []


def test_slow_finalizer_fires_on_a_slow_cleanup_after_an_interruption():
    with record() as trace:
        on_test_clock(interrupted_at_1(never.ensuring(sleep(2))))
    (d,) = trace.diagnose()
    victim = fiber_named(trace, "victim")
    assert (d.kind, d.fibers, d.at, d.seconds) == ("slow_finalizer", (victim.id,), 1, 2)
    assert d.message == f"#{victim.id} victim took 2 s to end after its interruption (from 1 s)"
    with record() as trace:
        on_test_clock(interrupted_at_1(never.ensuring(unit)))
    assert trace.diagnose() == []


def test_slow_finalizer_fires_on_a_task_that_cleans_up_slowly_when_cancelled():
    async def worker(cleanup):
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(cleanup)

    async def main(cleanup):
        task = asyncio.create_task(worker(cleanup))
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    for cleanup, expected in ((0.05, ["slow_finalizer"]), (0, [])):
        with record(asyncio=True) as trace:
            asyncio.run(main(cleanup))
        found = [d for d in trace.diagnose(slow_finalizer=0.03) if fiber_named(trace, "worker").id in d.fibers]
        assert kinds(found) == expected


# --- never_ended ------------------------------------------------------------------------


def test_never_ended_fires_on_a_daemon_left_running_and_not_on_one_stopped():
    async def main(stop):
        with record() as trace:
            fiber = await never.named("forever").fork_daemon()
            if stop:
                await fiber.interrupt()
        return trace

    trace = asyncio.run(main(stop=False))
    (d,) = [d for d in trace.diagnose() if d.kind == "never_ended"]
    forever = fiber_named(trace, "forever")
    assert d.fibers == (forever.id,) and d.at == forever.start
    assert d.message == f"#{forever.id} forever never ended (started at {at(forever.start)})"
    assert asyncio.run(main(stop=True)).diagnose() == []


# --- the API ----------------------------------------------------------------------------


def test_diagnose_is_a_pure_function_of_the_trace():
    trace = run_handler(leaky_handler)
    loaded = Trace.from_jsonl(trace.to_jsonl())
    assert loaded.diagnose() == trace.diagnose() == diagnose(trace)
    (d,) = [d for d in trace.diagnose() if d.kind == "leak"]
    assert isinstance(d, Diagnostic) and str(d) == d.message
    assert d.describe(timings=False) == "#4 fetch_orders outlived its parent #2 leaky_handler (it ended interrupted)"


@pytest.mark.parametrize("kind, shown_by", [
    ("leak", ("exit", 1)), ("unreleased", ("acquire", None)), ("blocked_loop", ("step", None)),
    ("slow_interrupt", ("unwind", None)), ("slow_finalizer", ("exit", None)), ("never_ended", ("fork", None)),
])
def test_each_diagnostic_names_the_event_that_shows_it(kind, shown_by):
    from _bugs import BUGS
    trace = BUGS[kind][0]()
    (d,) = trace.diagnose()
    (event,) = [e for e in trace.events if e.seq == d.seq]
    event_kind, fiber = shown_by
    assert (event.kind, event.fiber) == (event_kind, fiber if fiber is not None else d.fibers[0])
    # a moment is shown by the event at its time; what lasted, by the one that ended it
    assert event.ts == (d.at if d.seconds is None else pytest.approx(d.at + d.seconds))


def test_an_interruption_still_waiting_at_the_end_of_the_trace_has_no_event():
    events = [TraceEvent(0, 0.0, "fork", 1, None, None, "boss", {}),
              TraceEvent(1, 0.0, "fork", 2, 1, None, "victim", {}),
              TraceEvent(2, 1.0, "cancel", 2, None, 1, "victim", {}),
              TraceEvent(3, 5.0, "exit", 1, None, None, "boss", {"outcome": "success"})]
    (d,) = [d for d in Trace(events, clock="TestClock").diagnose() if d.kind == "slow_interrupt"]
    assert d.seq is None and d.message.endswith("had not taken effect 4 s later, when the trace ended")


def test_diagnostics_come_in_the_order_they_began():
    events = [
        TraceEvent(0, 0.0, "fork", 1, None, None, None, {}),
        TraceEvent(1, 0.5, "acquire", 1, None, None, None, {"resource": 1, "value": "'x'"}),
        TraceEvent(2, 0.9, "step", 1, None, None, None, {"seconds": 0.1}),
    ]
    assert [(d.kind, d.at) for d in Trace(events).diagnose()] == [
        ("never_ended", 0.0), ("unreleased", 0.5), ("blocked_loop", 0.8)]


@pytest.mark.parametrize("bad, error, match", [
    (0.0005, ValueError, r"blocked_loop must be at least 0.001 s .*got 0.0005"),
    (-1, ValueError, "non-negative"),
    (True, TypeError, "must be a number of seconds, a Duration or None, got True"),
    ("50ms", TypeError, "50ms"),
])
def test_thresholds_are_checked(bad, error, match):
    with pytest.raises(error, match=match):
        synthetic(0.08).diagnose(blocked_loop=bad)


def test_unknown_thresholds_are_refused():
    with pytest.raises(TypeError, match="slow_loop"):
        synthetic(0.08).diagnose(slow_loop=1)


# --- where they are shown ---------------------------------------------------------------


def test_the_summary_shows_the_diagnostics_the_leaks_line_does_not():
    summary = run_handler(leaky_handler).summary()
    # a task that outlived its parent is a leak, though it ended later: the leaks line says so
    assert "leaks: \n#4 fetch_orders outlived its parent #2 leaky_handler, which ended at " in summary
    assert "diagnostics" not in summary
    # the same program, the same text (no clock readings)
    assert run_handler(leaky_handler).summary(timings=False) == "\n".join([
        "4 fibers",
        "fibers: 2 failure, 1 interrupted, 1 success",
        "  #3 fetch_user: fail ConnectionError('user service down')",
        "  #2 leaky_handler: fail ConnectionError('user service down')",
        "leaks: ",
        "#4 fetch_orders outlived its parent #2 leaky_handler (it ended interrupted)"])
    # blocked_loop depends on real time: summary(timings=False) leaves it out
    assert "blocked_loop" in synthetic(0.08).summary() and "diagnostics" not in synthetic(0.08).summary(timings=False)
    # what the leaks line says is not said twice; a clean trace has no section
    assert "diagnostics" not in build_db(close=False).summary()
    assert "diagnostics" not in run_handler(safe_handler).summary()


def test_the_pytest_plugin_shows_the_diagnostics_of_a_failed_test(pytester):
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    pytester.makepyfile(test_bug="""
        import asyncio, time
        import pytest

        async def handler():
            await asyncio.sleep(0)
            time.sleep(0.06)

        @pytest.mark.effect_trace(asyncio=True)
        def test_handler(effect_trace):
            asyncio.run(handler())
            assert False, "too slow"
    """)
    result = pytester.runpytest("--effectpy-trace-dir", "traces")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- effectpy trace -*", "diagnostics:",
                                 "  blocked_loop: #1 handler held the event loop for * ms at *s", "leaks: none"])


def test_the_leaks_line_names_a_fiber_once():
    from effectpy.trace import Trace, TraceEvent
    trace = Trace([TraceEvent(0, 0.0, "fork", 1, None, None, "parent", {}),
                   TraceEvent(1, 0.0, "fork", 2, 1, None, "forever", {}),
                   TraceEvent(2, 1.0, "exit", 1, None, None, "parent", {"outcome": "success"})], clock="TestClock")
    assert [d.kind for d in trace.diagnose()] == ["never_ended", "leak"]  # both about #2
    leaks = trace.summary().split("leaks: ")[1].strip().splitlines()
    assert len(leaks) == 1 and leaks[0].startswith("fiber #2 forever never ended")
