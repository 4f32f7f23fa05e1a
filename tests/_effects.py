"""Helpers for writing effect tests: generator "do-notation" and letting fibers interleave."""

from effectpy import succeed, suspend, yield_now


def do(fn):
    """Do-notation for tests: ``fn`` is a generator function yielding effects; each
    yield gives back the effect's value; the generator's return value is the result."""
    def start():
        gen = fn()

        def step(value):
            try:
                eff = gen.send(value)
            except StopIteration as stop:
                return succeed(stop.value)
            return eff.flat_map(step)
        return step(None)
    return suspend(start)


def settle(n=20):
    """Let every other fiber run until it suspends (n rounds of the scheduler)."""
    eff = yield_now
    for _ in range(n - 1):
        eff = eff.flat_map(lambda _: yield_now)
    return eff
