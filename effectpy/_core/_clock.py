"""`Clock`: the service every sleep, timeout and schedule goes through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ._cause import EMPTY
from ._context import DEFAULT_SERVICES
from ._duration import Duration, to_seconds
from ._effect import Effect, _make
from ._nodes import CALLBACK, MAP, WITH_FIBER

if TYPE_CHECKING:
    from ._fiber import Fiber

__all__ = ["Clock"]


class Clock:
    """The live clock: monotonic time and the event loop's timers.

    It is used whenever a context provides no `Clock`; `TestClock` replaces it in tests.
    """

    def now(self) -> float:
        """Seconds on this clock (synchronous)."""
        return time.monotonic()

    async def current_time(self) -> float:
        return self.now()

    async def sleep(self, seconds: float | Duration) -> None:
        """Sleep in a coroutine (asyncio or trio) on this clock."""
        s = to_seconds(seconds, "Clock.sleep")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            import trio
            await trio.sleep(s)
            return
        await asyncio.sleep(s)

    def _sleep_effect(self, seconds: float) -> Effect[Any, Any, None]:
        """The effect `sleep(seconds)` runs when this clock is in the context."""
        def arm(fiber: Fiber[Any, Any], wake: Callable[[], None]) -> Callable[[], object]:
            return fiber._runtime.call_later(seconds, wake).cancel  # type: ignore[no-any-return]
        return sleep_node(self, seconds, arm)

    def __repr__(self) -> str:
        return "Clock()"


def sleep_node(clock: Clock, seconds: float,
               arm: Callable[[Fiber[Any, Any], Callable[[], None]], Callable[[], object]]) -> Effect[Any, Any, None]:
    """A sleep on ``clock``: ``arm(fiber, wake)`` schedules ``wake`` and returns a disarm."""
    def register(fiber: Fiber[Any, Any], resume: Callable[[bool, Any], None]) -> Callable[[], None]:
        inst = fiber._runtime.instrument
        if inst is None:
            def wake() -> None:
                resume(True, None)
        else:
            inst.emit("sleep_started", fiber, clock, clock.now() + seconds)

            def wake() -> None:
                inst.emit("sleep_ended", fiber, clock)
                resume(True, None)
        disarm = arm(fiber, wake)

        def cancel() -> None:
            disarm()
            resume(False, EMPTY)
        return cancel

    return _make(CALLBACK, register, "sleep")


LIVE_CLOCK: Final = Clock()
DEFAULT_SERVICES[Clock] = lambda: LIVE_CLOCK


def timed(effect: Effect[Any, Any, Any]) -> Effect[Any, Any, tuple[Duration, Any]]:
    """`Effect.timed`: ``(how long effect took on the context's clock, its value)``."""
    def go(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
        clock: Clock = fiber._ctx.get(Clock)
        start = clock.now()
        return _make(MAP, effect, lambda value: (Duration(max(0.0, clock.now() - start)), value))
    return _make(WITH_FIBER, go)


def clock_sleep(seconds: float) -> Effect[Any, Any, None]:
    return _make(WITH_FIBER, lambda fiber: fiber._ctx.get(Clock)._sleep_effect(seconds))
