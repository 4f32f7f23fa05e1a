"""The runtime's step timing and the events behind the diagnostics: long steps, interruptions
that take effect late, releases that take time (both backends)."""

import gc
import time

import anyio

from _backend import each_backend, run  # noqa: F401 - each_backend runs every test on both backends
from effectpy import (
    Clock, Context, Effect, TestClock, acquire_release, never, race, sleep, succeed, sync, zip_par,
)
from effectpy._core._hooks import Instruments
from effectpy.lowlevel import Instrument
from effectpy.trace import record


def steps(trace, fiber=None):
    return [e for e in trace.events if e.kind == "step" and (fiber is None or e.fiber == fiber)]


def named(trace, name):
    return next(f for f in trace.fibers() if f.name == name)


def on_test_clock(program, advance):
    clock = TestClock()
    return run(zip_par(program, clock.adjust(advance)).provide(Context().with_service(Clock, clock)))


def test_a_long_synchronous_step_of_a_fiber_is_recorded():
    with record() as trace:
        run(sync(lambda: time.sleep(0.03)).named("busy"))
    busy = named(trace, "busy").id
    (step,) = [e for e in steps(trace) if e.data["seconds"] >= 0.02]
    assert step.fiber == busy and step.data["seconds"] >= 0.03
    assert "source" not in step.data  # a run-loop slice: its fiber's fork says where it was built


def test_a_long_step_of_a_coroutine_a_fiber_awaits_is_recorded_with_its_lines():
    async def body(ctx):
        await anyio.sleep(0)
        time.sleep(0.03)  # between two awaits: one step
        await anyio.sleep(0)
        return 1

    with record(source=True) as trace:
        assert run(Effect(body).named("coro")) == 1
    (step,) = [e for e in steps(trace) if e.data["seconds"] >= 0.02]
    assert step.fiber == named(trace, "coro").id
    first = body.__code__.co_firstlineno
    assert step.data["source"] == f"test_steps.py:{first + 1}-{first + 3}"


def test_a_fiber_is_not_charged_for_the_children_it_starts_inline():
    # zip_par starts its branches inline, inside the parent's step: the branch is charged
    with record() as trace:
        run(zip_par(sync(lambda: time.sleep(0.03)).named("child"), succeed(1)).named("parent"))
    long_steps = {e.fiber for e in steps(trace) if e.data["seconds"] >= 0.02}
    assert long_steps == {named(trace, "child").id}


def test_no_step_is_recorded_on_a_virtual_clock():
    # real time would make a TestClock trace differ from run to run
    with record() as trace:
        on_test_clock(sync(lambda: time.sleep(0.01)).named("busy"), 1)
    assert trace.clock == "TestClock" and steps(trace) == []


def test_steps_are_timed_only_for_an_instrument_that_takes_them():
    class Forks(Instrument):
        def fiber_started(self, fiber, parent):
            pass

    class Steps(Instrument):
        def fiber_step(self, fiber, seconds, where):
            pass

    assert Instruments((Forks(),)).ledger is None
    assert Instruments((Steps(),)).ledger is not None


def test_an_interruption_that_waits_for_an_uninterruptible_region_is_an_unwind_event():
    def victim(body):
        return body.named("victim").fork().flat_map(
            lambda f: sleep(1).flat_map(lambda _: f.interrupt()))

    with record() as trace:
        on_test_clock(victim(sleep(5).uninterruptible().flat_map(lambda _: never)), 10)
    v = named(trace, "victim").id
    (unwind,) = [e for e in trace.events if e.kind == "unwind"]
    assert unwind.fiber == v and unwind.ts == 5 and unwind.data["waited"] == 4
    with record() as trace:  # interruptible: it takes effect at once, so no event
        on_test_clock(victim(sleep(5).flat_map(lambda _: never)), 10)
    assert [e for e in trace.events if e.kind == "unwind"] == []
    assert named(trace, "victim").end == 1


def test_how_long_a_release_ran_is_on_its_release_event():
    def conn(release_seconds):
        return acquire_release(succeed("conn"), lambda c: sleep(release_seconds), lambda c: sleep(1))

    with record() as trace:
        on_test_clock(conn(2), 10)
    (release,) = [e for e in trace.events if e.kind == "release"]
    assert release.ts == 3 and release.data["seconds"] == 2
    with record() as trace:
        on_test_clock(conn(0), 10)
    (release,) = [e for e in trace.events if e.kind == "release"]
    assert "seconds" not in release.data  # instant: nothing to say


def test_a_recorded_coroutine_whose_fiber_is_interrupted_before_it_began_is_closed():
    log = []

    async def never_started(ctx):
        log.append("ran")  # pragma: no cover - must not run

    with record():
        assert run(race(Effect(never_started), succeed("fast"))) == "fast"
    gc.collect()  # a "coroutine was never awaited" warning would be an error here
    assert log == []
