"""`Effect.timeout` and its variants: a race between the effect and a timer fiber."""

from __future__ import annotations

from typing import Any, Final, TypeVar

from ._core._duration import Duration, to_seconds
from ._core._effect import Effect, _make, fail, sleep, with_fiber
from ._core._nodes import NAMED, SUCCEED, _shaped
from ._core._fiber import Fiber, internal_name
from ._core._group import FIRST, group
from ._option import NONE, Some

__all__ = ["timeout", "timeout_option", "timeout_to"]

A = TypeVar("A")
B = TypeVar("B")
E = TypeVar("E")


class _TimedOut:
    __slots__ = ()


_TIMED_OUT = _TimedOut()
TIMER: Final = internal_name("timeout timer")


def _timer(effect: Effect[Any, Any, Any]) -> Effect[Any, Any, Any]:
    """The timer branch, its fiber named as effectpy's own (pictures fold it under the
    fiber that runs the timeout)."""
    return _make(NAMED, effect, TIMER)


def _raced(effect: Effect[Any, E, A], seconds: float, kind: str) -> Effect[Any, E, Any]:
    """Succeeds with the effect's value, or `_TIMED_OUT` if ``seconds`` passed first."""
    timer = _timer(sleep(seconds).as_(_TIMED_OUT))
    effs = (effect, timer)
    return _shaped(group(effs.__getitem__, 2, None, FIRST, "timeout"), kind, ("effect", effect), ("seconds", seconds))


def _fired(seconds: float, then: Effect[Any, Any, Any]) -> Effect[Any, Any, Any]:
    """Report the timeout to the instruments, then run ``then``."""
    def report(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
        inst = fiber._runtime.instrument
        if inst is not None:
            inst.emit("timeout_fired", fiber, seconds)
        return then
    return with_fiber(report)


def timeout(effect: Effect[Any, E, A], duration: float | Duration) -> Effect[Any, E | TimeoutError, A]:
    seconds = to_seconds(duration, "timeout")
    err = f"timed out after {seconds:g}s"
    # the timer itself fails, so that a failure of the interrupted effect (e.g. in its
    # finalizer) joins the TimeoutError in the cause instead of replacing it
    timer = _timer(sleep(seconds).flat_map(lambda _: _fired(seconds, fail(TimeoutError(err)))))
    effs = (effect, timer)
    return _shaped(group(effs.__getitem__, 2, None, FIRST, "timeout"), "timeout", ("effect", effect), ("seconds", seconds))


def timeout_option(effect: Effect[Any, E, A], duration: float | Duration) -> Effect[Any, E, Any]:
    seconds = to_seconds(duration, "timeout_option")
    return _raced(effect, seconds, "timeout_option").flat_map(
        lambda v: _fired(seconds, _make(SUCCEED, NONE)) if v is _TIMED_OUT else _make(SUCCEED, Some(v)))


def timeout_to(effect: Effect[Any, E, A], duration: float | Duration, default: B) -> Effect[Any, E, A | B]:
    seconds = to_seconds(duration, "timeout_to")
    return _raced(effect, seconds, "timeout_to").flat_map(
        lambda v: _fired(seconds, _make(SUCCEED, default)) if v is _TIMED_OUT else _make(SUCCEED, v))

