"""`Queue`: a FIFO channel between fibers, with effect methods and asyncio-style ones.

The waiting machinery (`_Waiter`, `_signal`, the `WAIT` run-loop node: `_core/_wait.py`,
and `_wait` here) is shared with `PubSub`'s subscriptions and with `Channel`: a waiter that
is signalled retries its operation, and a signalled waiter that is interrupted before it
could retry hands the signal on (the "baton"), so no wake-up, and so no item, is ever lost.
A queue hands an item offered while a taker waits to that taker directly (it never takes
room in the queue, as in ZIO); a taker interrupted before it could take it hands the item
on to the next taker, or puts it back at the front of the queue.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from ._core._cause import Exit, Fail
from ._core._effect import Effect, _alloc, _make
from ._core._nodes import FAIL, FLAT_MAP, OP, SUCCEED, SUSPEND, SYNC, WAIT, _Instead
from ._core._wait import _Offerers, _signal, _wake_all, _Waiter, _Waiters
from ._deferred import Deferred
from ._option import NONE, Option, Some

if TYPE_CHECKING:
    from ._core._fiber import Fiber

__all__ = ["Queue", "QueueShutdown"]

A = TypeVar("A")

Strategy = Literal["backpressure", "dropping", "sliding"]
STRATEGIES = ("backpressure", "dropping", "sliding")



class QueueShutdown(Exception):
    """The queue was shut down while an offer or take was waiting, or after."""


# --- waiting, shared with _pubsub and _channel -------------------------------------------


def _wait(waiters: _Waiters[_Waiter], ready: Callable[[], bool], label: str) -> Effect[Any, Any, None]:
    """Suspend (interruptibly, unless the caller is not) until signalled; the caller then
    retries. ``ready()`` is checked again when registering, so a wake-up sent between the
    caller's check and the registration (the fiber may yield in between) is not lost.

    A waiter signalled and then interrupted before it ran again hands the signal on."""
    return _make(WAIT, waiters, ready, _resumed(label))


def _resumed(label: str) -> Effect[Any, Any, None]:
    """What a `_wait` runs once signalled: succeed with None, labelled (in ``b``, which the
    run loop never reads for SUCCEED) for the instruments."""
    node = _RESUMED.get(label)
    if node is None:
        node = _RESUMED[label] = _make(SUCCEED, None, label)
    return node


_RESUMED: dict[str, Effect[Any, Any, None]] = {}


def _check_count(n: object, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{where} expects an int >= 0, got {n!r}")
    return n


def _check_maxsize(maxsize: object, what: str) -> int:
    if maxsize is None:
        return 0
    if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 0:
        raise ValueError(f"{what}'s maxsize must be None or an int >= 0 (None or 0: unbounded), "
                         f"got {maxsize!r}")
    return maxsize


def _check_strategy(strategy: object, what: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(
            f"{what}'s strategy must be 'backpressure', 'dropping' or 'sliding', got {strategy!r}"
        )


def _pop_n(items: deque[A], n: int) -> list[A]:
    if n >= len(items):
        out = list(items)
        items.clear()
        return out
    pop = items.popleft
    return [pop() for _ in range(n)]


class _Takers(_Waiters[_Waiter]):
    """A queue's waiting takers: an item offered while one waits is handed to it."""

    __slots__ = ("queue",)

    def __init__(self, queue: Queue[Any]) -> None:
        super().__init__()
        self.queue = queue

    def hand(self, item: Any) -> bool:
        """Give ``item`` to the first live waiting taker; False if there is none."""
        return bool(self) and _signal(self, _make(SUCCEED, item))

    def pass_on(self, w: _Waiter) -> None:
        # ``w`` was handed an item (its ``then``), but interrupted before it could take it
        item = w.then._a
        if not self.hand(item) and not self.queue._shutdown:
            self.queue._items.appendleft(item)  # back at the front, where it came from


class _Reader(Generic[A]):
    """The reads that never wait, shared by `Queue` and `Subscription`: each is one OP
    node (drawn as ``take_up_to``... in effect trees)."""

    __slots__ = ()

    _items: deque[A]

    def _take_n(self, n: int) -> list[A]:
        """Remove up to ``n`` items, and make room for whoever waits for it."""
        raise NotImplementedError

    def _ended(self) -> Effect[Any, Any, Any] | None:
        """The failure of a read once shut down (or unsubscribed), else None."""
        raise NotImplementedError

    def take_up_to(self, n: int) -> Effect[Any, QueueShutdown, list[A]]:
        """Remove and succeed with the first ``n`` items, or fewer (maybe none) if there
        are fewer; never waits."""
        return _make(OP, _take_up_to, self, _check_count(n, "take_up_to"))

    def take_all(self) -> Effect[Any, QueueShutdown, list[A]]:
        """Remove and succeed with every item there is (maybe none); never waits."""
        return _make(OP, _take_up_to, self, None)

    def poll(self) -> Effect[Any, QueueShutdown, Option[A]]:
        """`Some(first item)`, removed, or `NONE` if there is none; never waits."""
        return _make(OP, _poll, self, None)


def _take_up_to(r: _Reader[A], n: int | None, _fiber: Fiber[Any, Any]) -> list[A] | _Instead:
    ended = r._ended()
    if ended is not None:
        return _Instead(ended)
    return r._take_n(len(r._items) if n is None else n)


def _poll(r: _Reader[A], _: None, _fiber: Fiber[Any, Any]) -> Option[A] | _Instead:
    if r._items:
        return Some(r._take_n(1)[0])
    ended = r._ended()
    return NONE if ended is None else _Instead(ended)


_take_up_to.__qualname__ = "take_up_to"
_poll.__qualname__ = "poll"


class Queue(_Reader[A]):
    """A FIFO queue. Unbounded without ``maxsize`` (None or 0); when full, ``strategy``
    decides: "backpressure" (offers wait), "dropping" (the new item is dropped) or
    "sliding" (the oldest item is dropped).

    Effect methods: `offer`, `offer_all`, `take`, `take_n`, `take_between`, `take_up_to`,
    `take_all`, `poll`, `size`, `shutdown`, `await_shutdown`, `is_shutdown`; asyncio-compatible ones:
    ``await put(x)``, ``await get()``, `put_nowait`, `get_nowait`. Items come out in the
    order they went in; an interrupted `take` or `offer` loses nothing (the item stays in
    the queue, or was never added); `shutdown` fails every waiting and later offer and take
    with `QueueShutdown`.

    >>> import effectpy
    >>> q = Queue(maxsize=2)
    >>> q.put_nowait("a")
    >>> effectpy.run(q.offer("b").flat_map(lambda _: q.take()))
    'a'
    """

    __slots__ = ("_maxsize", "_strategy", "_items", "_takers", "_offerers", "_shutdown",
                 "_on_shutdown", "_take", "_take_wait", "_claim_room")

    def __init__(self, maxsize: int | None = 0, strategy: Strategy = "backpressure") -> None:
        self._maxsize = _check_maxsize(maxsize, "Queue")
        _check_strategy(strategy, "Queue")
        self._strategy = strategy
        self._items: deque[A] = deque()
        # Waiting takers / offerers; a signalled waiter retries, and hands the signal on if
        # it was interrupted before it could (so no wake-up, and no item, is lost). Offerers
        # claim the room made for them (see `_Offerers`): later offers queue up behind.
        self._takers = _Takers(self)
        self._offerers = _Offerers()
        self._shutdown = False
        self._on_shutdown: Deferred[Any, None] | None = None  # made by await_shutdown
        self._take: Effect[Any, QueueShutdown, A] = _make(OP, _queue_take, self)
        # take's slow path (wait, then take again), made once; a waiting offer's readiness
        self._take_wait = _Instead(_make(WAIT, self._takers, self._can_take, self._take))
        self._claim_room = self._claim

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def strategy(self) -> Strategy:
        return self._strategy

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self._maxsize <= len(self._items)

    def _check_open(self) -> None:
        if self._shutdown:
            raise QueueShutdown("the queue has been shut down")

    # --- synchronous core ---------------------------------------------------------------

    def put_nowait(self, item: A) -> None:
        """Add ``item`` now; raises `asyncio.QueueFull` if a backpressure queue is full."""
        if not self._try_offer(item):
            raise asyncio.QueueFull(f"the queue is full ({self._maxsize} items)")

    def _try_offer(self, item: A) -> bool:
        self._check_open()
        if self._takers and self._takers.hand(item):
            return True
        if 0 < self._maxsize <= len(self._items) + self._offerers.claimed:  # full, or claimed
            if self._strategy == "backpressure":
                return False
            if self._strategy == "dropping":
                return True
            self._items.popleft()
        self._items.append(item)
        return True

    def get_nowait(self) -> A:
        """Remove and return the first item; raises `asyncio.QueueEmpty` if there is none."""
        if not self._items:
            self._check_open()
            raise asyncio.QueueEmpty("the queue is empty")
        item = self._items.popleft()
        if self._offerers:
            self._offerers.admit(len(self._items), self._maxsize)
        return item

    def _take_n(self, n: int) -> list[A]:
        out = _pop_n(self._items, n)
        if out and self._offerers:
            self._offerers.admit(len(self._items), self._maxsize)
        return out

    # --- effects ------------------------------------------------------------------------

    def _shutdown_failure(self) -> Effect[Any, Any, Any]:
        return _make(FAIL, Fail(QueueShutdown("the queue has been shut down")))

    def _ended(self) -> Effect[Any, Any, Any] | None:
        return self._shutdown_failure() if self._shutdown else None

    def _can_take(self) -> bool:
        return bool(self._items) or self._shutdown

    def _claim(self) -> bool:
        """A waiting offer's readiness, as it registers: True, claiming a place, if one is
        free; True if shut down (it then fails)."""
        return self._shutdown or self._offerers.claim(len(self._items), self._maxsize)

    def _release_claim(self) -> None:
        if not self._shutdown:  # (shutdown dropped every claim)
            self._offerers.claimed -= 1

    def offer(self, item: A) -> Effect[Any, QueueShutdown, bool]:
        """Add ``item``, waiting for room on a full backpressure queue. Succeeds with False
        when a dropping queue dropped it. Interrupted while waiting, it adds nothing."""
        # one OP node: the run loop adds the item in a single step when there is room
        eff: Effect[Any, QueueShutdown, bool] = _alloc()
        eff._tag = OP
        eff._a = _queue_offer
        eff._b = self
        eff._c = item
        return eff

    def offer_all(self, items: Iterable[A]) -> Effect[Any, QueueShutdown, list[A]]:
        """Add ``items`` in order; succeed with the items *not* accepted: those a full
        dropping queue dropped, else ``[]``. A backpressure queue adds what fits and waits
        for room for the rest (if interrupted meanwhile, the items already added stay and
        the rest are not added); a sliding queue accepts them all, dropping the oldest."""
        batch = list(items)

        def run() -> Effect[Any, Any, list[A]]:
            if self._shutdown:
                return self._shutdown_failure()
            if self._maxsize == 0 or self._strategy != "backpressure":
                rejected: list[A] = []
                for item in batch:
                    if not self._takers and self.full() and self._strategy == "dropping":
                        rejected.append(item)
                    else:
                        self._try_offer(item)
                return _make(SUCCEED, rejected)
            done = 0

            def attempt() -> Effect[Any, Any, list[A]]:
                nonlocal done
                if self._shutdown:
                    return self._shutdown_failure()
                while done < len(batch) and self._takers and self._takers.hand(batch[done]):
                    done += 1
                room = self._maxsize - len(self._items) - self._offerers.claimed
                if room > 0:
                    chunk = batch[done:done + room]
                    self._items.extend(chunk)
                    done += len(chunk)
                if done == len(batch):
                    if self._offerers:  # the place claimed for it may be left unused
                        self._offerers.admit(len(self._items), self._maxsize)
                    return _make(SUCCEED, [])
                return _make(FLAT_MAP, _wait(self._offerers, self._claim_room, "queue.offer_all"),
                             lambda _: claimed())

            def claimed() -> Effect[Any, Any, list[A]]:
                self._release_claim()  # signalled (or ready): a place was claimed for it
                return attempt()
            return attempt()
        return _make(SUSPEND, run)

    def take(self) -> Effect[Any, QueueShutdown, A]:
        """Remove and succeed with the first item, waiting for one if empty. Interrupted
        while waiting, it takes nothing: the item goes to the next taker."""
        return self._take  # one OP node per queue (it has no argument): nothing to build

    def take_n(self, n: int) -> Effect[Any, QueueShutdown, list[A]]:
        """Remove and succeed with exactly ``n`` items, waiting until there are that many.

        >>> import effectpy
        >>> q = Queue()
        >>> effectpy.run(effectpy.zip_par(q.take_n(3), q.offer_all("abc")))
        (['a', 'b', 'c'], [])
        """
        n = _check_count(n, "take_n")
        return self.take_between(n, n)

    def take_between(self, lo: int, hi: int) -> Effect[Any, QueueShutdown, list[A]]:
        """Remove and succeed with at least ``lo`` and at most ``hi`` items: the items
        there are (up to ``hi``), then, while fewer than ``lo``, each item as it comes (the
        items taken make room for waiting offers). Interrupted while it waits, it puts the
        items it took back at the front of the queue, in order (a bounded queue may then
        hold more than its maxsize for a while): nothing is lost."""
        lo = _check_count(lo, "take_between")
        hi = _check_count(hi, "take_between")
        if hi < lo:
            raise ValueError(f"take_between expects lo <= hi, got lo={lo!r}, hi={hi!r}")

        def run() -> Effect[Any, Any, list[A]]:
            got: list[A] = []

            def more(chunk: list[A]) -> Effect[Any, Any, list[A]]:
                got.extend(chunk)
                if len(got) >= lo:
                    return _make(SUCCEED, got)
                return _make(FLAT_MAP, self._take, one)

            def one(item: A) -> Effect[Any, Any, list[A]]:
                got.append(item)
                return _make(FLAT_MAP, self.take_up_to(hi - len(got)), more)

            def give_back(_: object) -> None:
                if self._shutdown:
                    return  # the queue discarded its items: so are these
                i = 0  # the first go to takers waiting (the queue is empty then), in order
                while i < len(got) and self._takers and self._takers.hand(got[i]):
                    i += 1
                self._items.extendleft(reversed(got[i:]))

            return _make(FLAT_MAP, self.take_up_to(hi), more).on_interrupt(give_back)
        return _make(SUSPEND, run)

    def put(self, item: A) -> Effect[Any, QueueShutdown, None]:
        """`offer` for asyncio code: ``await queue.put(item)``."""
        return self.offer(item).unit()

    def get(self) -> Effect[Any, QueueShutdown, A]:
        """`take` for asyncio code: ``await queue.get()``."""
        return self.take()

    def size(self) -> Effect[Any, Any, int]:
        return _make(SYNC, lambda: len(self._items))

    def is_shutdown(self) -> Effect[Any, Any, bool]:
        return _make(SYNC, lambda: self._shutdown)

    def await_shutdown(self) -> Effect[Any, Any, None]:
        """Wait until the queue is shut down (at once if it already is)."""
        def go() -> Effect[Any, Any, None]:
            if self._shutdown:
                return _make(SUCCEED, None)
            if self._on_shutdown is None:
                self._on_shutdown = Deferred()
            return self._on_shutdown.await_()
        return _make(SUSPEND, go)

    def shutdown(self) -> Effect[Any, Any, None]:
        """Shut the queue down: the items are discarded, and waiting takers and offerers,
        and later offers and takes, fail with `QueueShutdown`. Idempotent."""
        def go() -> None:
            if self._shutdown:
                return
            self._shutdown = True
            self._items.clear()
            failure = Fail(QueueShutdown("the queue was shut down while waiting"))
            _wake_all(self._takers, False, failure)
            _wake_all(self._offerers, False, failure)
            self._offerers.claimed = 0
            if self._on_shutdown is not None:
                self._on_shutdown._complete(Exit.succeed(None))
        return _make(SYNC, go)

    def __repr__(self) -> str:
        bound = f"/{self._maxsize}" if self._maxsize else ""
        state = ", shut down" if self._shutdown else ""
        return f"<Queue {len(self._items)}{bound} items{state}>"


# --- the OP functions of offer and take: the common case completes in one run-loop step ----


def _queue_offer(q: Queue[A], item: A, _fiber: Fiber[Any, Any]) -> bool | _Instead:
    if q._shutdown:
        return _Instead(q._shutdown_failure())
    if q._takers and q._takers.hand(item):  # a taker waits: the item is its
        return True
    items = q._items
    if not 0 < q._maxsize <= len(items) + q._offerers.claimed:  # the common case, inlined
        items.append(item)
        return True
    if q._strategy == "dropping":
        return False
    if q._strategy == "sliding":
        q._try_offer(item)
        return True
    return _offer_wait(q, item)


def _offer_wait(q: Queue[A], item: A) -> _Instead:
    """Wait for a place (claimed as it is signalled, or as it registers), then add."""
    return _Instead(_make(WAIT, q._offerers, q._claim_room, _make(OP, _queue_offer_claimed, q, item)))


def _queue_offer_claimed(q: Queue[A], item: A, _fiber: Fiber[Any, Any]) -> bool | _Instead:
    """A waiting offer, signalled: add the item in the place it claimed."""
    if q._shutdown:
        return _Instead(q._shutdown_failure())
    q._offerers.claimed -= 1
    if q._takers and q._takers.hand(item):
        if q._offerers:  # the place it claimed is free for the next
            q._offerers.admit(len(q._items), q._maxsize)
        return True
    items = q._items
    if len(items) + q._offerers.claimed < q._maxsize:
        items.append(item)
        return True
    return _offer_wait(q, item)  # an item given back took the place (`_queue_untake`)


_queue_offer.__qualname__ = _queue_offer_claimed.__qualname__ = "queue.offer"  # as effect trees show the node


def _queue_take(q: Queue[A], _: None, _fiber: Fiber[Any, Any]) -> A | _Instead:
    items = q._items
    if items:  # the common case, inlined
        item = items.popleft()
        if q._offerers:
            q._offerers.admit(len(items), q._maxsize)
        return item
    if q._shutdown:
        return _Instead(q._shutdown_failure())
    return q._take_wait  # wait for an item, then take again


_queue_take.__qualname__ = "queue.take"


def _queue_untake(q: Queue[A], _: None, item: A) -> None:
    """Give a taken item back (at the front), for a take whose awaiting task was cancelled
    after it completed (`_runtime._hand_back`). A full queue may then hold one item more
    than its maxsize: the next take makes no room for waiting offers."""
    if q._shutdown:
        return  # the queue discarded its items: so is this one
    if not (q._takers and q._takers.hand(item)):
        q._items.appendleft(item)


_queue_take.undo = _queue_untake  # type: ignore[attr-defined]

