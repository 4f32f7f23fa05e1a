"""`Clock`: the service every sleep, timeout and schedule goes through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ._cause import EMPTY
from ._context import DEFAULT_SERVICES
from ._duration import Duration, to_seconds
from ._effect import CALLBACK, WITH_FIBER, Effect, _make

if TYPE_CHECKING:
    from ._fiber import Fiber

__all__ = ["Clock", "LIVE_CLOCK", "clock_sleep"]


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
        return _make(CALLBACK, lambda fiber, resume: _live_timer(fiber, resume, seconds))

    def __repr__(self) -> str:
        return "Clock()"


def _live_timer(fiber: Fiber[Any, Any], resume: Callable[[bool, Any], None], seconds: float) -> Callable[[], None]:
    handle = fiber._runtime.call_later(seconds, resume, True, None)

    def cancel() -> None:
        handle.cancel()
        resume(False, EMPTY)

    return cancel


LIVE_CLOCK: Final = Clock()
DEFAULT_SERVICES[Clock] = lambda: LIVE_CLOCK


def clock_sleep(seconds: float) -> Effect[Any, Any, None]:
    return _make(WITH_FIBER, lambda fiber: fiber._ctx.get(Clock)._sleep_effect(seconds))
