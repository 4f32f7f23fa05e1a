"""Carriers on asyncio: the task that runs a fiber once it has a coroutine to await.

A carrier awaits the fiber's coroutines inline (no task per await), runs the fiber's loop
between them, and parks on a future while the fiber waits on anything else (sleep, join,
a queue, ...). There are two kinds, one logic (`_Carry`):

- `TaskCarrier` is a task of its own (an `asyncio.Task` subclass, so that the task is the
  carrier and ``asyncio.current_task()`` finds the fiber it carries), made when a fiber
  started by callbacks (a forked child) first awaits a coroutine.
- `HostCarrier` is the task that awaits an effect (``await effect``): a root, or a child of
  the fiber whose coroutine is awaiting (`carrying`). Others may cancel that task: a
  cancellation the carrier did not send is the host's, and interrupts the fiber; an await
  in an uninterruptible region then runs shielded, in a `ShieldTask` (a task that still
  counts as the fiber's), so that no cancellation reaches it; the host's cancellation is
  raised once the fiber has ended.

Interrupting a fiber suspended in an inline await cancels the carrier's task, which
throws `CancelledError` into the awaited coroutine only; the carrier counts its own
cancellations off again (`Task.uncancel`), so ``Task.cancelling()`` stays the host's.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

from ._cause import HOST
from ._effect import _CANCELLED, cause_of
from ._loop import DONE, STEP_BUDGET
from ._steps import TimedAwait

if TYPE_CHECKING:
    from ._effect import Effect
    from ._fiber import Fiber

__all__ = ["AWAIT_CANCELLED", "CARRIED", "HostCarrier", "TaskCarrier", "carrying", "discard", "never_began"]

# The fiber that an ``await effect`` in this context carries (set for as long as it runs).
# With the carrier's task, it tells whether a run starts inside that fiber's coroutine.
CARRIED: Final[ContextVar[Fiber[Any, Any] | None]] = ContextVar("effectpy_carried", default=None)

# The cause an await ends with when it is cancelled.
AWAIT_CANCELLED: Final = _CANCELLED


def carrying(task: object) -> Fiber[Any, Any] | None:
    """The fiber whose coroutine runs in ``task`` now (a run started here is its child),
    or None. A task made inside that coroutine does not count: a run started there is a
    root, as anywhere outside a fiber."""
    fiber = CARRIED.get()
    if fiber is not None:
        carrier = fiber._carrier
        if carrier is not None and carrier.task is task:
            return fiber
    if task.__class__ is TaskCarrier:
        fiber = task.fiber
        if fiber._carrier is task:
            return fiber
    elif task.__class__ is ShieldTask:
        fiber = task.fiber
        if fiber._carrier is not None:
            return fiber
    return None


def discard(aw: Awaitable[Any]) -> None:
    """An awaitable that will never be awaited (its fiber was interrupted first): close a
    coroutine (it never ran), cancel a future or task."""
    if isinstance(aw, TimedAwait):  # timed for the instruments: discard what it wraps
        aw = aw.aw
    if inspect.iscoroutine(aw):
        aw.close()
    elif isinstance(aw, asyncio.Future):
        aw.cancel()


def never_began(fiber: Fiber[Any, Any], aw: Awaitable[Any]) -> None:
    """The fiber was interrupted before its carrier began to await ``aw``: ``aw`` never
    runs, and the fiber goes on as from a cancelled await."""
    discard(aw)
    fiber._end_await()
    fiber._after_await(False, AWAIT_CANCELLED)


class _Carry:
    """The carrier's logic, shared by both kinds. Fields (slots of each kind):

    fiber: the fiber carried. aw: the awaitable its loop asked for (None: none). next:
    what to run after one trip round the event loop (a yield, a step budget used up, or a
    wake that came while the carrier handled a cancellation). park: the future the carrier
    waits on while the fiber is suspended, but not in an await. awaiting: an inline await
    is in progress. early: the fiber was interrupted before its await began (it never
    begins). sent: the carrier cancelled its task to end an await. parent: the fiber whose
    coroutine awaits this one (a nested run). base: the task's cancellation requests when
    the carrier started (more are someone else's). host_cancel: the host's cancellation,
    raised once the fiber has ended.
    """

    if TYPE_CHECKING:  # what each kind holds (a mixin of asyncio.Task can have no slots)
        __slots__ = ("fiber", "aw", "next", "park", "awaiting", "early", "sent", "budget", "parent",
                     "base", "host_cancel")
    else:
        __slots__ = ()

    fiber: Fiber[Any, Any]
    aw: Awaitable[Any] | None
    next: tuple[Effect[Any, Any, Any] | None, bool, Any] | None
    park: asyncio.Future[Any] | None
    awaiting: bool
    early: bool
    sent: bool
    budget: int
    parent: Fiber[Any, Any] | None
    base: int
    host_cancel: BaseException | None

    def _init(self, fiber: Fiber[Any, Any], parent: Fiber[Any, Any] | None, base: int) -> None:
        self.fiber = fiber
        self.aw = None
        self.next = None
        self.park = None
        self.awaiting = False
        self.early = False
        self.sent = False
        self.budget = STEP_BUDGET
        self.parent = parent
        self.base = base
        self.host_cancel = None

    @property
    def shared(self) -> bool:
        """The task is someone else's: it may be cancelled by others."""
        return self.__class__ is not TaskCarrier

    def _task(self) -> asyncio.Task[Any]:
        raise NotImplementedError

    def __call__(self) -> None:
        """The canceller of an inline await (the carrier is its own canceller: no
        bound method per await)."""
        if self.awaiting:
            self.sent = True
            self._task().cancel()
        else:
            self.early = True

    def wake(self, eff: Effect[Any, Any, Any] | None, ok: bool, val: Any) -> None:
        park = self.park
        if park is not None and not park.done():
            self.park = None
            park.set_result((eff, ok, val))
        else:
            # not parked yet, or the park was cancelled by the host's cancellation, which
            # the carrier has yet to handle: it resumes with this next
            self.next = (eff, ok, val)

    def pause(self, eff: Effect[Any, Any, Any] | None, ok: bool = True, val: Any = None) -> None:
        # the carrier's `sleep(0)` queues it behind the callbacks already queued (FIFO)
        self.next = (eff, ok, val)

    def _cancelled(self, exc: BaseException) -> None:
        """A cancellation reached the carrier: count off its own; anyone else's is the
        host's, and interrupts the fiber."""
        task = self._task()
        if self.sent:
            self.sent = False
            task.uncancel()
        if task.cancelling() > self.base:
            if self.host_cancel is None:
                self.host_cancel = exc
            parent = self.parent
            if parent is not None and parent._interruptor is not None:
                self.fiber.interrupt_as(parent.id, "parent interrupted")
            else:
                self.fiber.interrupt_as(HOST, "host task cancelled")

    async def run(self, first: Effect[Any, Any, Any] | None) -> None:
        """Carry the fiber until it is done (starting it with ``first``, if given)."""
        fiber = self.fiber
        shared = self.shared
        if first is not None:
            fiber._begin(first)
        while True:
            aw = self.aw
            if aw is not None:
                self.aw = None
                if self.early:
                    self.early = False
                    never_began(fiber, aw)
                    continue
                if shared and not fiber._interruptible:
                    ok, val = await self._await_shielded(aw)
                    fiber._end_await()
                    fiber._after_await(ok, val)
                    continue
                cancelled: BaseException | None = None
                self.awaiting = True
                try:
                    val = await aw
                    ok = True
                except asyncio.CancelledError as exc:
                    ok = False
                    val = AWAIT_CANCELLED
                    cancelled = exc
                except BaseException as exc:  # noqa: BLE001 - the fiber's failure
                    ok = False
                    val = cause_of(exc)
                self.awaiting = False
                if cancelled is not None:
                    fiber._end_await()
                    self._cancelled(cancelled)
                    fiber._after_await(ok, val)
                    continue
                if self.sent:  # cancelled, but the coroutine went on to its end
                    self.sent = False
                    self._task().uncancel()
                fiber._awaited(ok, val)
                continue
            if fiber._state == DONE:
                break
            step = self.next
            if step is not None:
                self.next = None
                try:
                    await asyncio.sleep(0)
                except asyncio.CancelledError as exc:
                    self._cancelled(exc)
                fiber._loop(*step)
                continue
            fut: asyncio.Future[Any] = fiber._runtime.loop.create_future()  # type: ignore[attr-defined]
            self.park = fut
            try:
                step = await fut
            except asyncio.CancelledError as exc:
                if self.park is fut or fut.cancelled():
                    # not woken before the cancellation (a wake since then waits in
                    # `next`): the host's cancellation may wake it
                    self.park = None
                    self._cancelled(exc)
                    continue
                step = fut.result()  # woken, then cancelled in the same turn
                self._cancelled(exc)
            fiber._loop(*step)
        fiber._carrier = None

    async def _await_shielded(self, aw: Awaitable[Any]) -> tuple[bool, Any]:
        """Await ``aw`` to its end, whatever cancels the carrier's task meanwhile (an
        uninterruptible await in a task others may cancel)."""
        if asyncio.isfuture(aw):
            inner: asyncio.Future[Any] = aw
        else:  # a coroutine (or any awaitable: one timed for the instruments, ...)
            coro = aw if inspect.iscoroutine(aw) else _awaiting(aw)
            inner = ShieldTask(self.fiber, coro, self._task().get_loop())
        while not inner.done():
            try:
                await asyncio.shield(inner)
            except asyncio.CancelledError as exc:
                if not inner.cancelled():
                    self._cancelled(exc)  # the task's, not the await's: it goes on
            except BaseException:  # noqa: BLE001, S110 - the await's own failure: read below
                pass
        if inner.cancelled():
            return False, AWAIT_CANCELLED
        failure = inner.exception()
        return (True, inner.result()) if failure is None else (False, cause_of(failure))


class HostCarrier(_Carry):
    """The awaiting task as a fiber's carrier (see the module docstring)."""

    __slots__ = ("fiber", "task", "aw", "next", "park", "awaiting", "early", "sent", "budget",
                 "parent", "base", "host_cancel")

    task: asyncio.Task[Any]

    def __init__(self, fiber: Fiber[Any, Any], task: asyncio.Task[Any],
                 parent: Fiber[Any, Any] | None = None) -> None:
        self._init(fiber, parent, task.cancelling())
        self.task = task

    def _task(self) -> asyncio.Task[Any]:
        return self.task


_task_init: Final = asyncio.Task.__init__


class TaskCarrier(_Carry, asyncio.Task):  # type: ignore[type-arg,misc]
    """A carrier with a task of its own: the task itself (see the module docstring)."""

    __slots__ = ("fiber", "aw", "next", "park", "awaiting", "early", "sent", "budget", "parent",
                 "base", "host_cancel")

    def __init__(self, fiber: Fiber[Any, Any], aw: Awaitable[Any] | None, loop: asyncio.AbstractEventLoop,
                 first: Effect[Any, Any, Any] | None = None) -> None:
        self.fiber = fiber
        self.aw = aw
        self.next = None
        self.park = None
        self.awaiting = False
        self.early = False
        self.sent = False
        self.budget = STEP_BUDGET
        self.parent = None
        self.base = 0
        self.host_cancel = None
        _task_init(self, self.run(first), loop=loop)

    @property
    def task(self) -> asyncio.Task[Any]:
        return self

    def _task(self) -> asyncio.Task[Any]:
        return self


async def _awaiting(aw: Awaitable[Any]) -> Any:
    return await aw


class ShieldTask(asyncio.Task):  # type: ignore[type-arg]
    """The task in which a fiber's uninterruptible await runs when others may cancel its
    carrier's task (a host's): shielded from their cancellation as by `asyncio.shield`,
    and still the fiber's coroutine, so effects awaited in it run as the fiber's children."""

    __slots__ = ("fiber",)

    def __init__(self, fiber: Fiber[Any, Any], coro: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.fiber = fiber
        _task_init(self, coro, loop=loop)
