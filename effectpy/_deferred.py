"""`Deferred`: a value that is set once and awaited by any number of fibers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ._core._cause import EMPTY, Cause, Exit, Fail, Interrupt
from ._core._effect import Effect, _make, lift, uninterruptible_mask
from ._core._nodes import CALLBACK, FLAT_MAP, SYNC, WITH_FIBER
from ._core._fiber import Fiber

__all__ = ["Deferred"]

A = TypeVar("A")
E = TypeVar("E")


class Deferred(Generic[E, A]):
    """A one-shot synchronisation cell: `await_()` suspends until it is completed.

    >>> import effectpy
    >>> d = Deferred()
    >>> effectpy.run(effectpy.zip_par(d.await_(), d.succeed(7)))
    (7, True)
    """

    __slots__ = ("_exit", "_waiters")

    def __init__(self) -> None:
        # Invariant: _waiters is empty once _exit is set.
        self._exit: Exit[A] | None = None
        self._waiters: list[Callable[[bool, Any], None]] = []

    def succeed(self, value: A) -> Effect[Any, Any, bool]:
        """Complete with ``value``; succeeds with False if it was already completed."""
        return _make(SYNC, lambda: self._complete(Exit.succeed(value)))

    def fail(self, error: E) -> Effect[Any, Any, bool]:
        return _make(SYNC, lambda: self._complete(Exit.fail_cause(Fail(error))))

    def fail_cause(self, cause: Cause) -> Effect[Any, Any, bool]:
        return _make(SYNC, lambda: self._complete(Exit.fail_cause(cause)))

    def complete(self, effect: Effect[Any, E, A]) -> Effect[Any, Any, bool]:
        """Run ``effect`` and complete with its outcome (value, failure, defect, or its
        interruption: waiters are never left hanging); succeeds with False if it was
        already completed. Its outcome is kept: every waiter sees the same.

        >>> import effectpy
        >>> d = Deferred()
        >>> effectpy.run(d.complete(effectpy.fail("no")).zip(d.await_().either()))
        (True, Left('no'))
        """
        eff = lift(effect, "Deferred.complete")

        def complete_with(exit_: Exit[A]) -> Effect[Any, Any, bool]:
            return _make(SYNC, lambda: self._complete(exit_))
        return uninterruptible_mask(lambda restore: _make(FLAT_MAP, restore(eff).exit(), complete_with))

    def interrupt(self) -> Effect[Any, Any, bool]:
        """Complete with the interruption of the calling fiber: waiters fail with an
        `Interrupt` cause, as if interrupted by it (False if already completed)."""
        def interrupted_by(fiber: Fiber[Any, Any]) -> Effect[Any, Any, bool]:
            return _make(SYNC, lambda: self._complete(Exit.fail_cause(Interrupt(fiber.id))))
        return _make(WITH_FIBER, interrupted_by)

    def done(self, exit: Exit[A]) -> Effect[Any, Any, bool]:
        if not isinstance(exit, Exit):
            raise TypeError(f"Deferred.done expects an Exit, got {type(exit).__name__} {exit!r}")
        return _make(SYNC, lambda: self._complete(exit))

    def await_(self) -> Effect[Any, E, A]:
        """Wait for completion; succeed or fail as it was completed."""
        return _make(CALLBACK, self._register, "deferred")

    def poll(self) -> Exit[A] | None:
        return self._exit

    def is_done(self) -> bool:
        return self._exit is not None

    def _complete(self, exit_: Exit[A]) -> bool:
        if self._exit is not None:
            return False
        self._exit = exit_
        waiters = self._waiters
        self._waiters = []
        ok = exit_._ok
        val = exit_._value if ok else exit_._cause
        for resume in waiters:
            resume(ok, val)
        return True

    def _register(self, fiber: Fiber[Any, Any], resume: Callable[[bool, Any], None]) -> Callable[[], None] | None:
        ex = self._exit
        if ex is not None:
            resume(ex._ok, ex._value if ex._ok else ex._cause)
            return None
        self._waiters.append(resume)

        def cancel() -> None:
            if resume in self._waiters:
                self._waiters.remove(resume)
            resume(False, EMPTY)
        return cancel

    def __repr__(self) -> str:
        return f"<Deferred {'done' if self._exit is not None else 'pending'}>"
