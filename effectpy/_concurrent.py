"""Structured-concurrency combinators: `zip_par`, `race`, `race_success`, `for_each_par`.

Each branch (or item) runs in its own child fiber with its own scope; whatever a branch
acquires with `acquire_release` is released when that branch ends. None of them returns
before every branch it started has ended and run its finalizers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from ._core._effect import AWAIT, MAP, Effect, _check_callable, _make, _shaped, lift
from ._core._group import ALL, FIRST, FIRST_SUCCESS, group

__all__ = ["for_each_par", "race", "race_success", "zip_par"]

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
D = TypeVar("D")
E = TypeVar("E")
T = TypeVar("T")


def _effects(effects: tuple[object, ...], where: str) -> list[Effect[Any, Any, Any]]:
    if not effects:
        raise TypeError(f"{where}() needs at least one effect, got none")
    if len(effects) == 1 and isinstance(effects[0], (list, tuple)):
        raise TypeError(
            f"{where} takes effects as separate arguments, got one {type(effects[0]).__name__}; "
            f"unpack it: {where}(*effects)"
        )
    return [lift(e, f"{where}'s argument #{i}") for i, e in enumerate(effects)]


def _branches(effs: list[Effect[Any, Any, Any]], mode: int, label: str) -> Effect[Any, Any, Any]:
    def unstarted(i: int) -> None:
        # a lifted coroutine that will never run is closed (no "never awaited" warning)
        if effs[i]._tag == AWAIT:
            effs[i]._a.discard()
    return _shaped(group(effs.__getitem__, len(effs), None, mode, label, unstarted),
                   label, *((f"[{i}]", e) for i, e in enumerate(effs)))


@overload
def zip_par(e1: Effect[Any, E, A], /) -> Effect[Any, E, tuple[A]]: ...
@overload
def zip_par(e1: Effect[Any, E, A], e2: Effect[Any, E, B], /) -> Effect[Any, E, tuple[A, B]]: ...
@overload
def zip_par(e1: Effect[Any, E, A], e2: Effect[Any, E, B], e3: Effect[Any, E, C], /) -> Effect[Any, E, tuple[A, B, C]]: ...
@overload
def zip_par(e1: Effect[Any, E, A], e2: Effect[Any, E, B], e3: Effect[Any, E, C], e4: Effect[Any, E, D], /) -> Effect[Any, E, tuple[A, B, C, D]]: ...
@overload
def zip_par(e1: Effect[Any, E, A], e2: Effect[Any, E, A], e3: Effect[Any, E, A], e4: Effect[Any, E, A],
            e5: Effect[Any, E, A], /, *more: Effect[Any, E, A]) -> Effect[Any, E, tuple[A, ...]]: ...
def zip_par(*effects: Any) -> Effect[Any, Any, tuple[Any, ...]]:
    """Run every effect concurrently; succeed with their values as a tuple, in order.

    Fail-fast: the first failure interrupts the other branches, waits for their
    finalizers, then fails (with every failure that happened, as ``Both``).

    >>> import effectpy
    >>> effectpy.run(zip_par(effectpy.succeed(1), effectpy.succeed(2)))
    (1, 2)
    """
    effs = _effects(effects, "zip_par")
    return _make(MAP, _branches(effs, ALL, "zip_par"), tuple)


def race(*effects: Effect[Any, E, A]) -> Effect[Any, E, A]:
    """Run every effect concurrently; the first to *complete* decides, success or failure.

    The losers are interrupted and their finalizers have finished before `race` returns.
    This is what makes ``race(primary, sleep(t).flat_map(lambda _: fail("timeout")))`` cut
    off a slow primary. ZIO's and Effect-TS's ``race`` (first *success* wins) is
    `race_success`.
    """
    effs = _effects(effects, "race")
    return _branches(effs, FIRST, "race")


def race_success(*effects: Effect[Any, E, A]) -> Effect[Any, E, A]:
    """Run every effect concurrently; the first *success* wins and the rest are interrupted.

    Failures are ignored until every effect has failed; then it fails with all their
    causes (``Both``). This is ``race`` in ZIO and Effect-TS.
    """
    effs = _effects(effects, "race_success")
    return _branches(effs, FIRST_SUCCESS, "race_success")


def for_each_par(
    items: Iterable[T],
    effect_fn: Callable[[T], Effect[Any, E, A]],
    parallelism: int | None = None,
) -> Effect[Any, E, list[A]]:
    """Apply ``effect_fn`` to every item concurrently, at most ``parallelism`` at a time,
    and succeed with the results in input order.

    The first failure interrupts the items in flight; items not yet started never start.

    >>> import effectpy
    >>> effectpy.run(for_each_par([1, 2, 3], lambda x: effectpy.succeed(x * 10), parallelism=2))
    [10, 20, 30]
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"for_each_par expects an iterable of items, got {type(items).__name__} {items!r}")
    _check_callable(effect_fn, "for_each_par")
    if parallelism is not None and (isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1):
        raise ValueError(f"for_each_par's parallelism must be None or an int >= 1, got {parallelism!r}")
    values = list(items)
    return _shaped(group(lambda i: effect_fn(values[i]), len(values), parallelism, ALL, "for_each_par"),
                   "for_each_par", ("fn", effect_fn), ("items", len(values)), ("parallelism", parallelism))
