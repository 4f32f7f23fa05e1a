"""`PubSub`: a broadcast hub; every subscriber receives every item published after it
subscribed, through a buffer of its own."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from ._core._cause import EMPTY, Cause, Exit, Fail
from ._core._effect import Effect, _make
from ._core._nodes import CALLBACK, FAIL, FLAT_MAP, MAP, SUCCEED, SUSPEND, SYNC
from ._deferred import Deferred
from ._core._wait import _signal, _wake_all, _Waiter, _Waiters
from ._queue import (
    QueueShutdown, Strategy, _check_maxsize, _check_strategy, _pop_n, _Reader, _wait,
)
from ._resource import acquire_release

__all__ = ["PubSub", "Subscription"]

A = TypeVar("A")


class _Publish:
    """One waiting publish (backpressure): how many subscribers still have to make room."""

    __slots__ = ("remaining", "resume", "subs", "failure")

    def __init__(self) -> None:
        self.remaining = 0
        self.resume: Callable[[bool, Any], None] | None = None
        self.subs: list[Subscription[Any]] = []
        self.failure: Cause | None = None  # set by shutdown before the publisher suspended

    def delivered(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            resume = self.resume
            if resume is not None:
                self.resume = None
                resume(True, None)

    def fail(self, cause: Cause) -> None:
        resume = self.resume
        if resume is not None:
            self.resume = None
            resume(False, cause)
        elif self.failure is None:
            self.failure = cause


class Subscription(_Reader[A]):
    """What `PubSub.subscribe` gives: the items published since, in order, read with
    `take`, `take_up_to`, `take_all` and `poll` (as on a `Queue`). It ends with the scope
    that subscribed; reads then fail with `QueueShutdown`, as they do once the hub is shut
    down."""

    __slots__ = ("_hub", "_items", "_takers", "_pending", "_closed")

    def __init__(self, hub: PubSub[A]) -> None:
        self._hub = hub
        self._items: deque[A] = deque()
        self._takers: _Waiters[_Waiter] = _Waiters()
        # Backpressure: items whose publish waits for room here, in publish order.
        # Invariant: _pending is non-empty only while _items is full.
        self._pending: deque[tuple[A, _Publish]] = deque()
        self._closed = False

    def _failure(self) -> Effect[Any, Any, Any]:
        why = ("the PubSub has been shut down" if self._hub._shutdown
               else "the subscription has ended (its scope closed)")
        return _make(FAIL, Fail(QueueShutdown(why)))

    def _refill(self) -> None:
        """Room was made: move waiting publishes' items in, in order."""
        pending = self._pending
        if not pending:
            return
        items = self._items
        maxsize = self._hub._maxsize
        while pending and len(items) < maxsize:
            item, publish = pending.popleft()
            items.append(item)
            publish.delivered()
            if self._takers:
                _signal(self._takers)

    def _take_n(self, n: int) -> list[A]:
        out = _pop_n(self._items, n)
        self._refill()
        return out

    def _can_take(self) -> bool:
        return bool(self._items) or self._closed

    def _ended(self) -> Effect[Any, Any, Any] | None:
        return self._failure() if self._closed else None

    def take(self) -> Effect[Any, QueueShutdown, A]:
        """Remove and succeed with the next item, waiting for one. Interrupted while
        waiting, it takes nothing."""
        def attempt() -> Effect[Any, Any, A]:
            if self._items:
                item = self._items.popleft()
                self._refill()
                return _make(SUCCEED, item)
            if self._closed:
                return self._failure()
            return _make(FLAT_MAP, _wait(self._takers, self._can_take, "subscription.take"),
                         lambda _: attempt())
        return _make(SUSPEND, attempt)

    def size(self) -> Effect[Any, Any, int]:
        """How many items are buffered (not counting publishes still waiting for room)."""
        return _make(SYNC, lambda: len(self._items))

    def _close(self, failure: Fail | None = None) -> None:
        """Unsubscribe (from the scope's release) or, with ``failure``, shut down."""
        if self._closed:
            return
        self._closed = True
        self._hub._subs.pop(self, None)
        self._items.clear()
        pending = self._pending
        self._pending = deque()
        for _, publish in pending:
            if failure is None:
                publish.delivered()  # a publish no longer waits for a gone subscriber
            else:
                publish.fail(failure)
        _wake_all(self._takers, False,
                  failure or Fail(QueueShutdown("the subscription ended while waiting")))

    def __repr__(self) -> str:
        state = ", ended" if self._closed else ""
        return f"<Subscription {len(self._items)} items{state}>"


class PubSub(Generic[A]):
    """A broadcast hub: every item published goes to every current subscriber.

    ``subscribe()`` is an effect succeeding with a `Subscription` that holds the items
    published from then on; it is unsubscribed when the scope that subscribed closes (the
    innermost `scoped`, or else the subscribing fiber's own scope).

    Each subscriber has a buffer of its own, of ``maxsize`` items (None or 0: unbounded).
    When a subscriber's buffer is full, ``strategy`` decides, for that subscriber only:

    - "backpressure": the item goes at once to every subscriber with room, and the
      publish waits until each full one has made room for it (its items still arrive in
      publish order). A slow subscriber delays the others only once it is ``maxsize``
      items behind: until then they get every item at once; after, the publishers (and so
      the fast subscribers) wait for it. ZIO's bounded Hub instead waits until the slowest
      has room before anyone gets the item.
    - "dropping": that subscriber misses the new item; publish never waits and succeeds
      with False if some subscriber missed it.
    - "sliding": that subscriber loses its oldest item; publish never waits.

    With dropping or sliding, subscribers are fully independent: a slow one never delays
    a publisher or another subscriber. A publish interrupted while waiting has reached the
    subscribers that had room and is withdrawn from the others. `shutdown` fails waiting
    publishes and takes, and later ones, with `QueueShutdown`.

    >>> import effectpy
    >>> from effectpy import scoped, zip_par
    >>> hub = PubSub(maxsize=4)
    >>> def read_two(sub):
    ...     return sub.take().zip(sub.take())
    >>> two = hub.subscribe().zip(hub.subscribe())
    >>> program = two.flat_map(lambda subs: hub.publish_all(["a", "b"]).flat_map(
    ...     lambda _: zip_par(read_two(subs[0]), read_two(subs[1]))))
    >>> effectpy.run(scoped(program))
    (('a', 'b'), ('a', 'b'))
    """

    __slots__ = ("_maxsize", "_strategy", "_subs", "_shutdown", "_on_shutdown")

    def __init__(self, maxsize: int | None = None, strategy: Strategy = "backpressure") -> None:
        self._maxsize = _check_maxsize(maxsize, "PubSub")
        _check_strategy(strategy, "PubSub")
        self._strategy = strategy
        self._subs: dict[Subscription[A], None] = {}  # an ordered set
        self._shutdown = False
        self._on_shutdown: Deferred[Any, None] | None = None

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def strategy(self) -> Strategy:
        return self._strategy

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def _shutdown_failure(self) -> Effect[Any, Any, Any]:
        return _make(FAIL, Fail(QueueShutdown("the PubSub has been shut down")))

    def _deliver(self, item: A) -> tuple[bool, _Publish | None]:
        """Put ``item`` in every subscriber's buffer now, as the strategy says; returns
        (reached every subscriber, the publish to wait for or None)."""
        maxsize = self._maxsize
        everyone = True
        publish: _Publish | None = None
        for sub in self._subs:
            items = sub._items
            if maxsize == 0 or len(items) < maxsize:  # then nothing is pending there
                items.append(item)
                if sub._takers:
                    _signal(sub._takers)
            elif self._strategy == "sliding":
                items.popleft()
                items.append(item)
            elif self._strategy == "dropping":
                everyone = False
            else:
                if publish is None:
                    publish = _Publish()
                publish.remaining += 1
                publish.subs.append(sub)
                sub._pending.append((item, publish))
        return everyone, publish

    def _await(self, publish: _Publish) -> Effect[Any, QueueShutdown, None]:
        def register(fiber: Any, resume: Callable[[bool, Any], None]) -> Callable[[], None] | None:
            if publish.failure is not None:
                resume(False, publish.failure)
                return None
            if publish.remaining == 0:
                resume(True, None)
                return None
            publish.resume = resume

            def cancel() -> None:
                publish.resume = None
                for sub in publish.subs:  # withdraw the item where it is still waiting
                    if any(p is publish for _, p in sub._pending):
                        sub._pending = deque(e for e in sub._pending if e[1] is not publish)
                resume(False, EMPTY)
            return cancel
        return _make(CALLBACK, register, "pubsub.publish")

    def publish(self, item: A) -> Effect[Any, QueueShutdown, bool]:
        """Send ``item`` to every current subscriber. Succeeds with False if a dropping
        subscriber missed it, else True (with backpressure, once every subscriber has it)."""
        def go() -> Effect[Any, Any, bool]:
            if self._shutdown:
                return self._shutdown_failure()
            everyone, publish = self._deliver(item)
            if publish is None:
                return _make(SUCCEED, everyone)
            return _make(MAP, self._await(publish), lambda _: True)
        return _make(SUSPEND, go)

    def publish_all(self, items: Iterable[A]) -> Effect[Any, QueueShutdown, bool]:
        """Publish ``items`` one after the other; succeeds with False if a dropping
        subscriber missed any of them."""
        batch = list(items)

        def run() -> Effect[Any, Any, bool]:
            i = 0
            everyone = True

            def attempt() -> Effect[Any, Any, bool]:
                nonlocal i, everyone
                while i < len(batch):
                    if self._shutdown:
                        return self._shutdown_failure()
                    reached, publish = self._deliver(batch[i])
                    i += 1
                    everyone = everyone and reached
                    if publish is not None:
                        return _make(FLAT_MAP, self._await(publish), lambda _: attempt())
                return _make(SUCCEED, everyone)
            return attempt()
        return _make(SUSPEND, run)

    def subscribe(self) -> Effect[Any, QueueShutdown, Subscription[A]]:
        """Subscribe, in the current scope: succeeds with a `Subscription` that receives
        the items published from now on, unsubscribed when the scope closes."""
        def acquire() -> Effect[Any, Any, Subscription[A]]:
            if self._shutdown:
                return self._shutdown_failure()
            sub: Subscription[A] = Subscription(self)
            self._subs[sub] = None
            return _make(SUCCEED, sub)

        def release(sub: Subscription[A]) -> Effect[Any, Any, None]:
            return _make(SYNC, sub._close)
        return acquire_release(_make(SUSPEND, acquire), release)

    def is_shutdown(self) -> Effect[Any, Any, bool]:
        return _make(SYNC, lambda: self._shutdown)

    def await_shutdown(self) -> Effect[Any, Any, None]:
        """Wait until the hub is shut down (at once if it already is)."""
        def go() -> Effect[Any, Any, None]:
            if self._shutdown:
                return _make(SUCCEED, None)
            if self._on_shutdown is None:
                self._on_shutdown = Deferred()
            return self._on_shutdown.await_()
        return _make(SUSPEND, go)

    def shutdown(self) -> Effect[Any, Any, None]:
        """Shut the hub down: every subscription ends (buffered items are discarded),
        and waiting and later publishes, subscribes and takes fail with `QueueShutdown`.
        Idempotent."""
        def go() -> None:
            if self._shutdown:
                return
            self._shutdown = True
            failure = Fail(QueueShutdown("the PubSub was shut down while waiting"))
            for sub in list(self._subs):
                sub._close(failure)
            self._subs.clear()
            if self._on_shutdown is not None:
                self._on_shutdown._complete(Exit.succeed(None))
        return _make(SYNC, go)

    def __repr__(self) -> str:
        bound = f", {self._maxsize} per subscriber ({self._strategy})" if self._maxsize else ""
        state = ", shut down" if self._shutdown else ""
        return f"<PubSub {len(self._subs)} subscribers{bound}{state}>"
