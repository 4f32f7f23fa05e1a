"""`Queue`: a FIFO channel between fibers, with effect methods and asyncio-style ones."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from ._core._cause import EMPTY, Fail
from ._core._effect import CALLBACK, FAIL, FLAT_MAP, SUCCEED, SYNC, Effect, _make, uninterruptible_mask

__all__ = ["Queue", "QueueShutdown"]

A = TypeVar("A")

Strategy = Literal["backpressure", "dropping", "sliding"]


class QueueShutdown(Exception):
    """The queue was shut down while an offer or take was waiting, or after."""


class _Waiter:
    __slots__ = ("resume", "signalled")

    def __init__(self) -> None:
        self.resume: Callable[[bool, Any], None] | None = None
        self.signalled = False


class Queue(Generic[A]):
    """A FIFO queue. Unbounded without ``maxsize``; when full, ``strategy`` decides:
    "backpressure" (offers wait), "dropping" (the new item is dropped) or "sliding" (the
    oldest item is dropped).

    Effect methods: `offer`, `take`, `size`, `shutdown`; asyncio-compatible ones:
    ``await put(x)``, ``await get()``, `put_nowait`, `get_nowait`. A waiting `take` that
    is interrupted loses no item.

    >>> import effectpy
    >>> q = Queue(maxsize=2)
    >>> q.put_nowait("a")
    >>> effectpy.run(q.offer("b").flat_map(lambda _: q.take()))
    'a'
    """

    __slots__ = ("_maxsize", "_strategy", "_items", "_takers", "_offerers", "_shutdown")

    def __init__(self, maxsize: int = 0, strategy: Strategy = "backpressure") -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 0:
            raise ValueError(f"Queue's maxsize must be an int >= 0 (0: unbounded), got {maxsize!r}")
        if strategy not in ("backpressure", "dropping", "sliding"):
            raise ValueError(
                f"Queue's strategy must be 'backpressure', 'dropping' or 'sliding', got {strategy!r}"
            )
        self._maxsize = maxsize
        self._strategy = strategy
        self._items: deque[A] = deque()
        # Waiting takers / offerers; a signalled waiter retries, and hands the signal on if
        # it was interrupted before it could (so no wake-up, and no item, is lost).
        self._takers: deque[_Waiter] = deque()
        self._offerers: deque[_Waiter] = deque()
        self._shutdown = False

    @property
    def maxsize(self) -> int:
        return self._maxsize

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self._maxsize <= len(self._items)

    def _signal(self, waiters: deque[_Waiter]) -> None:
        while waiters:
            w = waiters.popleft()
            if w.resume is not None:
                w.signalled = True
                w.resume(True, None)
                return

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
        if self.full():
            if self._strategy == "backpressure":
                return False
            if self._strategy == "dropping":
                return True
            self._items.popleft()
        self._items.append(item)
        self._signal(self._takers)
        return True

    def get_nowait(self) -> A:
        """Remove and return the first item; raises `asyncio.QueueEmpty` if there is none."""
        if not self._items:
            self._check_open()
            raise asyncio.QueueEmpty("the queue is empty")
        item = self._items.popleft()
        self._signal(self._offerers)
        return item

    # --- effects ------------------------------------------------------------------------

    def _wait(self, waiters: deque[_Waiter]) -> Effect[Any, Any, None]:
        def body(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
            w = _Waiter()

            def register(fiber: Any, resume: Callable[[bool, Any], None]) -> Callable[[], None]:
                w.resume = resume
                waiters.append(w)

                def cancel() -> None:
                    w.resume = None
                    try:
                        waiters.remove(w)  # do not let abandoned waiters pile up
                    except ValueError:
                        pass  # already signalled (and so popped)
                    resume(False, EMPTY)
                return cancel

            def after(ex: Any) -> None:
                w.resume = None
                if not ex.is_success() and w.signalled:
                    self._signal(waiters)  # hand the wake-up on
            return restore(_make(CALLBACK, register, "queue")).on_exit(after)

        return uninterruptible_mask(body)

    def offer(self, item: A) -> Effect[Any, Any, bool]:
        """Add ``item``, waiting for room on a full backpressure queue. Succeeds with False
        when a dropping queue dropped it."""
        def attempt() -> Effect[Any, Any, bool]:
            if self._shutdown:
                return _make(FAIL, Fail(QueueShutdown("the queue has been shut down")))
            full = self.full()
            if self._try_offer(item):
                return _make(SUCCEED, not (full and self._strategy == "dropping"))
            return _make(FLAT_MAP, self._wait(self._offerers), lambda _: attempt())
        return _make(FLAT_MAP, _make(SYNC, lambda: None), lambda _: attempt())

    def take(self) -> Effect[Any, Any, A]:
        """Remove and succeed with the first item, waiting for one if empty."""
        def attempt() -> Effect[Any, Any, A]:
            if self._items:
                return _make(SUCCEED, self.get_nowait())
            if self._shutdown:
                return _make(FAIL, Fail(QueueShutdown("the queue has been shut down")))
            return _make(FLAT_MAP, self._wait(self._takers), lambda _: attempt())
        return _make(FLAT_MAP, _make(SYNC, lambda: None), lambda _: attempt())

    def put(self, item: A) -> Effect[Any, Any, None]:
        """`offer` for asyncio code: ``await queue.put(item)``."""
        return self.offer(item).unit()

    def get(self) -> Effect[Any, Any, A]:
        """`take` for asyncio code: ``await queue.get()``."""
        return self.take()

    def size(self) -> Effect[Any, Any, int]:
        return _make(SYNC, lambda: len(self._items))

    def shutdown(self) -> Effect[Any, Any, None]:
        """Shut the queue down: waiting takers and offerers, and later offers and takes,
        fail with `QueueShutdown`."""
        def go() -> None:
            self._shutdown = True
            self._items.clear()
            for waiters in (self._takers, self._offerers):
                while waiters:
                    w = waiters.popleft()
                    if w.resume is not None:
                        w.resume(False, Fail(QueueShutdown("the queue was shut down while waiting")))
        return _make(SYNC, go)

    def __repr__(self) -> str:
        bound = f"/{self._maxsize}" if self._maxsize else ""
        return f"<Queue {len(self._items)}{bound} items>"
