"""The concurrency guide (shared/seed/concurrency-guide.txt), example by example.

Each test restores one example of the guide (its indentation was lost in transcription),
runs it as written and checks what the guide's text promises: the values, what is
printed, that branches really run concurrently, that losers and siblings are cancelled,
that parallelism bounds are respected, and that TestClock tests take no real time.

Conventions:

- Only imports and helpers the guide leaves undefined are added. Where the guide's code
  cannot run as written in Python, the smallest change is made, with a ``# CHANGED:``
  comment saying why. Lines added inside a guide function only to check it are marked
  ``# added``.
- The guide's functions whose names start with ``test_`` are ``async def`` and must not be
  collected by pytest, so they are defined inside the test that runs them.
- Concurrency is shown with counters (the ``sleeps`` fixture counts the ``asyncio.sleep``
  calls in flight, and records which completed and which were cancelled), and timing is
  only checked with generous bounds.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest

from effectpy import *  # noqa: F403 - the guide's own import
from effectpy import (
    NONE, Clock, ClockLayer, Context, Duration, Effect, Failure, Queue, Scope, Some, TestClock,
    TestClockLayer, acquire_release, fail, for_each_par, from_async, race, sleep, succeed,
    zip_par,
)
from effectpy.lowlevel import Instrument, instrument


# --- test helpers (not from the guide) ------------------------------------------------------


class SleepTracker:
    """Stands in for `asyncio.sleep`: counts the sleeps (of a positive delay) in flight and
    records, by delay, which completed and which were cancelled."""

    def __init__(self, real_sleep: Any) -> None:
        self._real_sleep = real_sleep
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed: list[float] = []
        self.cancelled: list[float] = []

    async def sleep(self, delay: float, result: Any = None) -> Any:
        if delay <= 0:
            return await self._real_sleep(delay, result)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            value = await self._real_sleep(delay, result)
        except asyncio.CancelledError:
            self.cancelled.append(delay)
            raise
        finally:
            self.in_flight -= 1
        self.completed.append(delay)
        return value


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepTracker:
    tracker = SleepTracker(asyncio.sleep)
    monkeypatch.setattr(asyncio, "sleep", tracker.sleep)
    return tracker


class FakeTime:
    """`time.time` and `asyncio.sleep` on a virtual clock: a sleep moves the time on at once."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    async def sleep(self, delay: float, result: Any = None) -> Any:
        self.now += delay
        return result


class FiberRecorder(Instrument):
    """Records the names of the fibers started, and how each ended."""

    def __init__(self) -> None:
        self.started: list[str | None] = []
        self.ended: dict[str | None, Any] = {}

    def fiber_started(self, fiber: Any, parent: Any) -> None:
        self.started.append(fiber.name)

    def fiber_ended(self, fiber: Any, exit: Any) -> None:
        self.ended[fiber.name] = exit


def data(name: str) -> dict[str, str]:
    """What the guide's ``fetch_data(name, delay)`` succeeds with."""
    return {"service": name, "data": f"Data from {name}"}


def make_intro_fetch_data(log: list[tuple[str, str]], failing: frozenset[str] = frozenset(),
                          delay: float = 0.05) -> Any:
    """The one-argument ``fetch_data(name)`` of the guide's introduction and best practice 1,
    which the guide leaves undefined: a plain coroutine function (usable both with raw
    asyncio tasks and with effectpy), logging its start, end and cancellation. A name in
    ``failing`` raises ConnectionError after 10 ms."""

    async def fetch_data(name: str) -> dict[str, str]:
        log.append(("start", name))
        try:
            await asyncio.sleep(0.01 if name in failing else delay)
        except asyncio.CancelledError:
            log.append(("cancelled", name))
            raise
        if name in failing:
            log.append(("failed", name))
            raise ConnectionError(f"{name} unavailable")
        log.append(("done", name))
        return data(name)

    return fetch_data


# --- The Problem with Raw asyncio / The effectpy Solution -----------------------------------


def test_intro_safe_effectpy_runs_both_concurrently() -> None:
    log: list[tuple[str, str]] = []
    fetch_data = make_intro_fetch_data(log)

    async def safe_effectpy():
        # ✅ Automatic cleanup, structured composition
        result1, result2 = await zip_par(
            fetch_data("service1"),
            fetch_data("service2")
        )._run(Context())
        return result1, result2

    assert asyncio.run(safe_effectpy()) == (data("service1"), data("service2"))
    # Both started before either finished: they ran concurrently.
    assert log[:2] == [("start", "service1"), ("start", "service2")]


def test_intro_safe_effectpy_cancels_and_cleans_up_on_error() -> None:
    # "Exception safety - all operations cancelled on error", "no leaked tasks".
    log: list[tuple[str, str]] = []
    fetch_data = make_intro_fetch_data(log, failing=frozenset({"service1"}), delay=5.0)

    async def safe_effectpy():
        # ✅ Automatic cleanup, structured composition
        result1, result2 = await zip_par(
            fetch_data("service1"),
            fetch_data("service2")
        )._run(Context())
        return result1, result2

    async def main() -> Failure:
        with pytest.raises(Failure) as info:
            await safe_effectpy()
        # When the failure reaches the caller, service2 has already been cancelled and
        # has finished: nothing is left running.
        assert ("cancelled", "service2") in log
        return info.value

    start = time.perf_counter()
    failure = asyncio.run(main())
    assert time.perf_counter() - start < 2.0  # service2 (5 s) was not waited for
    assert isinstance(failure.error, ConnectionError)
    assert str(failure.error) == "service1 unavailable"


def test_intro_risky_asyncio_leaves_a_task_running() -> None:
    # The guide's counter-example: "Tasks may still be running!"
    log: list[tuple[str, str]] = []
    fetch_data = make_intro_fetch_data(log, failing=frozenset({"service1"}), delay=5.0)

    async def risky_asyncio():
        # ❌ Easy to create zombie tasks
        task1 = asyncio.create_task(fetch_data("service1"))
        task2 = asyncio.create_task(fetch_data("service2"))
        try:
            result1 = await task1
            result2 = await task2
            return result1, result2
        except Exception:
            # ❌ Tasks may still be running!
            # Need manual cleanup
            task1.cancel()
            task2.cancel()
            raise

    async def main() -> None:
        with pytest.raises(ConnectionError):
            await risky_asyncio()
        # The error reached the caller while task2 is still running: cancel() only asked.
        assert ("start", "service2") in log
        assert ("cancelled", "service2") not in log
        for _ in range(5):
            await asyncio.sleep(0)
        assert ("cancelled", "service2") in log

    asyncio.run(main())


# --- Core Concurrency Primitives (the guide's code) -----------------------------------------


async def fetch_data(name: str, delay: float) -> Effect[Any, str, dict]:
    await asyncio.sleep(delay)
    if delay > 0.5:  # Simulate failure for slow requests
        return fail(f"{name} timeout")
    return succeed({"service": name, "data": f"Data from {name}"})


async def parallel_fetching():
    # All three run concurrently, wait for all
    try:
        results = await zip_par(
            fetch_data("Auth", 0.1),
            fetch_data("User", 0.2),
            fetch_data("Profile", 0.15)
        )._run(Context())
        auth, user, profile = results
        print(f"All succeeded: {auth}, {user}, {profile}")
    except Failure as f:
        print(f"At least one failed: {f.error}")
        # All other operations automatically cancelled


async def race_example():
    # Try multiple data sources, use whichever responds first
    winner = await race(
        fetch_data("Primary", 0.3),
        fetch_data("Backup", 0.2),
        fetch_data("Fallback", 0.4)
    )._run(Context())
    print(f"Winner: {winner}")
    # Other operations automatically cancelled


async def parallel_processing():
    user_ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    # Process users with maximum 3 concurrent operations
    results = await for_each_par(
        items=user_ids,
        effect_fn=lambda user_id: fetch_data(f"User{user_id}", 0.1),
        parallelism=3
    )._run(Context())
    print(f"Processed {len(results)} users")
    return results


def test_zip_par_parallel_fetching(sleeps: SleepTracker, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    asyncio.run(parallel_fetching())
    elapsed = time.perf_counter() - start
    out = capsys.readouterr().out
    assert out == f"All succeeded: {data('Auth')}, {data('User')}, {data('Profile')}\n"
    # All three ran at once, and all completed.
    assert sleeps.max_in_flight == 3
    assert sorted(sleeps.completed) == [0.1, 0.15, 0.2]
    # Total time is about the longest delay (0.2 s), not the sum (0.45 s).
    assert elapsed < 0.8 * (0.1 + 0.2 + 0.15)


def test_zip_par_failure_cancels_the_others(sleeps: SleepTracker, capsys: pytest.CaptureFixture[str]) -> None:
    # parallel_fetching's except branch: "At least one failed ... All other operations
    # automatically cancelled". The guide's example never fails (no delay is > 0.5 s), so
    # this runs the same code with a failing (0.6 s) and a slower (3 s) request.
    async def parallel_fetching_with_a_failure():
        try:
            results = await zip_par(
                fetch_data("Auth", 0.1),
                fetch_data("Slow", 0.6),
                fetch_data("Slowest", 3.0)
            )._run(Context())
            auth, user, profile = results
            print(f"All succeeded: {auth}, {user}, {profile}")
        except Failure as f:
            print(f"At least one failed: {f.error}")
            # All other operations automatically cancelled
            assert sleeps.in_flight == 0  # added: cancelled and finished, not left running
            assert sleeps.cancelled == [3.0]  # added

    start = time.perf_counter()
    asyncio.run(parallel_fetching_with_a_failure())
    assert capsys.readouterr().out == "At least one failed: Slow timeout\n"
    assert sorted(sleeps.completed) == [0.1, 0.6]
    assert time.perf_counter() - start < 2.0  # the 3 s request was not waited for


def test_race_backup_wins_and_the_others_are_cancelled(sleeps: SleepTracker,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    async def main() -> tuple[int, list[float]]:
        await race_example()
        # Right after race returned: the losers were cancelled and have finished.
        return sleeps.in_flight, sorted(sleeps.cancelled)

    start = time.perf_counter()
    in_flight, cancelled = asyncio.run(main())
    assert capsys.readouterr().out == f"Winner: {data('Backup')}\n"
    assert sleeps.max_in_flight == 3  # all three raced
    assert sleeps.completed == [0.2]  # only Backup completed
    assert cancelled == [0.3, 0.4]  # Primary and Fallback were cancelled
    assert in_flight == 0
    assert time.perf_counter() - start < 1.0  # Fallback's 0.4 s is not waited for in full


def test_for_each_par_respects_parallelism(sleeps: SleepTracker, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    results = asyncio.run(parallel_processing())
    elapsed = time.perf_counter() - start
    assert capsys.readouterr().out == "Processed 10 users\n"
    assert results == [data(f"User{i}") for i in range(1, 11)]  # in input order
    assert sleeps.max_in_flight == 3  # "maximum 3 concurrent operations", and it is reached
    assert len(sleeps.completed) == 10
    assert elapsed >= 0.38  # ceil(10 / 3) = 4 rounds of 0.1 s


# --- Advanced Patterns: Timeout and Fallback ------------------------------------------------


def with_timeout_and_fallback(
    primary: Effect[Any, str, str],
    timeout_ms: int,
    fallback: Effect[Any, str, str]
) -> Effect[Any, str, str]:
    # Race primary operation against timeout
    timed_primary = race(
        primary,
        sleep(timeout_ms / 1000).flat_map(lambda _: fail("timeout"))
    )
    # If timed primary fails, try fallback
    return timed_primary.catch_all(lambda _: fallback)


async def timeout_example():
    slow_service = fetch_data("SlowService", 2.0)  # 2 second delay
    fast_fallback = succeed({"service": "Cache", "data": "Cached data"})
    result = await with_timeout_and_fallback(
        primary=slow_service,
        timeout_ms=500,  # 500ms timeout
        fallback=fast_fallback
    )._run(Context())
    print(f"Result: {result}")


def test_timeout_and_fallback(sleeps: SleepTracker, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    asyncio.run(timeout_example())
    elapsed = time.perf_counter() - start
    assert capsys.readouterr().out == "Result: {'service': 'Cache', 'data': 'Cached data'}\n"
    # The 2 s primary was cut off (cancelled) at the 500 ms timeout.
    assert sleeps.cancelled == [2.0]
    assert sleeps.completed == []
    assert 0.45 <= elapsed < 1.5


# --- Advanced Patterns: Circuit Breaker (the guide's code) ----------------------------------


@dataclass
class CircuitBreakerState:
    failures: int = 0
    last_failure: float = 0
    is_open: bool = False


class CircuitBreaker:
    def __init__(self, failure_threshold: int = 3, timeout_seconds: float = 60):
        self.failure_threshold = failure_threshold
        self.timeout_seconds = timeout_seconds
        self.state = CircuitBreakerState()

    def call(self, effect: Effect[Any, str, str]) -> Effect[Any, str, str]:
        def wrapped_effect(ctx: Context) -> Effect[Any, str, str]:
            now = time.time()
            # Check if circuit is open and timeout has passed
            if self.state.is_open:
                if now - self.state.last_failure > self.timeout_seconds:
                    self.state.is_open = False
                    self.state.failures = 0
                else:
                    return fail("Circuit breaker is OPEN")
            # Try the effect
            return (
                effect
                .map(lambda result: self._on_success(result))
                .catch_all(lambda error: self._on_failure(error, now))
            )
        return Effect(lambda ctx: wrapped_effect(ctx)._run(ctx))

    def _on_success(self, result: str) -> str:
        self.state.failures = 0
        self.state.is_open = False
        return result

    def _on_failure(self, error: str, now: float) -> Effect[Any, str, str]:
        self.state.failures += 1
        self.state.last_failure = now
        if self.state.failures >= self.failure_threshold:
            self.state.is_open = True
            return fail(f"Circuit breaker OPENED due to: {error}")
        return fail(error)


async def circuit_breaker_example():
    cb = CircuitBreaker(failure_threshold=2, timeout_seconds=5)

    # Unreliable service that fails most of the time
    def unreliable_service() -> Effect[Any, str, str]:
        import random
        if random.random() < 0.8:  # 80% failure rate
            return fail("Service unavailable")
        return succeed("Service response")

    # Try the service multiple times
    for i in range(10):
        try:
            result = await cb.call(unreliable_service())._run(Context())
            print(f"Call {i+1}: SUCCESS - {result}")
        except Failure as f:
            print(f"Call {i+1}: FAILED - {f.error}")
        await asyncio.sleep(0.5)


OPENED = "FAILED - Circuit breaker OPENED due to: Service unavailable"
OPEN = "FAILED - Circuit breaker is OPEN"
UNAVAILABLE = "FAILED - Service unavailable"
SUCCESS = "SUCCESS - Service response"


@pytest.mark.parametrize(("seed", "expected"), [
    # random draws: S S F F S F F F F F (S: success, F: failure)
    (2, [SUCCESS, SUCCESS, UNAVAILABLE, OPENED, OPEN, OPEN, OPEN, OPEN, OPEN, OPEN]),
    # draws: F S F S F F F F F F: a success resets the failure count, so the breaker
    # opens only at the second failure in a row (call 6)
    (24, [UNAVAILABLE, SUCCESS, UNAVAILABLE, SUCCESS, UNAVAILABLE, OPENED, OPEN, OPEN, OPEN, OPEN]),
])
def test_circuit_breaker(seed: int, expected: list[str], monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    # The guide waits 0.5 s of real time between calls (5 s in all) and reads time.time();
    # here both run on a virtual clock, so each call sees exactly the time it would see in
    # real time (calls 0.5 s apart: all within the 5 s timeout of the opening), instantly.
    fake = FakeTime()
    start_time = fake.now
    monkeypatch.setattr(time, "time", fake.time)
    monkeypatch.setattr(asyncio, "sleep", fake.sleep)
    random.seed(seed)
    asyncio.run(circuit_breaker_example())
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Call {i + 1}: {outcome}" for i, outcome in enumerate(expected)]
    assert fake.now - start_time == 5.0


def test_circuit_breaker_closes_again_after_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # The guide's "Check if circuit is open and timeout has passed": once timeout_seconds
    # have passed since the last failure, the next call goes through again.
    fake = FakeTime()
    monkeypatch.setattr(time, "time", fake.time)
    cb = CircuitBreaker(failure_threshold=2, timeout_seconds=5)

    async def call(effect: Effect[Any, str, str]) -> str:
        try:
            return await cb.call(effect)._run(Context())
        except Failure as f:
            return f"FAILED - {f.error}"

    async def main() -> list[str]:
        outcomes = [await call(fail("down")), await call(fail("down")), await call(succeed("up"))]
        fake.now += 5.0
        outcomes.append(await call(succeed("up")))  # exactly 5 s: still open (needs > 5 s)
        fake.now += 0.1
        outcomes.append(await call(succeed("up")))
        outcomes.append(await call(fail("down")))  # the count restarted from 0
        return outcomes

    assert asyncio.run(main()) == [
        "FAILED - down", "FAILED - Circuit breaker OPENED due to: down", OPEN, OPEN, "up",
        "FAILED - down",
    ]


# --- Advanced Patterns: Fan-out/Fan-in -------------------------------------------------------


async def fan_out_fan_in_example():
    # Large dataset to process
    data = list(range(100))

    # Split into chunks for parallel processing
    chunk_size = 20
    chunks = [data[i:i+chunk_size] for i in range(0, len(data), chunk_size)]

    # Process each chunk in parallel
    def process_chunk(chunk: list) -> Effect[Any, str, int]:
        async def impl(ctx: Context):
            # Simulate processing
            await asyncio.sleep(0.1)
            return sum(chunk)  # Sum the chunk
        return Effect(impl)

    # Fan-out: distribute work
    chunk_effects = [process_chunk(chunk) for chunk in chunks]

    # Fan-in: collect all results
    chunk_results = await zip_par(*chunk_effects)._run(Context())

    # Final aggregation
    total = sum(chunk_results)
    print(f"Processed {len(data)} items, total: {total}")
    return total


def test_fan_out_fan_in(sleeps: SleepTracker, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    total = asyncio.run(fan_out_fan_in_example())
    elapsed = time.perf_counter() - start
    assert total == 4950
    assert capsys.readouterr().out == "Processed 100 items, total: 4950\n"
    assert sleeps.max_in_flight == 5  # the five chunks ran at once
    assert elapsed < 0.8 * 5 * 0.1


# --- Error Handling: Fail-Fast vs. Fail-Safe -------------------------------------------------


# Fail-fast: Stop on first error (zip_par)
async def fail_fast():
    try:
        results = await zip_par(
            succeed("ok1"),
            fail("error!"),
            succeed("ok3")
        )._run(Context())
    except Failure as f:
        print(f"Failed fast: {f.error}")
        # Third operation was cancelled


# Fail-safe: Collect all results, including errors
async def fail_safe():
    effects = [
        succeed("ok1"),
        fail("error!"),
        succeed("ok3")
    ]
    # Run all, convert failures to Options
    safe_effects = [
        effect.map(lambda x: Some(x)).catch_all(lambda _: succeed(NONE))
        for effect in effects
    ]
    results = await zip_par(*safe_effects)._run(Context())
    successes = [r.value for r in results if r.is_some()]
    failures = len([r for r in results if r.is_none()])
    print(f"Successes: {successes}, Failures: {failures}")


def test_fail_fast(capsys: pytest.CaptureFixture[str]) -> None:
    with instrument(FiberRecorder()) as recorder:
        asyncio.run(fail_fast())
    assert capsys.readouterr().out == "Failed fast: error!\n"
    # "Third operation was cancelled": it never completed (it was not even started, or
    # it was interrupted).
    third = recorder.ended.get("zip_par[2]")
    assert third is None or third.is_interrupted()
    assert recorder.ended["zip_par[1]"].cause.failures() == ["error!"]


def test_fail_safe(capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(fail_safe())
    assert capsys.readouterr().out == "Successes: ['ok1', 'ok3'], Failures: 1\n"


# --- Error Handling: Partial Failure Handling ------------------------------------------------


async def partial_failure_example():
    # Critical services (must succeed)
    critical_effects = [
        fetch_data("Auth", 0.1),
        fetch_data("Core", 0.1)
    ]
    # Optional services (can fail)
    # CHANGED: the guide writes fetch_data("Analytics", 0.3).catch_all(...), but the
    # guide's fetch_data is an `async def`, so fetch_data(...) is a coroutine, which has
    # no .catch_all (AttributeError, and a never-awaited coroutine). from_async(lambda:
    # ...) makes it the effect the guide means (its Effect result is then run).
    optional_effects = [
        from_async(lambda: fetch_data("Analytics", 0.3)).catch_all(lambda _: succeed({"service": "Analytics", "data": "unavailable"})),
        from_async(lambda: fetch_data("Recommendations", 0.4)).catch_all(lambda _: succeed({"service": "Recommendations", "data": "unavailable"}))
    ]
    # Critical services must all succeed
    critical_results = await zip_par(*critical_effects)._run(Context())
    # Optional services run in parallel but failures are handled
    optional_results = await zip_par(*optional_effects)._run(Context())
    print(f"Critical: {critical_results}")
    print(f"Optional: {optional_results}")


def test_partial_failure(sleeps: SleepTracker, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    asyncio.run(partial_failure_example())
    elapsed = time.perf_counter() - start
    # No delay of the example is over 0.5 s, so every service succeeds.
    assert capsys.readouterr().out.splitlines() == [
        f"Critical: {(data('Auth'), data('Core'))}",
        f"Optional: {(data('Analytics'), data('Recommendations'))}",
    ]
    assert sleeps.max_in_flight == 2  # each group runs in parallel
    assert elapsed < 0.8 * (0.1 + 0.1 + 0.3 + 0.4)


def test_partial_failure_optional_failure_is_handled(sleeps: SleepTracker) -> None:
    # "Optional services (can fail)": the example's optional effects, with Analytics slow
    # enough (0.6 s > 0.5 s) to fail; its failure becomes the "unavailable" placeholder.
    optional_effects = [
        from_async(lambda: fetch_data("Analytics", 0.6)).catch_all(lambda _: succeed({"service": "Analytics", "data": "unavailable"})),
        from_async(lambda: fetch_data("Recommendations", 0.4)).catch_all(lambda _: succeed({"service": "Recommendations", "data": "unavailable"}))
    ]
    optional_results = asyncio.run(zip_par(*optional_effects)._run(Context()))
    assert optional_results == (
        {"service": "Analytics", "data": "unavailable"}, data("Recommendations"),
    )


# --- Testing Concurrent Code: Testing with TestClock ----------------------------------------


# CHANGED: the guide declares `async def time_dependent_operation()`, but then calls
# `time_dependent_operation()._run(env)`: a coroutine has no `_run`. Without `async` it
# returns the Effect its annotation promises.
def time_dependent_operation() -> Effect[Clock, str, str]:
    async def impl(ctx: Context):
        clock = ctx.get(Clock)
        start = await clock.current_time()
        await clock.sleep(1.0)  # Wait 1 second
        end = await clock.current_time()
        return f"Operation took {end - start:.1f}s"
    return Effect(impl)


def test_time_dependent_operation_with_real_clock(capsys: pytest.CaptureFixture[str]) -> None:
    async def test_with_real_clock():
        scope = Scope()
        env = await ClockLayer.build_scoped(Context(), scope)
        start_time = time.time()
        result = await time_dependent_operation()._run(env)
        actual_time = time.time() - start_time
        print(f"Real clock: {result}, actual time: {actual_time:.1f}s")
        await scope.close()

    asyncio.run(test_with_real_clock())
    out = capsys.readouterr().out
    m = re.fullmatch(r"Real clock: Operation took (\d+\.\d)s, actual time: (\d+\.\d)s\n", out)
    assert m is not None, out
    # About 1.0 s measured by the clock, and really waited (generous upper bound for a
    # loaded machine, where the sleep can overshoot).
    assert 1.0 <= float(m.group(1)) <= 1.5
    assert 1.0 <= float(m.group(2)) <= 1.5


def test_time_dependent_operation_with_test_clock(capsys: pytest.CaptureFixture[str]) -> None:
    async def test_with_test_clock():
        test_clock = TestClock()
        scope = Scope()
        env = await TestClockLayer(test_clock).build_scoped(Context(), scope)
        # Run operation in background
        operation_fiber = asyncio.create_task(time_dependent_operation()._run(env))
        # Advance test clock
        await asyncio.sleep(0.01)  # Let operation start
        test_clock.advance(1.0)  # Advance by 1 second instantly
        result = await operation_fiber
        print(f"Test clock: {result} (instant)")
        await scope.close()

    start = time.perf_counter()
    asyncio.run(test_with_test_clock())
    elapsed = time.perf_counter() - start
    assert capsys.readouterr().out == "Test clock: Operation took 1.0s (instant)\n"
    assert elapsed < 0.5  # instant: only the guide's own 10 ms pause is real


# --- Testing Concurrent Code: Testing Race Conditions ----------------------------------------


def test_race_conditions_with_test_clock(capsys: pytest.CaptureFixture[str]) -> None:
    recorder = FiberRecorder()

    async def test_race_conditions():
        test_clock = TestClock()
        scope = Scope()
        env = await TestClockLayer(test_clock).build_scoped(Context(), scope)

        def timed_effect(name: str, delay: float) -> Effect[Clock, str, str]:
            async def impl(ctx: Context):
                clock = ctx.get(Clock)
                await clock.sleep(delay)
                return f"{name} completed"
            return Effect(impl)

        # Start race
        race_fiber = asyncio.create_task(
            race(
                timed_effect("Fast", 1.0),
                timed_effect("Slow", 2.0)
            )._run(env)
        )

        # Control exactly when each effect completes
        await asyncio.sleep(0.01)
        test_clock.advance(1.0)  # Fast effect completes
        result = await race_fiber
        assert result == "Fast completed"
        assert recorder.ended["race[1]"].is_interrupted()  # added: Slow was cancelled, and ended
        print(f"Race result: {result}")
        await scope.close()

    start = time.perf_counter()
    with instrument(recorder):
        asyncio.run(test_race_conditions())
    assert capsys.readouterr().out == "Race result: Fast completed\n"
    assert recorder.ended["race[0]"].is_success()
    assert time.perf_counter() - start < 0.5


def test_race_conditions_with_test_clock_leaves_no_sleeper() -> None:
    # The guide's race under TestClock: once Slow has lost (and been cancelled), nothing
    # should wait on the clock any more. (Regression: at commit 8b324f5 a cancelled
    # `await TestClock.sleep(...)` stayed counted in pending_sleeps, because its `finally`
    # removed the sleeper only if the awaited future was not done, and cancelling the
    # task had already cancelled that future.)
    async def main() -> int:
        test_clock = TestClock()
        scope = Scope()
        env = await TestClockLayer(test_clock).build_scoped(Context(), scope)

        def timed_effect(name: str, delay: float) -> Effect[Clock, str, str]:
            async def impl(ctx: Context):
                clock = ctx.get(Clock)
                await clock.sleep(delay)
                return f"{name} completed"
            return Effect(impl)

        race_fiber = asyncio.create_task(
            race(timed_effect("Fast", 1.0), timed_effect("Slow", 2.0))._run(env))
        await asyncio.sleep(0.01)
        test_clock.advance(1.0)
        assert await race_fiber == "Fast completed"
        await scope.close()
        return test_clock.pending_sleeps

    assert asyncio.run(main()) == 0


# --- Performance Patterns: Batching Operations ----------------------------------------------


async def batch_processing_example():
    # Large number of items to process
    items = list(range(1000))

    def process_batch(batch: list) -> Effect[Any, str, list]:
        async def impl(ctx: Context):
            # Simulate batch processing (more efficient than individual items)
            await asyncio.sleep(0.1)
            return [item * 2 for item in batch]
        return Effect(impl)

    # Create batches
    batch_size = 50
    batches = [items[i:i+batch_size] for i in range(0, len(items), batch_size)]

    # Process batches with limited parallelism
    batch_results = await for_each_par(
        items=batches,
        effect_fn=process_batch,
        parallelism=5  # Max 5 concurrent batches
    )._run(Context())

    # Flatten results
    results = [item for batch in batch_results for item in batch]
    print(f"Processed {len(results)} items in {len(batches)} batches")
    return results


def test_batching(sleeps: SleepTracker, capsys: pytest.CaptureFixture[str]) -> None:
    start = time.perf_counter()
    results = asyncio.run(batch_processing_example())
    elapsed = time.perf_counter() - start
    assert capsys.readouterr().out == "Processed 1000 items in 20 batches\n"
    assert results == [item * 2 for item in range(1000)]  # all items, in order
    assert len(sleeps.completed) == 20  # 20 batches
    assert sleeps.max_in_flight == 5  # "Max 5 concurrent batches", and it is reached
    assert elapsed >= 0.38  # 20 / 5 = 4 rounds of 0.1 s


# --- Performance Patterns: Connection Pool (the guide's code) -------------------------------


class Connection:
    def __init__(self, id: int):
        self.id = id
        self.in_use = False

    async def query(self, sql: str) -> str:
        await asyncio.sleep(0.1)
        return f"Connection {self.id}: {sql} -> result"


class ConnectionPool:
    def __init__(self, size: int):
        self.connections = [Connection(i) for i in range(size)]
        self.available = Queue(maxsize=size)
        # Initialize pool
        for conn in self.connections:
            self.available.put_nowait(conn)

    async def acquire(self) -> Connection:
        return await self.available.get()

    async def release(self, conn: Connection):
        conn.in_use = False
        await self.available.put(conn)


def with_connection(pool: ConnectionPool) -> Effect[Any, str, Connection]:
    return acquire_release(
        acquire=from_async(pool.acquire),
        release=lambda conn: from_async(lambda: pool.release(conn))
    )


async def connection_pool_example():
    pool = ConnectionPool(size=3)

    def db_operation(query: str) -> Effect[Any, str, str]:
        return (
            with_connection(pool)
            .flat_map(lambda conn: from_async(lambda: conn.query(query)))
        )

    # Many concurrent operations with limited pool
    operations = [
        db_operation(f"SELECT {i}") for i in range(10)
    ]

    # Limited by pool size (3), but will complete all operations
    results = await for_each_par(
        items=operations,
        effect_fn=lambda op: op,
        parallelism=10  # Try 10, but pool limits to 3
    )._run(Context())

    print(f"Completed {len(results)} database operations")
    return results


def test_connection_pool(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # Instrument Connection and ConnectionPool: which connections are checked out (from
    # acquire to release) and which are running a query, at each moment.
    checked_out: set[int] = set()
    querying: set[int] = set()
    peaks = {"checked_out": 0, "querying": 0, "acquired": 0, "released": 0}
    shared: list[int] = []  # connections found used by two operations at once

    original_acquire = ConnectionPool.acquire
    original_release = ConnectionPool.release
    original_query = Connection.query

    async def acquire(self: ConnectionPool) -> Connection:
        conn = await original_acquire(self)
        if conn.id in checked_out:
            shared.append(conn.id)
        checked_out.add(conn.id)
        peaks["acquired"] += 1
        peaks["checked_out"] = max(peaks["checked_out"], len(checked_out))
        return conn

    async def release(self: ConnectionPool, conn: Connection) -> None:
        checked_out.discard(conn.id)
        peaks["released"] += 1
        await original_release(self, conn)

    async def query(self: Connection, sql: str) -> str:
        if self.id in querying:
            shared.append(self.id)
        querying.add(self.id)
        peaks["querying"] = max(peaks["querying"], len(querying))
        try:
            return await original_query(self, sql)
        finally:
            querying.discard(self.id)

    monkeypatch.setattr(ConnectionPool, "acquire", acquire)
    monkeypatch.setattr(ConnectionPool, "release", release)
    monkeypatch.setattr(Connection, "query", query)

    start = time.perf_counter()
    results = asyncio.run(connection_pool_example())
    elapsed = time.perf_counter() - start
    assert capsys.readouterr().out == "Completed 10 database operations\n"
    assert len(results) == 10
    for i, line in enumerate(results):  # in input order, each on one of the 3 connections
        assert re.fullmatch(rf"Connection [012]: SELECT {i} -> result", line), line
    # Never more than 3 connections in use at once (and the pool was fully used).
    assert peaks["checked_out"] == 3
    assert peaks["querying"] == 3
    assert shared == []  # no connection was used by two operations at once
    # Every connection acquired was released.
    assert peaks["acquired"] == peaks["released"] == 10
    assert checked_out == set()
    assert elapsed >= 0.38  # ceil(10 / 3) = 4 rounds of 0.1 s


# --- Best Practices ---------------------------------------------------------------------------


def test_best_practice_1_structured_concurrency() -> None:
    log: list[tuple[str, str]] = []
    fetch_data = make_intro_fetch_data(log)

    # ✅ Good: Structured with automatic cleanup
    async def good_concurrency():
        result = await zip_par(
            fetch_data("service1"),
            fetch_data("service2")
        )._run(Context())
        return result

    # ❌ Avoid: Raw asyncio tasks
    async def avoid_raw_tasks():
        task1 = asyncio.create_task(fetch_data("service1"))
        task2 = asyncio.create_task(fetch_data("service2"))
        # Manual cleanup required, error-prone
        return await task1, await task2

    assert asyncio.run(good_concurrency()) == (data("service1"), data("service2"))
    assert asyncio.run(avoid_raw_tasks()) == (data("service1"), data("service2"))

    # On an error, the structured version has cancelled and finished the other
    # operation when it fails; the raw tasks version leaves it running.
    log.clear()
    # (Both functions above look fetch_data up when called: from now on service1 fails.)
    fetch_data = make_intro_fetch_data(log, failing=frozenset({"service1"}), delay=5.0)

    async def main() -> None:
        with pytest.raises(Failure):
            await good_concurrency()
        assert ("cancelled", "service2") in log
        log.clear()
        with pytest.raises(ConnectionError):
            await avoid_raw_tasks()
        assert ("start", "service2") in log
        assert ("cancelled", "service2") not in log and ("done", "service2") not in log

    start = time.perf_counter()
    asyncio.run(main())  # asyncio.run cancels the leaked task on the way out
    assert time.perf_counter() - start < 2.0


def test_best_practice_2_control_parallelism() -> None:
    # Helpers the guide leaves undefined: a dataset, and an effect per item that counts
    # how many items are processed at once.
    large_dataset = list(range(100))
    in_flight = {"now": 0, "max": 0}

    def process_item(item: int) -> Effect[Any, str, int]:
        async def impl(ctx: Context) -> int:
            in_flight["now"] += 1
            in_flight["max"] = max(in_flight["max"], in_flight["now"])
            try:
                await asyncio.sleep(0.01)
                return item * item
            finally:
                in_flight["now"] -= 1
        return Effect(impl)

    # CHANGED: the guide's snippets use `await` at top level; they run here inside
    # async functions.
    async def good() -> list[int]:
        # ✅ Good: Limit concurrent operations
        results = await for_each_par(
            items=large_dataset,
            effect_fn=process_item,
            parallelism=10  # Reasonable limit
        )._run(Context())
        return results

    async def avoid() -> tuple[int, ...]:
        # ❌ Avoid: Unbounded parallelism
        effects = [process_item(item) for item in large_dataset]  # Could be thousands!
        results = await zip_par(*effects)._run(Context())
        return results

    assert asyncio.run(good()) == [i * i for i in large_dataset]
    assert in_flight["max"] == 10
    in_flight["max"] = 0
    assert asyncio.run(avoid()) == tuple(i * i for i in large_dataset)
    assert in_flight["max"] == len(large_dataset)  # everything at once


def test_best_practice_3_failure_semantics() -> None:
    # Helpers the guide leaves undefined.
    auth_check = succeed("user-42 authorized")
    load_config = succeed({"env": "test"})
    optional_ops = [succeed("recommendations"), fail("analytics down"), succeed("ads")]

    # CHANGED: the guide's snippet uses `await` at top level; it runs here inside an
    # async function.
    async def main() -> tuple[Any, Any]:
        # ✅ Good: Choose the right failure semantics
        # Fail-fast for critical operations
        critical = await zip_par(auth_check, load_config)._run(Context())

        # Fail-safe for optional operations
        optional_results = await zip_par(
            *[op.catch_all(lambda _: succeed(None)) for op in optional_ops]
        )._run(Context())
        return critical, optional_results

    critical, optional_results = asyncio.run(main())
    assert critical == ("user-42 authorized", {"env": "test"})
    assert optional_results == ("recommendations", None, "ads")

    # Fail-fast: a failing critical operation fails the whole.
    auth_check = fail("unauthorized")
    with pytest.raises(Failure) as info:
        asyncio.run(main())
    assert info.value.error == "unauthorized"


def test_best_practice_4_timeout_with_test_clock() -> None:
    # Helper the guide leaves undefined: an effect that takes 10 s on the context's Clock.
    time_dependent_effect = sleep(Duration.seconds(10)).as_("finished")

    # ✅ Good: Deterministic time-based testing
    async def test_timeout_behavior():
        test_clock = TestClock()
        scope = Scope()
        env = await TestClockLayer(test_clock).build_scoped(Context(), scope)

        # Test exact timing without waiting
        operation = time_dependent_effect.timeout(Duration.seconds(5))
        fiber = asyncio.create_task(operation._run(env))

        test_clock.advance(6.0)  # Past timeout

        with pytest.raises(Failure):
            await fiber
        assert isinstance(fiber.exception().error, TimeoutError)  # added
        await scope.close()

    start = time.perf_counter()
    asyncio.run(test_timeout_behavior())
    assert time.perf_counter() - start < 0.5  # no real time taken
