"""`Ref` (a shared mutable cell) and `FiberRef` (a fiber-local one, inherited on fork)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ._core._effect import SYNC, WITH_FIBER, Effect, _check_callable, _make, lift
from ._core._fiber import Fiber

__all__ = ["FiberRef", "Ref"]

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
    """A value local to each fiber; a forked fiber starts with its parent's value.

    >>> import effectpy
    >>> level = FiberRef(0)
    >>> effectpy.run(level.locally(1, level.get()))
    1
    """

    __slots__ = ("_initial", "__weakref__")

    def __init__(self, initial: A) -> None:
        self._initial = initial

    def _read(self, fiber: Fiber[Any, Any]) -> A:
        refs = fiber._refs
        if refs is None or self not in refs:
            return self._initial
        value: A = refs[self]
        return value

    def _write(self, fiber: Fiber[Any, Any], value: A) -> None:
        refs = dict(fiber._refs) if fiber._refs else {}
        refs[self] = value
        fiber._refs = refs  # copy on write: children share the dict they inherited

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
