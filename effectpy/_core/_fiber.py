"""`Fiber`: a running effect, its life, and what others do with it (join, interrupt,
observe); its run loop, which interprets `Effect` nodes, is `_loop.run_loop`.

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
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from ._cause import EMPTY, Cause, Exit, Interrupt
from ._effect import Effect, _make, exit_effect
from ._nodes import (
    ASYNC, AWAIT, CALLBACK, FAIL, FLAT_MAP, FOLD, NAMED, OP, SUCCEED, WITH_FIBER, _ForkOptions, _Instead,
)
from ._loop import DONE, FINISHING, NEW, READY, SUSPENDED, SUSPENDING, resume_awaited, run_loop, start_loop
from ._refs import FiberRefs, fork_refs, inherit_refs

if TYPE_CHECKING:
    from ._context import Context
    from ._scheduler import Carrier, Scheduler
    from ._scope import Scope

__all__ = ["INTERNAL", "Fiber", "internal_name"]

E = TypeVar("E")
A = TypeVar("A")

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
    _stack: list[Effect[Any, Any, Any]] | None
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
        # Continuation frames (FLAT_MAP, MAP, FOLD nodes and RESTORE_* frames), innermost
        # last; None until the loop first runs (a fiber that only awaits one coroutine never
        # needs one).
        f._stack = None
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
        return _make(OP, _exit_now, self, None)

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
        # (the join was reported by `_exit_now`, which made way for this)
        if self._exit is not None:  # (it ended meanwhile: a step budget spent let others run)
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
        inst = self._runtime.instrument
        if inst is not None:  # (before the child is registered: should this raise, no one waits for it)
            hook = inst.started
            try:
                hook(child, self)
            except Exception as exc:  # noqa: BLE001 - a broken instrument must not break the run
                inst.hook_failed(hook, "fiber_started", exc)
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
        child._state = READY
        return child

    def _fork_start(self, node: Effect[Any, Any, Any]) -> Fiber[Any, Any]:
        """Run a FORK node: fork its effect as a child and start it."""
        child = self._fork(node._a, node._b)
        # forked in an uninterruptible region, it starts uninterruptible (ZIO's rule): it
        # enters its finalizers' regions before an interruption lands
        child._interruptible = self._interruptible
        child._start(node._a)
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

    # its run loop (`_loop.py`), run on callbacks or in its carrier
    _loop = run_loop
    # the carrier's inline await has ended: go on (`_loop.py`)
    _awaited = resume_awaited
    # run from the first node (`_loop.py`)
    _begin = start_loop

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
            hook = inst.ended
            try:
                hook(self, exit_)
            except Exception as exc:  # noqa: BLE001 - a broken instrument must not break the run
                inst.hook_failed(hook, "fiber_ended", exc)
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


def _exit_now(fiber: Fiber[Any, Any], _: None, caller: Fiber[Any, Any]) -> Any:
    """`Fiber.await_`'s operation (the join is reported here, once): the exit of a fiber
    that has ended, at once, else wait for it."""
    inst = caller._runtime.instrument
    if inst is not None:
        hook = inst.joined
        try:
            hook(caller, fiber)
        except Exception as exc:  # noqa: BLE001 - a broken instrument must not break the run
            inst.hook_failed(hook, "fiber_joined", exc)
    exit_ = fiber._exit
    if exit_ is None:
        return _Instead(_make(CALLBACK, fiber._register_observer, "join"))
    return exit_


_exit_now.__qualname__ = "join / await fiber"  # as the effect trees and the repr name it


def _make_fail(cause: Cause) -> Effect[Any, Any, Any]:
    return _make(FAIL, cause)
