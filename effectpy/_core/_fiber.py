"""`Fiber`: the run loop that interprets `Effect` nodes with an explicit continuation stack.

A fiber is driven by callbacks on its runtime's event loop until it first has a coroutine
(or other awaitable) to await: a fiber that never awaits one costs no task. From then on it
has a *carrier*, one task of the backend that awaits each such coroutine inline (no task
per await) and runs the fiber's loop in between, parking while the fiber waits on anything
else (sleep, join, a queue, ...). A root run by ``await effect`` is carried by the awaiting
task itself, and so is an effect awaited inside a carried fiber's coroutine: it runs as that
fiber's child (`_carrier.carrying` says which fiber's coroutine a task runs).

Life of a fiber::

    READY --loop--> RUNNING --awaitable/callback--> SUSPENDED --wake--> READY ...
                       |                                          (interrupt: cancel the op;
                       |                                           an awaitable: its await)
                       +--stack empty--> FINISHING (interrupt children, await them,
                                         close the fiber's own scope) --> DONE

Interruption is a request (`_interruptor`); it is delivered at the next step while the fiber
is interruptible, or at once to a suspended interruptible operation (via its canceller).
Once delivered (`_interrupting`), failure handlers are skipped while the fiber is
interruptible, so only finalizers (which run uninterruptibly) see the interruption.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from time import perf_counter as _perf
from types import CoroutineType as _CoroutineType
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from ._cause import EMPTY, Cause, Die, Exit, Fail, Failure, Interrupt
from ._refs import FiberRefs, fork_refs, inherit_refs
from ._steps import STEP_FLOOR, TimedAwait
from ._wait import _new_waiter, _Waiter
from ._effect import (
    ASYNC, ATTEMPT, AWAIT, CALLBACK, FAIL, FLAT_MAP, FOLD, FORK, IN_SCOPE, MAP, NAMED, OP, PROVIDE,
    RESTORE_CONTEXT, RESTORE_SCOPE, RESTORE_STATUS, STATUS, SUCCEED, SUSPEND, SYNC, WAIT,
    WITH_FIBER, YIELD, Effect, _ForkOptions, _Instead, _is_awaitable, _make, cause_of, exit_effect, lift,
)

if TYPE_CHECKING:
    from ._context import Context
    from ._scheduler import Carrier, Scheduler
    from ._scope import Scope

__all__ = ["INTERNAL", "Fiber", "internal_name"]

E = TypeVar("E")
A = TypeVar("A")

# How many steps a fiber runs before it lets the event loop run others.
STEP_BUDGET: Final = 2048

NEW: Final = 0
READY: Final = 1
RUNNING: Final = 2
SUSPENDING: Final = 3
SUSPENDED: Final = 4
FINISHING: Final = 5
DONE: Final = 6

_STATE_NAMES: Final = ("new", "ready", "running", "suspending", "suspended", "finishing", "done")

# Fiber ids are unique in the process; traces renumber them from 1.
_FIBER_IDS: Final = itertools.count(1)

# The name prefix of the fibers effectpy forks for its own work (a timeout's timer, a
# stream's pumps): instruments and pictures tell them from the program's fibers by it.
INTERNAL: Final = "effectpy:"


def internal_name(role: str) -> str:
    """The name of an internal fiber doing ``role`` ("timeout timer", "buffer pump")."""
    return INTERNAL + role


class Fiber(Generic[E, A]):
    """A running (or finished) effect. Created by `Effect.fork`, never directly.

    Its methods return effects: `join()` (the value, or the failure), `await_()` (the
    `Exit`), `interrupt()` (the `Exit`, once the fiber's finalizers have run).
    """

    __slots__ = (
        "id", "name", "parent", "daemon", "_runtime", "_ctx", "_stack", "_interruptible",
        "_interruptor", "_interrupting", "_exit", "_observers", "_children", "_scope",
        "_own_scope", "_state", "_token", "_canceller", "_sync_wake", "_final", "_refs",
        "_forked_refs", "_reported", "_carrier", "source", "_named", "__weakref__",
    )

    id: int
    name: str | None
    parent: Fiber[Any, Any] | None
    daemon: bool
    _runtime: Scheduler
    _ctx: Context
    _stack: list[Effect[Any, Any, Any]]
    _interruptible: bool
    _interruptor: object
    _interrupting: bool
    _exit: Exit[A] | None
    _observers: Callable[[Exit[A]], None] | list[Callable[[Exit[A]], None]] | None
    _children: set[Fiber[Any, Any]] | None
    _scope: Scope | None
    _own_scope: Scope | None
    _state: int
    _token: int
    _canceller: Callable[[], object] | None
    _sync_wake: tuple[Effect[Any, Any, Any] | None, bool, Any] | None
    _final: tuple[bool, Any] | None
    _refs: FiberRefs | None
    _forked_refs: FiberRefs | None
    _reported: Cause | None
    _carrier: Carrier | None
    source: str | None
    _named: bool

    def __init__(self) -> None:
        raise TypeError("Fiber objects are made by effect.fork(), not constructed directly")

    @classmethod
    def _new(cls, runtime: Scheduler, ctx: Context, parent: Fiber[Any, Any] | None,
             name: str | None, daemon: bool) -> Fiber[Any, Any]:
        f: Fiber[Any, Any] = object.__new__(cls)
        f.id = next(_FIBER_IDS)
        f.name = name
        f.parent = parent
        f.daemon = daemon
        f._runtime = runtime
        f._ctx = ctx
        # Continuation frames (FLAT_MAP, MAP, FOLD nodes and RESTORE_* frames), innermost last.
        f._stack = []
        # Invariant: False exactly inside an uninterruptible region (and while finishing).
        f._interruptible = True
        # Who asked to interrupt (fiber id or HOST); None until someone does. Set once.
        f._interruptor = None
        # True once the interruption was delivered and the stack is unwinding because of it.
        f._interrupting = False
        # Invariant: not None exactly when _state == DONE.
        f._exit = None
        # Callbacks called once with the Exit; they must only schedule work, never run a loop.
        # None, one callback, or a list of them (most fibers have at most one: no list).
        f._observers = None
        # Live supervised children (forked, not daemon); a child removes itself on exit.
        f._children = None
        # The scope acquire_release registers in (set by scoped/IN_SCOPE); None: own scope.
        f._scope = None
        # Made on first use; closed with the fiber's exit when the fiber finishes.
        f._own_scope = None
        f._state = NEW
        # Bumped at each suspension and wake, so a stale wake-up is ignored.
        f._token = 0
        # Cancels the operation the fiber is suspended on; None when not suspended.
        f._canceller = None
        f._sync_wake = None
        f._final = None
        # FiberRef values (`_refs.py`); the map it started with, to see what it changed.
        refs = None if parent is None else parent._refs
        if refs is not None and refs.forking:
            refs = fork_refs(refs)
        f._refs = f._forked_refs = refs
        # The last failure cause reported to the instruments (each is reported once).
        f._reported = None
        # Invariant: once not None, the fiber's loop runs only in this carrier (every
        # resumption goes through it: `_resume`).
        f._carrier = None
        # file:line of the user code that made the fiber, when source capture is on.
        f.source = None
        # Invariant: True once `name` was given on purpose (`.named`, `fork(name=...)`, an
        # internal fiber's role); until then a `.named` the fiber runs names it (the name a
        # combinator gave, such as "zip_par[1]", or none, is only a default).
        f._named = False
        return f

    # --- public, effect-returning API --------------------------------------------------

    def join(self) -> Effect[Any, E, A]:
        """Wait for the fiber; succeed with its value (the `FiberRef` values it changed
        are then merged into the joiner's) or fail with its cause."""
        return _make(FLAT_MAP, self.await_(), self._joined)

    def _joined(self, exit_: Exit[A]) -> Effect[Any, Any, Any]:
        if not exit_._ok or self._refs is self._forked_refs:
            return exit_effect(exit_)

        def inherit(caller: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
            inherit_refs(caller, self)
            return _make(SUCCEED, exit_._value)
        return _make(WITH_FIBER, inherit)

    @staticmethod
    def join_all(fibers: Iterable[Fiber[E, A]]) -> Effect[Any, E, list[A]]:
        """Wait for every fiber; succeed with their values in order, or, once they have
        all ended, fail with the causes of those that failed (``Both``)."""
        from .._concurrent import join_all
        return join_all(fibers)

    @staticmethod
    def interrupt_all(fibers: Iterable[Fiber[Any, Any]]) -> Effect[Any, Any, None]:
        """Interrupt every fiber at once, and succeed once all their finalizers have run."""
        from .._concurrent import interrupt_all
        return interrupt_all(fibers)

    def await_(self) -> Effect[Any, Any, Exit[A]]:
        """Wait for the fiber and succeed with its `Exit` (never fails)."""
        return _make(CALLBACK, self._register_observer, "join")

    def interrupt(self) -> Effect[Any, Any, Exit[A]]:
        """Interrupt the fiber and succeed with its `Exit` once its finalizers have run.

        Interrupting a finished fiber returns its exit; interrupting twice is harmless."""
        def go(caller: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
            self.interrupt_as(caller.id, "interrupt()")
            if caller is self:
                # self-interruption: delivered at the next interruptible step (waiting for
                # our own exit here could only deadlock)
                return _make(SUCCEED, None)
            # the wait itself stays interruptible: a child interrupting its own parent
            # must not deadlock (the parent waits for its children as it ends)
            return self.await_()
        return _make(WITH_FIBER, go)

    def poll(self) -> Exit[A] | None:
        """The fiber's `Exit` if it has ended, else None."""
        return self._exit

    def is_done(self) -> bool:
        return self._exit is not None

    @property
    def state(self) -> str:
        return _STATE_NAMES[self._state]

    @property
    def internal(self) -> bool:
        """Whether effectpy forked this fiber for its own work (a timeout's timer, a
        stream's pump), rather than the program."""
        return self.name is not None and self.name.startswith(INTERNAL)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Fiber #{self.id}{label} {self.state}>"

    def _register_observer(self, caller: Fiber[Any, Any], resume: Callable[[bool, Any], None]) -> Callable[[], None] | None:
        inst = caller._runtime.instrument
        if inst is not None:
            inst.emit("fiber_joined", caller, self)
        if self._exit is not None:
            resume(True, self._exit)
            return None
        cb: Callable[[Exit[Any]], None] = lambda ex: resume(True, ex)
        self._observe(cb)

        def cancel() -> None:
            self._unobserve(cb)
            resume(False, EMPTY)
        return cancel

    def _observe(self, cb: Callable[[Exit[A]], None]) -> None:
        """Call ``cb(exit)`` when the fiber ends (the fiber must still be running)."""
        observers = self._observers
        if observers is None:
            self._observers = cb
        elif observers.__class__ is list:
            observers.append(cb)
        else:
            self._observers = [observers, cb]  # type: ignore[list-item]

    def _unobserve(self, cb: Callable[[Exit[A]], None]) -> None:
        observers = self._observers
        if observers is cb:
            self._observers = None
        elif observers.__class__ is list and cb in observers:
            observers.remove(cb)

    # --- interruption ------------------------------------------------------------------

    def interrupt_as(self, by: object, reason: str = "interrupted") -> None:
        """Request interruption (synchronous; see `interrupt()` for the effect). ``by`` is
        who asks (a fiber id, or "host"); ``reason`` says why, for traces."""
        if self._exit is not None or self._interruptor is not None:
            return
        self._interruptor = by
        inst = self._runtime.instrument
        if inst is not None:
            inst.emit("fiber_interrupted", self, by, reason)
        if self._state == SUSPENDED:
            self._interrupt_suspended()
        # READY / RUNNING / NEW: delivered at the next step

    def _interrupt_suspended(self) -> None:
        """Cancel the operation a suspended fiber waits on, if it may be interrupted now."""
        if not self._interruptible or self._interrupting:
            return
        c = self._canceller
        self._canceller = None
        if c is None:
            self._wake(self._token, None, False, EMPTY)
        else:
            c()

    def _deliver(self, extra: Any) -> Cause:
        self._interrupting = True
        inst = self._runtime.instrument
        if inst is not None:
            inst.emit("fiber_unwinding", self)
        cause: Cause = Interrupt(self._interruptor)
        if isinstance(extra, Cause) and not extra.is_empty() and not extra.is_interrupted_only():
            cause = cause.then(extra)
        return cause

    # --- scheduling --------------------------------------------------------------------

    def _start(self, eff: Effect[Any, Any, Any]) -> None:
        self._state = READY
        tag = eff._tag
        if tag == NAMED:
            tag = eff._a._tag
        if tag == ASYNC or tag == AWAIT:
            # it begins by awaiting a coroutine: start it in its carrier at once (one trip
            # round the event loop, not one to start its loop and one to start its carrier)
            self._carrier = self._runtime.carry(self, None, eff)
        else:
            self._runtime.call_soon(self._loop, eff, True, None)

    def _wake(self, token: int, eff: Effect[Any, Any, Any] | None, ok: bool, val: Any) -> None:
        if token != self._token:
            return  # a wake-up for an operation the fiber no longer waits on
        self._token = token + 1
        self._canceller = None
        if self._state == SUSPENDING:
            self._sync_wake = (eff, ok, val)
        else:
            self._state = READY
            inst = self._runtime.instrument
            if inst is not None:
                inst.emit("fiber_resumed", self)
            self._resume(eff, ok, val)

    def _resume(self, eff: Effect[Any, Any, Any] | None, ok: bool, val: Any) -> None:
        """Run the loop again: in the fiber's carrier if it has one, else from a callback."""
        carrier = self._carrier
        if carrier is None:
            self._runtime.call_soon(self._loop, eff, ok, val)
        else:
            carrier.wake(eff, ok, val)

    def _end_await(self) -> None:
        """The carrier's inline await has ended: the fiber is no longer suspended in it."""
        self._token += 1
        self._canceller = None
        self._state = READY
        inst = self._runtime.instrument
        if inst is not None:
            inst.emit("fiber_resumed", self)

    def _awaited(self, ok: bool, val: Any) -> None:
        """`_end_await`, then `_after_await`, in one call (the carrier's hot path: once
        per await)."""
        self._token += 1
        self._canceller = None
        self._state = READY
        inst = self._runtime.instrument
        if inst is not None:
            inst.emit("fiber_resumed", self)
        if ok and isinstance(val, Effect):
            self._loop(val, True, None)
        else:
            self._loop(None, ok, val)

    def _after_await(self, ok: bool, val: Any) -> None:
        """Run the loop on, in the carrier, with what the await gave."""
        if ok and isinstance(val, Effect):  # an awaitable that gives an Effect: run it
            self._loop(val, True, None)
        else:
            self._loop(None, ok, val)

    def current_scope(self) -> Scope:
        """The scope that `acquire_release` registers in: the innermost `scoped`, or the
        fiber's own scope (closed when the fiber ends)."""
        if self._scope is not None:
            return self._scope
        if self._own_scope is None:
            from ._scope import Scope
            self._own_scope = Scope()
        return self._own_scope

    def _fork(self, eff: Effect[Any, Any, Any], opts: _ForkOptions, name: str | None = None,
              source: str | None = None) -> Fiber[Any, Any]:
        label = opts.name
        named = eff._tag == NAMED
        if label is None:
            label = eff._b if named else name
        if opts.scope is not None and opts.scope.closed:
            raise RuntimeError("fork_in: the scope is already closed; fork into an open Scope")
        child = Fiber._new(self._runtime, self._ctx, self, label, opts.daemon)
        child._named = named or opts.name is not None
        child.source = (eff._c if named else None) or opts.source or source
        if not opts.daemon:
            if self._children is None:
                self._children = set()
            self._children.add(child)
        elif opts.scope is not None:
            scope = opts.scope
            key = scope._add(lambda _exit: child.interrupt())
            # once the child has ended, the scope need not remember it
            child._observe(lambda _exit: scope._discard(key))
        else:
            self._runtime.track_daemon(child)
        inst = self._runtime.instrument
        if inst is not None:
            inst.emit("fiber_started", child, self)
        child._state = READY
        return child

    def _child_done(self, child: Fiber[Any, Any]) -> None:
        children = self._children
        if children is not None:
            children.discard(child)
            if not children and self._state == FINISHING:
                self._state = READY
                final = self._final
                assert final is not None
                self._resume(None, final[0], final[1])

    # --- the run loop ------------------------------------------------------------------

    def _loop(self, eff: Effect[Any, Any, Any] | None, ok: bool, val: Any) -> None:
        inst = self._runtime.instrument
        led = inst.ledger if inst is not None else None  # time the slice (`_steps.py`)
        if led is not None:
            before = led.charged
            start = _perf()
        else:
            before = start = 0.0
        self._state = RUNNING
        stack = self._stack
        push = stack.append
        pop = stack.pop
        budget = STEP_BUDGET
        if self._interruptor is not None and self._interruptible and not self._interrupting:
            if ok and val.__class__ is _Waiter:
                val.pass_on()  # signalled in a WAIT, but interrupted before it could retry
            val = self._deliver(None if ok else val)
            eff = None
            ok = False
        while True:
            if eff is not None:
                if self._interruptor is not None and self._interruptible and not self._interrupting:
                    eff = None
                    ok = False
                    val = self._deliver(None)
                    continue
                budget -= 1
                if budget == 0:
                    self._yield(eff)
                    break
                tag = eff._tag
                if tag == FLAT_MAP:
                    inner = eff._a
                    itag = inner._tag
                    if itag == SUCCEED or itag == OP:
                        # fast paths, without a frame: succeed(x).flat_map(f) calls f(x); an
                        # operation that completes at once is run, then f, in this one step
                        # (the frame would be popped at once, and popping a frame never
                        # checks for interruption). One try block: the loop's hot path must
                        # stay small (short jumps keep their comparisons specialized)
                        try:
                            if itag == SUCCEED:
                                v = inner._a
                            else:
                                f = inner._a
                                v = f(inner._b, inner._c)
                                if type(v) is _Instead:
                                    push(eff)
                                    eff = v.effect
                                    continue
                            f = eff._b
                            eff = f(v)
                            if eff.__class__ is not Effect:
                                eff = lift(eff, "flat_map's function")
                        except BaseException as exc:  # noqa: BLE001
                            ok = False
                            val = cause_of(exc)
                            eff = None
                    else:
                        # descend a left-nested chain in one go: pushing runs no user code,
                        # so nothing between these nodes needs a check
                        while itag == FLAT_MAP:
                            push(eff)
                            eff = inner
                            inner = eff._a
                            itag = inner._tag
                        push(eff)
                        eff = inner
                elif tag == MAP or tag == FOLD:
                    push(eff)
                    eff = eff._a
                elif tag == SUCCEED:
                    ok = True
                    val = eff._a
                    eff = None
                elif tag == SUSPEND:
                    try:
                        f = eff._a
                        eff = f()
                        if eff.__class__ is not Effect:
                            eff = lift(eff, "suspend's function")
                    except BaseException as exc:  # noqa: BLE001
                        ok = False
                        val = cause_of(exc)
                        eff = None
                elif tag == SYNC:
                    try:
                        f = eff._a
                        val = f()
                        ok = True
                    except BaseException as exc:  # noqa: BLE001 - every escape is a defect
                        ok = False
                        val = cause_of(exc)
                    eff = None
                elif tag == OP:
                    try:
                        f = eff._a
                        val = f(eff._b, eff._c)
                    except BaseException as exc:  # noqa: BLE001 - every escape is a defect
                        ok = False
                        val = cause_of(exc)
                        eff = None
                        continue
                    if type(val) is _Instead:
                        eff = val.effect
                    else:
                        ok = True
                        eff = None
                elif tag == FAIL:
                    ok = False
                    val = eff._a
                    eff = None
                elif tag == CALLBACK:
                    token = self._token = self._token + 1
                    self._state = SUSPENDING
                    self._sync_wake = None

                    def resume(ok: bool, val: Any, _token: int = token) -> None:
                        self._wake(_token, None, ok, val)

                    try:
                        canceller = eff._a(self, resume)
                    except BaseException as exc:  # noqa: BLE001
                        self._token += 1
                        self._state = RUNNING
                        ok = False
                        val = cause_of(exc)
                        eff = None
                        continue
                    woke = self._sync_wake
                    if woke is not None:
                        self._sync_wake = None
                        self._state = RUNNING
                        eff, ok, val = woke
                        continue
                    self._state = SUSPENDED
                    self._canceller = canceller
                    inst = self._runtime.instrument
                    if inst is not None:
                        inst.emit("fiber_suspended", self, eff._b or "callback")
                    if self._interruptor is not None:
                        self._interrupt_suspended()  # requested while registering
                    break
                elif tag == WAIT:
                    try:
                        f = eff._b
                        now = f()
                    except BaseException as exc:  # noqa: BLE001
                        ok = False
                        val = cause_of(exc)
                        eff = None
                        continue
                    if now:
                        eff = eff._c
                        continue
                    # wait in the deque: the waiter is the canceller (see _wait.py)
                    w = _new_waiter()
                    w.fiber = self
                    w.token = self._token = self._token + 1
                    w.waiters = waiters = eff._a
                    w.then = eff._c
                    waiters.append(w)
                    self._state = SUSPENDED
                    self._canceller = w
                    inst = self._runtime.instrument
                    if inst is not None:
                        inst.emit("fiber_suspended", self, _wait_label(eff._c))
                    if self._interruptor is not None:
                        self._interrupt_suspended()
                    break
                elif tag == ASYNC or tag == AWAIT:
                    try:
                        if tag == AWAIT:
                            aw = eff._a.take()
                        else:
                            aw = eff._a(self._ctx) if eff._b else eff._a()
                    except BaseException as exc:  # noqa: BLE001
                        ok = False
                        val = cause_of(exc)
                        eff = None
                        continue
                    if isinstance(aw, Effect):
                        eff = aw
                        continue
                    if aw.__class__ is not _CoroutineType and not _is_awaitable(aw):
                        ok = False
                        val = Die(TypeError(
                            f"the function given to {'Effect' if eff._b else 'from_async'} must "
                            f"return an awaitable (or an Effect), got {type(aw).__name__} {aw!r}"
                        ))
                        eff = None
                        continue
                    self._token += 1
                    self._state = SUSPENDED
                    inst = self._runtime.instrument
                    if led is not None and inst is not None:
                        aw = TimedAwait(aw, self, inst, led)  # the coroutine's steps are timed
                    carrier = self._carrier
                    if carrier is None:
                        carrier = self._carrier = self._runtime.carry(self, aw, None)
                    else:
                        carrier.aw = aw  # the carrier awaits it as soon as this loop returns
                    self._canceller = carrier
                    if inst is not None:
                        inst.emit("fiber_suspended", self, "await")
                    if self._interruptor is not None:
                        self._interrupt_suspended()
                    break
                elif tag == ATTEMPT:
                    try:
                        val = eff._a()
                        ok = True
                    except Exception as exc:
                        ok = False
                        val = exc.cause if isinstance(exc, Failure) else Fail(exc)
                    except BaseException as exc:  # noqa: BLE001
                        ok = False
                        val = Die(exc)
                    eff = None
                elif tag == STATUS:
                    want = eff._b
                    if want != self._interruptible:
                        stack.append(_RESTORE_INTERRUPTIBLE if self._interruptible
                                     else _RESTORE_UNINTERRUPTIBLE)
                        self._interruptible = want
                    eff = eff._a
                elif tag == WITH_FIBER:
                    try:
                        eff = _coerce(eff._a(self))
                    except BaseException as exc:  # noqa: BLE001
                        ok = False
                        val = cause_of(exc)
                        eff = None
                elif tag == PROVIDE:
                    stack.append(_make(RESTORE_CONTEXT, self._ctx))
                    self._ctx = eff._b
                    eff = eff._a
                elif tag == IN_SCOPE:
                    stack.append(_make(RESTORE_SCOPE, self._scope))
                    self._scope = eff._b
                    eff = eff._a
                elif tag == FORK:
                    try:
                        child = self._fork(eff._a, eff._b)
                    except BaseException as exc:  # noqa: BLE001 - e.g. fork_in a closed scope
                        ok = False
                        val = cause_of(exc)
                        eff = None
                        continue
                    # forked in an uninterruptible region, it starts uninterruptible (ZIO's
                    # rule): it enters its finalizers' regions before an interruption lands
                    child._interruptible = self._interruptible
                    child._start(eff._a)
                    ok = True
                    val = child
                    eff = None
                elif tag == YIELD:
                    self._yield(None)
                    break
                elif tag == NAMED:
                    if not self._named:
                        # `.named` inside a branch names the fiber that runs it (from here
                        # on: every event the instruments see after this carries the name)
                        self.name = eff._b
                        self._named = True
                    eff = eff._a
                else:
                    ok = False
                    val = Die(RuntimeError(f"unknown effect node {tag!r}"))
                    eff = None
            else:
                if not stack:
                    eff = self._finish(ok, val)
                    if eff is None:
                        break
                    ok = True
                    val = None
                    continue
                frame = pop()
                tag = frame._tag
                if ok:
                    if tag == FLAT_MAP:
                        try:
                            f = frame._b
                            eff = f(val)
                            if eff.__class__ is not Effect:
                                eff = lift(eff, "flat_map's function")
                            elif eff._tag == SUCCEED:  # fast path: keep unwinding
                                val = eff._a
                                eff = None
                        except BaseException as exc:  # noqa: BLE001
                            ok = False
                            val = cause_of(exc)
                            eff = None
                    elif tag == MAP:
                        try:
                            f = frame._b
                            val = f(val)
                        except BaseException as exc:  # noqa: BLE001
                            ok = False
                            val = cause_of(exc)
                    elif tag == FOLD:
                        handler = frame._c
                        if handler is not None:
                            try:
                                eff = _coerce(handler(val))
                            except BaseException as exc:  # noqa: BLE001
                                ok = False
                                val = cause_of(exc)
                    elif tag == RESTORE_STATUS:
                        self._interruptible = frame._a
                        if frame._a and self._interruptor is not None and not self._interrupting:
                            ok = False
                            val = self._deliver(None)
                    elif tag == RESTORE_CONTEXT:
                        self._ctx = frame._a
                    elif tag == RESTORE_SCOPE:
                        self._scope = frame._a
                else:
                    if val is not self._reported:
                        self._report_failure(val)
                    if tag == FOLD:
                        if self._interrupting:
                            if self._interruptible:
                                continue  # interruption is not recoverable here
                            # a handler in an uninterruptible region sees the interruption;
                            # it is delivered again at the next interruptible point
                            self._interrupting = False
                        try:
                            eff = _coerce(frame._b(val))
                        except BaseException as exc:  # noqa: BLE001
                            val = val.then(cause_of(exc))
                    elif tag == RESTORE_STATUS:
                        self._interruptible = frame._a
                        if frame._a and self._interruptor is not None and not self._interrupting:
                            self._interrupting = True
                            inst = self._runtime.instrument
                            if inst is not None:
                                inst.emit("fiber_unwinding", self)
                            if not val.interruptors():
                                val = val.both(Interrupt(self._interruptor))
                    elif tag == RESTORE_CONTEXT:
                        self._ctx = frame._a
                    elif tag == RESTORE_SCOPE:
                        self._scope = frame._a
        if led is not None:  # the slice has ended: charge it (`Ledger.charge`, inlined)
            charged = led.charged
            own = _perf() - start - (charged - before)
            led.charged = charged + own
            if own >= STEP_FLOOR and inst is not None:
                inst.emit("fiber_step", self, own, None)

    def _yield(self, eff: Effect[Any, Any, Any] | None) -> None:
        """Let the event loop run others, then go on with ``eff`` (None: the value)."""
        self._state = READY
        carrier = self._carrier
        if carrier is None:
            self._runtime.call_soon(self._loop, eff, True, None)
        else:
            carrier.pause(eff)

    def _report_failure(self, cause: Cause) -> None:
        self._reported = cause
        inst = self._runtime.instrument
        if inst is not None and not cause.is_interrupted_only():
            inst.emit("fiber_failed", self, cause)

    def _finish(self, ok: bool, val: Any) -> Effect[Any, Any, Any] | None:
        """The stack is empty: interrupt and await children, close the own scope, end.

        Returns an effect to run first (closing the fiber's scope), or None once the fiber
        is done or waits for its children."""
        self._interruptible = False
        if not ok and val is not self._reported:
            self._report_failure(val)
        if self._children:
            self._state = FINISHING
            self._final = (ok, val)
            for child in list(self._children):
                child.interrupt_as(self.id, "parent ended")
            return None
        scope = self._own_scope
        if scope is not None:
            self._own_scope = None
            exit_: Exit[Any] = Exit(True, val, EMPTY) if ok else Exit(False, None, val)
            closing = scope.close(exit_)
            if ok:
                return _make(FOLD, closing, _make_fail, lambda _: _make(SUCCEED, val))
            return _make(FOLD, closing, lambda c2: _make(FAIL, val.then(c2)), lambda _: _make(FAIL, val))
        exit_ = Exit(True, val, EMPTY) if ok else Exit(False, None, val)
        self._exit = exit_
        self._state = DONE
        self._canceller = None
        inst = self._runtime.instrument
        if inst is not None:
            inst.emit("fiber_ended", self, exit_)
        parent = self.parent
        if parent is not None and not self.daemon:
            parent._child_done(self)
        observers = self._observers
        if observers is not None:
            self._observers = None
            if observers.__class__ is list:
                for cb in observers:
                    cb(exit_)
            else:
                observers(exit_)  # type: ignore[operator]
        return None


# The two RESTORE_STATUS frames (frames are never changed, so they are shared).
_RESTORE_INTERRUPTIBLE: Final = _make(RESTORE_STATUS, True)
_RESTORE_UNINTERRUPTIBLE: Final = _make(RESTORE_STATUS, False)


def _wait_label(then: Effect[Any, Any, Any]) -> str:
    """What a WAIT node waits for, for the instruments: the label of its retry (a SUCCEED
    node that carries one in ``b``, see `_queue._resumed`), or the retry's name."""
    if then._tag == SUCCEED and then._b is not None:
        return str(then._b)
    if then._tag == OP:
        return str(getattr(then._a, "__qualname__", "wait"))
    return "wait"


def _make_fail(cause: Cause) -> Effect[Any, Any, Any]:
    return _make(FAIL, cause)


def _coerce(x: object) -> Effect[Any, Any, Any]:
    if x.__class__ is Effect:
        return x
    return lift(x, "the function")

