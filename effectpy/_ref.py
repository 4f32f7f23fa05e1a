"""`Ref` (a shared mutable cell), `SynchronizedRef` (one updated by effects, one at a time)
and `FiberRef` (a fiber-local one, inherited on fork and merged back on join)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ._core._effect import Effect, _check_callable, _make, lift
from ._core._nodes import SUSPEND, SYNC, WITH_FIBER
from ._core._fiber import Fiber
from ._core._refs import FiberRefs
from ._semaphore import Semaphore

__all__ = ["FiberRef", "Ref", "SynchronizedRef"]

A = TypeVar("A")
B = TypeVar("B")
E = TypeVar("E")


class Ref(Generic[A]):
    """A mutable cell whose updates are atomic with respect to other fibers.

    >>> import effectpy
    >>> counter = Ref(0)
    >>> effectpy.run(effectpy.for_each_par(range(100), lambda _: counter.update(lambda n: n + 1)))[:1]
    [None]
    >>> effectpy.run(counter.get())
    100
    """

    __slots__ = ("_value",)

    def __init__(self, value: A) -> None:
        self._value = value

    def get(self) -> Effect[Any, Any, A]:
        return _make(SYNC, lambda: self._value)

    def set(self, value: A) -> Effect[Any, Any, None]:
        def go() -> None:
            self._value = value
        return _make(SYNC, go)

    def update(self, f: Callable[[A], A]) -> Effect[Any, Any, None]:
        _check_callable(f, "Ref.update")

        def go() -> None:
            self._value = f(self._value)
        return _make(SYNC, go)

    def update_and_get(self, f: Callable[[A], A]) -> Effect[Any, Any, A]:
        _check_callable(f, "Ref.update_and_get")

        def go() -> A:
            self._value = f(self._value)
            return self._value
        return _make(SYNC, go)

    def get_and_set(self, value: A) -> Effect[Any, Any, A]:
        def go() -> A:
            old, self._value = self._value, value
            return old
        return _make(SYNC, go)

    def get_and_update(self, f: Callable[[A], A]) -> Effect[Any, Any, A]:
        """Replace the value with ``f(value)``; succeed with the old value."""
        _check_callable(f, "Ref.get_and_update")

        def go() -> A:
            old = self._value
            self._value = f(old)
            return old
        return _make(SYNC, go)

    def update_some(self, f: Callable[[A], A | None]) -> Effect[Any, Any, None]:
        """Replace the value with ``f(value)`` unless that is None (the value is then
        left as it is: ZIO's partial function, as `Effect.catch_some` has it).

        >>> import effectpy
        >>> ref = Ref(3)
        >>> effectpy.run(ref.update_some(lambda n: n * 10 if n % 2 else None).zip(ref.get()))
        (None, 30)
        """
        _check_callable(f, "Ref.update_some")

        def go() -> None:
            new = f(self._value)
            if new is not None:
                self._value = new
        return _make(SYNC, go)

    def modify(self, f: Callable[[A], tuple[B, A]]) -> Effect[Any, Any, B]:
        """Replace the value with ``f(value)[1]`` and succeed with ``f(value)[0]``."""
        _check_callable(f, "Ref.modify")

        def go() -> B:
            result, self._value = f(self._value)
            return result
        return _make(SYNC, go)

    def __repr__(self) -> str:
        return f"Ref({self._value!r})"


class FiberRef(Generic[A]):
    """A value local to each fiber. A forked fiber starts with ``fork(parent's value)``
    (by default the parent's value); when it is joined (`Fiber.join`), each value it
    changed is merged into the joiner's as ``join(joiner's value, child's value)`` (by
    default the child's value). An effect awaited inside a fiber's coroutine merges its
    values back the same way when it ends.

    >>> import effectpy
    >>> level = FiberRef(0)
    >>> effectpy.run(level.locally(1, level.get()))
    1
    >>> total = FiberRef(0, fork=lambda _: 0, join=lambda mine, child: mine + child)
    >>> add_3 = total.update(lambda n: n + 3).fork().flat_map(lambda f: f.join())
    >>> effectpy.run(add_3.zip(add_3).flat_map(lambda _: total.get()))
    6
    """

    __slots__ = ("_initial", "_fork", "_join", "__weakref__")

    def __init__(self, initial: A, *, fork: Callable[[A], A] | None = None,
                 join: Callable[[A, A], A] | None = None) -> None:
        for fn, what in ((fork, "fork"), (join, "join")):
            if fn is not None and (not callable(fn) or isinstance(fn, Effect)):
                raise TypeError(f"FiberRef's {what} must be a function, got {type(fn).__name__} {fn!r}")
        self._initial = initial
        self._fork = fork
        self._join = join

    def _read(self, fiber: Fiber[Any, Any]) -> A:
        refs = fiber._refs
        if refs is None or self not in refs:
            return self._initial
        value: A = refs[self]
        return value

    def _write(self, fiber: Fiber[Any, Any], value: A) -> None:
        # copy on write: children share the map they inherited
        refs = fiber._refs
        fiber._refs = (FiberRefs() if refs is None else refs).with_value(self, value)

    def get(self) -> Effect[Any, Any, A]:
        return _make(WITH_FIBER, lambda f: _make(SYNC, lambda: self._read(f)))

    def set(self, value: A) -> Effect[Any, Any, None]:
        return _make(WITH_FIBER, lambda f: _make(SYNC, lambda: self._write(f, value)))

    def update(self, fn: Callable[[A], A]) -> Effect[Any, Any, None]:
        _check_callable(fn, "FiberRef.update")
        return _make(WITH_FIBER, lambda f: _make(SYNC, lambda: self._write(f, fn(self._read(f)))))

    def locally(self, value: A, effect: Effect[Any, E, B]) -> Effect[Any, E, B]:
        """Run ``effect`` with this ref set to ``value``, then restore the old value."""
        eff = lift(effect, "FiberRef.locally")

        def go(f: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
            old = self._read(f)
            self._write(f, value)
            return eff.ensuring(_make(SYNC, lambda: self._write(f, old)))
        return _make(WITH_FIBER, go)

    def __repr__(self) -> str:
        return f"FiberRef(initial={self._initial!r})"


class SynchronizedRef(Ref[A]):
    """A `Ref` whose updates may run effects (ZIO's ``Ref.Synchronized``): `update_effect`
    and `modify_effect` run one at a time, in the order they were asked for, every write
    waiting for the one in progress. An update that fails, or is interrupted, leaves the
    value as it was; `get` never waits.

    >>> import effectpy
    >>> balance = SynchronizedRef(100)
    >>> def withdraw(n):
    ...     return balance.modify_effect(
    ...         lambda b: effectpy.fail("insufficient") if n > b else effectpy.succeed((n, b - n)))
    >>> effectpy.run(withdraw(30).either().zip(withdraw(80).either()).zip(balance.get()))
    ((Right(30), Left('insufficient')), 70)
    """

    __slots__ = ("_lock",)

    def __init__(self, value: A) -> None:
        super().__init__(value)
        self._lock = Semaphore(1)

    def update_effect(self, f: Callable[[A], Effect[Any, E, A]]) -> Effect[Any, E, None]:
        """Replace the value with the value of the effect ``f(value)``."""
        _check_callable(f, "SynchronizedRef.update_effect")
        return self.modify_effect(
            lambda a: lift(f(a), "update_effect's function").map(lambda new: (None, new)))

    def update_and_get_effect(self, f: Callable[[A], Effect[Any, E, A]]) -> Effect[Any, E, A]:
        """Like `update_effect`, and succeed with the new value."""
        _check_callable(f, "SynchronizedRef.update_and_get_effect")
        return self.modify_effect(
            lambda a: lift(f(a), "update_and_get_effect's function").map(lambda new: (new, new)))

    def modify_effect(self, f: Callable[[A], Effect[Any, E, tuple[B, A]]]) -> Effect[Any, E, B]:
        """Run ``f(value)``, an effect succeeding with ``(result, new value)``: store the
        new value, succeed with the result."""
        _check_callable(f, "SynchronizedRef.modify_effect")

        def store(pair: tuple[B, A]) -> B:
            result, self._value = pair
            return result

        def go() -> Effect[Any, E, B]:
            return lift(f(self._value), "modify_effect's function").map(store)
        return self._lock.with_permit(_make(SUSPEND, go))

    # the plain updates wait their turn too, so that none is lost in an effectful one
    def set(self, value: A) -> Effect[Any, Any, None]:
        return self._lock.with_permit(super().set(value))

    def update(self, f: Callable[[A], A]) -> Effect[Any, Any, None]:
        return self._lock.with_permit(super().update(f))

    def update_and_get(self, f: Callable[[A], A]) -> Effect[Any, Any, A]:
        return self._lock.with_permit(super().update_and_get(f))

    def get_and_set(self, value: A) -> Effect[Any, Any, A]:
        return self._lock.with_permit(super().get_and_set(value))

    def get_and_update(self, f: Callable[[A], A]) -> Effect[Any, Any, A]:
        return self._lock.with_permit(super().get_and_update(f))

    def update_some(self, f: Callable[[A], A | None]) -> Effect[Any, Any, None]:
        return self._lock.with_permit(super().update_some(f))

    def modify(self, f: Callable[[A], tuple[B, A]]) -> Effect[Any, Any, B]:
        return self._lock.with_permit(super().modify(f))

    def __repr__(self) -> str:
        return f"SynchronizedRef({self._value!r})"
