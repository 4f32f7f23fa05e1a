"""`Semaphore`: at most N permits held at once, fairly (first come, first served)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ._core._cause import EMPTY
from ._core._effect import Effect, _make, lift, uninterruptible_mask
from ._core._nodes import CALLBACK, SUCCEED, SUSPEND, SYNC
from ._core._fiber import Fiber
from ._core._wait import _cancelled_one, _waiting, _Waiters
from ._option import NONE, Option, Some

__all__ = ["Semaphore"]

A = TypeVar("A")
E = TypeVar("E")


class _Waiter:
    __slots__ = ("n", "fiber", "resume", "granted", "cancelled")

    def __init__(self, n: int) -> None:
        self.n = n
        self.fiber: Fiber[Any, Any] | None = None
        self.resume: Callable[[bool, Any], None] | None = None
        self.granted = False
        self.cancelled = False  # interrupted while waiting; stays in the deque until dropped


def _is_waiting(w: _Waiter) -> bool:
    return not w.cancelled


class Semaphore:
    """Permits shared between fibers. Use `with_permits`: an interrupted waiter never
    leaks a permit, and a holder always gives its permits back.

    >>> import effectpy
    >>> sem = Semaphore(2)
    >>> effectpy.run(sem.with_permits(1, effectpy.sync(lambda: sem.available)))
    1
    """

    __slots__ = ("_permits", "_available", "_waiters")

    def __init__(self, permits: int) -> None:
        if isinstance(permits, bool) or not isinstance(permits, int) or permits < 1:
            raise ValueError(f"Semaphore expects a number of permits >= 1, got {permits!r}")
        self._permits = permits
        # Invariant: _available <= _permits (below 0 only after resize took away permits
        # still held); waiters only while permits are short.
        self._available = permits
        self._waiters: _Waiters[_Waiter] = _Waiters()

    @property
    def available(self) -> int:
        """Permits free now (negative after `resize` took away permits still held)."""
        return self._available

    @property
    def permits(self) -> int:
        """The number of permits (as made, or as last resized)."""
        return self._permits

    def _check(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= self._permits:
            raise ValueError(f"permits must be an int from 1 to {self._permits}, got {n!r}")

    def _check_now(self, n: int) -> None:
        """At run time: `resize` may have made the request impossible since it was built."""
        if n > self._permits:
            raise ValueError(f"the semaphore has {self._permits} permits (resized), "
                             f"{n} were asked for")

    def with_permits(self, n: int, effect: Effect[Any, E, A]) -> Effect[Any, E, A]:
        """Run ``effect`` holding ``n`` permits, waiting (interruptibly) for them first."""
        self._check(n)
        eff = lift(effect, "Semaphore.with_permits")

        def body(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
            waiter = _Waiter(n)
            wait = restore(_make(CALLBACK, lambda fiber, resume: self._register(waiter, fiber, resume),
                                 "semaphore"))
            # Granted but interrupted before the fiber ran again: give the permits back.
            acquired = wait.on_exit(lambda ex: self._release_now(n) if not ex.is_success() and waiter.granted else None)
            return acquired.flat_map(lambda _: restore(eff).ensuring(self.release(n)))

        return uninterruptible_mask(lambda restore: _make(SUSPEND, lambda: body(restore)))

    def with_permit(self, effect: Effect[Any, E, A]) -> Effect[Any, E, A]:
        return self.with_permits(1, effect)

    def with_permits_if_available(self, n: int, effect: Effect[Any, E, A]) -> Effect[Any, E, Option[A]]:
        """Run ``effect`` holding ``n`` permits if they are free now and nobody waits
        (fairness: it never overtakes a waiter): succeed with `Some(value)`; else do not
        run it and succeed with `NONE` at once.

        >>> import effectpy
        >>> sem = Semaphore(1)
        >>> effectpy.run(sem.with_permits_if_available(1, sem.with_permits_if_available(1, effectpy.succeed("x"))))
        Some(NONE)
        """
        self._check(n)
        eff = lift(effect, "Semaphore.with_permits_if_available")

        def body(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
            if self._available < n or _waiting(self._waiters):
                return _make(SUCCEED, NONE)
            self._available -= n
            return restore(eff).map(Some).ensuring(self.release(n))

        return uninterruptible_mask(lambda restore: _make(SUSPEND, lambda: body(restore)))

    def resize(self, permits: int) -> Effect[Any, Any, None]:
        """Change the number of permits. Growing grants waiters at once; shrinking takes
        free permits away, and permits still held are not taken back (holders keep them;
        new ones are granted once enough are released). Dies with `ValueError` if a waiter
        asks for more permits than ``permits``: it could never be served.

        >>> import effectpy
        >>> sem = Semaphore(1)
        >>> effectpy.run(sem.resize(3).flat_map(lambda _: effectpy.sync(lambda: (sem.permits, sem.available))))
        (3, 3)
        """
        if isinstance(permits, bool) or not isinstance(permits, int) or permits < 1:
            raise ValueError(f"Semaphore.resize expects a number of permits >= 1, got {permits!r}")

        def go() -> None:
            too_big = [w.n for w in self._waiters if not w.cancelled and w.n > permits]
            if too_big:
                raise ValueError(f"Semaphore.resize({permits}): a waiter asks for {max(too_big)} "
                                 "permits, which it could never get")
            self._available += permits - self._permits
            self._permits = permits
            self._grant()
        return _make(SYNC, go)

    def release(self, n: int = 1) -> Effect[Any, Any, None]:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"permits must be an int >= 1, got {n!r}")
        return _make(SYNC, lambda: self._release_now(n))

    def _release_now(self, n: int) -> None:
        if self._available + n > self._permits:
            raise RuntimeError("Semaphore released more permits than it holds")
        self._available += n
        self._grant()

    def _grant(self) -> None:
        waiters = self._waiters
        while waiters:
            w = waiters[0]
            if w.cancelled:
                waiters.popleft()
                waiters.cancelled -= 1
                continue
            assert w.fiber is not None
            if w.fiber._runtime.is_closed():  # its run is over: it can never use permits
                waiters.popleft()
                continue
            if w.n > self._available:
                return
            waiters.popleft()
            self._available -= w.n
            w.granted = True
            assert w.resume is not None
            w.resume(True, None)

    def _register(self, w: _Waiter, fiber: Fiber[Any, Any],
                  resume: Callable[[bool, Any], None]) -> Callable[[], None] | None:
        self._check_now(w.n)
        w.fiber = fiber
        w.resume = resume
        self._grant()  # drops the waiters at the head that can never run (cancelled, stranded)
        if not self._waiters and self._available >= w.n:
            self._available -= w.n
            w.granted = True
            resume(True, None)
            return None
        self._waiters.append(w)

        def cancel() -> None:
            if not w.granted:
                w.cancelled = True
                _cancelled_one(self._waiters, _is_waiting)
                self._grant()  # a smaller request behind it may fit now
            resume(False, EMPTY)
        return cancel

    def __repr__(self) -> str:
        return f"<Semaphore {self._available}/{self._permits} available, {_waiting(self._waiters)} waiting>"


