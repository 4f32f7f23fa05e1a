"""effectpy: structured concurrency with effects, and a runtime you can see.

General layout (each layer imports only the ones before it):

- ``_core/``: the self-contained heart: `Effect` nodes, the fiber run loop, `Cause` and
  `Exit`, `Scope`, `Context`, `Clock`, child-fiber groups, instrument hooks.
- ``effectpy/_*.py``: combinators and data types built on core primitives only
  (`zip_par`, `race`, `timeout`, `acquire_release`, `Layer`, `Ref`, `Queue`, `TestClock`...).
- ``effectpy.trace``: recording of runtime events, and what is made of them.
- ``effectpy.lowlevel``: hooks for instruments and advanced users.

This module re-exports the friendly parts and declares `__all__`.
"""

from __future__ import annotations

from ._blocking import blocking
from ._channel import Channel, ChannelClosed
from ._concurrent import fork_all, for_each_par, partition_par, race, race_success, validate_par, zip_par
from ._core._cause import Both, Cause, Die, Empty, Exit, Fail, Failure, Interrupt, Then
from ._core._clock import Clock
from ._core._context import Context, MissingServiceError
from ._core._duration import Duration
from ._core._effect import (
    Effect, Either, Left, Right, attempt, die, fail, fail_cause, for_each, from_async, never, service,
    sleep, succeed, suspend, sync, uninterruptible_mask, unit, yield_now,
)
from ._core._fiber import Fiber
from ._core._runtime import run, run_exit
from ._core._scope import Scope
from ._deferred import Deferred
from ._layer import Layer
from ._option import NONE, Option, Some
from ._pubsub import PubSub, Subscription
from ._queue import Queue, QueueShutdown
from ._ref import FiberRef, Ref, SynchronizedRef
from ._resource import acquire_release, scoped
from ._schedule import Schedule
from ._semaphore import Semaphore
from ._stream import Sink, Stream
from ._test_clock import ClockLayer, TestClock, TestClockLayer

__version__ = "0.1.0"

__all__ = [
    "NONE", "Both", "Cause", "Channel", "ChannelClosed", "Clock", "ClockLayer", "Context",
    "Deferred", "Die", "Duration",
    "Effect", "Either", "Empty", "Exit", "Fail", "Failure", "Fiber", "FiberRef", "Interrupt",
    "Layer", "Left", "MissingServiceError", "Option", "PubSub", "Queue", "QueueShutdown", "Ref",
    "Right",
    "Schedule", "Scope", "Semaphore", "Sink", "Some", "Stream", "Subscription", "SynchronizedRef",
    "TestClock", "TestClockLayer", "Then", "acquire_release",
    "attempt", "blocking", "die", "fail", "fail_cause", "for_each", "for_each_par", "fork_all",
    "from_async", "never", "partition_par",
    "race", "race_success", "run", "run_exit", "scoped", "service", "sleep", "succeed",
    "suspend", "sync", "uninterruptible_mask", "unit", "validate_par", "yield_now", "zip_par",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext effectpy``: registers the ``%%effect`` cell magic (IPython is imported
    only now, never by ``import effectpy``)."""
    from ._magic import load_ipython_extension as load

    load(ipython)
