"""Child-fiber groups: the one mechanism behind `zip_par`, `race`, `race_success`,
`for_each_par` and `timeout`.

The parent fiber suspends while the group forks its children (each a supervised child
fiber with its own scope), at most ``parallelism`` at a time. A child is started inline
(its loop runs at once until it first suspends), so a child that never suspends costs no
event-loop round trip. When the group's policy decides, it interrupts the children still
running, and resumes the parent only after every one of them has ended (finalizers run).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Final

from ._cause import EMPTY, Cause, Exit
from ._effect import Effect, _make, cause_of, lift
from ._nodes import CALLBACK, SUCCEED, _ForkOptions
from ._fiber import Fiber
from ._hooks import user_location

__all__ = ["ALL", "FIRST", "FIRST_SUCCESS", "group"]

ALL: Final = 0  # succeed with every value (in order); the first failure stops the rest
FIRST: Final = 1  # the first child to end decides, success or failure
FIRST_SUCCESS: Final = 2  # the first success wins; fail only when every child failed

# How many children one pump starts inline before letting the event loop run.
INLINE_STARTS: Final = 256
# How deeply groups may start children inline within one another (each level uses a few
# Python frames); deeper children start on the next loop turn, so nesting stays stack-safe.
INLINE_DEPTH: Final = 16

# Scope ids for traces (zip_par, race, scoped, ... regions); traces renumber them.
SCOPE_IDS: Final = itertools.count(1)

_SUPERVISED: Final = _ForkOptions(False, None, None)


class _Group:
    __slots__ = (
        "parent", "resume", "make", "n", "par", "mode", "label", "next", "running",
        "results", "causes", "winner", "stopping", "cancelled", "pumping", "finished",
        "unstarted", "scope_id", "source", "late",
    )

    def __init__(self, parent: Fiber[Any, Any], resume: Callable[[bool, Any], None],
                 make: Callable[[int], object], n: int, par: int, mode: int, label: str,
                 unstarted: Callable[[int], None] | None, source: str | None) -> None:
        self.parent = parent
        self.resume = resume
        self.make = make
        self.n = n
        self.par = par
        self.mode = mode
        self.label = label
        self.next = 0  # index of the next child to start
        self.running: dict[int, Fiber[Any, Any]] = {}
        self.results: list[Any] = [None] * n if mode == ALL else []
        self.causes: list[Cause] = []  # failures to report, in order of arrival
        self.late: list[Cause] = []  # failures of branches while they were being interrupted
        self.winner: Exit[Any] | None = None
        self.stopping = False  # decided: start nothing more, interrupt what runs
        self.cancelled = False  # the parent was interrupted
        self.pumping = False
        self.finished = False
        # Called for each item that never started, once the group has finished.
        self.unstarted = unstarted
        self.scope_id = next(SCOPE_IDS)
        self.source = source  # where user code built the combinator (when captured)
        inst = parent._runtime.instrument
        if inst is not None:
            inst.emit("scope_opened", parent, self.scope_id, label)

    def pump(self) -> None:
        if self.pumping or self.finished:
            return
        self.pumping = True
        parent, make, running, label = self.parent, self.make, self.running, self.label
        runtime = parent._runtime
        all_mode = self.mode == ALL
        try:
            started = 0
            while not self.stopping and self.next < self.n and len(running) < self.par:
                if started == INLINE_STARTS:
                    runtime.call_soon(self.pump)
                    return
                i = self.next
                self.next += 1
                try:
                    eff = make(i)
                    if eff.__class__ is not Effect:
                        eff = lift(eff, f"{label}'s effect #{i}")
                except BaseException as exc:  # noqa: BLE001 - a failing item fails the group
                    self.causes.append(cause_of(exc))
                    self.stop()
                    break
                if eff._tag == SUCCEED and all_mode and runtime.instrument is None:
                    # a branch that is already a value needs no fiber (nothing can observe
                    # the difference: it cannot fail, wait, acquire or be interrupted)
                    self.results[i] = eff._a
                    started += 1
                    continue
                try:
                    child = parent._fork(eff, _SUPERVISED, f"{label}[{i}]", self.source)
                except BaseException as exc:  # noqa: BLE001 - a FiberRef's fork function raised
                    self.causes.append(cause_of(exc))
                    self.stop()
                    break
                running[i] = child
                child._observe(_Ended(self, i))
                started += 1
                if runtime.inline_depth >= INLINE_DEPTH:
                    child._start(eff)
                    continue
                runtime.inline_depth += 1
                try:
                    child._begin(eff)
                finally:
                    runtime.inline_depth -= 1
        finally:
            self.pumping = False
        self.maybe_finish()

    def child_ended(self, i: int, exit_: Exit[Any]) -> None:
        del self.running[i]
        mode = self.mode
        if exit_._ok:
            if mode == ALL:
                self.results[i] = exit_._value
            elif not self.stopping:
                self.winner = exit_
                self.stop()
        else:
            cause = exit_._cause
            if self.stopping:
                # a branch we interrupted: keep anything beyond the interruption (for
                # example a failing finalizer); nothing is swallowed
                if not cause.is_interrupted_only():
                    self.late.append(cause)
            elif mode == FIRST:
                self.winner = exit_
                self.stop()
            else:
                self.causes.append(cause)
                if mode == ALL:
                    self.stop()
        if not self.pumping:
            if self.next < self.n and not self.stopping:
                self.pump()
            else:
                self.maybe_finish()

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        by = self.parent.id
        reason = f"{self.label}: {'cancelled' if self.cancelled else 'decided'}"
        for child in list(self.running.values()):
            child.interrupt_as(by, reason)

    def cancel(self) -> None:
        """The parent was interrupted: stop, and resume it once every child has ended."""
        self.cancelled = True
        self.stop()
        self.maybe_finish()

    def maybe_finish(self) -> None:
        if self.finished or self.running or (not self.stopping and self.next < self.n):
            return
        self.finished = True
        inst = self.parent._runtime.instrument
        if inst is not None:
            inst.emit("scope_closed", self.parent, self.scope_id, self.label)
        if self.unstarted is not None:
            for i in range(self.next, self.n):
                self.unstarted(i)
        late = _both(self.late)
        winner = self.winner
        if self.cancelled:
            self.resume(False, _both(self.causes).both(late))
        elif winner is not None:
            if not winner._ok:
                self.resume(False, winner._cause.both(late))
            elif late.is_empty():
                self.resume(True, winner._value)
            else:
                # the winner succeeded, but a loser failed while being interrupted (e.g. its
                # finalizer raised): report that failure rather than swallow it
                self.resume(False, late)
        elif self.causes or self.late:
            self.resume(False, _both(self.causes).both(late))
        else:
            self.resume(True, self.results)


class _Ended:
    """A group child's observer: ``group.child_ended(i, exit)`` (one object, where a
    `functools.partial` of a bound method would be two)."""

    __slots__ = ("group", "i")

    def __init__(self, group: _Group, i: int) -> None:
        self.group = group
        self.i = i

    def __call__(self, exit_: Exit[Any]) -> None:
        self.group.child_ended(self.i, exit_)


def _both(causes: list[Cause]) -> Cause:
    cause: Cause = EMPTY
    for c in causes:
        cause = cause.both(c)
    return cause


def group(make: Callable[[int], object], n: int, parallelism: int | None, mode: int, label: str,
          unstarted: Callable[[int], None] | None = None) -> Effect[Any, Any, Any]:
    """An effect that runs ``make(0) .. make(n-1)`` as child fibers under ``mode``.

    With ALL it succeeds with the list of values; with FIRST / FIRST_SUCCESS, with the
    deciding child's value."""
    par = n if parallelism is None else parallelism
    source = user_location()

    def register(parent: Fiber[Any, Any], resume: Callable[[bool, Any], None]) -> Callable[[], None]:
        g = _Group(parent, resume, make, n, max(par, 1), mode, label, unstarted, source)
        g.pump()
        return g.cancel

    return _make(CALLBACK, register, label)
