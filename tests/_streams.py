"""Helpers for the stream tests: resources that log, streams that wait, a TestClock run."""

from _backend import run

from effectpy import Clock, Context, Stream, TestClock, never, sleep, sync, zip_par


def resource(log, name="res"):
    """A one-item stream (``name``) whose resource logs its acquisition and its release."""
    return Stream.acquire_release(sync(lambda: log.append(f"open {name}")).as_(name),
                                  lambda r, ex: sync(lambda: log.append(f"close {name}")))


def holding(log, name, then):
    """``name``, then the items of ``then``, all while the resource is held (a concat would
    release it before going on)."""
    return resource(log, name).flat_map(lambda r: Stream.succeed(r) + then)


def snapshot(log):
    """A one-item stream: what the log holds when it is pulled."""
    return Stream.from_effect(sync(lambda: list(log)))


def waits_forever(log, name):
    """A one-item stream whose item never comes; logs when the wait is interrupted."""
    return Stream.from_effect(never.on_interrupt(sync(lambda: log.append(f"{name} interrupted"))))


def timed(items):
    """``(delay, item)`` pairs: each item comes ``delay`` seconds after the one before."""
    return Stream.from_iterable(items).map_effect(lambda p: sleep(p[0]).as_(p[1]))


def on_clock(effect, advance=100, clock=None):
    """Run ``effect`` on a TestClock advanced by ``advance`` seconds; (exit, clock)."""
    clock = clock or TestClock()
    exit_, _ = run(zip_par(effect.exit(), clock.adjust(advance)).provide(Context().with_service(Clock, clock)))
    return exit_, clock


def guarded(effect, limit=50):
    """``effect``'s Exit; if it would never end, a TimeoutError after ``limit`` virtual seconds."""
    return on_clock(effect.timeout(limit))[0]


def hung(exit_):
    return not exit_.is_success() and isinstance(exit_.cause.failures()[0], TimeoutError)


def stamped(stream, clock):
    return stream.map(lambda x: (x, clock.now()))
