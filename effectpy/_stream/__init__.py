"""`Stream`: a lazy, pull-based, chunked sequence of values produced by effects.

A stream is a description. Running it (``run_collect``, ``run(sink)``, ``async for`` ...)
opens it in a fresh `Scope` and pulls chunks (lists) from it until it ends; every resource
it acquired is released exactly once: when the run ends (at completion, on failure, when a
sink has what it needs, or when the consumer is interrupted), or before, when a stage is
done with the stream that acquired it: ``take(n)`` once it has enough, ``concat`` and
``flat_map`` when a stream has ended and the next one opens, ``catch_all`` and ``retry``
when a stream has failed, ``zip``, ``merge``, ``interrupt_when`` and ``timeout`` when they
stop pulling a side. Nothing is produced that is not pulled (``from_iterable`` reads its
iterable ``chunk_size`` items at a time), so ``Stream.from_iterable(itertools.count())
.take(3)`` terminates; stages that run ahead (``buffer``, ``merge``, ``flat_map_par``,
``debounce``, ``grouped_within``, ``map_par`` ...) do so by a bounded amount, in fibers of
the stream's scope (children of the fiber that runs the stream, named after the stage),
and stop when the consumer stops. A failure reaches the consumer after the items that came
before it (a group that ``grouped`` or ``grouped_within`` had not finished is dropped, as
is an item ``debounce`` was holding).

``async for`` runs the stream in a run of its own, in a background task, that pulls a
chunk each time the loop asks for one (see `Stream.iterate`).

Internally, opening a stream is an effect that succeeds with a *pull*: an effect that
succeeds with the next non-empty chunk, or with None at the end (see ``_pull``).

Modules: ``_stream`` (the `Stream` class: checks and wiring), ``_pull`` (pulls, sub-scopes,
queue messages), ``_sources``, ``_transform`` (one upstream, pulled in the consumer's
fiber), ``_sequence`` (one stream after another: concat, flat_map, catch_all, retry),
``_concurrent`` (stages with fibers), ``_time``, ``_fanout`` (group_by, partition,
broadcast), ``_sink`` (`Sink` and the run loops), ``_iterate`` (``async for``).
"""

from ._sink import Sink
from ._stream import Stream

__all__ = ["Sink", "Stream"]
