"""A tour of effectpy's structured concurrency, narrated by the runtime itself.

Run it with ``python examples/tour.py``. Each scene runs an example from the concurrency
guide while an instrument prints what the runtime does: which fibers start, who interrupts
whom, when resources are released. Time is virtual (a TestClock), so the output is the same
on every machine and the tour finishes instantly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import effectpy
from effectpy import (
    Clock, Context, TestClock, acquire_release, fail, for_each_par, race, sleep, succeed, sync,
    zip_par,
)
from effectpy.lowlevel import Instrument, instrument


class Narrator(Instrument):
    """Prints one line per runtime event, with the clock's time and trace-local fiber ids."""

    def __init__(self, clock: TestClock) -> None:
        self.clock = clock
        self.ids: dict[int, int] = {}

    def _id(self, fiber: Any) -> str:
        n = self.ids.setdefault(fiber.id, len(self.ids) + 1)
        return f"#{n} {fiber.name or 'main'}"

    def _say(self, text: str) -> None:
        print(f"  {self.clock.now():5.2f}s  {text}")

    def fiber_started(self, fiber: Any, parent: Any) -> None:
        if parent is not None:
            self._say(f"{self._id(parent)} forks {self._id(fiber)}")

    def fiber_interrupted(self, fiber: Any, by: object, reason: str) -> None:
        who = f"#{self.ids.get(by, by)}" if isinstance(by, int) else str(by)
        self._say(f"{who} interrupts {self._id(fiber)}")

    def fiber_ended(self, fiber: Any, exit: Any) -> None:
        if exit.is_success():
            outcome = f"succeeds with {exit.value!r}"
        elif exit.is_interrupted():
            outcome = "ends, interrupted (its finalizers have run)"
        else:
            outcome = f"fails: {exit.cause.failures() or exit.cause.defects()}"
        self._say(f"{self._id(fiber)} {outcome}")

    def resource_released(self, fiber: Any, resource_id: int, exit: Any) -> None:
        self._say(f"{self._id(fiber)} releases resource {resource_id}")


def fetch(name: str, seconds: float) -> effectpy.Effect[Any, str, str]:
    return sleep(seconds).as_(f"data from {name}")


def scene(title: str, program: effectpy.Effect[Any, Any, Any]) -> None:
    print(f"\n{title}")
    clock = TestClock()
    env = Context().with_service(Clock, clock)

    async def play() -> effectpy.Exit[Any]:
        with instrument(Narrator(clock)):
            task = asyncio.create_task(program._run_exit(env))
        clock.advance(10)  # virtual time: the whole scene takes no real time
        return await task

    exit_ = asyncio.run(play())
    print(f"  => {exit_.value!r}" if exit_.is_success() else f"  => failed: {exit_.cause.failures()}")


def main() -> None:
    scene("race: the first to finish wins, the others are interrupted",
          race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4)))

    scene("zip_par: fail fast, the siblings are interrupted",
          zip_par(fetch("Auth", 0.1), sleep(0.2).flat_map(lambda _: fail("User timeout")),
                  fetch("Profile", 2.0)))

    scene("timeout with fallback: a timer cuts the slow service off at 0.5s",
          race(fetch("SlowService", 2.0), sleep(0.5).flat_map(lambda _: fail("timeout")))
          .catch_all(lambda _: succeed("cached data")))

    def with_connection(i: int) -> effectpy.Effect[Any, Any, str]:
        conn = acquire_release(succeed(f"conn{i}"), lambda c: sync(lambda: None))
        return conn.flat_map(lambda c: sleep(0.1).as_(f"{c}: SELECT {i}"))

    scene("for_each_par: at most 2 at once; each item releases its connection",
          for_each_par(range(3), with_connection, parallelism=2))


if __name__ == "__main__":
    main()
