"""The constructors of `Effect` values (`succeed`, `fail`, `sync`, `sleep`, `for_each`, ...)
and the shared constant effects (`unit`, `never`, `yield_now`).

`_effect.py` imports this module last (these build on `Effect`) and re-exports every name,
which is where the rest of the library imports them from.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeVar, overload

from ._cause import Cause, Die, Exit, Fail
from ._duration import Duration, to_seconds
from ._effect import Effect, _alloc, _check_callable, _make, lift
from ._nodes import (
    ATTEMPT, CALLBACK, FAIL, FLAT_MAP, SUCCEED, SUSPEND, STATUS, SYNC, WITH_FIBER, YIELD, ASYNC, _describe,
    _is_awaitable, _shaped,
)

if TYPE_CHECKING:
    from ._fiber import Fiber

__all__ = [
    "UNIT", "async_callback", "attempt", "die", "exit_effect", "fail", "fail_cause", "for_each",
    "from_async", "never", "service", "sleep", "succeed", "suspend", "sync",
    "uninterruptible_mask", "unit", "with_fiber", "yield_now",
]

R = TypeVar("R")
E = TypeVar("E")
A = TypeVar("A")
T = TypeVar("T")


def succeed(value: A) -> Effect[Any, NoReturn, A]:
    """An effect that succeeds with ``value``.

    >>> import effectpy
    >>> effectpy.run(succeed(3))
    3
    """
    eff: Effect[Any, NoReturn, A] = _alloc()
    eff._tag = SUCCEED
    eff._a = value
    return eff


def fail(error: E) -> Effect[Any, E, NoReturn]:
    """An effect that fails with the typed error ``error`` (recoverable with `catch_all`)."""
    return _make(FAIL, Fail(error))


def fail_cause(cause: Cause) -> Effect[Any, Any, NoReturn]:
    if not isinstance(cause, Cause):
        raise TypeError(f"fail_cause expects a Cause, got {type(cause).__name__} {cause!r}")
    return _make(FAIL, cause)


def die(exception: BaseException) -> Effect[Any, NoReturn, NoReturn]:
    """An effect that dies with a defect (not caught by `catch_all`)."""
    if not isinstance(exception, BaseException):
        raise TypeError(
            f"die expects an exception, got {type(exception).__name__} {exception!r}; "
            "use fail(...) for a typed failure"
        )
    return _make(FAIL, Die(exception))


def sync(thunk: Callable[[], A]) -> Effect[Any, NoReturn, A]:
    """An effect that calls ``thunk()`` each time it runs; an exception is a defect."""
    _check_thunk(thunk, "sync")
    return _make(SYNC, thunk)


def attempt(thunk: Callable[[], A]) -> Effect[Any, Exception, A]:
    """Like `sync`, but an `Exception` raised by ``thunk`` is a typed failure."""
    _check_thunk(thunk, "attempt")
    return _make(ATTEMPT, thunk)


def suspend(thunk: Callable[[], Effect[R, E, A]]) -> Effect[R, E, A]:
    """An effect built anew by ``thunk()`` each time it runs (for recursion and laziness)."""
    _check_thunk(thunk, "suspend")
    return _make(SUSPEND, thunk)


@overload
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: Literal[False] = False) -> Effect[R, E, list[A]]: ...
@overload
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: Literal[True]) -> Effect[R, E, None]: ...
@overload
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: bool) -> Effect[R, E, list[A] | None]: ...
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: bool = False) -> Effect[R, E, list[A] | None]:
    """Run ``fn(item)`` for each item, one after the other, and succeed with the results
    in order (None with ``discard=True``, which keeps none of them). The first failure
    stops the loop and fails the whole; the items after it are not run. Interruption is
    seen between items, even when no item waits. The sequential sibling of
    `for_each_par`. ``items`` are read into a list when the effect is built (a `range` or
    a tuple is kept as it is), so an endless iterator is for `Stream`, not for this; the
    loop runs in constant stack.

    >>> import effectpy
    >>> effectpy.run(for_each([1, 2, 3], lambda x: succeed(x * 10)))
    [10, 20, 30]
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"for_each expects an iterable of items, got {type(items).__name__} {items!r}")
    _check_callable(fn, "for_each")
    if not isinstance(discard, bool):
        raise TypeError(f"for_each's discard must be a bool, got {type(discard).__name__} {discard!r}")
    values: Sequence[T] = items if isinstance(items, (range, tuple)) else list(items)

    def run() -> Effect[R, E, Any]:
        # one FLAT_MAP node per item, continued by `step` (one closure per run, none per
        # item): an item's effect that completes at once (succeed, a queue operation that
        # need not wait) and its continuation are one run-loop step
        it = iter(values)
        out: list[Any] | None = None if discard else []

        def step(value: object) -> Effect[R, E, Any]:
            if out is not None:
                out.append(value)
            for x in it:
                eff = fn(x)
                if eff.__class__ is not Effect:
                    eff = lift(eff, "for_each's function")
                node: Effect[R, E, Any] = _alloc()
                node._tag = FLAT_MAP
                node._a = eff
                node._b = step
                return node
            return succeed(out)
        first = step(None)
        if out is not None:
            out.clear()  # the None that started the loop (`first` may be succeed(out))
        return first
    return _shaped(_make(SUSPEND, run), "for_each", ("fn", fn), ("items", len(values)),
                   ("discard", discard))


def from_async(async_thunk: Callable[[], Awaitable[A]]) -> Effect[Any, NoReturn, A]:
    """An effect that calls ``async_thunk()`` and awaits the result each time it runs.

    >>> import asyncio, effectpy
    >>> async def answer():
    ...     await asyncio.sleep(0)
    ...     return 42
    >>> effectpy.run(from_async(answer))
    42
    """
    if isinstance(async_thunk, Effect) or _is_awaitable(async_thunk):
        raise TypeError(
            f"from_async expects a function returning an awaitable, got {_describe(async_thunk)}; "
            "pass the function itself, e.g. from_async(fetch) or from_async(lambda: fetch(x))"
        )
    _check_thunk(async_thunk, "from_async")
    return _make(ASYNC, async_thunk, False)


def _check_thunk(thunk: object, where: str) -> None:
    if isinstance(thunk, Effect):
        raise TypeError(f"{where} expects a function, got an Effect; use the effect directly")
    if _is_awaitable(thunk):
        raise TypeError(f"{where} expects a function, got {_describe(thunk)}; pass a function "
                        f"that makes it, e.g. {where}(lambda: ...)")
    if not callable(thunk):
        raise TypeError(f"{where} expects a function of no arguments, got {type(thunk).__name__} {thunk!r}")


def sleep(duration: float | Duration) -> Effect[Any, NoReturn, None]:
    """Suspend the fiber for ``duration`` on the context's `Clock` (the live clock by default)."""
    seconds = to_seconds(duration, "sleep")
    from ._clock import clock_sleep
    return _shaped(clock_sleep(seconds), "sleep", ("seconds", seconds))


def uninterruptible_mask(
    body: Callable[[Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]], Effect[R, E, A]],
) -> Effect[R, E, A]:
    """Run ``body(restore)`` uninterruptibly; ``restore(effect)`` runs ``effect`` with the
    interruptibility of the caller."""
    _check_callable(body, "uninterruptible_mask")

    def with_fiber(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
        status = fiber._interruptible

        def restore(eff: Effect[Any, Any, Any]) -> Effect[Any, Any, Any]:
            return _make(STATUS, lift(eff, "restore"), status)

        return _make(STATUS, _make(SUSPEND, lambda: lift(body(restore), "uninterruptible_mask's body")), False)

    return _make(WITH_FIBER, with_fiber)


def service(key: type[A]) -> Effect[Any, NoReturn, A]:
    """An effect succeeding with the service held under ``key`` in the running context.

    A missing service is a defect (`MissingServiceError`) naming what the context holds."""
    if not isinstance(key, type):
        raise TypeError(f"service expects a type, got {type(key).__name__} {key!r}")
    return _make(WITH_FIBER, lambda fiber: _make(SUCCEED, fiber._ctx.get(key)))


def with_fiber(f: Callable[[Fiber[Any, Any]], Effect[R, E, A]]) -> Effect[R, E, A]:
    return _make(WITH_FIBER, f)


def async_callback(
    register: Callable[[Fiber[Any, Any], Callable[[bool, Any], None]], Callable[[], None] | None],
) -> Effect[Any, Any, Any]:
    """Low level: suspend until ``resume(ok, value_or_cause)`` is called.

    ``register(fiber, resume)`` may call ``resume`` at once. It returns a canceller or
    None; on interruption the canceller is called and must lead to a ``resume`` call
    (at once, or after cleanup); without a canceller the fiber resumes at once."""
    return _make(CALLBACK, register)


UNIT: Final[Effect[Any, NoReturn, None]] = _make(SUCCEED, None)
unit: Final = UNIT
yield_now: Final[Effect[Any, NoReturn, None]] = _make(YIELD)


def _never_register(fiber: Fiber[Any, Any], resume: Callable[[bool, Any], None]) -> None:
    return None


never: Final[Effect[Any, NoReturn, NoReturn]] = _make(CALLBACK, _never_register, "never")


def exit_effect(exit_: Exit[A]) -> Effect[Any, Any, A]:
    """The effect that ends as ``exit_`` did."""
    return _make(SUCCEED, exit_._value) if exit_._ok else _make(FAIL, exit_._cause)

