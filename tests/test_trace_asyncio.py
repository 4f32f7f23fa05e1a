"""record(asyncio=True): plain asyncio tasks in the trace, as fibers."""

import asyncio
import contextlib
import sys
import time
import warnings

import pytest

import effectpy
from effectpy import Effect, acquire_release, sleep, succeed, sync, zip_par
from effectpy.trace import Trace, TraceEvent, record, traced
from effectpy.trace._asyncio import TaskFiber, trace_asyncio
from effectpy.trace._recorder import Recorder


def by_name(trace):
    return {f.name: f for f in trace.fibers()}


def cancels(trace, fiber):
    return [(e.by, e.data["reason"]) for e in trace.events if e.kind == "cancel" and e.fiber == fiber]


async def work(seconds, fail=None):
    await asyncio.sleep(seconds)
    if fail is not None:
        raise fail
    return seconds


async def the_issue_program():
    """TaskGroup, gather, wait_for and a cancelled task."""
    async with asyncio.TaskGroup() as group:
        group.create_task(work(0.001), name="tg-a")
        group.create_task(work(0.002), name="tg-b")
    await asyncio.gather(work(0.001), work(0.001))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(work(10), 0.01)
    victim = asyncio.create_task(work(10), name="victim")
    await asyncio.sleep(0)
    victim.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await victim
    return "done"


def test_parents_outcomes_and_cancel_edges_of_a_plain_asyncio_program():
    with record(asyncio=True) as trace:
        assert asyncio.run(the_issue_program()) == "done"
    fibers = trace.fibers()
    main = by_name(trace)["the_issue_program"]
    assert main.parent is None and main.outcome == "success"
    children = [f for f in fibers if f.id != main.id]
    # every task was created by main: by the TaskGroup, gather, wait_for, create_task
    assert len(children) == 6 and all(f.parent == main.id for f in children)
    assert set(main.children) == {f.id for f in children}
    named = by_name(trace)
    assert named["tg-a"].outcome == named["tg-b"].outcome == "success"
    gathered = [f for f in children if f.name == "work" and f.outcome == "success"]
    assert len(gathered) == 2
    (timed_out,) = [f for f in children if f.name == "work" and f.outcome == "interrupted"]
    # wait_for cancels the task it waits for, from the task that called it
    assert [by for by, _ in cancels(trace, timed_out.id)] == [main.id]
    assert named["victim"].outcome == "interrupted"
    assert cancels(trace, named["victim"].id) == [(main.id, "cancel() in the_issue_program")]
    assert any(e.kind == "join" and e.fiber == main.id and e.by == named["victim"].id for e in trace.events)
    # the same trace works everywhere a trace of effects does
    assert Trace.from_jsonl(trace.to_jsonl()) == trace
    assert "victim" in trace.to_svg() and trace.to_perfetto()["traceEvents"]
    assert not trace.leaks()
    # the root task's exit carries what it returned, as a root fiber's does
    (root_exit,) = [e for e in trace.events if e.kind == "exit" and e.fiber == main.id]
    assert root_exit.data["value"] == "'done'"


@pytest.mark.parametrize("source", [False, True])  # the stand-in's two ways of stepping
def test_a_root_task_shows_its_value_however_it_stepped(source):
    async def none() -> None:
        await asyncio.sleep(0)

    async def last_step_value() -> int:
        return 7

    async def main() -> list[object]:
        return await asyncio.gather(asyncio.create_task(none()), asyncio.create_task(last_step_value()))

    with record(asyncio=True, source=source) as trace:
        assert asyncio.run(main()) == [None, 7]
    values = {trace.fiber(e.fiber).name: e.data.get("value") for e in trace.events if e.kind == "exit"}
    # only roots carry a value: main's children do not
    assert values == {"main": "[None, 7]", "none": None, "last_step_value": None}


def test_a_task_group_that_aborts_names_the_failed_task_as_the_canceller():
    async def main():
        with contextlib.suppress(ExceptionGroup):
            async with asyncio.TaskGroup() as group:
                group.create_task(work(0.001, ValueError("boom")), name="failing")
                group.create_task(work(10), name="sibling")
                await asyncio.sleep(10)

    with record(asyncio=True) as trace:
        asyncio.run(main())
    named = by_name(trace)
    failing = named["failing"].id
    assert named["failing"].outcome == "failure" and named["sibling"].outcome == "interrupted"
    assert cancels(trace, named["sibling"].id) == [(failing, "its TaskGroup aborted")]
    assert cancels(trace, named["main"].id) == [(failing, "its TaskGroup aborted")]
    fail = next(e for e in trace.events if e.kind == "fail")
    assert fail.fiber == failing and fail.data["error"] == "ValueError('boom')"


def test_cancelling_a_task_that_awaits_gather_cancels_the_gathered_tasks_from_it():
    async def waiter():
        await asyncio.gather(work(10), work(10))

    async def main():
        task = asyncio.create_task(waiter())
        await asyncio.sleep(0.001)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with record(asyncio=True) as trace:
        asyncio.run(main())
    named = by_name(trace)
    gathered = [f for f in trace.fibers() if f.name == "work"]
    assert len(gathered) == 2 and all(f.parent == named["waiter"].id for f in gathered)
    assert cancels(trace, named["waiter"].id) == [(named["main"].id, "cancel() in main")]
    for f in gathered:
        assert f.outcome == "interrupted"
        ((by, _),) = cancels(trace, f.id)
        assert by == named["waiter"].id  # the cancellation passed on from the task awaiting them


def test_cancelling_a_gather_from_a_task_names_that_task_and_the_gather():
    async def main():
        gathering = asyncio.gather(work(10), work(10))
        await asyncio.sleep(0)
        gathering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await gathering

    with record(asyncio=True) as trace:
        asyncio.run(main())
    main_id = by_name(trace)["main"].id
    for f in trace.fibers():
        if f.name == "work":
            assert cancels(trace, f.id) == [(main_id, "its gather was cancelled")]


def test_asyncio_timeout_and_asyncio_run_are_named_as_cancellers():
    async def bounded():
        async with asyncio.timeout(0.005):
            await asyncio.sleep(10)

    async def main():
        asyncio.create_task(work(10), name="orphan")  # never awaited: asyncio.run cancels it
        with contextlib.suppress(TimeoutError):
            await asyncio.create_task(bounded())

    with record(asyncio=True) as trace:
        asyncio.run(main())
    named = by_name(trace)
    assert cancels(trace, named["bounded"].id) == [("asyncio.timeout", "asyncio.timeout expired")]
    assert cancels(trace, named["orphan"].id) == [("asyncio.run", "asyncio.run ended (it cancels the tasks left)")]
    # asyncio.run's own shutdown tasks are not the program's
    assert set(named) == {"main", "orphan", "bounded"}


def test_an_effect_awaited_in_a_task_is_its_child_and_tasks_made_in_effects_are_the_fibers():
    async def leaf():
        await asyncio.sleep(0)
        return 1

    async def body(ctx):
        return await asyncio.create_task(leaf(), name="made-in-effect")

    async def main():
        return await zip_par(Effect(body).named("eff"), succeed(2))

    with record(asyncio=True) as trace:
        assert asyncio.run(main()) == (1, 2)
    named = by_name(trace)
    (root,) = [f for f in trace.fibers() if f.parent == named["main"].id]
    assert root.name is None  # the effect's root fiber, under the task that awaited it
    assert named["eff"].parent == root.id
    assert named["made-in-effect"].parent == named["eff"].id
    assert len(trace.roots()) == 1  # one tree for the whole program


def test_cancelling_a_task_that_awaits_an_effect_interrupts_it_from_that_task():
    async def host(ready):
        ready.set()
        await sleep(10)  # an effect, carried by this task

    async def main():
        ready = asyncio.Event()
        task = asyncio.create_task(host(ready), name="host")
        await ready.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with record(asyncio=True) as trace:
        asyncio.run(main())
    named = by_name(trace)
    (root,) = [f for f in trace.fibers() if f.parent == named["host"].id]
    assert root.outcome == "interrupted"
    assert [by for by, _ in cancels(trace, root.id)] == [named["host"].id]


def test_only_tasks_made_inside_the_block_are_recorded_and_the_loop_is_left_as_it_was():
    async def main():
        loop = asyncio.get_running_loop()
        before = asyncio.create_task(work(0), name="before")
        with record(asyncio=True) as trace:
            inside = asyncio.create_task(work(0), name="inside")
            await inside
            assert type(inside).__name__ == "_Task" and isinstance(inside.get_coro(), TaskFiber)
        after = asyncio.create_task(work(0), name="after")
        await asyncio.gather(before, after)
        assert loop.get_task_factory() is None
        assert type(after) is asyncio.Task
        return trace

    trace = asyncio.run(main())
    assert [f.name for f in trace.fibers()] == ["inside"]


def test_plain_asyncio_on_a_test_clock_is_recorded_in_virtual_time_without_its_driver():
    from effectpy import TestClock
    clock = TestClock()

    async def call(seconds):
        await clock.sleep(seconds)

    async def main():
        with record(asyncio=True, clock=clock) as trace:
            task = asyncio.create_task(call(0.5), name="call")
            await clock.advance(1)  # its driver is a task of effectpy's: not the program's
        await task
        return trace

    trace = asyncio.run(main())
    assert [(f.name, f.start, f.end) for f in trace.fibers()] == [("call", 0.0, 0.5)]
    assert trace.clock == "TestClock"


def test_a_task_factory_already_on_the_loop_is_kept_and_put_back():
    made = []

    def factory(loop, coro, **kwargs):
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_task_factory(factory)
        with record(asyncio=True) as trace:
            await asyncio.create_task(work(0), name="theirs")
        await asyncio.create_task(work(0))
        assert loop.get_task_factory() is factory
        return trace

    trace = asyncio.run(main())
    works = [c for c in made if c.__name__ == "work"]
    assert len(works) == 2 and isinstance(works[0], TaskFiber)  # ours wraps, theirs makes the task
    assert not isinstance(works[1], TaskFiber)
    # their task class: its cancel() and set_name are not ours (the name is the coroutine's)
    assert [(f.name, f.outcome) for f in trace.fibers()] == [("work", "success")]


def test_the_event_loop_policy_is_put_back_after_a_block_outside_a_loop():
    policy = asyncio.get_event_loop_policy()
    with record(asyncio=True):
        assert asyncio.get_event_loop_policy() is not policy
        asyncio.run(work(0))
    assert asyncio.get_event_loop_policy() is policy
    with record(asyncio=True) as trace:
        pass
    assert len(trace) == 0


def test_nested_blocks_record_each_task_once_in_each_trace():
    async def main():
        await asyncio.create_task(work(0), name="outer-task")
        with record(asyncio=True) as inner:
            await asyncio.create_task(work(0), name="inner-task")
        return inner

    with record(asyncio=True) as outer:
        with record(asyncio=True) as middle:  # (both policies are in place when the loop is made)
            inner = asyncio.run(main())
    assert [f.name for f in inner.fibers()] == ["inner-task"]
    for trace in (outer, middle):
        assert [f.name for f in trace.fibers()] == ["main", "outer-task", "inner-task"]
        assert all(f.outcome == "success" for f in trace.fibers())


def test_task_names_and_the_coroutine_behind_the_stand_in():
    async def main():
        task = asyncio.create_task(work(0), name="named")
        assert task.get_coro().__name__ == "work"  # attribute reads reach the coroutine
        assert "work" in repr(task)
        await task
        await asyncio.create_task(work(0))

    with record(asyncio=True) as trace:
        asyncio.run(main())
    assert [f.name for f in trace.fibers()] == ["main", "named", "work"]


def test_traced_records_async_with_and_with_blocks_with_how_they_ended():
    async def holder(lock, fail):
        async with traced(lock, "lock"):
            with traced(open(__file__, encoding="utf-8")):
                await asyncio.sleep(0)
                if fail:
                    raise fail

    async def main():
        lock = asyncio.Lock()
        await holder(lock, None)
        with contextlib.suppress(KeyError):
            await asyncio.create_task(holder(lock, KeyError("x")), name="failing")
        task = asyncio.create_task(holder(lock, None), name="cancelled")
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with record(asyncio=True) as trace:
        asyncio.run(main())
    named = by_name(trace)
    resources = trace.resources()
    assert [(r.fiber, r.value, r.exit) for r in resources if r.value == "'lock'"] == [
        (named["main"].id, "'lock'", "success"), (named["failing"].id, "'lock'", "failure"),
        (named["cancelled"].id, "'lock'", "interrupted")]
    assert all(r.released is not None for r in resources) and len(resources) == 6
    # outside a recorded task nothing is recorded, and the block still works
    with traced(contextlib.nullcontext(7)) as value:
        assert value == 7


def test_a_shared_traced_semaphore_records_each_holder():
    pool = traced(asyncio.Semaphore(2), "slot")

    async def holder(seconds):
        async with pool:
            await asyncio.sleep(seconds)

    async def main():
        await asyncio.gather(holder(0.002), holder(0.001), holder(0.001))

    with record(asyncio=True) as trace:
        asyncio.run(main())
    holders = [f.id for f in trace.fibers() if f.name == "holder"]
    resources = trace.resources()
    assert sorted(r.fiber for r in resources) == holders  # one resource per block entered
    assert all(r.released is not None and r.exit == "success" for r in resources)
    ends = {f.id: f.end for f in trace.fibers()}
    assert all(r.released <= ends[r.fiber] for r in resources)  # each released by its holder


def test_traced_rejects_what_is_not_a_context_manager():
    with pytest.raises(TypeError, match="traced expects a context manager"):
        traced(42)
    with pytest.raises(TypeError, match="traced's name must be a str"):
        traced(contextlib.nullcontext(), name=3)


def test_a_long_step_of_a_task_is_recorded_with_where_it_ran():
    async def blocking():
        await asyncio.sleep(0)
        time.sleep(0.03)  # holds the event loop
        await asyncio.sleep(0)

    async def main():
        await asyncio.create_task(blocking())

    with record(asyncio=True, source=True) as trace:
        asyncio.run(main())
    named = by_name(trace)
    steps = [e for e in trace.events if e.kind == "step"]
    assert [e.fiber for e in steps if e.data["seconds"] >= 0.03] == [named["blocking"].id]
    step = next(e for e in steps if e.fiber == named["blocking"].id)
    first = blocking.__code__.co_firstlineno
    assert step.data["source"] == f"test_trace_asyncio.py:{first + 1}-{first + 3}"
    fork = next(e for e in trace.events if e.kind == "fork" and e.fiber == named["blocking"].id)
    assert fork.data["source"].startswith("test_trace_asyncio.py:")  # where the task was made


def test_a_long_step_that_raises_ends_where_it_raised():
    async def failing():
        await asyncio.sleep(0)
        time.sleep(0.03)
        raise KeyError("x")

    with record(asyncio=True, source=True) as trace:
        with pytest.raises(KeyError):
            asyncio.run(failing())
    (step,) = [e for e in trace.events if e.kind == "step" and e.data["seconds"] >= 0.03]
    first = failing.__code__.co_firstlineno
    assert step.data["source"] == f"test_trace_asyncio.py:{first + 1}-{first + 3}"


def test_an_effect_awaited_in_a_task_is_not_charged_to_the_task():
    async def main():
        await sync(lambda: time.sleep(0.03)).named("blocker")

    with record(asyncio=True) as trace:
        asyncio.run(main())
    named = by_name(trace)
    long_steps = {e.fiber for e in trace.events if e.kind == "step" and e.data["seconds"] >= 0.02}
    (root,) = [f.id for f in trace.fibers() if f.parent == named["main"].id]
    assert long_steps == {root}  # the fiber that ran time.sleep, not the task awaiting it


def test_a_recorder_that_raises_is_detached_and_the_tasks_run_on():
    class Broken(Recorder):
        def fiber_ended(self, fiber, exit):
            raise RuntimeError("broken")

    async def main():
        with trace_asyncio(Broken()):
            results = await asyncio.gather(work(0), work(0))
            late = await asyncio.create_task(work(0))  # made after the recorder was detached
        return results, late

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(main()) == ([0, 0], 0)
    assert any("detached" in str(w.message) for w in caught)


def test_record_checks_its_asyncio_option():
    with pytest.raises(TypeError, match="record's asyncio must be True or False, got str"):
        with record(asyncio="yes"):
            pass


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks: Python 3.12+")
def test_eager_tasks_are_recorded_from_their_first_step():
    async def main():
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        with record(asyncio=True) as trace:
            assert await asyncio.create_task(work(0), name="eager") == 0
        return trace

    trace = asyncio.run(main())
    (fiber,) = trace.fibers()
    assert fiber.name == "eager" and fiber.outcome == "success"
    assert [e.kind for e in trace.events] == ["fork", "exit"]


def test_record_checks_its_arguments_when_called_and_says_how_to_use_it():
    with pytest.raises(TypeError, match="capacity must be None or an int >= 1, got str '100'"):
        record(capacity="100")
    with pytest.raises(ValueError, match="capacity must be None or an int >= 1, got 0"):
        record(capacity=0)
    recording = record()  # not entered: no trace yet, and the error says so
    with pytest.raises(AttributeError, match=r"write `with record\(\) as trace:` and read trace.diagnose"):
        recording.diagnose()


def test_a_name_given_to_create_task_is_on_the_task_s_fork():
    async def child():
        await asyncio.sleep(10)

    async def main():
        with record(asyncio=True) as trace:  # inside the loop: the block ends before the tasks
            first = asyncio.create_task(child(), name="orphan")
            async with asyncio.TaskGroup() as group:
                group.create_task(asyncio.sleep(0), name="in a group")
            first.set_name("renamed later")  # once it ran: its next events carry the name
            await asyncio.sleep(0)
        first.cancel()
        return trace

    trace = asyncio.run(main())
    assert [(e.kind, e.name) for e in trace.events if e.fiber == 1] == [
        ("fork", "orphan"), ("cancel", "renamed later"), ("exit", "renamed later")]
    assert [e.name for e in trace.events if e.kind == "fork"] == ["orphan", "in a group"]


def test_record_is_also_a_decorator_and_each_entry_records_afresh(tmp_path):
    from effectpy.trace import Trace

    @record(path=tmp_path / "job.jsonl")
    def job(n):
        return effectpy.run(succeed(n).named(f"job{n}"))

    assert job(1) == 1 and job(2) == 2  # each call a fresh recording, written to the file
    assert [f.name for f in Trace.load(tmp_path / "job.jsonl").fibers()] == ["job2"]
    recording = record()
    with recording as first:
        effectpy.run(succeed("a").named("a"))
        with recording as inner:  # an entry inside another: each its own trace
            effectpy.run(succeed("b").named("b"))
    assert [f.name for f in first.fibers()] == ["a", "b"] and [f.name for f in inner.fibers()] == ["b"]
