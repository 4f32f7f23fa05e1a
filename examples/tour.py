"""A tour of effectpy's structured concurrency: the runtime narrates, then draws, each story.

Run it with ``python examples/tour.py [FOLDER]``. Each story runs a classic concurrency
pattern while an instrument prints what the runtime does: which fibers start, what they
acquire and release, who interrupts whom. The run is recorded, and its timeline is written
to FOLDER (default ``tour/``) as an SVG you can open in a browser: ``tour/race.svg``, ...

Time is virtual (one `TestClock` for the whole tour, moved on whenever every fiber waits),
so the output is the same on every machine, and the tour finishes at once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import effectpy
from effectpy import (
    Effect, TestClock, acquire_release, fail, for_each_par, race, sleep, succeed, sync, zip_par,
)
from effectpy.lowlevel import Instrument, instrument
from effectpy.trace import record


class Narrator(Instrument):
    """Prints one line per runtime event: the story's time and trace-local fiber ids."""

    def __init__(self, clock: TestClock) -> None:
        self.clock = clock
        self.start = clock.now()
        self.ids: dict[int, int] = {}
        self.resources: dict[int, object] = {}

    def _id(self, fiber: Any) -> str:
        n = self.ids.setdefault(fiber.id, len(self.ids) + 1)
        return f"#{n} {fiber.name or 'main'}"

    def _say(self, text: str) -> None:
        print(f"  {self.clock.now() - self.start:5.2f}s  {text}")

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

    def resource_acquired(self, fiber: Any, resource_id: int, resource: object) -> None:
        self.resources[resource_id] = resource
        self._say(f"{self._id(fiber)} acquires {resource}")

    def resource_released(self, fiber: Any, resource_id: int, exit: Any) -> None:
        self._say(f"{self._id(fiber)} releases {self.resources.pop(resource_id, 'a resource')}")


def fetch(name: str, seconds: float) -> Effect[Any, str, str]:
    """A service call that holds a connection while it waits for the answer."""
    connection = acquire_release(succeed(f"connection to {name}"), lambda c: sync(lambda: None))
    return connection.flat_map(lambda _: sleep(seconds)).as_(f"data from {name}").named(name)


def query(i: int) -> Effect[Any, str, str]:
    connection = acquire_release(succeed(f"conn{i}"), lambda c: sync(lambda: None))
    return connection.flat_map(lambda c: sleep(0.1).as_(f"{c}: SELECT {i}"))


STORIES: list[tuple[str, str, Effect[Any, Any, Any]]] = [
    ("race", "race: the first to finish wins, the others are interrupted",
     race(fetch("Primary", 0.3), fetch("Backup", 0.2), fetch("Fallback", 0.4))),
    ("zip_par", "zip_par: fail fast, the siblings are interrupted",
     zip_par(fetch("Auth", 0.1), sleep(0.2).flat_map(lambda _: fail("User timeout")).named("User"),
             fetch("Profile", 2.0))),
    ("timeout", "timeout with fallback: a timer cuts the slow service off at 0.5s",
     race(fetch("SlowService", 2.0), sleep(0.5).flat_map(lambda _: fail("timeout")).named("timer"))
     .catch_all(lambda _: succeed("cached data"))),
    ("for_each_par", "for_each_par: at most 2 at once; each item releases its connection",
     for_each_par(range(3), query, parallelism=2)),
]


def tell(clock: TestClock, title: str, program: Effect[Any, Any, Any]) -> tuple[Any, effectpy.Exit[Any]]:
    """Run one story on the tour's clock, narrated and recorded."""
    print(f"\n{title}")
    with instrument(Narrator(clock)), record() as trace:
        exit_ = asyncio.run(clock.drive(program))
    print(f"  => {exit_.value!r}" if exit_.is_success() else f"  => failed: {exit_.cause.failures()}")
    return trace, exit_


def main(folder: str = "tour") -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    clock = TestClock()
    written = []
    for key, title, program in STORIES:
        trace, _ = tell(clock, title, program)
        written.append(trace.save_svg(out / f"{key}.svg", title=title))
        if key == "timeout" and importlib.util.find_spec("graphviz") is not None:
            from effectpy.trace import render_svg
            tree = out / "timeout-tree.svg"  # the effect's shape, annotated from the run
            tree.write_text(render_svg(trace.effect_tree(program)), encoding="utf-8")
            written.append(str(tree))
    print("\nThe timelines (one lane per fiber; open them in a browser):")
    for path in written:
        print(f"  {path}")
    if importlib.util.find_spec("graphviz") is None:
        print('(pip install "effectpy[notebook]" to draw effect trees too)')
    print(f"Start with {out / 'race.svg'} (open it in a browser)")


if __name__ == "__main__":
    main(*sys.argv[1:2])
