"""Waiting on a condition: the `WAIT` run-loop node's waiter, and the signalling functions.

A fiber that runs ``WAIT(waiters, ready, then)`` either finds ``ready()`` true and runs
``then`` at once, or appends a `_Waiter` to the ``waiters`` deque and suspends. Whoever makes
the condition true calls `_signal(waiters)`: the first live waiter's fiber is woken and
runs ``then`` (which retries its operation). Shared by `Queue`, `PubSub` subscriptions and
`Channel`.

The guarantees, without frames on the fiber's stack:

* interrupted while waiting (the fiber is suspended and interruptible): the waiter is the
  fiber's canceller; it marks itself cancelled (signals skip it; the deque is compacted once
  most of it is cancelled, so cancelling is O(1) amortized, in any order) and wakes the
  fiber with the interruption. It was never signalled, so no wake-up is lost.
* signalled, then interrupted before it could run ``then``: the fiber is woken with the
  waiter as its value; the run loop, delivering the interruption instead, passes the
  signal on to the next waiter (the "baton"), so no wake-up, and no item, is lost.
* in an uninterruptible region the wait is uninterruptible (the fiber's canceller is only
  called while it is interruptible).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Final, TypeVar, cast

from ._cause import EMPTY

if TYPE_CHECKING:
    from ._effect import Effect
    from ._fiber import Fiber

__all__ = ["_Offerers", "_Waiter", "_Waiters", "_cancelled_one", "_signal", "_wake_all",
           "_waiting"]


W = TypeVar("W")


class _Waiters(deque[W]):
    """A deque of waiters that knows how many of them were cancelled in place (they stay
    until they reach the front, or until `_cancelled_one` drops them)."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = 0  # waiters in the deque whose wait was cancelled

    def pass_on(self, w: _Waiter) -> None:
        """``w`` was signalled, but interrupted before it could retry: wake the next."""
        _signal(self)  # type: ignore[arg-type]


class _Offerers(_Waiters["_Waiter"]):
    """The waiters for room in a bounded buffer (`Queue` offers, `Channel` sends), and the
    places they have claimed. Room made by a take goes to the first waiters: each one
    signalled claims a place (as does one that finds room when it registers), and no
    later offer may take a claimed place, so a busy producer cannot starve a waiting one.
    The waiter adds its item itself, when it runs again, releasing its claim: interrupted
    before that, it adds nothing, and its claim passes to the next waiter (or lapses)."""

    __slots__ = ("claimed",)

    def __init__(self) -> None:
        super().__init__()
        self.claimed = 0

    def pass_on(self, w: _Waiter) -> None:
        if not _signal(self):
            self.claimed = max(0, self.claimed - 1)

    def claim(self, used: int, capacity: int) -> bool:
        """Claim a place if one is free (``used`` of ``capacity`` hold items): a waiter's
        readiness as it registers."""
        if used + self.claimed < capacity:
            self.claimed += 1
            return True
        return False

    def admit(self, used: int, capacity: int) -> None:
        """Items were taken: the first waiters are signalled, each claiming a free place."""
        room = capacity - used - self.claimed
        while room > 0 and _signal(self):
            self.claimed += 1
            room -= 1


def _waiting(waiters: _Waiters[Any]) -> int:
    """How many waiters still wait."""
    return len(waiters) - waiters.cancelled


def _cancelled_one(waiters: _Waiters[W], alive: Callable[[W], bool]) -> None:
    """Count one more cancelled waiter; once they are most of the deque, drop them (each
    waiter is copied at most once per halving: cancelling is O(1) amortized, in any order,
    where `deque.remove` would search the deque each time)."""
    waiters.cancelled += 1
    if waiters.cancelled > 16 and 2 * waiters.cancelled > len(waiters):
        live = [w for w in waiters if alive(w)]
        waiters.clear()
        waiters.extend(live)
        waiters.cancelled = 0


class _Waiter:
    """One fiber waiting in a WAIT node; also its canceller (called on interruption)."""

    __slots__ = ("fiber", "token", "waiters", "then")

    # None once signalled, woken or cancelled: a waiter is woken at most once
    fiber: Fiber[Any, Any] | None
    token: int  # the fiber's suspension token
    waiters: _Waiters[_Waiter]  # the deque it waits in
    then: Effect[Any, Any, Any]  # what the fiber runs once signalled

    def __call__(self) -> None:
        """Cancel the wait: the fiber is interrupted while suspended here."""
        fiber = self.fiber
        if fiber is None:
            return
        self.fiber = None
        _cancelled_one(self.waiters, _is_waiting)
        fiber._wake(self.token, None, False, EMPTY)

    def pass_on(self) -> None:
        """This waiter was signalled but interrupted before it could retry: wake the next."""
        self.waiters.pass_on(self)


def _is_waiting(w: _Waiter) -> bool:
    return w.fiber is not None


# A new _Waiter, its fields unset, without an __init__ call (as `_effect._alloc`).
_new_waiter: Final[Callable[[], _Waiter]] = cast(
    "Callable[[], _Waiter]", type.__call__.__get__(_Waiter))


def _signal(waiters: _Waiters[_Waiter], then: Effect[Any, Any, Any] | None = None) -> bool:
    """Wake the first live waiter (it will retry; with ``then``, it runs that instead: a
    value handed to it); False if there was none. A waiter whose run is over (its event
    loop closed: a daemon of an ``await effect`` whose loop has ended) can never retry: it
    is dropped, and the signal goes to the next."""
    while waiters:
        w = waiters.popleft()
        fiber = w.fiber
        if fiber is None:
            waiters.cancelled -= 1
            continue
        w.fiber = None
        if fiber._runtime.is_closed():
            continue
        if then is not None:
            w.then = then
        # the waiter as the value: if the fiber is interrupted before it runs `then`, the
        # run loop passes the signal on (`_Waiter.pass_on`)
        fiber._wake(w.token, w.then, True, w)
        return True
    return False


def _wake_all(waiters: _Waiters[_Waiter], ok: bool, value: Any) -> None:
    """Wake every waiter: (True, _) to make them retry (run their ``then``), or
    (False, cause) to fail them."""
    while waiters:
        w = waiters.popleft()
        fiber = w.fiber
        w.fiber = None
        if fiber is not None and not fiber._runtime.is_closed():
            if ok:
                fiber._wake(w.token, w.then, True, None)
            else:
                fiber._wake(w.token, None, False, value)
    waiters.cancelled = 0
