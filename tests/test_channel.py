"""Channel: close semantics receivers can see, `async for`, and no hang in any race.

Every test runs on asyncio and trio; none sleeps: fibers are interleaved with `yield_now`.
"""

import asyncio

import pytest

import effectpy._core._loop as loop_module
from effectpy import succeed
from effectpy._channel import Channel, ChannelClosed
from effectpy._option import NONE, Some
from effectpy._core._wait import _waiting
import _backend
from _backend import each_backend, run, run_exit  # noqa: F401 - each_backend is a fixture
from _effects import do, settle


def is_closed_failure(exit_):
    return (not exit_.is_success() and exit_.cause.is_failure_only()
            and isinstance(exit_.cause.failures()[0], ChannelClosed))


def drain(ch, log):
    """Receive until the end, appending to ``log``."""
    @do
    def go():
        while True:
            item = yield ch.receive_option()
            if item is NONE:
                return log
            log.append(item.value)
    return go


def backend():
    return _backend._current["backend"]


def on_backend(main):
    """Run ``main`` (plain async code, no effect runner) on the current test's backend."""
    if backend() == "asyncio":
        return asyncio.run(main())
    import trio
    return trio.run(main)


# --- close semantics ----------------------------------------------------------------------


def test_receivers_drain_then_see_the_close():
    ch = Channel()

    @do
    def scenario():
        yield ch.send(1)
        yield ch.send(2)
        first = yield ch.close()
        again = yield ch.close()  # idempotent
        got = [(yield ch.receive()), (yield ch.receive_option())]
        end = [(yield ch.receive().exit()), (yield ch.receive_option()), (yield ch.receive().exit())]
        return first, again, got, end

    first, again, got, end = run(scenario)
    assert (first, again, got) == (True, False, [1, Some(2)])
    assert is_closed_failure(end[0]) and end[1] is NONE and is_closed_failure(end[2])
    assert "closed" in str(end[0].cause.failures()[0])
    assert run(ch.is_closed()) is True and ch.closed


def test_sending_on_a_closed_channel_fails():
    ch = Channel()
    run(ch.close())
    exit_ = run_exit(ch.send("late"))
    assert is_closed_failure(exit_)
    assert str(exit_.cause.failures()[0]) == "send on a closed channel"
    assert run(ch.size()) == 0


def test_close_wakes_every_waiting_receiver():
    ch = Channel()

    @do
    def scenario():
        fibers = []
        for _ in range(3):
            fibers.append((yield ch.receive().fork()))
            fibers.append((yield ch.receive_option().fork()))
        yield settle()
        states = {f.state for f in fibers}
        yield ch.close()
        exits = []
        for f in fibers:
            exits.append((yield f.await_()))
        return states, exits

    states, exits = run(scenario.timeout(5))
    assert states == {"suspended"}
    assert all(is_closed_failure(ex) for ex in exits[0::2])
    assert all(ex.value is NONE for ex in exits[1::2])
    assert not ch._receivers


def test_close_fails_waiting_senders_and_keeps_what_was_sent():
    ch = Channel(maxsize=2)

    @do
    def scenario():
        yield ch.send("a")
        yield ch.send("b")
        senders = []
        for item in "cd":
            senders.append((yield ch.send(item).fork()))
        yield settle()
        states = {f.state for f in senders}
        yield ch.close()
        exits = []
        for f in senders:
            exits.append((yield f.await_()))
        return states, exits, (yield drain(ch, []))

    states, exits, rest = run(scenario.timeout(5))
    assert states == {"suspended"}
    assert all(is_closed_failure(ex) for ex in exits)
    assert rest == ["a", "b"]
    assert not ch._senders


def test_bounded_send_waits_while_full():
    ch = Channel(maxsize=1)

    @do
    def scenario():
        yield ch.send("a")
        sender = yield ch.send("b").fork()
        yield settle()
        waiting = sender.state
        a = yield ch.receive()
        yield sender.join()
        return waiting, a, (yield ch.receive())

    assert run(scenario) == ("suspended", "a", "b")


# --- interruption -------------------------------------------------------------------------


def test_interrupted_receive_loses_no_item():
    ch = Channel()

    @do
    def scenario():
        first = yield ch.receive().fork()
        second = yield ch.receive().fork()
        yield settle()
        yield ch.send("item")        # wakes the first receiver...
        yield first.interrupt()      # ...which is interrupted before it runs
        return (yield second.join())

    assert run(scenario.timeout(5)) == "item"


def test_interrupted_send_sends_nothing():
    ch = Channel(maxsize=1)

    @do
    def scenario():
        yield ch.send("a")
        sender = yield ch.send("lost").fork()
        yield settle()
        exit_ = yield sender.interrupt()
        yield ch.close()
        return exit_.is_interrupted(), (yield drain(ch, [])), _waiting(ch._senders)

    assert run(scenario) == (True, ["a"], 0)


# --- races --------------------------------------------------------------------------------


def senders_and_receivers(ch, close_after, senders=4, receivers=4, per_sender=50):
    """Senders send (s, i) until done or closed; receivers drain; the channel is closed
    after ``close_after`` yields (None: once every sender is done). Returns what was sent
    successfully and what each receiver got."""
    sent = []
    got = [[] for _ in range(receivers)]

    def sender(s):
        @do
        def go():
            for i in range(per_sender):
                exit_ = yield ch.send((s, i)).exit()
                if not exit_.is_success():
                    assert is_closed_failure(exit_)
                    return
                sent.append((s, i))
        return go

    @do
    def scenario():
        rs = []
        for log in got:
            rs.append((yield drain(ch, log).fork()))
        ss = []
        for s in range(senders):
            ss.append((yield sender(s).fork()))
        if close_after is None:
            for f in ss:
                yield f.join()
        else:
            yield settle(close_after) if close_after else succeed(None)
        yield ch.close()
        for f in ss + rs:
            yield f.join()
        return sent, got

    return scenario


def check(sent, got, senders=4):
    received = [x for log in got for x in log]
    assert sorted(received) == sorted(sent)  # every item sent is received, exactly once
    for log in got:
        for s in range(senders):
            mine = [i for (q, i) in log if q == s]
            assert mine == sorted(mine)


@pytest.mark.parametrize("maxsize", [0, 1, 3])
def test_parallel_senders_and_receivers_lose_nothing(maxsize):
    sent, got = run(senders_and_receivers(Channel(maxsize), None).timeout(10))
    assert len(sent) == 200
    check(sent, got)


@pytest.mark.parametrize("close_after", [0, 1, 2, 3, 5, 8, 13, 21])
def test_close_racing_with_sends_and_receives_never_hangs(close_after):
    sent, got = run(senders_and_receivers(Channel(2), close_after).timeout(10))
    check(sent, got)


@pytest.mark.parametrize("budget", [2, 3, 5])
def test_nothing_lost_when_fibers_yield_between_check_and_wait(budget, monkeypatch):
    monkeypatch.setattr(loop_module, "STEP_BUDGET", budget)
    sent, got = run(senders_and_receivers(Channel(2), None, per_sender=20).timeout(10))
    assert len(sent) == 80
    check(sent, got)


# --- async for, in plain asyncio / trio code ------------------------------------------------


def test_async_for_ends_at_the_close():
    ch = Channel(maxsize=2)

    async def produce():
        for i in range(10):
            await ch.send(i)
        await ch.close()

    async def main():
        got = []
        if backend() == "asyncio":
            task = asyncio.ensure_future(produce())
            async for item in ch:
                got.append(item)
            await task
        else:
            import trio
            async with trio.open_nursery() as nursery:
                nursery.start_soon(produce)
                async for item in ch:
                    got.append(item)
        return got

    assert on_backend(main) == list(range(10))


def test_async_for_waiting_on_an_empty_channel_ends_when_it_closes():
    ch = Channel()

    async def main():
        got = []

        async def consume():
            async for item in ch:
                got.append(item)
            got.append("end")

        if backend() == "asyncio":
            task = asyncio.ensure_future(consume())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            await ch.close()
            await task
        else:
            import trio
            import trio.testing
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume)
                await trio.testing.wait_all_tasks_blocked()
                await ch.close()
        return got

    assert on_backend(main) == ["end"]


def test_cancelled_async_for_loses_no_item():
    ch = Channel()

    async def main():
        got = []

        async def consume():
            async for item in ch:
                got.append(item)

        if backend() == "asyncio":
            task = asyncio.ensure_future(consume())
            for _ in range(3):
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            import trio
            import trio.testing
            async with trio.open_nursery() as nursery:
                nursery.start_soon(consume)
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
        waiting = _waiting(ch._receivers)  # an abandoned waiter does not count
        await ch.send("kept")
        await ch.close()
        return got, waiting, [item async for item in ch]

    assert on_backend(main) == ([], 0, ["kept"])


def test_bad_input_and_repr():
    with pytest.raises(ValueError):
        Channel(maxsize=-1)
    with pytest.raises(ValueError):
        Channel(maxsize=1.5)  # type: ignore[arg-type]
    ch = Channel(maxsize=3)
    run(ch.send(1).zip(ch.close()))
    assert repr(ch) == "<Channel 1/3 items, closed>" and ch.maxsize == 3
    assert repr(Channel()) == "<Channel 0 items>"


def test_effects_are_lazy():
    ch = Channel()
    ch.send(1), ch.receive(), ch.close()
    assert not ch.closed and run(ch.size()) == 0


def test_a_waiting_send_is_not_starved_by_a_busy_sender():
    from effectpy import for_each

    ch = Channel(maxsize=2)

    @do
    def scenario():
        yield ch.send("a")
        yield ch.send("b")
        slow = yield ch.send("SLOW").fork()
        yield settle()
        busy = yield for_each(range(500), ch.send, discard=True).fork()
        got = []
        for _ in range(503):
            got.append((yield ch.receive()))
        yield busy.join()
        yield slow.join()
        return got

    got = run(scenario.timeout(10))
    assert got.index("SLOW") <= 3  # with the first room made, not after the busy sender
    assert [x for x in got if x != "SLOW"] == ["a", "b", *range(500)]


@pytest.mark.asyncio_only
def test_a_cancelled_async_for_or_receive_that_had_already_received_gives_the_item_back():
    from effectpy._core._wait import _waiting

    async def main(kind):
        ch = Channel()
        got = []

        async def consume():
            if kind == "async for":
                async for item in ch:
                    got.append(item)
            else:
                got.append(await ch.receive())

        task = asyncio.ensure_future(consume())
        while not _waiting(ch._receivers):
            await asyncio.sleep(0)
        await ch.send("x")   # the waiting receive runs before the task resumes...
        task.cancel()        # ...which is cancelled
        with pytest.raises(asyncio.CancelledError):
            await task
        await ch.close()
        return got, [item async for item in ch]

    assert asyncio.run(main("async for")) == ([], ["x"])
    assert asyncio.run(main("receive")) == ([], ["x"])
