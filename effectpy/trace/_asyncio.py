"""Plain asyncio in the trace: ``record(asyncio=True)`` records asyncio tasks as fibers.

Each task created inside the block (by code running in the block's context: contexts pass
to the tasks it creates, so their tasks are recorded too) is reported through the same
instrument hooks as a fiber, so the recorder, `Trace`, and every picture and export work
unchanged:

- a *task factory* on the block's event loop (the running one, or each loop created inside
  the block, e.g. by `asyncio.run`; the factory that was there before is restored when the
  block ends) wraps the task's coroutine in a `TaskFiber`, the task's stand-in: it has what
  the recorder reads from a fiber (``id`` from the fibers' own counter, ``name``, ``daemon``,
  ``source``, ``_ctx``) and sees every step of the task (``send``/``throw``);
- ``fiber_started(task, parent)``: the parent is the task (or the effect's fiber) that was
  running when the task was created, whether by `create_task`, a `TaskGroup`, `gather`,
  `wait_for`, `shield` or `ensure_future`;
- ``fiber_joined`` when it awaits another recorded task (its other waits are not recorded:
  an event per wait of every task would double the cost of recording, so a task's lane in a
  timeline is one bar, from creation to end);
- ``fiber_interrupted(task, by, reason)`` from the task's ``cancel()`` (the task is a
  subclass of `asyncio.Task`): ``by`` is the task or fiber that called it, the task whose
  cancellation was passing on to it (a `gather`, `wait_for` or ``await task`` cancelled
  together with its caller), the failed task whose `TaskGroup` aborted, or, for a call from
  the event loop itself, ``"asyncio.timeout"``, ``"asyncio.run"`` or ``"event loop"``;
- ``fiber_unwinding`` when a `CancelledError` is thrown into the task, ``fiber_failed`` and
  ``fiber_ended`` (success, failure, or interrupted) when its coroutine ends;
- ``fiber_step`` for a step that held the loop for a millisecond or more (`_core._steps`).

An effect awaited in a recorded task runs as a root fiber carried by that task: the
`AsyncioRecorder` makes the task its parent (the task's id, read from the running task when
the runtime reports the fiber: the runtime knows nothing of this module). A task created
inside an effect's coroutine has that effect's fiber as its parent.

``async with`` blocks are invisible to a task factory, so resources are recorded only where
the code says so: ``async with traced(pool.acquire(), "conn") as conn:`` records the acquire
and the release (how long the release took, and how the block ended).

What it changes for the program: `Task.get_coro()` returns the `TaskFiber` (it passes
attribute reads on to the coroutine, so ``__name__``, ``cr_frame`` and the task's repr are
the coroutine's), and `inspect.iscoroutine` is False for it (`asyncio.iscoroutine` is True).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any, ClassVar, Final

from .._core._carrier import carrying
from .._core._cause import EMPTY, HOST, Die, Exit, Fail, Interrupt
from .._core._context import Context
from .._core._fiber import _FIBER_IDS
from .._core._hooks import CAPTURE_SOURCE, Instruments
from .._core._steps import STEP_FLOOR, Ledger, ended_at, is_internal, ledger, span, suspended_at
from .._resource import _RESOURCE_IDS
from .._test_clock import TestClock
from ._recorder import Recorder

__all__ = ["AsyncioRecorder", "TaskFiber", "trace_asyncio", "traced"]

_perf: Final = time.perf_counter
_CancelledError: Final = asyncio.CancelledError
# The context a task's events read their clock from: none provided, so the trace's clock
# (a TestClock the trace adopted, else the live clock).
_TASK_CONTEXT: Final = Context()
# How a recorded task that returned None ended.
_NONE: Final[Exit[Any]] = Exit(True, None, EMPTY)


class _Tracker:
    """Where the events of the tasks created in a recording block go: its recorder, and
    those of the recording blocks it is nested in (as effect runs report to all of them).

    Task creation and the end of a task that returned (the hot path of a recorded task)
    call the recorders' hooks by name. A recorder whose hook raises is detached, with a
    warning, as `Instruments` does for effect runs: the program goes on."""

    __slots__ = ("recorders",)

    def __init__(self, recorders: tuple[Recorder, ...]) -> None:
        self.recorders = recorders  # those not detached

    def started(self, fiber: TaskFiber, parent: object) -> None:
        for recorder in self.recorders:
            try:
                Recorder.fiber_started(recorder, fiber, parent)  # (the parent is known)
            except Exception as exc:  # noqa: BLE001 - a broken recorder must not break the run
                self._fault(recorder, "fiber_started", exc)

    def returned(self, fiber: TaskFiber, value: Any) -> None:
        exit_ = _NONE if value is None else Exit(True, value, EMPTY)  # (a root shows its value)
        for recorder in self.recorders:
            try:
                recorder.fiber_ended(fiber, exit_)
            except Exception as exc:  # noqa: BLE001
                self._fault(recorder, "fiber_ended", exc)

    def emit(self, hook: str, *args: Any) -> None:
        """Call ``hook`` of each recorder (as `Instruments.emit` does)."""
        for recorder in self.recorders:
            try:
                getattr(recorder, hook)(*args)
            except Exception as exc:  # noqa: BLE001
                self._fault(recorder, hook, exc)

    def _fault(self, recorder: Recorder, hook: str, exc: Exception) -> None:
        self.recorders = tuple(r for r in self.recorders if r is not recorder)
        warnings.warn(f"effectpy instrument {recorder!r} raised {type(exc).__name__}: {exc} in "
                      f"{hook}; it has been detached", RuntimeWarning, stacklevel=3)


# The recording that tasks created in this context report to.
_TRACKING: Final[ContextVar[_Tracker | None]] = ContextVar("effectpy_asyncio_tracking", default=None)


class _Cancelling(threading.local):
    # The recorded task whose cancel() is running in this thread: a cancel() called inside
    # it is that cancellation passing on (to the future or task it was waiting for).
    task: TaskFiber | None = None


_CANCELLING: Final = _Cancelling()


class TaskFiber:
    """A recorded task's coroutine, wrapped: the task's stand-in in the trace.

    It has the coroutine protocol (``send``, ``throw``, ``close``, ``__await__``), so
    asyncio takes it for a coroutine (`collections.abc.Coroutine` by its methods); it does
    not inherit from it. With source capture on, a task's stand-in is a `_SourcedTaskFiber`."""

    __slots__ = ("id", "name", "source", "coro", "_tracker", "_led", "_by", "_asked", "_task")

    daemon: Final = False  # what the recorder reads from a fiber: the same for every task
    _ctx: Final = _TASK_CONTEXT
    _where: ClassVar[bool] = False  # source capture is off: its long steps say no file:line

    def __init__(self, coro: Coroutine[Any, Any, Any], tracker: _Tracker, led: Ledger,
                 name: str | None) -> None:
        self.id = next(_FIBER_IDS)
        self.name = name or getattr(coro, "__name__", None) or type(coro).__name__
        # file:line of the code that created the task, when source capture is on
        self.source = _created_at() if self._where else None
        self.coro = coro
        self._tracker = tracker
        self._led = led  # its loop's thread's step accounting
        # Who cancelled the task last (a fiber or task id, or text); None if nobody did.
        self._by: object = None
        # A cancel() has not reached the coroutine yet (a CancelledError thrown in then is
        # that cancellation; otherwise it is an awaited task's, passed on as an exception).
        self._asked = False
        self._task: asyncio.Task[Any] | None = None  # set once the task exists

    # --- the coroutine protocol (what the task calls at each step) --------------------

    def send(self, value: Any, _perf: Callable[[], float] = _perf, _floor: float = STEP_FLOOR) -> Any:
        # `_step` for a send without source capture, inlined: the hot path of a task
        led = self._led
        before = led.charged
        start = _perf()
        try:
            out = self.coro.send(value)
        except StopIteration as stop:  # it returned: `_charge` and `_ended`, inlined
            took = _perf() - start
            own = took - (led.charged - before)
            led.charged = before + took  # (the ledger's charge: what it had, and this step whole)
            if own >= _floor:
                self._tracker.emit("fiber_step", self, own, None)
            task = self._task
            if task is None or not task._must_cancel:  # type: ignore[attr-defined]
                self._tracker.returned(self, stop.value)
            else:
                self._ended(_CancelledError())  # cancelled in its last step
            raise
        except BaseException as exc:  # it raised
            self._charge(_perf() - start, before, None, None)
            self._ended(exc)
            raise
        took = _perf() - start
        own = took - (led.charged - before)
        led.charged = before + took
        if own >= _floor:
            self._tracker.emit("fiber_step", self, own, None)
        if out.__class__ is _Task:
            self._joins(out)
        return out

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if self._asked:
            exc = typ if val is None and tb is None else val
            if isinstance(exc, _CancelledError) or exc is _CancelledError:
                self._asked = False
                self._tracker.emit("fiber_unwinding", self)
        if val is None and tb is None:
            return self._step(self.coro.throw, typ)
        return self._step(lambda v: self.coro.throw(typ, v, tb), val)

    def close(self) -> None:
        self.coro.close()

    def __await__(self) -> Any:
        return self.coro.__await__()

    def __getattr__(self, name: str) -> Any:
        # what is not the stand-in's own is the coroutine's (cr_frame, __name__, ...)
        return getattr(self.coro, name)

    def __repr__(self) -> str:
        return repr(self.coro)

    def _step(self, fn: Callable[[Any], Any], arg: Any) -> Any:
        """One step of the task: ``fn(arg)`` (its coroutine's send or throw), timed."""
        began = suspended_at(self.coro) if self._where else None
        before = self._led.charged
        start = _perf()
        try:
            out = fn(arg)
        except BaseException as exc:
            self._charge(_perf() - start, before, began, exc)
            self._ended(exc)
            raise
        self._charge(_perf() - start, before, began, None)
        if out.__class__ is _Task:
            self._joins(out)
        return out

    def _charge(self, took: float, before: float, began: tuple[str, int] | None,
                ended: BaseException | None) -> None:
        """Charge a step that took ``took`` seconds, less the steps nested in it (``began``:
        where it began, with source capture; ``ended``: what it raised, if it did)."""
        own = self._led.charge(took, before)
        if own >= STEP_FLOOR:
            where = span(began, ended_at(self.coro, ended)) if self._where else None
            self._tracker.emit("fiber_step", self, own, where)

    def _joins(self, task: asyncio.Task[Any]) -> None:
        """The task waits for ``task`` (its other waits are not recorded: one event per
        wait of every task would double the cost of recording)."""
        target = task.get_coro()
        if isinstance(target, TaskFiber):
            self._tracker.emit("fiber_joined", self, target)

    def _ended(self, exc: BaseException) -> None:
        """The coroutine ended with ``exc`` (StopIteration: it returned)."""
        tracker = self._tracker
        if isinstance(exc, StopIteration):
            task = self._task
            if task is None or not task._must_cancel:  # type: ignore[attr-defined]
                tracker.returned(self, exc.value)
                return
            exc = _CancelledError()  # cancelled in its last step: the task ends cancelled
        if isinstance(exc, _CancelledError):
            tracker.emit("fiber_ended", self, Exit(False, None, Interrupt(self._by or "cancelled")))
            return
        cause = Fail(exc) if isinstance(exc, Exception) else Die(exc)
        tracker.emit("fiber_failed", self, cause)
        tracker.emit("fiber_ended", self, Exit(False, None, cause))


class _SourcedTaskFiber(TaskFiber):
    """A task's stand-in while source capture is on: each step also notes where it began
    and ended (so a long one says file:line)."""

    __slots__ = ()
    _where: ClassVar[bool] = True

    def send(self, value: Any, _perf: Callable[[], float] = _perf, _floor: float = STEP_FLOOR) -> Any:
        return self._step(self.coro.send, value)


def _created_at() -> str | None:
    """``file:line`` of the code that is creating a task: the innermost caller that is not
    effectpy's or the event loop's (asyncio, anyio, ...)."""
    frame: Any = sys._getframe(2)
    while frame is not None and is_internal(frame):
        frame = frame.f_back
    return None if frame is None else f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


class _Task(asyncio.Task):  # type: ignore[type-arg]
    """A recorded task: its `cancel()` says who cancelled it (see the module docstring)."""

    __slots__ = ()

    def cancel(self, msg: Any = None) -> bool:
        fiber = self.get_coro()
        if self.done() or not isinstance(fiber, TaskFiber):
            return super().cancel(msg)
        by, reason = _canceller(fiber)
        fiber._by = by
        fiber._asked = True
        fiber._tracker.emit("fiber_interrupted", fiber, by, reason)
        outer = _CANCELLING.task
        _CANCELLING.task = fiber
        try:
            return super().cancel(msg)
        finally:
            _CANCELLING.task = outer

    def set_name(self, value: object) -> None:
        super().set_name(value)
        fiber = self.get_coro()
        if isinstance(fiber, TaskFiber):
            fiber.name = str(value)  # the events from now on carry it
            coro: Any = fiber.coro
            if getattr(coro, "cr_frame", None) is not None and not coro.cr_running and not getattr(
                    coro, "cr_suspended", True):  # it has not run yet: its fork, too
                fiber._tracker.emit("fiber_renamed", fiber)


# asyncio functions that cancel tasks, and what their cancellation means (the function that
# called `cancel()`, found by walking up from it)
_REASONS: Final = {
    "_on_timeout": "asyncio.timeout expired",
    "wait_for": "wait_for",
    "_cancel_and_wait": "wait_for",
    "_abort": "its TaskGroup aborted",
    "_on_task_done": "its TaskGroup aborted",
    "_cancel_all_tasks": "asyncio.run ended (it cancels the tasks left)",
    "cancel": "its gather was cancelled",  # _GatheringFuture.cancel
}


def _canceller(target: TaskFiber) -> tuple[object, str]:
    """Who is cancelling ``target`` (a fiber or task id, or text) and why."""
    passing_on = _CANCELLING.task
    if passing_on is not None and passing_on is not target:
        return passing_on.id, "cancelled with the task that waited for it"
    frames = _callers()
    reason = next((_REASONS[f.f_code.co_name] for f in frames
                   if f.f_code.co_name in _REASONS and _is_asyncio(f)), None)
    if reason is None:
        user = next((f for f in frames if not _is_asyncio(f)), None)
        reason = f"cancel() in {user.f_code.co_name}" if user is not None else "cancel()"
    try:
        running = asyncio.current_task()
    except RuntimeError:  # no running loop
        running = None
    if running is not None:
        fiber = carrying(running)
        if fiber is not None:
            return fiber.id, reason
        coro = running.get_coro()
        return (coro.id if isinstance(coro, TaskFiber) else "a task outside this trace"), reason
    # called back by the event loop: a TaskGroup's callback for a task that failed, a timeout
    for f in frames:
        name = f.f_code.co_name
        if name == "_on_task_done" and _is_asyncio(f):
            failed = f.f_locals.get("task")
            stand_in = failed.get_coro() if isinstance(failed, asyncio.Task) else None
            if isinstance(stand_in, TaskFiber):
                return stand_in.id, reason
        if name == "_on_timeout" and _is_asyncio(f):
            return "asyncio.timeout", reason
        if name == "_cancel_all_tasks" and _is_asyncio(f):
            return "asyncio.run", reason
    return "event loop", reason


def _callers() -> list[Any]:
    """The frames that led to a `cancel()` (innermost first, at most 12), skipping this
    module's own."""
    frames: list[Any] = []
    frame: Any = sys._getframe(2)
    while frame is not None and len(frames) < 12:
        if frame.f_globals.get("__name__") != __name__:
            frames.append(frame)
        frame = frame.f_back
    return frames


# The coroutines `asyncio.run` runs as tasks of its own when it shuts the loop down (the
# loop's housekeeping), and the task that moves a `TestClock`'s time (`advance`): not the
# program's.
# (By identity: a code object's hash is computed anew from its contents at each lookup.)
_HOUSEKEEPING: Final = frozenset(
    id(code) for code in (*(getattr(asyncio.BaseEventLoop, name).__code__
                            for name in ("shutdown_asyncgens", "shutdown_default_executor")),
                          TestClock._drive.__code__))


def _is_asyncio(frame: Any) -> bool:
    return str(frame.f_globals.get("__name__", "")).partition(".")[0] == "asyncio"


# asyncio.current_task without its checks (a dict lookup; Python 3.12+ has it in C)
_current_task: Final[Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None]] = (
    getattr(asyncio.tasks, "_current_tasks").get if sys.version_info < (3, 12) else asyncio.current_task)


def _running_fiber(loop: asyncio.AbstractEventLoop) -> object:
    """The fiber or recorded task running now on ``loop`` (None: none, or a task that is
    not recorded): the parent of a task created now."""
    running = _current_task(loop)
    if running is None:
        return None
    fiber = carrying(running)
    if fiber is not None:
        return fiber
    coro = running.get_coro()
    return coro if isinstance(coro, TaskFiber) else None


_EAGER: Final = getattr(asyncio, "eager_task_factory", None)  # Python 3.12+


class _Factory:
    """The task factory installed on a loop while a block records asyncio: a task created
    in a recording context is a recorded one; any other is made as before."""

    __slots__ = ("previous", "users", "ledger")

    def __init__(self, previous: Any) -> None:
        self.previous = previous  # the loop's factory before (None: asyncio.Task)
        self.users = 0  # recording blocks using it; it is removed when the last one ends
        self.ledger = ledger()  # made in the loop's thread, where its tasks run

    def __call__(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        tracker = _TRACKING.get()
        previous = self.previous
        if tracker is None or not tracker.recorders or id(getattr(coro, "cr_code", None)) in _HOUSEKEEPING:
            # not recorded (nor the loop's own housekeeping: asyncio.run's shutdown tasks,
            # a TestClock's driver)
            if previous is not None:
                task: asyncio.Task[Any] = previous(loop, coro, **kwargs)
                return task
            return asyncio.Task(coro, loop=loop, **kwargs)
        stand_in = _SourcedTaskFiber if CAPTURE_SOURCE.get() else TaskFiber
        fiber = stand_in(coro, tracker, self.ledger, kwargs.get("name"))
        tracker.started(fiber, _running_fiber(loop))
        if previous is None:
            task = _Task(fiber, loop=loop, **kwargs)
        elif previous is _EAGER:  # an eager task runs its first step in its constructor
            task = _Task(fiber, loop=loop, **{**kwargs, "eager_start": True})
        else:  # another library's factory: its task class, so cancel() callers are unknown
            task = previous(loop, fiber, **kwargs)
        fiber._task = task
        return task


def _install(loop: asyncio.AbstractEventLoop) -> _Factory:
    """Our factory on ``loop`` (shared by the recording blocks that overlap on it)."""
    factory = loop.get_task_factory()
    if not isinstance(factory, _Factory):
        factory = _Factory(factory)
        loop.set_task_factory(factory)
    factory.users += 1
    return factory


def _uninstall(loop: asyncio.AbstractEventLoop, factory: _Factory) -> None:
    factory.users -= 1
    if factory.users == 0 and not loop.is_closed() and loop.get_task_factory() is factory:
        loop.set_task_factory(factory.previous)


def _policy_for(inner: asyncio.AbstractEventLoopPolicy,
                loops: list[tuple[asyncio.AbstractEventLoop, _Factory]]) -> asyncio.AbstractEventLoopPolicy:
    """The event loop policy while a block records asyncio outside a running loop: it gives
    our factory to each loop that code in a recording context creates (`asyncio.run`'s; they
    are listed in ``loops``), and is otherwise ``inner``. (Made here, not at import: from
    Python 3.14 the policy classes are deprecated.)"""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        base: Any = asyncio.AbstractEventLoopPolicy

    class _Policy(base):  # type: ignore[misc]
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            loop = inner.new_event_loop()  # (an outer block's policy may install it already)
            if _TRACKING.get() is not None:
                loops.append((loop, _install(loop)))
            return loop

        def get_event_loop(self) -> asyncio.AbstractEventLoop:
            return inner.get_event_loop()

        def set_event_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
            inner.set_event_loop(loop)

        def get_child_watcher(self) -> Any:  # Unix, Python < 3.14
            return inner.get_child_watcher()

        def set_child_watcher(self, watcher: Any) -> None:
            inner.set_child_watcher(watcher)

    policy: asyncio.AbstractEventLoopPolicy = _Policy()
    return policy


def _policy() -> asyncio.AbstractEventLoopPolicy:
    with warnings.catch_warnings():  # policies are deprecated from Python 3.14
        warnings.simplefilter("ignore", DeprecationWarning)
        return asyncio.get_event_loop_policy()


def _set_policy(policy: asyncio.AbstractEventLoopPolicy) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        asyncio.set_event_loop_policy(policy)


@contextmanager
def trace_asyncio(recorder: Recorder) -> Iterator[None]:
    """Report the asyncio tasks created in this context, until the block ends, to
    ``recorder`` (`record(asyncio=True)` uses it). Inside a running loop, our task factory
    goes on that loop; outside one, on each loop created in the block (`asyncio.run`'s),
    through the event loop policy, which is process-wide: the policy is put back when the
    block ends (unless something replaced it meanwhile)."""
    outer = _TRACKING.get()
    token = _TRACKING.set(_Tracker((*outer.recorders, recorder) if outer is not None else (recorder,)))
    try:
        loop = asyncio._get_running_loop()
        if loop is not None:
            factory = _install(loop)
            try:
                yield
            finally:
                _uninstall(loop, factory)
            return
        inner = _policy()
        loops: list[tuple[asyncio.AbstractEventLoop, _Factory]] = []
        policy = _policy_for(inner, loops)
        _set_policy(policy)
        try:
            yield
        finally:
            if _policy() is policy:
                _set_policy(inner)
            for made, factory in loops:
                _uninstall(made, factory)
    finally:
        _TRACKING.reset(token)


class AsyncioRecorder(Recorder):
    """The recorder of ``record(asyncio=True)``: an effect awaited in a recorded task is a
    child of that task, and the task's cancellation is what interrupts it."""

    def fiber_started(self, fiber: Any, parent: Any) -> None:
        if parent is None:  # a root: carried by the task that awaits it, if one is running
            loop = asyncio._get_running_loop()
            parent = _running_fiber(loop) if loop is not None else None
        super().fiber_started(fiber, parent)

    def fiber_interrupted(self, fiber: Any, by: object, reason: str) -> None:
        if by == HOST:  # the task that carries the fiber was cancelled
            carrier = getattr(fiber, "_carrier", None)
            task = getattr(carrier, "task", None)
            coro = task.get_coro() if isinstance(task, asyncio.Task) else None
            if isinstance(coro, TaskFiber):
                by = coro.id
        super().fiber_interrupted(fiber, by, reason)


def traced(resource: Any, name: str | None = None) -> _Traced:
    """Record a context manager's block as a resource of the running task (or fiber):
    ``acquire`` when the block is entered, ``release_start`` and ``release`` (with how the
    block ended: success, failure, interrupted) around its exit. Works with ``async with``
    and ``with``; outside a recorded task or fiber it records nothing.

    Args:
        resource: an async or sync context manager (``pool.acquire()``, a lock, a file).
        name: how the trace shows the resource (default: the value the block gets).

    >>> import asyncio
    >>> from effectpy.trace import record, traced
    >>> async def main():
    ...     async with traced(asyncio.Lock(), "lock"):
    ...         await asyncio.sleep(0)
    >>> with record(asyncio=True) as trace:
    ...     asyncio.run(main())
    >>> [(r.value, r.exit) for r in trace.resources()]
    [("'lock'", 'success')]
    """
    if not (hasattr(resource, "__aenter__") or hasattr(resource, "__enter__")):
        raise TypeError(f"traced expects a context manager (async or not), got "
                        f"{type(resource).__name__} {resource!r}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"traced's name must be a str or None, got {type(name).__name__} {name!r}")
    return _Traced(resource, name)


class _Traced:
    """What `traced` returns. One may be shared (a module-level semaphore, say): each block
    entered is recorded as its own resource, released by the task or fiber that entered it."""

    __slots__ = ("_cm", "_name", "_held")

    def __init__(self, cm: Any, name: str | None) -> None:
        self._cm = cm
        self._name = name
        # The blocks entered and not yet left: (owner, where its events go, resource id).
        self._held: list[tuple[Any, Instruments | _Tracker, int]] = []

    async def __aenter__(self) -> Any:
        value = await self._cm.__aenter__()
        self._acquired(value)
        return value

    async def __aexit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> Any:
        held = self._leaving()
        try:
            return await self._cm.__aexit__(typ, exc, tb)
        finally:
            _released(held, exc)

    def __enter__(self) -> Any:
        value = self._cm.__enter__()
        self._acquired(value)
        return value

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Any:
        held = self._leaving()
        try:
            return self._cm.__exit__(typ, exc, tb)
        finally:
            _released(held, exc)

    def _acquired(self, value: Any) -> None:
        owner, inst = _owner()
        if inst is not None:
            rid = next(_RESOURCE_IDS)
            self._held.append((owner, inst, rid))
            inst.emit("resource_acquired", owner, rid, self._name if self._name is not None else value)

    def _leaving(self) -> tuple[Any, Instruments | _Tracker, int] | None:
        """The block the running task or fiber leaves (its release begins)."""
        owner, _ = _owner()
        held = self._held
        for i in range(len(held) - 1, -1, -1):
            if held[i][0] is owner:
                entry = held.pop(i)
                entry[1].emit("resource_releasing", entry[0], entry[2])
                return entry
        return None


def _released(held: tuple[Any, Instruments | _Tracker, int] | None, exc: BaseException | None) -> None:
    if held is None:
        return
    owner, inst, rid = held
    if exc is None:
        exit_: Exit[Any] = Exit(True, None, EMPTY)
    elif isinstance(exc, _CancelledError):
        exit_ = Exit(False, None, Interrupt("cancelled"))
    else:
        exit_ = Exit(False, None, Fail(exc))
    inst.emit("resource_released", owner, rid, exit_)


def _owner() -> tuple[Any, Instruments | _Tracker | None]:
    """The recorded fiber or task running now, and where its events go."""
    loop = asyncio._get_running_loop()
    running = _running_fiber(loop) if loop is not None else None
    if isinstance(running, TaskFiber):
        return running, running._tracker
    if running is not None:  # an effect's fiber
        return running, running._runtime.instrument  # type: ignore[attr-defined]
    return None, None
