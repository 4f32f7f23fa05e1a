"""What every stage shares: chunks, pulls, sub-scopes, the messages of queue-fed stages.

A stream's *open* effect runs in the run's scope and succeeds with a *pull*: an effect
that succeeds with the next non-empty chunk (a list), or with None at the end. The stages
work on open effects and pulls only (never on `Stream` objects), so they import nothing
of the `Stream` class.

Scopes. A stage that may stop pulling an upstream before its end (``take``, ``zip``'s
longer side, ``timeout``...), or that goes on after it (``concat``, ``flat_map``,
``catch_all``...), opens that upstream in a `_Sub`: a scope of its own, a child of the
scope the stage was opened in. Closing the `_Sub` ends the upstream at once (its fibers
are interrupted, then its finalizers run); if the stage never does, the sub-scope closes
with its parent, when the run ends. Either way its finalizers run exactly once. The
upstream's pulls run in the sub-scope too, whichever fiber runs them, so what a pull
acquires lives as long as the stream that acquired it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .._core._cause import Cause, Exit
from .._core._effect import Effect, _make, fail_cause, succeed, unit
from .._core._nodes import IN_SCOPE, SUSPEND, SYNC
from .._core._scope import Scope
from .._pubsub import Subscription
from .._queue import Queue

__all__: list[str] = []

CHUNK: Final = 1024  # how many items a source reads at a time

Chunk = list[Any]
Pull = Effect[Any, Any, "Chunk | None"]
Open = Effect[Any, Any, Pull]

_END: Final = object()  # a queue message: the producer has ended
_NOTHING: Final = object()  # no item (yet): where None could be an item
_NEVER: Final = float("inf")

_NONE: Final[Effect[Any, Any, None]] = succeed(None)


class _Failed:
    """A queue message: the producer failed with ``cause``."""

    __slots__ = ("cause",)

    def __init__(self, cause: Any) -> None:
        self.cause = cause


def _sync(thunk: Callable[[], Any]) -> Effect[Any, Any, Any]:
    """`sync` for the stages' own thunks (no argument checks: they are never user input)."""
    return _make(SYNC, thunk)


def _suspend(thunk: Callable[[], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
    """`suspend` for the stages' own thunks."""
    return _make(SUSPEND, thunk)


def _in_scope(eff: Effect[Any, Any, Any], scope: Scope) -> Effect[Any, Any, Any]:
    """``eff``, with ``scope`` as the scope its `acquire_release` register in."""
    return _make(IN_SCOPE, eff, scope)


class _Sub:
    """An upstream opened in a scope of its own, a child of ``parent`` (see the module's
    docstring). ``pull`` runs in that scope; `close` ends it early (once)."""

    __slots__ = ("_key", "_parent", "pull", "scope")

    def __init__(self, parent: Scope) -> None:
        self.scope = Scope()
        self._parent = parent
        # Invariant: the parent holds this scope's close under _key until `close` is called.
        self._key = parent._add(self.scope.close)
        self.pull: Pull = _NONE  # set once the upstream is open

    def close(self, exit_: Exit[Any] | None = None) -> Effect[Any, Any, None]:
        """Close the sub-scope (with ``exit_``, default success): call it when the upstream
        is to end. With nothing to release, it is closed at once; else the effect closes
        it. Closing again, or after the parent closed it, does nothing."""
        scope = self.scope
        if scope._close_if_empty():
            self._parent._discard(self._key)
            return unit

        def go() -> Effect[Any, Any, None]:
            self._parent._discard(self._key)
            return scope.close(exit_)
        return _suspend(go)


def _open_sub(open_: Open, parent: Scope, *, recovers: bool = False) -> Effect[Any, Any, _Sub]:
    """Open a stream in a new `_Sub` of ``parent`` (made now: call it when the stream is
    to be opened). If opening fails, the sub-scope is left to its parent, or, for a stage
    that ``recovers`` from failures (and goes on while its parent stays open), closed at
    once."""
    sub = _Sub(parent)

    def opened(pull: Pull) -> _Sub:
        sub.pull = _in_scope(pull, sub.scope)
        return sub

    def failed(cause: Cause) -> Effect[Any, Any, _Sub]:
        return sub.close(Exit.fail_cause(cause)).flat_map(lambda _: fail_cause(cause))
    opening = _in_scope(open_, sub.scope).map(opened)
    return opening.catch_all_cause(failed) if recovers else opening


def _consume_chunks(queue: Queue[Any] | Subscription[Any]) -> Pull:
    """The pull of a queue (or subscription) of chunk messages: non-empty lists, then _END
    or _Failed. Shut down (its producer was stopped before the end), it ends too."""
    ended = [False]
    take = queue.take().catch_all(lambda _shutdown: succeed(_END))

    def got(msg: Any) -> Effect[Any, Any, Chunk | None]:
        if msg.__class__ is list:
            return succeed(msg)
        if msg is _END:
            ended[0] = True
            return _NONE
        return fail_cause(msg.cause)

    def pull() -> Effect[Any, Any, Chunk | None]:
        return _NONE if ended[0] else take.flat_map(got)
    return _suspend(pull)


def _check_size(n: object, where: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{where} must be an int >= 1, got {n!r}")


def _pump(up: Pull, queue: Queue[Any]) -> Effect[Any, Any, None]:
    """Move upstream's items into ``queue`` until the end (then _END) or a failure (then
    _Failed)."""
    def loop() -> Effect[Any, Any, None]:
        return up.flat_map(deliver)

    def deliver(chunk: Chunk | None) -> Effect[Any, Any, None]:
        if chunk is None:
            return queue.offer(_END).unit()
        return _offer_each(queue, chunk, 0).flat_map(lambda _: loop())

    return loop().catch_all_cause(lambda cause: queue.offer(_Failed(cause)).unit())


def _offer_each(queue: Queue[Any], chunk: Chunk, i: int) -> Effect[Any, Any, None]:
    if i == len(chunk):
        return unit
    return queue.offer(chunk[i]).flat_map(lambda _: _offer_each(queue, chunk, i + 1))


def _consume(queue: Queue[Any]) -> Pull:
    """The pull of a queue fed by producer fibers: chunks of what is there, None at _END.
    The items that came before a failure are handed on first, then the failure."""
    ended = [False]
    failure: list[_Failed] = []  # met after items of a chunk: the next pull fails with it

    def got(first: Any) -> Effect[Any, Any, Chunk | None]:
        chunk: Chunk = []
        msg = first
        while True:
            if msg is _END:
                ended[0] = True
                return succeed(chunk) if chunk else _NONE
            if isinstance(msg, _Failed):
                if chunk:
                    failure.append(msg)
                    return succeed(chunk)
                return fail_cause(msg.cause)
            chunk.append(msg)
            if len(chunk) >= CHUNK or not queue.qsize():
                return succeed(chunk)
            msg = queue.get_nowait()

    def pull() -> Effect[Any, Any, Chunk | None]:
        if ended[0]:
            return _NONE
        if failure:
            return fail_cause(failure[0].cause)
        return queue.take().flat_map(got)
    return _suspend(pull)
