"""`Stream`: a lazy, pull-based, chunked sequence of values produced by effects.

A stream is a description. Running it (``run_collect``, ``run_fold``, ``async for`` ...)
opens it in a fresh `Scope` and pulls chunks (lists) from it until it ends; every resource
it acquired is released, exactly once, when the run ends: at completion, on failure, when
``take(n)`` has enough, or when the consumer is interrupted. Nothing is produced that is not
pulled (``from_iterable`` reads its iterable ``chunk_size`` items at a time), so
``Stream.from_iterable(itertools.count()).take(3)`` terminates; stages that run ahead
(``buffer``, ``merge``, ``grouped_within``, ``map_par``) do so by a bounded amount, in
fibers of the stream's scope, and stop when the consumer stops. A failure reaches the
consumer after the items that came before it (a group that ``grouped`` or
``grouped_within`` had not finished is dropped).

``async for`` runs the stream in a run of its own, in a background task, that pulls a
chunk each time the loop asks for one (see `Stream.iterate`).

Internally, opening a stream is an effect that succeeds with a *pull*: an effect that
succeeds with the next non-empty chunk, or with None at the end.
"""

from ._stream import Stream

__all__ = ["Stream"]
