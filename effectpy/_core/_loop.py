"""The run loop: how a fiber interprets `Effect` nodes (`Fiber._loop` is `run_loop`).

One call runs a fiber from a node (or from the outcome of what it waited for) until it
suspends (an awaitable, a callback, a WAIT in a queue's deque), yields (its step budget
spent, or `yield_now`), or ends. Continuations are frames on the fiber's explicit stack
(FLAT_MAP, MAP, FOLD, and the RESTORE_* frames that undo STATUS, PROVIDE and IN_SCOPE), so
the loop runs in constant Python stack however deep the program. Interruption is checked
before each node that runs while the fiber is interruptible (the descent into a left-nested
chain of flat_maps only pushes frames); popping a frame never checks it. When an
instrument records, the slice is timed as one step (`_steps.py`).

A fiber in a carrier spends most of its life between two awaits. The commonest ways from
one to the next skip the loop while nothing records and no interruption is pending
(`resume_awaited`, `start_loop`, `begin_async`): they do what the loop would do, looking
for an interruption where it would, and hand anything else over to it mid-step.

The fiber's states (see `_fiber` for its life) are defined here, where the loop moves it
between them.
"""

from __future__ import annotations

from time import perf_counter as _perf
from types import CoroutineType as _CoroutineType
from typing import TYPE_CHECKING, Any, Final

from ._cause import Die, Fail, Failure, Interrupt
from ._effect import Effect, _make, cause_of, lift
from ._nodes import (
    ASYNC, ATTEMPT, AWAIT, CALLBACK, FAIL, FLAT_MAP, FOLD, FORK, IN_SCOPE, MAP, NAMED, OP, PROVIDE,
    RESTORE_CONTEXT, RESTORE_SCOPE, RESTORE_STATUS, STATUS, SUCCEED, SUSPEND, SYNC, WAIT, WITH_FIBER, YIELD,
    _Instead, _is_awaitable,
)
from ._steps import STEP_FLOOR, TimedAwait
from ._wait import _new_waiter, _Waiter

if TYPE_CHECKING:
    from ._fiber import Fiber
    from ._scheduler import Carrier

__all__ = ["DONE", "FINISHING", "NEW", "READY", "RUNNING", "STEP_BUDGET", "SUSPENDED", "SUSPENDING",
           "begin_async", "resume_awaited", "run_loop", "start_loop"]

# How many steps a fiber runs before it lets the event loop run others.
STEP_BUDGET: Final = 2048

# A fiber's states.
NEW: Final = 0
READY: Final = 1
RUNNING: Final = 2
SUSPENDING: Final = 3
SUSPENDED: Final = 4
FINISHING: Final = 5
DONE: Final = 6


def run_loop(self: Fiber[Any, Any], eff: Effect[Any, Any, Any] | None, ok: bool, val: Any,
             mid_step: bool = False) -> None:
    """Run ``self`` from ``eff`` (None: go on with ``ok``/``val``, the outcome of what
    the fiber waited for) until it suspends, yields or ends: `Fiber._loop`.

    A fiber that resumes is interrupted at once if it was asked to be. ``mid_step``: go on
    from within a step instead (a fast path's hand-over, see below), where the loop itself
    would not look: a value or a failure unwinds the frames first."""
    inst = self._runtime.instrument
    led = inst.ledger if inst is not None else None  # time the slice (`_steps.py`)
    if led is not None:
        before = led.charged
        start = _perf()
    else:
        before = start = 0.0
    self._state = RUNNING
    stack = self._stack
    if stack is None:
        stack = self._stack = []
    push = stack.append
    pop = stack.pop
    budget = STEP_BUDGET
    if self._interruptor is not None and self._interruptible and not self._interrupting and not mid_step:
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
                if itag == SUCCEED or itag == OP or itag == FORK:
                    # fast paths, without a frame: succeed(x).flat_map(f) calls f(x); an
                    # operation that completes at once (or a fork) is run, then f, in this
                    # one step (the frame would be popped at once, and popping a frame never
                    # checks for interruption). One try block: the loop's hot path must
                    # stay small (short jumps keep their comparisons specialized)
                    try:
                        if itag == SUCCEED:
                            v = inner._a
                        elif itag == OP:
                            f = inner._a
                            v = f(inner._b, inner._c, self)
                            if type(v) is _Instead:
                                push(eff)
                                eff = v.effect
                                continue
                        else:
                            v = self._fork_start(inner)
                        f = eff._b
                        eff = f(v)
                        if eff.__class__ is not Effect:
                            eff = lift(eff, "flat_map's function")
                    except BaseException as exc:  # noqa: BLE001
                        ok = False
                        val = cause_of(exc)
                        eff = None
                else:
                    # descend a left-nested chain in one go: pushing runs no user code, so
                    # no interruption check is needed between these nodes (they count
                    # against the budget all the same)
                    while itag == FLAT_MAP and budget > 1:
                        push(eff)
                        budget -= 1
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
                    val = f(eff._b, eff._c, self)
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
                    val = _not_awaitable(eff, aw)
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
                    val = self._fork_start(eff)
                    ok = True
                except BaseException as exc:  # noqa: BLE001 - e.g. fork_in a closed scope
                    ok = False
                    val = cause_of(exc)
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


def resume_awaited(self: Fiber[Any, Any], ok: bool, val: Any) -> None:
    """A carried fiber's inline await has ended with ``ok``/``val``: go on (`Fiber._awaited`).

    Two shapes are common enough to go on without entering the loop while nothing records
    and no interruption is pending: the fiber's last await has ended (finish it), or a
    FLAT_MAP frame's function gives the next ``Effect(async ...)`` body (``for_each``, a
    chain of coroutines: start it, leaving its coroutine to the carrier). Interruption is
    looked for where the loop looks (before a node runs, not after a function returns);
    anything else runs the loop, from the point this got to."""
    self._token += 1
    self._canceller = None
    inst = self._runtime.instrument
    if inst is not None:
        inst.emit("fiber_resumed", self)
    carrier: Carrier = self._carrier  # type: ignore[assignment]
    carrier.budget -= 1
    if carrier.budget == 0:
        # let the others run now and then, even when no coroutine ever suspends (as the
        # loop does every STEP_BUDGET steps; a fiber whose awaits do suspend makes one more
        # trip round the event loop every STEP_BUDGET awaits)
        carrier.budget = STEP_BUDGET
        self._state = READY
        if ok and isinstance(val, Effect):
            carrier.pause(val)
        else:
            carrier.pause(None, ok, val)
        return
    self._state = RUNNING
    if inst is None and self._interruptor is None and not (ok and isinstance(val, Effect)):
        stack = self._stack
        if not stack:
            eff = self._finish(ok, val)
            if eff is not None:
                self._loop(eff, True, None)  # the fiber's scope closes first
            return
        if ok and stack[-1]._tag == FLAT_MAP:
            try:
                f = stack.pop()._b
                eff = f(val)
                if eff.__class__ is not Effect:
                    eff = lift(eff, "flat_map's function")
            except BaseException as exc:  # noqa: BLE001
                self._loop(None, False, cause_of(exc), True)  # unwinding
                return
            if eff._tag == SUCCEED:
                self._loop(None, True, eff._a, True)  # unwinding
                return
            node = eff._a if eff._tag == FLAT_MAP else eff
            if node._tag == ASYNC and node._b and self._interruptor is None:
                if node is not eff:
                    stack.append(eff)
                begin_async(self, node)
            else:
                self._loop(eff, True, None)  # (interrupted before the node, if asked)
            return
    self._after_await(ok, val)


def start_loop(self: Fiber[Any, Any], eff: Effect[Any, Any, Any]) -> None:
    """Run ``self`` from ``eff``, its first node (`Fiber._begin`): the loop, or, for a lone
    ``Effect(async ...)`` body while nothing records and no interruption is pending,
    `begin_async`."""
    if eff._tag == ASYNC and eff._b and self._interruptor is None and self._runtime.instrument is None:
        self._state = RUNNING
        begin_async(self, eff)
    else:
        self._loop(eff, True, None)


def begin_async(self: Fiber[Any, Any], node: Effect[Any, Any, Any]) -> None:
    """Run the ASYNC node ``node`` (``Effect(fn)``: ``fn`` takes the context) as the loop
    does, while nothing records and once the loop would have looked for an interruption:
    call ``fn`` and leave the awaitable to the fiber's carrier (made now if it has none),
    the fiber suspended in it. A function that fails, or gives an Effect or no awaitable,
    goes on in the loop from there."""
    try:
        f = node._a
        aw = f(self._ctx)
    except BaseException as exc:  # noqa: BLE001
        self._loop(None, False, cause_of(exc), True)  # unwinding
        return
    if aw.__class__ is not _CoroutineType:
        if isinstance(aw, Effect):
            self._loop(aw, True, None)
            return
        if not _is_awaitable(aw):
            self._loop(None, False, _not_awaitable(node, aw), True)  # unwinding
            return
    self._token += 1
    self._state = SUSPENDED
    carrier = self._carrier
    if carrier is None:
        carrier = self._carrier = self._runtime.carry(self, aw, None)
    else:
        carrier.aw = aw
    self._canceller = carrier
    if self._interruptor is not None:
        self._interrupt_suspended()  # requested while ``fn`` ran


def _not_awaitable(eff: Effect[Any, Any, Any], aw: object) -> Die:
    """The defect of an ASYNC node whose function returned ``aw``, not an awaitable."""
    return Die(TypeError(
        f"the function given to {'Effect' if eff._b else 'from_async'} must "
        f"return an awaitable (or an Effect), got {type(aw).__name__} {aw!r}"
    ))


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


def _coerce(x: object) -> Effect[Any, Any, Any]:
    if x.__class__ is Effect:
        return x
    return lift(x, "the function")
