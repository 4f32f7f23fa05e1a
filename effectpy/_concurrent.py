"""Structured-concurrency combinators: `zip_par`, `race`, `race_success`, `for_each_par`,
`partition_par`, `validate_par`, `fork_all`; and `Fiber.join_all` / `Fiber.interrupt_all`.

Each branch (or item) runs in its own child fiber with its own scope; whatever a branch
acquires with `acquire_release` is released when that branch ends. None of them returns
before every branch it started has ended and run its finalizers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar, overload

from ._core._cause import EMPTY, Cause, Fail
from ._core._effect import Effect, Left, _check_callable, _make, for_each, lift
from ._core._nodes import AWAIT, FAIL, MAP, SUCCEED, WITH_FIBER, _shaped, _Shape
from ._core._fiber import Fiber
from ._core._group import ALL, FIRST, FIRST_SUCCESS, group
from ._core._refs import inherit_refs

__all__ = [
    "fork_all", "for_each_par", "partition_par", "race", "race_success", "validate_par", "zip_par",
]

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
    return [e if e.__class__ is Effect else lift(e, f"{where}'s argument #{i}")
            for i, e in enumerate(effects)]


def _branches(effs: list[Effect[Any, Any, Any]], mode: int, label: str) -> Effect[Any, Any, Any]:
    def unstarted(i: int) -> None:
        # a lifted coroutine that will never run is closed (no "never awaited" warning)
        if effs[i]._tag == AWAIT:
            effs[i]._a.discard()
    eff = group(effs.__getitem__, len(effs), None, mode, label, unstarted)
    eff._c = _Shape(label, _Branches(effs))
    return eff


class _Branches:
    """The parts of a zip_par or race for `effect_tree`: ``("[i]", effect)`` pairs, made
    when a picture reads them (not for every branch of every run)."""

    __slots__ = ("effs",)

    def __init__(self, effs: list[Effect[Any, Any, Any]]) -> None:
        self.effs = effs

    def __iter__(self) -> Iterator[tuple[str, object]]:
        return ((f"[{i}]", e) for i, e in enumerate(self.effs))


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
    values, par = _items(items, effect_fn, parallelism, "for_each_par")
    return _shaped(group(lambda i: effect_fn(values[i]), len(values), par, ALL, "for_each_par"),
                   "for_each_par", ("fn", effect_fn), ("items", len(values)), ("parallelism", par))


def _items(items: Iterable[T], fn: object, parallelism: object, where: str) -> tuple[list[T], int | None]:
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"{where} expects an iterable of items, got {type(items).__name__} {items!r}")
    _check_callable(fn, where)
    if parallelism is not None and (isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1):
        raise ValueError(f"{where}'s parallelism must be None or an int >= 1, got {parallelism!r}")
    return list(items), parallelism


def _eithers(items: Iterable[T], fn: Callable[[T], Effect[Any, E, A]], parallelism: int | None,
             where: str) -> Effect[Any, Any, list[Any]]:
    """Every item's `either()`, concurrently: a typed failure stops nothing."""
    values, par = _items(items, fn, parallelism, where)

    def make(i: int) -> Effect[Any, Any, Any]:
        return lift(fn(values[i]), f"{where}'s function").either()
    return _shaped(group(make, len(values), par, ALL, where),
                   where, ("fn", fn), ("items", len(values)), ("parallelism", par))


def partition_par(
    items: Iterable[T],
    effect_fn: Callable[[T], Effect[Any, E, A]],
    parallelism: int | None = None,
) -> Effect[Any, Any, tuple[list[E], list[A]]]:
    """Apply ``effect_fn`` to every item concurrently (at most ``parallelism`` at a time),
    *without* failing fast: succeed with ``(errors, values)``, each in input order. A
    typed failure stops nothing (the fail-safe pattern); a defect still fails the whole
    and interrupts the rest.

    >>> import effectpy
    >>> check = lambda n: effectpy.fail(f"{n} is odd") if n % 2 else effectpy.succeed(n)
    >>> effectpy.run(partition_par(range(5), check))
    (['1 is odd', '3 is odd'], [0, 2, 4])
    """
    def split(results: list[Any]) -> tuple[list[Any], list[Any]]:
        errors = [r.value for r in results if isinstance(r, Left)]
        return errors, [r.value for r in results if not isinstance(r, Left)]
    return _make(MAP, _eithers(items, effect_fn, parallelism, "partition_par"), split)


def validate_par(
    items: Iterable[T],
    effect_fn: Callable[[T], Effect[Any, E, A]],
    parallelism: int | None = None,
) -> Effect[Any, E, list[A]]:
    """Apply ``effect_fn`` to every item concurrently, without failing fast: succeed with
    every value in input order if all succeed, else fail with *every* error, in input
    order (a cause of ``Both``: ``cause.failures()`` lists them; `Failure.error` is the
    first). A defect fails the whole at once, as in `partition_par`.

    >>> import effectpy
    >>> def positive(n):
    ...     return effectpy.fail(n) if n < 0 else effectpy.succeed(n)
    >>> effectpy.run_exit(validate_par([1, -2, 3, -4], positive)).cause.failures()
    [-2, -4]
    """
    def check(results: list[Any]) -> Effect[Any, Any, Any]:
        cause: Cause = EMPTY
        for r in results:
            if isinstance(r, Left):
                cause = cause.both(Fail(r.value))
        if cause.is_empty():
            return _make(SUCCEED, [r.value for r in results])
        return _make(FAIL, cause)
    return _eithers(items, effect_fn, parallelism, "validate_par").flat_map(check)


def fork_all(effects: Iterable[Effect[Any, E, A]]) -> Effect[Any, Any, Fiber[E, list[A]]]:
    """Start every effect concurrently and succeed at once with one `Fiber` for them all
    (named ``fork_all``, a child of the caller; each effect is a child of it): joining it
    gives their values in order; the first failure interrupts the others (as `zip_par`),
    and interrupting it interrupts them all.

    >>> import effectpy
    >>> effectpy.run(fork_all([effectpy.succeed(1), effectpy.succeed(2)]).flat_map(lambda f: f.join()))
    [1, 2]
    """
    if isinstance(effects, (str, bytes, Effect)) or not isinstance(effects, Iterable):
        raise TypeError(f"fork_all expects an iterable of effects, got {type(effects).__name__} {effects!r}")
    effs = [e if e.__class__ is Effect else lift(e, f"fork_all's effect #{i}")
            for i, e in enumerate(effects)]
    return _branches(effs, ALL, "fork_all").named("fork_all").fork()


def _fibers(fibers: Iterable[Fiber[Any, Any]], where: str) -> list[Fiber[Any, Any]]:
    if isinstance(fibers, (str, bytes)) or not isinstance(fibers, Iterable):
        raise TypeError(f"{where} expects an iterable of fibers, got {type(fibers).__name__} {fibers!r}")
    out = list(fibers)
    for f in out:
        if not isinstance(f, Fiber):
            raise TypeError(f"{where} expects fibers, got {type(f).__name__} {f!r}")
    return out


def join_all(fibers: Iterable[Fiber[E, A]]) -> Effect[Any, E, list[A]]:
    """`Fiber.join_all`."""
    fs = _fibers(fibers, "Fiber.join_all")

    def joined(exits: list[Any]) -> Effect[Any, Any, Any]:
        cause: Cause = EMPTY
        for ex in exits:
            if not ex.is_success():
                cause = cause.both(ex.cause)
        if not cause.is_empty():
            return _make(FAIL, cause)

        def inherit(caller: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
            for f in fs:
                inherit_refs(caller, f)
            return _make(SUCCEED, [ex.value for ex in exits])
        return _make(WITH_FIBER, inherit)
    return for_each(fs, Fiber.await_).flat_map(joined)


def interrupt_all(fibers: Iterable[Fiber[Any, Any]]) -> Effect[Any, Any, None]:
    """`Fiber.interrupt_all`."""
    fs = _fibers(fibers, "Fiber.interrupt_all")

    def go(caller: Fiber[Any, Any]) -> Effect[Any, Any, None]:
        for f in fs:
            f.interrupt_as(caller.id, "interrupt_all()")
        # wait for them all (each interrupt() returns once the target's finalizers ran)
        return for_each(fs, Fiber.interrupt, discard=True)
    return _make(WITH_FIBER, go)
