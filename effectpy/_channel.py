"""`Channel`: a closable point-to-point channel; receivers see the close."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._core._cause import Fail
from ._core._effect import Effect, _make
from ._core._nodes import FAIL, OP, SYNC, WAIT, _Instead
from ._core._wait import _Offerers, _signal, _wake_all, _Waiter, _Waiters
from ._option import NONE, Option, Some
from ._queue import _check_maxsize

if TYPE_CHECKING:
    from ._core._fiber import Fiber

__all__ = ["Channel", "ChannelClosed"]

A = TypeVar("A")


class ChannelClosed(Exception):
    """Sending on a closed channel, or receiving from one that is closed and drained."""


class Channel(Generic[A]):
    """A FIFO channel that senders close when done. Unbounded without ``maxsize`` (None or
    0); bounded, `send` waits while it is full.

    - ``send(item)`` fails with `ChannelClosed` once the channel is closed (a send waiting
      for room when it closes fails too, and its item is not sent).
    - ``receive()`` gets the items sent before the close, in order, then fails with
      `ChannelClosed`; ``receive_option()`` gives `Some(item)`, then `NONE` at the end.
    - ``close()`` is idempotent (it succeeds with False when already closed) and wakes
      every waiting receiver and sender.
    - ``async for item in channel:`` (plain asyncio or trio code) ends at the close, once
      the channel is drained.

    An interrupted `receive` takes nothing, an interrupted `send` sends nothing.

    >>> import effectpy
    >>> ch = Channel()
    >>> effectpy.run(ch.send(1).zip(ch.close()).flat_map(lambda _: ch.receive()))
    1
    >>> effectpy.run(ch.receive().either())
    Left(ChannelClosed('the channel is closed'))
    """

    __slots__ = ("_maxsize", "_items", "_receivers", "_senders", "_closed", "_receive",
                 "_receive_option")

    def __init__(self, maxsize: int | None = None) -> None:
        self._maxsize = _check_maxsize(maxsize, "Channel")
        self._items: deque[A] = deque()
        self._receivers: _Waiters[_Waiter] = _Waiters()
        self._senders = _Offerers()  # they claim the room made for them: see _Offerers
        self._closed = False
        # receive and receive_option have no argument: one OP node each per channel
        self._receive: Effect[Any, ChannelClosed, A] = _make(OP, _channel_receive, self, False)
        self._receive_option: Effect[Any, Any, Option[A]] = _make(OP, _channel_receive, self, True)

    @property
    def maxsize(self) -> int:
        return self._maxsize

    @property
    def closed(self) -> bool:
        """Whether `close` has run (items sent before it may still be waiting)."""
        return self._closed

    def _full(self) -> bool:
        """No free place: every one holds an item or is claimed by a waiting send."""
        return 0 < self._maxsize <= len(self._items) + self._senders.claimed

    def _claim(self) -> bool:
        """A waiting send's readiness, as it registers: True, claiming a place, if one is
        free; True once closed (it then fails). See `_Offerers`."""
        return self._closed or self._senders.claim(len(self._items), self._maxsize)

    def _can_receive(self) -> bool:
        return self._closed or bool(self._items)

    def _pop(self) -> A:
        item = self._items.popleft()
        if self._senders:
            self._senders.admit(len(self._items), self._maxsize)
        return item

    def send(self, item: A) -> Effect[Any, ChannelClosed, None]:
        """Send ``item``, waiting while a bounded channel is full; fails with
        `ChannelClosed` if the channel is (or gets) closed first."""
        return _make(OP, _channel_send, self, item)

    def receive(self) -> Effect[Any, ChannelClosed, A]:
        """The next item, waiting for one; fails with `ChannelClosed` once the channel is
        closed and every item sent before has been received."""
        return self._receive

    def receive_option(self) -> Effect[Any, Any, Option[A]]:
        """`Some(next item)`, waiting for one, or `NONE` once closed and drained."""
        return self._receive_option

    def close(self) -> Effect[Any, Any, bool]:
        """Close the channel: no more sends; receivers get what is left, then the end.
        Succeeds with False if it was already closed."""
        def go() -> bool:
            if self._closed:
                return False
            self._closed = True
            # they retry, and see the close
            _wake_all(self._receivers, True, None)
            _wake_all(self._senders, True, None)
            self._senders.claimed = 0
            return True
        return _make(SYNC, go)

    def is_closed(self) -> Effect[Any, Any, bool]:
        return _make(SYNC, lambda: self._closed)

    def size(self) -> Effect[Any, Any, int]:
        return _make(SYNC, lambda: len(self._items))

    def __aiter__(self) -> AsyncIterator[A]:
        return self

    async def __anext__(self) -> A:
        if self._items:  # fast path, as asyncio.Queue.get: no fiber when an item is there
            return self._pop()
        if self._closed:
            raise StopAsyncIteration
        item = await self.receive_option()._run()
        if item is NONE:
            raise StopAsyncIteration
        assert isinstance(item, Some)
        value: A = item.value
        return value

    def __repr__(self) -> str:
        bound = f"/{self._maxsize}" if self._maxsize else ""
        state = ", closed" if self._closed else ""
        return f"<Channel {len(self._items)}{bound} items{state}>"


def _channel_send(ch: Channel[A], item: A, _fiber: Fiber[Any, Any]) -> None | _Instead:
    if ch._closed:
        return _Instead(_make(FAIL, Fail(ChannelClosed("send on a closed channel"))))
    if ch._full():  # wait for a place (claimed as it is signalled), then send
        return _Instead(_make(WAIT, ch._senders, ch._claim, _make(OP, _channel_send_claimed, ch, item)))
    ch._items.append(item)
    if ch._receivers:
        _signal(ch._receivers)
    return None


def _channel_send_claimed(ch: Channel[A], item: A, _fiber: Fiber[Any, Any]) -> None | _Instead:
    """A waiting send, signalled (or closed): send the item in the place it claimed."""
    if not ch._closed:  # (close dropped every claim)
        ch._senders.claimed -= 1
    return _channel_send(ch, item, _fiber)


_channel_send.__qualname__ = _channel_send_claimed.__qualname__ = "channel.send"


def _channel_receive(ch: Channel[A], option: bool, _fiber: Fiber[Any, Any]) -> A | Option[A] | _Instead:
    if ch._items:
        item = ch._pop()
        return Some(item) if option else item
    if ch._closed:
        return NONE if option else _Instead(_make(FAIL, Fail(ChannelClosed("the channel is closed"))))
    # wait for an item (or the close), then receive again
    return _Instead(_make(WAIT, ch._receivers, ch._can_receive,
                          ch._receive_option if option else ch._receive))


def _channel_unreceive(ch: Channel[A], option: bool, value: Any) -> None:
    """Give a received item back (at the front), for a receive whose awaiting asyncio task
    was cancelled after it completed (see `_queue._queue_untake`)."""
    if option:
        if value is NONE:
            return
        value = value.value
    ch._items.appendleft(value)
    if ch._receivers:
        _signal(ch._receivers)


_channel_receive.__qualname__ = "channel.receive"
_channel_receive.undo = _channel_unreceive  # type: ignore[attr-defined]
