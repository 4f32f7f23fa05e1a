"""`Scope`: finalizers that run once, in reverse order of registration, when it closes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, final

from ._cause import EMPTY, Cause, Exit
from ._effect import UNIT, Effect, _make, cause_of, lift
from ._nodes import FAIL, FOLD, STATUS, SUSPEND

__all__ = ["Scope"]

Finalizer = Callable[[Exit[Any]], Effect[Any, Any, Any]]


@final
class Scope:
    """A place to register finalizers; `close(exit)` runs them last-in, first-out.

    Finalizers run uninterruptibly, each exactly once, even if an earlier one fails; the
    failures are kept, in order, in the cause of the closing effect (``Then``).

    >>> import effectpy
    >>> log = []
    >>> scope = Scope()
    >>> scope.add_finalizer(lambda exit: effectpy.sync(lambda: log.append("first")))
    >>> scope.add_finalizer(effectpy.sync(lambda: log.append("second")))
    >>> effectpy.run(scope.close())
    >>> log
    ['second', 'first']
    """

    __slots__ = ("_finalizers", "_closed", "_next_key", "__weakref__")

    def __init__(self) -> None:
        # Invariant: empty once _closed; each entry is called at most once. Keys grow with
        # registration order, so closing runs the values in reverse.
        self._finalizers: dict[int, Finalizer] = {}
        self._closed = False
        self._next_key = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def add_finalizer(self, finalizer: object) -> None:
        """Register ``finalizer``: an Effect, or a function of the closing `Exit` (or of no
        arguments) returning an Effect, a coroutine, or None."""
        self._add(_as_finalizer(finalizer, "Scope.add_finalizer"))

    def _add(self, finalizer: Finalizer) -> int:
        """Register ``finalizer``; returns a key for `_discard`."""
        if self._closed:
            raise RuntimeError("cannot add a finalizer to a Scope that is already closed")
        key = self._next_key
        self._next_key += 1
        self._finalizers[key] = finalizer
        return key

    def _discard(self, key: int) -> None:
        """Forget a finalizer that is no longer needed (e.g. its fiber has ended)."""
        self._finalizers.pop(key, None)

    def _close_if_empty(self) -> bool:
        """Close now, if no finalizer is registered (there is nothing to run): True if it
        did. Saves building a closing effect for nothing."""
        if self._finalizers or self._closed:
            return False
        self._closed = True
        return True

    def fork(self) -> Scope:
        """A child scope, closed (with the same exit) when this one closes, if not before."""
        child = Scope()
        self.add_finalizer(child.close)
        return child

    def close(self, exit: Exit[Any] | None = None) -> Effect[Any, Any, None]:
        """An effect that runs the finalizers, last first, with ``exit`` (default: success).

        Closing twice runs nothing the second time. The effect is awaitable:
        ``await scope.close()``."""
        if exit is not None and not isinstance(exit, Exit):
            raise TypeError(f"Scope.close expects an Exit or None, got {type(exit).__name__} {exit!r}")
        ex: Exit[Any] = exit if exit is not None else Exit.succeed(None)
        return _make(STATUS, _make(SUSPEND, lambda: self._close_now(ex)), False)

    def _close_now(self, exit_: Exit[Any]) -> Effect[Any, Any, None]:
        if self._closed:
            return UNIT
        self._closed = True
        pending = list(reversed(self._finalizers.values()))
        self._finalizers = {}
        errors: list[Cause] = []

        def run(i: int) -> Effect[Any, Any, None]:
            if i == len(pending):
                if not errors:
                    return UNIT
                cause: Cause = EMPTY
                for c in errors:
                    cause = cause.then(c)
                return _make(FAIL, cause)
            nxt = _make(SUSPEND, lambda: run(i + 1))
            try:
                step = pending[i](exit_)
            except BaseException as exc:  # noqa: BLE001 - kept in the cause
                errors.append(cause_of(exc))
                return nxt

            def failed(c: Cause) -> Effect[Any, Any, None]:
                errors.append(c)
                return nxt

            return _make(FOLD, step, failed, lambda _: nxt)

        return run(0)

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._finalizers)} finalizers"
        return f"<Scope {state}>"


def _as_finalizer(finalizer: object, where: str) -> Finalizer:
    if isinstance(finalizer, Effect):
        eff: Effect[Any, Any, Any] = finalizer
        return lambda _exit: eff
    if not callable(finalizer):
        raise TypeError(
            f"{where} expects an Effect or a function of the Exit returning an Effect, "
            f"got {type(finalizer).__name__} {finalizer!r}"
        )
    fn: Callable[..., Any] = finalizer
    takes_exit = accepts_arguments(fn, 1)

    def call(exit_: Exit[Any]) -> Effect[Any, Any, Any]:
        out = fn(exit_) if takes_exit else fn()
        return UNIT if out is None else lift(out, "a finalizer")

    return call


def accepts_arguments(fn: Callable[..., Any], n: int) -> bool:
    """Whether ``fn`` can be called with ``n`` positional arguments (True if unknowable)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    try:
        sig.bind(*([None] * n))
        return True
    except TypeError:
        return False
