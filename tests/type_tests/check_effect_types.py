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
