"""Stages that split one stream into several: ``group_by`` (a stream of keyed
substreams), ``partition`` and ``broadcast`` (scoped: streams fed by a fiber of the
caller's scope).

One producer fiber pulls upstream and hands each chunk (or the part of it that belongs
there) to the queue of each stream it feeds: a full queue makes it wait, so the slowest
stream sets the pace, and a stream that is never run stops the others once its queue is
full (as in ZIO). Each stream ends with upstream, or fails with it; if the producer is
stopped first (its scope closed), they end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core._effect import Effect, die, for_each, succeed, unit, with_fiber
from .._core._fiber import Fiber, internal_name
from .._core._scope import Scope
from .._pubsub import PubSub, Subscription
from .._queue import Queue
from ._pull import (
    _END, Chunk, _Failed, Open, Pull, _Sub, _consume, _consume_chunks, _in_scope, _suspend,
)

__all__: list[str] = []


def _once(open_: Open, where: str) -> Open:
    """``open_``, which may run once only (a stream fed by a producer is read once)."""
    used = [False]

    def go() -> Open:
        if used[0]:
            return die(RuntimeError(f"{where} can be run only once (it reads what one producer hands it)"))
        used[0] = True
        return open_
    return _suspend(go)


def _shut_down_on_close(scope: Scope, queues: Callable[[], list[Queue[Any]]]) -> None:
    """When ``scope`` closes (the producer, forked after, has been stopped by then), the
    streams still reading end."""
    scope.add_finalizer(lambda: _shut_all(queues()))


def _shut_all(queues: list[Queue[Any]]) -> Effect[Any, Any, None]:
    return for_each(queues, lambda q: q.shutdown(), discard=True)


def _offer_all(queues: list[Queue[Any]], msg: Any) -> Effect[Any, Any, None]:
    return for_each(queues, lambda q: q.offer(msg), discard=True)


def group_by(upstream: Open, key: Callable[[Any], Any], buffer: int) -> Open:
    """Items ``(key, open)``: the open effect of each key's substream."""
    def open_(fiber: Fiber[Any, Any]) -> Open:
        scope = fiber.current_scope()
        out: Queue[Any] = Queue(maxsize=buffer)  # (key, substream), then _END / _Failed
        groups: dict[Any, Queue[Any]] = {}  # each key's chunks, then _END / _Failed
        _shut_down_on_close(scope, lambda: list(groups.values()))

        def producer(up: Pull) -> Effect[Any, Any, None]:
            def loop() -> Effect[Any, Any, None]:
                return up.flat_map(deliver)

            def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
                if chunk is None:
                    return end_all(_END)
                batches: dict[Any, Chunk] = {}
                for x in chunk:
                    batches.setdefault(key(x), []).append(x)
                return send(list(batches.items()), 0)

            def send(batches: list[tuple[Any, Chunk]], i: int) -> Effect[Any, Any, None]:
                if i == len(batches):
                    return loop()
                k, items = batches[i]
                queue = groups.get(k)
                if queue is None:
                    queue = groups[k] = Queue(maxsize=buffer)
                    announce = out.offer((k, _once(succeed(_consume_chunks(queue)), "a group_by substream")))
                    return announce.flat_map(lambda _: queue.offer(items)).flat_map(lambda _: send(batches, i + 1))
                return queue.offer(items).flat_map(lambda _: send(batches, i + 1))

            def end_all(msg: Any) -> Effect[Any, Any, None]:
                return _offer_all(list(groups.values()), msg).flat_map(lambda _: out.offer(msg).unit())
            return loop().catch_all_cause(lambda cause: end_all(_Failed(cause)))

        return upstream.flat_map(
            lambda up: _in_scope(producer(up), scope).fork_in(scope, name=internal_name("group_by pump"))).as_(_consume(out))
    return with_fiber(open_)


def partition(upstream: Open, predicate: Callable[[Any], bool], buffer: int) -> Effect[Any, Any, tuple[Open, Open]]:
    def go(fiber: Fiber[Any, Any]) -> Effect[Any, Any, tuple[Open, Open]]:
        scope = fiber.current_scope()
        queues: list[Queue[Any]] = [Queue(maxsize=buffer), Queue(maxsize=buffer)]  # true, false
        _shut_down_on_close(scope, lambda: queues)

        def producer(up: Pull) -> Effect[Any, Any, None]:
            def loop() -> Effect[Any, Any, None]:
                return up.flat_map(deliver)

            def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
                if chunk is None:
                    return _offer_all(queues, _END)
                yes: Chunk = []
                no: Chunk = []
                for x in chunk:
                    (yes if predicate(x) else no).append(x)
                sent = queues[0].offer(yes).unit() if yes else unit
                if no:
                    sent = sent.flat_map(lambda _: queues[1].offer(no).unit())
                return sent.flat_map(lambda _: loop())
            return loop().catch_all_cause(lambda cause: _offer_all(queues, _Failed(cause)))

        streams = (_once(succeed(_consume_chunks(queues[0])), "partition's first stream"),
                   _once(succeed(_consume_chunks(queues[1])), "partition's second stream"))
        return upstream.flat_map(
            lambda up: _in_scope(producer(up), scope).fork_in(scope, name=internal_name("partition pump"))).as_(streams)
    return with_fiber(go)


def broadcast(upstream: Open, n: int, maximum_lag: int) -> Effect[Any, Any, tuple[Open, ...]]:
    def go(fiber: Fiber[Any, Any]) -> Effect[Any, Any, tuple[Open, ...]]:
        scope = fiber.current_scope()
        hub: PubSub[Any] = PubSub(maxsize=maximum_lag)  # chunks, then _END / _Failed
        # each subscription in a sub-scope: a stream whose run ends unsubscribes, and so no
        # longer holds the others back
        subs = [_Sub(scope) for _ in range(n)]

        def reader(i: int, subscription: Subscription[Any]) -> Open:
            def open_(reading: Fiber[Any, Any]) -> Open:
                reading.current_scope().add_finalizer(lambda: subs[i].close())
                return succeed(_consume_chunks(subscription))
            return _once(with_fiber(open_), f"broadcast's stream #{i}")

        def producer(up: Pull) -> Effect[Any, Any, None]:
            def loop() -> Effect[Any, Any, None]:
                return up.flat_map(lambda chunk: hub.publish(_END if chunk is None else chunk).flat_map(
                    lambda _: unit if chunk is None else loop()))
            return loop().catch_all_cause(lambda cause: hub.publish(_Failed(cause)).unit())

        def subscribe(i: int) -> Effect[Any, Any, Open]:
            return _in_scope(hub.subscribe(), subs[i].scope).map(lambda subscription: reader(i, subscription))

        def start(up: Pull) -> Effect[Any, Any, tuple[Open, ...]]:
            readers = for_each(range(n), subscribe)
            return readers.flat_map(lambda opens: _in_scope(producer(up), scope).fork_in(
                scope, name=internal_name("broadcast pump")).as_(tuple(opens)))
        return upstream.flat_map(start)
    return with_fiber(go)
