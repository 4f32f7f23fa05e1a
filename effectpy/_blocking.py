"""`blocking`: run synchronous, blocking code in a worker thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ._core._effect import Effect, _check_thunk, from_async

__all__ = ["blocking"]

A = TypeVar("A")


def blocking(thunk: Callable[[], A]) -> Effect[Any, Any, A]:
    """Run ``thunk()`` in a worker thread, so other fibers keep running meanwhile.

    An exception from ``thunk`` is a defect. Interrupting the fiber stops it *waiting*:
    a thread cannot be killed, so ``thunk`` runs on to its end in the background and its
    result is dropped. Make long blocking work check a flag if it must stop early.

    >>> import effectpy, time
    >>> effectpy.run(blocking(lambda: time.sleep(0.01) or "done"))
    'done'
    """
    _check_thunk(thunk, "blocking")

    async def in_thread() -> A:
        import anyio.to_thread
        return await anyio.to_thread.run_sync(thunk, abandon_on_cancel=True)

    return from_async(in_thread)
