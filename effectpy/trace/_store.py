"""Compact storage of trace events, made into `TraceEvent`s as they are read.

A `TraceEvent` is a tuple of eight objects (about 170 bytes with its timestamp and sequence
number). Stored, an event costs about 56: six references in one flat list per chunk (its
kind, fiber id, parent, other actor, name and data: objects shared between events: kind
strings, the recorder's ids, one copy of each name, one data mapping per repeated value) and
its timestamp as eight bytes of an array (not a 24-byte float object). Events are made on
demand, in C loops over strided slices.

A store may be bounded: it then holds the last ``capacity`` events (and less than one chunk
more, dropped whole chunks at a time); `dropped` counts the rest.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from itertools import repeat
from operator import mul, sub, truediv
from threading import Lock
from typing import Any, Final, overload

from ._events import TraceEvent

__all__ = ["CHUNK", "FIELDS_STORED", "EventStore", "Events", "ns_times"]

# Events per chunk: a chunk is extended until it holds this many, then a new one starts.
CHUNK: Final = 4096
# Slots per event in a chunk: kind, fiber, parent, by, name, data (TraceEvent's order).
FIELDS_STORED: Final = 6

_make_event: Final = partial(tuple.__new__, TraceEvent)


def ns_times(readings: Iterable[float], origin: float) -> Iterator[float]:
    """``reading - origin`` for each reading, to the nanosecond (C loops, no Python call
    per item: ``round(x, 9)`` costs ten times more)."""
    return map(truediv, map(round, map(mul, map(sub, readings, repeat(origin)), repeat(1e9))),
               repeat(1e9))


class _Chunk:
    """One run of events. ``seqs`` is None where the store numbers its events itself
    (recorded: seq = position since the first event ever stored)."""

    __slots__ = ("slots", "ts", "seqs")

    def __init__(self, own_seqs: bool) -> None:
        self.slots: list[Any] = []  # FIELDS_STORED per event
        self.ts = array("d")  # times, or clock readings if the store has an origin
        self.seqs = array("q") if own_seqs else None

    def __len__(self) -> int:
        return len(self.ts)


class EventStore:
    """Events in chunks, oldest first.

    ``origin`` None: ``ts`` holds each event's time. A float: ``ts`` holds clock readings,
    and an event's time is its reading minus ``origin``, to the nanosecond (a recorder
    stores readings, and may move its origin when it adopts a clock: `rebase`).
    ``own_seqs``: every event carries its ``seq`` (a loaded file's); otherwise an event's
    seq is its position counted from the first event ever stored (dropped ones included).

    Not thread-safe: a `Recorder` serialises writers and readers with its lock.
    """

    __slots__ = ("capacity", "origin", "_own_seqs", "_chunks", "_held", "trimmed")

    def __init__(self, capacity: int | None = None, *, origin: float | None = None,
                 own_seqs: bool = False) -> None:
        self.capacity = capacity
        self.origin = origin
        self._own_seqs = own_seqs
        self._chunks: list[_Chunk] = []
        self._held = 0  # events in the chunks: under capacity + 2 * CHUNK when bounded
        self.trimmed = 0  # events removed from the front (a bounded store), ever

    def __len__(self) -> int:
        """The events visible: all held, or the last ``capacity`` of them."""
        cap = self.capacity
        return self._held if cap is None or self._held < cap else cap

    @property
    def total(self) -> int:
        """Events ever stored."""
        return self.trimmed + self._held

    @property
    def dropped(self) -> int:
        return self.total - len(self)

    def _tail(self) -> _Chunk:
        chunks = self._chunks
        if chunks and len(chunks[-1]) < CHUNK:
            return chunks[-1]
        chunk = _Chunk(self._own_seqs)
        chunks.append(chunk)
        return chunk

    def extend(self, slots: list[Any], ts: Sequence[float]) -> None:
        """Add a batch of events: their `FIELDS_STORED` slots each (a list the store may
        keep: the caller must not change it afterwards), and their times (the store
        numbers them)."""
        c = self._tail()
        if c.slots:
            c.slots += slots
            c.ts += array("d", ts)  # (array(list) is twice as fast as array.extend(list))
        else:  # a new chunk takes the batch as it is (the caller gives it up)
            c.slots, c.ts = slots, array("d", ts)
        self._held += len(ts)
        if self.capacity is not None:
            self._trim()

    def append(self, seq: int, ts: float, kind: str, fiber: int, parent: int | None,
               by: int | str | None, name: str | None, data: Any) -> None:
        """Add one event (a store with ``own_seqs``: a loaded file's)."""
        c = self._tail()
        c.slots += (kind, fiber, parent, by, name, data)
        c.ts.append(ts)
        if c.seqs is not None:
            c.seqs.append(seq)
        self._held += 1
        if self.capacity is not None:
            self._trim()

    def _trim(self) -> None:
        cap = self.capacity
        assert cap is not None
        chunks = self._chunks
        while len(chunks) > 1 and self._held - len(chunks[0]) >= cap:
            n = len(chunks.pop(0))
            self._held -= n
            self.trimmed += n

    def rebase(self, origin: float) -> None:
        """The events held happened at ``origin``, which becomes the store's origin."""
        for c in self._chunks:
            c.ts = array("d", [origin]) * len(c.ts)
        self.origin = origin

    def read(self, start: int, stop: int) -> list[TraceEvent]:
        """The visible events ``start`` to ``stop`` (0 <= start <= stop <= len)."""
        out: list[TraceEvent] = []
        position = self._held - len(self) + start  # in the held events
        stop_at = position + (stop - start)
        first_seq = self.trimmed
        offset = 0  # of the current chunk in the held events
        for c in self._chunks:
            n = len(c)
            if offset + n > position and offset < stop_at:
                a, b = max(position - offset, 0), min(stop_at - offset, n)
                out += self._made(c, a, b, first_seq + offset)
            offset += n
            if offset >= stop_at:
                break
        return out

    def _made(self, c: _Chunk, a: int, b: int, seq0: int) -> Iterator[TraceEvent]:
        seqs: Iterable[int] = range(seq0 + a, seq0 + b) if c.seqs is None else c.seqs[a:b]
        ts: Iterable[float] = c.ts[a:b]
        if self.origin is not None:
            ts = ns_times(ts, self.origin)
        s = c.slots[FIELDS_STORED * a:FIELDS_STORED * b]
        return map(_make_event, zip(seqs, ts, s[0::6], s[1::6], s[2::6], s[3::6], s[4::6], s[5::6]))


class Events(Sequence[TraceEvent]):
    """The events of a store as a read-only sequence, made as they are read (not kept).

    ``sync`` (if given) runs before each read, under ``lock``: a recorder moves the events
    it has just recorded into the store there. Reading in chunk-sized pieces, iteration
    holds the lock for one piece at a time."""

    __slots__ = ("_store", "_lock", "_sync")

    def __init__(self, store: EventStore, lock: Lock | None = None,
                 sync: Callable[[], None] | None = None) -> None:
        self._store = store
        self._lock = lock if lock is not None else Lock()
        self._sync = sync

    def __len__(self) -> int:
        with self._lock:
            if self._sync is not None:
                self._sync()
            return len(self._store)

    def _read(self, start: int, stop: int) -> list[TraceEvent]:
        with self._lock:
            if self._sync is not None:
                self._sync()
            n = len(self._store)
            return self._store.read(min(start, n), min(stop, n))

    @overload
    def __getitem__(self, index: int) -> TraceEvent: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[TraceEvent, ...]: ...

    def __getitem__(self, index: int | slice) -> TraceEvent | tuple[TraceEvent, ...]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return tuple(self)[index]
            return tuple(self._read(start, stop)) if start < stop else ()
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"event index {index} out of range (the trace holds {n} events)")
        return self._read(i, i + 1)[0]

    def __iter__(self) -> Iterator[TraceEvent]:
        start = 0
        while True:
            piece = self._read(start, start + CHUNK)
            yield from piece
            if len(piece) < CHUNK:
                return
            start += CHUNK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Events, tuple, list)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} trace events>"
