"""A program made to have each bug `trace.diagnose()` points at, and its fixed twin, each
recorded: ``BUGS[kind] = (buggy, fixed)``, functions that return the trace of a fresh run.
All but the blocked loop (real time, by definition) run on a `TestClock`, so their traces
are the same on every run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import effectpy
from effectpy import Clock, Context, Layer, Scope, TestClock, acquire_release, never, sleep, succeed, unit, zip_par
from effectpy.trace import Trace, record, traced


def on_test_clock(program: Any, advance: float = 10) -> Trace:
    """The trace of ``program`` run while a `TestClock` advances ``advance`` seconds."""
    clock = TestClock()
    with record() as trace:
        effectpy.run(zip_par(program, clock.adjust(advance)).provide(Context().with_service(Clock, clock)))
    return trace


# --- leak: the guide's unstructured asyncio (two tasks made by hand, one fails) -----------


def two_calls(structured: bool) -> Trace:
    """Two service calls, each holding a connection that takes 50 ms to close; service1 fails
    at 110 ms. By hand (create_task, cancel in `except`), the caller raises at once and
    service2's cleanup runs after it ended; a TaskGroup waits for it."""
    clock = TestClock()

    class Connection:
        def __init__(self, name: str) -> None:
            self.name = name

        async def __aenter__(self) -> str:
            await clock.sleep(0.01)
            return self.name

        async def __aexit__(self, *exc: object) -> None:
            await clock.sleep(0.05)

    async def fetch_data(name: str, seconds: float, fails: bool = False) -> str:
        async with traced(Connection(name), f"connection to {name}"):
            await clock.sleep(seconds)
            if fails:
                raise ConnectionError(f"{name} is down")
            return f"data from {name}"

    async def by_hand() -> tuple[str, str]:
        task1 = asyncio.create_task(fetch_data("service1", 0.1, fails=True), name="service1")
        task2 = asyncio.create_task(fetch_data("service2", 0.5), name="service2")
        try:
            return await task1, await task2
        except Exception:
            task1.cancel()
            task2.cancel()  # asked, but not waited for
            raise

    async def in_a_group() -> tuple[str, str]:
        async with asyncio.TaskGroup() as group:
            task1 = group.create_task(fetch_data("service1", 0.1, fails=True), name="service1")
            task2 = group.create_task(fetch_data("service2", 0.5), name="service2")
        return task1.result(), task2.result()

    async def main() -> Trace:
        with record(asyncio=True, clock=clock) as trace:
            task = asyncio.create_task(in_a_group() if structured else by_hand(), name="handler")
            await clock.advance(1)
        try:
            await task
        except (ConnectionError, ExceptionGroup):
            pass
        return trace

    return asyncio.run(main())


# --- unreleased: a scoped layer whose scope is never closed ------------------------------


def database(close: bool) -> Trace:
    async def main() -> None:
        scope = Scope()
        await Layer.scoped(acquire_release(succeed("db"), lambda db: unit)).build_scoped(Context(), scope)
        if close:
            await scope.close()

    with record() as trace:
        asyncio.run(TestClock().drive(effectpy.from_async(main)))
    return trace


# --- blocked_loop: a blocking call in a coroutine, and the same call in a thread ----------


def blocking(in_a_thread: bool) -> Trace:
    async def handler() -> None:
        await asyncio.sleep(0)
        if in_a_thread:
            await asyncio.to_thread(time.sleep, 0.06)
        else:
            time.sleep(0.06)
        await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.create_task(handler())

    with record(asyncio=True) as trace:
        asyncio.run(main())
    return trace


# --- slow_interrupt / slow_finalizer: a victim interrupted at 1 s -------------------------


def interrupted_at_1(body: Any) -> Any:
    return body.named("victim").fork().flat_map(
        lambda fiber: sleep(1).flat_map(lambda _: fiber.interrupt())).named("boss")


# --- never_ended: a daemon left running ----------------------------------------------------


def daemon(stop: bool) -> Trace:
    async def main() -> Trace:
        with record() as trace:
            fiber = await never.named("forever").fork_daemon()
            if stop:
                await fiber.interrupt()
        return trace

    return asyncio.run(main())


BUGS: dict[str, tuple[Callable[[], Trace], Callable[[], Trace]]] = {
    "leak": (lambda: two_calls(False), lambda: two_calls(True)),
    "unreleased": (lambda: database(False), lambda: database(True)),
    "blocked_loop": (lambda: blocking(False), lambda: blocking(True)),
    "slow_interrupt": (lambda: on_test_clock(interrupted_at_1(sleep(5).uninterruptible().flat_map(lambda _: never))),
                       lambda: on_test_clock(interrupted_at_1(sleep(5).flat_map(lambda _: never)))),
    "slow_finalizer": (lambda: on_test_clock(interrupted_at_1(never.ensuring(sleep(2)))),
                       lambda: on_test_clock(interrupted_at_1(never.ensuring(unit)))),
    "never_ended": (lambda: daemon(False), lambda: daemon(True)),
}
