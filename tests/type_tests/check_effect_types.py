"""Only type-checked (by tests/test_typing.py), never run: pins inferred types."""

from typing import Any, Never

from typing_extensions import assert_type

from effectpy import (
    Effect, Exit, Fiber, fail, for_each, for_each_par, race, run, run_exit, succeed, zip_par,
)


def pinned(effs: list[Effect[Any, str, int]]) -> None:
    one = succeed(1)
    assert_type(one.map(str), Effect[Any, Never, str])
    assert_type(run(one.map(str)), str)
    assert_type(run_exit(one), Exit[int])
    assert_type(zip_par(succeed(1), succeed("a")), Effect[Any, Never, tuple[int, str]])
    assert_type(zip_par(*effs), Effect[Any, str, tuple[int, ...]])
    assert_type(for_each_par([1, 2], lambda x: succeed(str(x))), Effect[Any, Never, list[str]])
    assert_type(for_each([1, 2], lambda x: succeed(str(x))), Effect[Any, Never, list[str]])
    assert_type(for_each([1, 2], lambda x: succeed(str(x)), discard=True), Effect[Any, Never, None])
    assert_type(race(succeed(1), succeed(2)), Effect[Any, Never, int])
    assert_type(fail("e").catch_all(lambda e: succeed(0)), Effect[Any, Never, int])
    assert_type(fail("e").map(lambda x: 1), Effect[Any, str, int])
    fiber = run(one.fork())
    assert_type(fiber, Fiber[Never, int])


def pinned_operators(items: list[int]) -> None:
    from effectpy import Duration, Option, Ref, Schedule, partition_par, validate_par

    one = succeed(1)
    assert_type(one.timed(), Effect[Any, Never, tuple[Duration, int]])
    assert_type(one.when(True), Effect[Any, Never, Option[int]])
    assert_type(one.cached(5), Effect[Any, Never, Effect[Any, Never, int]])
    assert_type(one.repeat_until(lambda n: n > 3), Effect[Any, Never, int])
    assert_type(fail("e").retry_while(lambda e: e == "e"), Effect[Any, str, Never])
    assert_type(one.ignore(), Effect[Any, Never, None])
    assert_type(partition_par(items, lambda x: succeed(str(x))), Effect[Any, Any, tuple[list[Never], list[str]]])
    assert_type(validate_par(items, lambda x: succeed(str(x))), Effect[Any, Never, list[str]])
    assert_type(Fiber.join_all([run(one.fork())]), Effect[Any, Never, list[int]])
    assert_type(Ref(1).get_and_update(lambda n: n + 1), Effect[Any, Any, int])
    assert_type(Schedule.once(), Schedule)


def recording_types() -> None:
    from effectpy.trace import Recording, Trace, record

    recording = record()
    assert_type(recording, Recording)
    with recording as trace:
        assert_type(trace, Trace)
    recording.fibers()  # type: ignore[attr-defined]  # a Recording is not the trace (--strict: used)
