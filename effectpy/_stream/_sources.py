"""Sources: the open effects of streams made from iterables, effects, queues and async
iterables."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterable, Callable, Iterable
from typing import Any, Final

from .._core._effect import Effect, fail, from_async, never, succeed, with_fiber
from .._core._fiber import Fiber
from .._queue import Queue, QueueShutdown
from ._pull import _NONE, Chunk, Open, Pull, _suspend, _sync

__all__: list[str] = []


EMPTY: Final[Open] = succeed(_NONE)
NEVER: Final[Open] = succeed(never)


def failing(error: Any) -> Open:
    return succeed(fail(error))


def from_iterable(iterable: Iterable[Any], chunk_size: int) -> Open:
    def open_() -> Pull:
        it = iter(iterable)

        def pull() -> Chunk | None:
            chunk = list(itertools.islice(it, chunk_size))
            return chunk or None
        return _sync(pull)
    return _sync(open_)


def once(eff: Effect[Any, Any, Any]) -> Open:
    """One item: the value of ``eff``, run when pulled."""
    def open_() -> Pull:
        done = [False]

        def pull() -> Effect[Any, Any, Chunk | None]:
            if done[0]:
                return _NONE
            done[0] = True
            return eff.map(lambda x: [x])
        return _suspend(pull)
    return _sync(open_)


def repeat_effect(eff: Effect[Any, Any, Any]) -> Open:
    return succeed(eff.map(lambda x: [x]))


def unfold(state: Any, step: Callable[[Any], tuple[Any, Any] | None], chunk_size: int) -> Open:
    def open_() -> Pull:
        box: list[Any] = [state]
        ended = [False]

        def pull() -> Chunk | None:
            chunk: Chunk = []
            while not ended[0] and len(chunk) < chunk_size:
                out = step(box[0])
                if out is None:
                    ended[0] = True
                else:
                    item, box[0] = out
                    chunk.append(item)
            return chunk or None
        return _sync(pull)
    return _sync(open_)


def from_queue(queue: Queue[Any], max_chunk: int) -> Open:
    def more(first: Any) -> Chunk:
        chunk = [first]
        while len(chunk) < max_chunk and queue.qsize():
            chunk.append(queue.get_nowait())
        return chunk

    def ended(error: Any) -> Effect[Any, Any, Chunk | None]:
        return _NONE if isinstance(error, QueueShutdown) else fail(error)

    pull = queue.take().map(more).catch_all(ended)
    return succeed(pull)


def from_async_iterable(iterable: AsyncIterable[Any]) -> Open:
    def open_(fiber: Fiber[Any, Any]) -> Open:
        it = iterable.__aiter__()

        async def next_chunk() -> Chunk | None:
            try:
                return [await it.__anext__()]
            except StopAsyncIteration:
                return None

        closer = getattr(it, "aclose", None)
        if closer is not None:
            fiber.current_scope().add_finalizer(from_async(closer))
        return succeed(from_async(next_chunk))
    return with_fiber(open_)


def scoped(eff: Effect[Any, Any, Any]) -> Open:
    def open_() -> Open:
        def first(value: Any) -> Pull:
            done = [False]

            def pull() -> Effect[Any, Any, Chunk | None]:
                if done[0]:
                    return _NONE
                done[0] = True
                return succeed([value])
            return _suspend(pull)
        return eff.map(first)  # runs in the stream's scope: resources live with it
    return _suspend(open_)
