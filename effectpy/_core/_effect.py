"""`Effect`: an immutable description of a program, built from a small set of primitive nodes.

Nothing here runs anything: every constructor and combinator builds nodes, and the fiber
run loop (`_fiber.py`) interprets them. An effect can be run any number of times; each run
repeats its side effects.

The primitive nodes (``Effect._tag``) and their fields::

    SUCCEED    a=value
    FAIL       a=Cause
    SYNC       a=thunk()                      exceptions become defects (Die)
    ATTEMPT    a=thunk()                      exceptions become typed failures (Fail)
    SUSPEND    a=thunk() -> Effect
    OP         a=fn(b, c) -> value, or _Instead(effect): that effect runs in the node's place
                                          (a library operation's synchronous fast path,
                                          with a slow path; exceptions become defects;
                                          ``fn.undo(b, c, value)``, if any, gives a value
                                          back: `_runtime._hand_back`)
    ASYNC      a=fn(ctx) -> awaitable         the guide's Effect(fn); an Effect result is run
    AWAIT      a=_OneShot(awaitable)          a lifted coroutine: runs once, then is spent
    CALLBACK   a=register(fiber, resume) -> canceller | None
    WAIT       a=deque of _Waiter, b=ready() -> bool, c=then (an effect)
                                          run `then` if ready(), else wait in the deque
                                          until signalled, then run it (`_wait.py`)
    FLAT_MAP   a=effect, b=f(value) -> Effect
    MAP        a=effect, b=f(value) -> value
    FOLD       a=effect, b=on_failure(cause) -> Effect, c=on_success(value) -> Effect | None
    STATUS     a=effect, b=interruptible?     run `a` (un)interruptibly
    WITH_FIBER a=f(fiber) -> Effect           read the running fiber (context, scope, status)
    PROVIDE    a=effect, b=Context
    IN_SCOPE   a=effect, b=Scope              acquire_release in `a` registers in the scope b
    FORK       a=effect, b=_ForkOptions
    YIELD      (none)                         let other fibers and tasks run
    NAMED      a=effect, b=label, c=source (file:line) or None

Composite combinators (``zip_par``, ``race``, ``timeout``, ``acquire_release``, ``scoped``,
``ensuring``, ``sleep``, ``for_each``, ...) put a `_Shape` in ``c`` of their outer CALLBACK,
WITH_FIBER, STATUS or SUSPEND node (where ``c`` is otherwise unused): what the node was built from, for pictures
(`effectpy.trace.effect_tree`). The run loop never reads it.
"""

from __future__ import annotations

import inspect
from types import FunctionType as _FunctionType
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from typing import (
    TYPE_CHECKING, Any, Final, Generic, Literal, NamedTuple, NoReturn, TypeVar, cast, overload,
)

from ._cause import Cause, Die, Exit, Fail, Failure
from ._duration import Duration, to_seconds
from ._hooks import user_location

if TYPE_CHECKING:
    from .._schedule import Schedule
    from ._context import Context
    from ._fiber import Fiber
    from ._scope import Scope

__all__ = ["Effect"]

R = TypeVar("R")
E = TypeVar("E")
A = TypeVar("A")
T = TypeVar("T")
B = TypeVar("B")
C = TypeVar("C")
E2 = TypeVar("E2")
R_co = TypeVar("R_co", covariant=True)
E_co = TypeVar("E_co", covariant=True)
A_co = TypeVar("A_co", covariant=True)

# Node tags, ordered roughly by how often the run loop meets them.
FLAT_MAP: Final = 0
MAP: Final = 1
SUCCEED: Final = 2
SYNC: Final = 3
FOLD: Final = 4
FAIL: Final = 5
ASYNC: Final = 6
AWAIT: Final = 7
CALLBACK: Final = 8
SUSPEND: Final = 9
ATTEMPT: Final = 10
STATUS: Final = 11
WITH_FIBER: Final = 12
PROVIDE: Final = 13
IN_SCOPE: Final = 14
FORK: Final = 15
YIELD: Final = 16
NAMED: Final = 17
OP: Final = 18
WAIT: Final = 19
# Frames pushed by the run loop itself (never built by users).
RESTORE_STATUS: Final = 20
RESTORE_CONTEXT: Final = 21
RESTORE_SCOPE: Final = 22

TAG_NAMES: Final = {
    FLAT_MAP: "flat_map", MAP: "map", SUCCEED: "succeed", SYNC: "sync", FOLD: "fold",
    FAIL: "fail", ASYNC: "async", AWAIT: "await", CALLBACK: "callback", SUSPEND: "suspend",
    ATTEMPT: "attempt", STATUS: "status", WITH_FIBER: "with_fiber", PROVIDE: "provide",
    IN_SCOPE: "in_scope", FORK: "fork", YIELD: "yield", NAMED: "named", OP: "op",
    WAIT: "wait",
}


class _OneShot:
    """A coroutine or awaitable lifted into an effect: it can be awaited only once."""

    __slots__ = ("awaitable", "what")

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable: Awaitable[Any] | None = awaitable
        self.what = _describe(awaitable)

    def take(self) -> Awaitable[Any]:
        aw = self.awaitable
        if aw is None:
            raise RuntimeError(
                f"this effect was lifted from {self.what}, which can be awaited only once, "
                "and it has already run; to make an effect you can run again, pass the "
                "function instead: from_async(lambda: ...)"
            )
        self.awaitable = None
        return aw

    def discard(self) -> None:
        """Close an unstarted coroutine that will never run."""
        aw = self.awaitable
        if aw is not None and inspect.iscoroutine(aw):
            self.awaitable = None
            aw.close()


class _Instead:
    """What an OP node's function returns to run an effect in the node's place (its slow
    path) instead of succeeding with a value. Library-internal: users never see one."""

    __slots__ = ("effect",)

    def __init__(self, effect: Effect[Any, Any, Any]) -> None:
        self.effect = effect


class _ForkOptions:
    __slots__ = ("daemon", "scope", "name", "source")

    def __init__(self, daemon: bool, scope: Scope | None, name: str | None,
                 source: str | None = None) -> None:
        self.daemon = daemon
        self.scope = scope
        self.name = name
        self.source = source  # file:line of the user code that forked (when captured)


class _Shape(NamedTuple):
    """Introspection only: the combinator (``kind``) that built a node and its parts, as
    (role, value) pairs: effects, user functions, numbers. Read by `effect_tree`."""

    kind: str
    parts: tuple[tuple[str, object], ...] = ()


def _shaped(eff: Effect[R, E, A], kind: str, *parts: tuple[str, object]) -> Effect[R, E, A]:
    """Attach a `_Shape` to a fresh CALLBACK, WITH_FIBER, STATUS or SUSPEND node; returns it."""
    eff._c = _Shape(kind, parts)
    return eff


def _describe(x: object) -> str:
    if inspect.iscoroutine(x):
        return f"coroutine object {x.__name__}()"
    if inspect.iscoroutinefunction(x):
        return f"async function {x.__name__}"
    return f"{type(x).__name__} {x!r}"


def _is_awaitable(x: object) -> bool:
    return inspect.isawaitable(x)


def _make(tag: int, a: object = None, b: object = None, c: object = None) -> Effect[Any, Any, Any]:
    eff: Effect[Any, Any, Any] = _alloc()
    eff._tag = tag
    eff._a = a
    eff._b = b
    eff._c = c
    return eff


def lift(value: object, where: str) -> Effect[Any, Any, Any]:
    """An effect from an Effect, a coroutine or an awaitable; a clear TypeError otherwise."""
    if isinstance(value, Effect):
        return value
    if _is_awaitable(value):
        return _make(AWAIT, _OneShot(value))  # type: ignore[arg-type]
    if inspect.iscoroutinefunction(value):
        raise TypeError(
            f"{where} expected an Effect, got {_describe(value)}; call it to get a coroutine, "
            f"or wrap it: from_async({value.__name__})"
        )
    if callable(value) and not isinstance(value, type):
        name = getattr(value, "__name__", repr(value))
        raise TypeError(
            f"{where} expected an Effect, got function {name}; "
            f"did you mean suspend({name}) or sync({name})?"
        )
    raise TypeError(
        f"{where} expected an Effect, got {type(value).__name__} {value!r}; "
        "did you mean succeed(...)?"
    )


def cause_of(exc: BaseException) -> Cause:
    """The cause for an exception that escaped user code: its own cause if it is a
    `Failure` (a nested run that failed), else a defect."""
    if isinstance(exc, Failure):
        return exc.cause
    return Die(exc)


def _check_async_fn(fn: object) -> None:
    if isinstance(fn, Effect):
        raise TypeError("Effect(...) expects a function fn(ctx) returning an awaitable, "
                        "got an Effect (it is already an effect: use it directly)")
    if _is_awaitable(fn):
        raise TypeError(
            f"Effect(...) expects a function fn(ctx) returning an awaitable, got "
            f"{_describe(fn)}; pass a function instead, e.g. Effect(lambda ctx: coro_fn())"
        )
    if not callable(fn):
        raise TypeError(
            "Effect(...) expects a function fn(ctx) returning an awaitable, got "
            f"{type(fn).__name__} {fn!r}"
        )


if TYPE_CHECKING:
    _EffectType = type
else:
    class _EffectType(type):
        """Effect's metaclass, for speed: the public constructor ``Effect(fn)`` is this
        `__call__`, so that `Effect` itself has no ``__init__`` and the nodes the library
        builds come from ``type.__call__`` (`_alloc`), CPython's fastest way to make an
        object of a class (no argument tuple, no Python frame: `object.__new__(Effect)`
        costs about a third more)."""

        def __call__(cls, fn):
            if fn.__class__ is not _FunctionType:  # a plain function is always fine
                _check_async_fn(fn)
            eff = _alloc() if cls is Effect else type.__call__(cls)  # (a subclass: its own)
            eff._tag = ASYNC
            eff._a = fn
            eff._b = True  # fn takes the context
            eff._c = None
            return eff


class Effect(Generic[R_co, E_co, A_co], metaclass=_EffectType):
    """A lazy, re-runnable description of a program that needs services ``R``, may fail
    with ``E`` and succeeds with ``A``.

    ``Effect(fn)`` is the low-level constructor: ``fn(ctx)`` returns an awaitable (for
    example an ``async def`` function's coroutine); its result is the effect's value, and
    if that result is itself an `Effect`, it is run.

    >>> import effectpy
    >>> async def impl(ctx):
    ...     return 21
    >>> effectpy.run(Effect(impl).map(lambda x: x * 2))
    42
    """

    __slots__ = ("_tag", "_a", "_b", "_c")

    _tag: int
    _a: Any
    _b: Any
    _c: Any

    if TYPE_CHECKING:  # at run time, `_EffectType.__call__` (see there)
        def __init__(self, fn: Callable[[Context], Awaitable[Any]]) -> None: ...

    def __repr__(self) -> str:
        if self._tag == OP:  # a library operation: its name, e.g. <Effect queue.take>
            return f"<Effect {getattr(self._a, '__qualname__', 'op')}>"
        return f"<Effect {TAG_NAMES.get(self._tag, self._tag)}>"

    # --- sequencing --------------------------------------------------------------------

    def map(self, f: Callable[[A_co], B]) -> Effect[R_co, E_co, B]:
        """Transform the success value with a plain function."""
        if not callable(f):
            _check_callable(f, "map")
        eff: Effect[R_co, E_co, B] = _alloc()
        eff._tag = MAP
        eff._a = self
        eff._b = f
        return eff

    def flat_map(self, f: Callable[[A_co], Effect[Any, E2, B]]) -> Effect[R_co, E_co | E2, B]:
        """Run ``f(value)``, an effect, after this one. ``f`` may also return a coroutine."""
        if not callable(f):
            _check_callable(f, "flat_map")
        eff: Effect[R_co, E_co | E2, B] = _alloc()
        eff._tag = FLAT_MAP
        eff._a = self
        eff._b = f
        return eff

    def zip(self, other: Effect[Any, E2, B]) -> Effect[R_co, E_co | E2, tuple[A_co, B]]:
        """Run this, then ``other``; succeed with both values as a tuple."""
        that = lift(other, "zip")
        return _make(FLAT_MAP, self, lambda a: _make(MAP, that, lambda b: (a, b)))

    def zip_with(self, other: Effect[Any, E2, B], f: Callable[[A_co, B], C]) -> Effect[R_co, E_co | E2, C]:
        that = lift(other, "zip_with")
        _check_callable(f, "zip_with")
        return _make(FLAT_MAP, self, lambda a: _make(MAP, that, lambda b: f(a, b)))

    def as_(self, value: B) -> Effect[R_co, E_co, B]:
        """Replace the success value with ``value``."""
        return _make(MAP, self, lambda _: value)

    def unit(self) -> Effect[R_co, E_co, None]:
        return _make(MAP, self, _to_none)

    def tap(self, f: Callable[[A_co], object]) -> Effect[R_co, E_co, A_co]:
        """Run ``f(value)`` for its effect (an Effect, a coroutine, or None) and keep the value."""
        _check_callable(f, "tap")

        def step(a: Any) -> Effect[Any, Any, Any]:
            out = f(a)
            if out is None:
                return _make(SUCCEED, a)
            return _make(MAP, lift(out, "tap's function"), lambda _: a)

        return _make(FLAT_MAP, self, step)

    # --- errors ------------------------------------------------------------------------

    def catch_all(self, handler: Callable[[E_co], Effect[Any, E2, B]]) -> Effect[R_co, E2, A_co | B]:
        """Recover from a typed failure. Defects and interruption are not caught."""
        _check_callable(handler, "catch_all")

        def on_failure(cause: Cause) -> Effect[Any, Any, Any]:
            if cause.is_failure_only():
                return lift(handler(cause.failures()[0]), "catch_all's handler")
            return _make(FAIL, cause)

        return _make(FOLD, self, on_failure, None)

    def catch_some(self, handler: Callable[[E_co], Effect[Any, E2, B] | None]) -> Effect[R_co, E_co | E2, A_co | B]:
        """Recover from the typed failures for which ``handler`` returns an effect (not None)."""
        _check_callable(handler, "catch_some")

        def on_failure(cause: Cause) -> Effect[Any, Any, Any]:
            if cause.is_failure_only():
                out = handler(cause.failures()[0])
                if out is not None:
                    return lift(out, "catch_some's handler")
            return _make(FAIL, cause)

        return _make(FOLD, self, on_failure, None)

    def catch_all_cause(self, handler: Callable[[Cause], Effect[Any, E2, B]]) -> Effect[R_co, E2, A_co | B]:
        """Recover from any failure, given its whole `Cause` (defects included).

        Interruption is still not recoverable: an interrupted fiber skips this handler,
        unless it runs in an uninterruptible region.
        """
        _check_callable(handler, "catch_all_cause")
        return _make(FOLD, self, lambda c: lift(handler(c), "catch_all_cause's handler"), None)

    def or_else(self, that: Effect[Any, E2, B]) -> Effect[R_co, E2, A_co | B]:
        """On a typed failure, run ``that`` instead."""
        other = lift(that, "or_else")

        def handler(_: Any) -> Effect[Any, Any, Any]:
            return other
        return self.catch_all(handler)

    def map_error(self, f: Callable[[E_co], E2]) -> Effect[R_co, E2, A_co]:
        _check_callable(f, "map_error")

        def on_failure(cause: Cause) -> Effect[Any, Any, Any]:
            if cause.is_failure_only():
                return _make(FAIL, Fail(f(cause.failures()[0])))
            return _make(FAIL, cause)

        return _make(FOLD, self, on_failure, None)

    def fold(self, on_failure: Callable[[E_co], B], on_success: Callable[[A_co], C]) -> Effect[R_co, NoReturn, B | C]:
        """Turn a typed failure or a success into a success value."""
        _check_callable(on_failure, "fold")
        _check_callable(on_success, "fold")

        def failure(e: Any) -> Effect[Any, Any, Any]:
            return _make(SUCCEED, on_failure(e))

        def success(a: Any) -> Effect[Any, Any, Any]:
            return _make(SUCCEED, on_success(a))
        return self.fold_effect(failure, success)

    def fold_effect(
        self,
        on_failure: Callable[[E_co], Effect[Any, E2, B]],
        on_success: Callable[[A_co], Effect[Any, E2, C]],
    ) -> Effect[R_co, E2, B | C]:
        _check_callable(on_failure, "fold_effect")
        _check_callable(on_success, "fold_effect")

        def failure(cause: Cause) -> Effect[Any, Any, Any]:
            if cause.is_failure_only():
                return lift(on_failure(cause.failures()[0]), "fold_effect's on_failure")
            return _make(FAIL, cause)

        return _make(FOLD, self, failure, lambda a: lift(on_success(a), "fold_effect's on_success"))

    def either(self) -> Effect[R_co, NoReturn, Either[E_co, A_co]]:
        """Succeed with `Right(value)`, or `Left(error)` for a typed failure."""
        return self.fold(Left, Right)

    def exit(self) -> Effect[R_co, NoReturn, Exit[A_co]]:
        """Succeed with the `Exit` of this effect (any failure, defects included)."""
        return _make(FOLD, self, lambda c: _make(SUCCEED, Exit.fail_cause(c)),
                     lambda a: _make(SUCCEED, Exit.succeed(a)))

    # --- finalization ------------------------------------------------------------------

    def on_exit(self, f: Callable[[Exit[A_co]], object]) -> Effect[R_co, E_co, A_co]:
        """Run ``f(exit)`` after this effect, however it ends (success, failure, defect,
        interruption). ``f`` runs uninterruptibly; a failure in it joins the cause."""
        _check_callable(f, "on_exit")

        def body(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
            def on_failure(cause: Cause) -> Effect[Any, Any, Any]:
                fin = _finalizer_effect(f, Exit.fail_cause(cause))
                return _make(FOLD, fin, lambda c2: _make(FAIL, cause.then(c2)),
                             lambda _: _make(FAIL, cause))

            def on_success(value: Any) -> Effect[Any, Any, Any]:
                fin = _finalizer_effect(f, Exit.succeed(value))
                return _make(MAP, fin, lambda _: value)

            return _make(FOLD, restore(self), on_failure, on_success)

        return _shaped(uninterruptible_mask(body), "on_exit", ("effect", self), ("finalizer", f))

    def ensuring(self, finalizer: Effect[Any, Any, Any]) -> Effect[R_co, E_co, A_co]:
        """Run ``finalizer`` after this effect, however it ends."""
        fin = lift(finalizer, "ensuring")
        return _shaped(self.on_exit(lambda _: fin), "ensuring", ("effect", self), ("finalizer", fin))

    def on_error(self, f: Callable[[Cause], object]) -> Effect[R_co, E_co, A_co]:
        """Run ``f(cause)`` if this effect fails, dies or is interrupted."""
        _check_callable(f, "on_error")
        return _shaped(self.on_exit(lambda ex: None if ex.is_success() else f(ex.cause)),
                       "on_error", ("effect", self), ("handler", f))

    def on_interrupt(self, f: Callable[[list[object]], object] | Effect[Any, Any, Any]) -> Effect[R_co, E_co, A_co]:
        """Run ``f`` (an effect, or a function of the interruptors' ids) if interrupted."""
        if isinstance(f, Effect):
            fin: Effect[Any, Any, Any] = f
            return _shaped(self.on_exit(lambda ex: fin if ex.is_interrupted() else None),
                           "on_interrupt", ("effect", self), ("finalizer", fin))
        _check_callable(f, "on_interrupt")
        g = f
        return _shaped(self.on_exit(lambda ex: g(ex.cause.interruptors()) if ex.is_interrupted() else None),
                       "on_interrupt", ("effect", self), ("handler", g))

    # --- interruption ------------------------------------------------------------------

    def uninterruptible(self) -> Effect[R_co, E_co, A_co]:
        """Run this effect to completion even if the fiber is interrupted meanwhile; the
        interruption is delivered when the region ends."""
        return _make(STATUS, self, False)

    def interruptible(self) -> Effect[R_co, E_co, A_co]:
        return _make(STATUS, self, True)

    # --- repetition and time -----------------------------------------------------------

    def forever(self) -> Effect[R_co, E_co, NoReturn]:
        """Repeat this effect until it fails; runs in constant memory."""
        loop = _make(FLAT_MAP, self, None)
        loop._b = lambda _: loop
        return loop

    def delay(self, duration: float | Duration) -> Effect[R_co, E_co, A_co]:
        """Sleep for ``duration`` (on the context's Clock), then run this effect."""
        return sleep(duration).flat_map(lambda _: self)

    def timeout(self, duration: float | Duration) -> Effect[R_co, E_co | TimeoutError, A_co]:
        """Fail with `TimeoutError` if this effect takes longer than ``duration``; the effect
        is interrupted (and its finalizers finish) before the failure is reported."""
        from .._timeout import timeout
        return timeout(self, duration)

    def timeout_option(self, duration: float | Duration) -> Effect[R_co, E_co, Any]:
        """Succeed with `Some(value)`, or `NONE` if ``duration`` passes first."""
        from .._timeout import timeout_option
        return timeout_option(self, duration)

    def timeout_to(self, duration: float | Duration, default: B) -> Effect[R_co, E_co, A_co | B]:
        """Succeed with the value, or ``default`` if ``duration`` passes first."""
        from .._timeout import timeout_to
        return timeout_to(self, duration, default)

    def retry(self, schedule: Schedule) -> Effect[R_co, E_co, A_co]:
        """Run again after each typed failure, as ``schedule`` decides (defects and
        interruption are never retried); when it stops, fail with the last error.

        >>> import effectpy
        >>> from effectpy import Schedule, attempt
        >>> tries = []
        >>> flaky = attempt(lambda: tries.append(1) or (len(tries) < 3 and 1 / 0) or "ok")
        >>> effectpy.run(flaky.retry(Schedule.recurs(5)))
        'ok'
        >>> len(tries)
        3
        """
        from .._retry import retry
        return retry(self, schedule)

    def retry_or_else(self, schedule: Schedule, or_else: Callable[[Any, Any], Effect[Any, E2, B]]) -> Effect[R_co, E2, A_co | B]:
        """Like `retry`, but when the schedule stops run ``or_else(last_error, output)``."""
        from .._retry import retry_or_else
        return retry_or_else(self, schedule, or_else)

    def repeat(self, schedule: Schedule) -> Effect[R_co, E_co, Any]:
        """Run again after each success, as ``schedule`` decides; stops at the first
        failure. Succeeds with the schedule's last output (ZIO's and Effect-TS's rule)."""
        from .._retry import repeat
        return repeat(self, schedule)

    # --- context -----------------------------------------------------------------------

    def provide(self, env: Any) -> Effect[Any, E_co, A_co]:
        """Run with the services of a `Context`, or of a `Layer` built for this run (and
        torn down after it)."""
        from ._context import Context
        if isinstance(env, Context):
            return _make(PROVIDE, self, env)
        build = getattr(env, "_provide_to", None)
        if build is None:
            raise TypeError(f"provide expects a Context or a Layer, got {type(env).__name__} {env!r}")
        result: Effect[Any, E_co, A_co] = build(self)
        return result

    def named(self, label: str) -> Effect[R_co, E_co, A_co]:
        """Label this effect: the fiber that runs it takes the label as its name, wherever
        it sits in the fiber's work (a branch of `zip_par`, a forked effect, a step of a
        sequence), unless that fiber was named already: the first name given wins
        (``fork(name=...)``, then the outermost or earliest ``.named``). A combinator's
        default name (``zip_par[1]``) gives way to it. Instruments see the new name on
        every event that follows."""
        if not isinstance(label, str):
            raise TypeError(f"named expects a str label, got {type(label).__name__} {label!r}")
        return _make(NAMED, self, label, user_location())

    # --- fibers ------------------------------------------------------------------------

    def fork(self, *, name: str | None = None) -> Effect[R_co, NoReturn, Fiber[E_co, A_co]]:
        """Start this effect in a child fiber and succeed with the `Fiber` at once.

        The child is supervised: it is interrupted (and its finalizers awaited) when the
        forking fiber ends."""
        return _make(FORK, self, _ForkOptions(False, None, _check_name(name), user_location()))

    def fork_daemon(self, *, name: str | None = None) -> Effect[R_co, NoReturn, Fiber[E_co, A_co]]:
        """Like `fork`, but the child outlives the forking fiber (it is not supervised)."""
        return _make(FORK, self, _ForkOptions(True, None, _check_name(name), user_location()))

    def fork_in(self, scope: Scope, *, name: str | None = None) -> Effect[R_co, NoReturn, Fiber[E_co, A_co]]:
        """Like `fork`, but the child lives until ``scope`` closes (then it is interrupted)."""
        from ._scope import Scope
        if not isinstance(scope, Scope):
            raise TypeError(f"fork_in expects a Scope, got {type(scope).__name__} {scope!r}")
        return _make(FORK, self, _ForkOptions(True, scope, _check_name(name), user_location()))

    # --- running -----------------------------------------------------------------------

    async def _run(self, ctx: Context | None = None) -> A_co:
        """Run this effect in a new root fiber and return its value (the guide's form).

        Raises `Failure` when the effect fails. Cancelling the task awaiting this
        interrupts the fiber, waits for its finalizers, and re-raises the cancellation.
        """
        from ._cause import raise_failure
        from ._runtime import run_async
        exit_ = await run_async(self, ctx)
        if exit_._ok:
            return exit_._value  # type: ignore[no-any-return]
        raise_failure(exit_._cause)

    async def _run_exit(self, ctx: Context | None = None) -> Exit[A_co]:
        from ._runtime import run_async
        return await run_async(self, ctx)

    def __await__(self) -> Generator[Any, None, A_co]:
        return self._run().__await__()


# A new Effect node, its fields unset: ``type.__call__`` bound to the class (see _EffectType).
_alloc: Final[Callable[[], Effect[Any, Any, Any]]] = cast(
    "Callable[[], Effect[Any, Any, Any]]", type.__call__.__get__(Effect))


def _check_name(name: str | None) -> str | None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__} {name!r}")
    return name


def _check_callable(f: object, where: str) -> None:
    if isinstance(f, Effect):
        raise TypeError(
            f"{where} expects a function, got an Effect; wrap it: {where}(lambda _: effect)"
        )
    if not callable(f):
        raise TypeError(f"{where} expects a function, got {type(f).__name__} {f!r}")


def _to_none(_: object) -> None:
    return None


def _finalizer_effect(f: Callable[[Any], object], exit_: Exit[Any]) -> Effect[Any, Any, Any]:
    """Call a finalizer function; None means nothing more to run."""
    out = f(exit_)
    if out is None:
        return UNIT
    return lift(out, "the finalizer")


# --- Either ------------------------------------------------------------------------------


class Left(Generic[E_co]):
    """The failure side of `Effect.either`."""

    __slots__ = ("value",)
    __match_args__ = ("value",)

    def __init__(self, value: E_co) -> None:
        self.value = value

    def is_left(self) -> bool:
        return True

    def is_right(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Left) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Left", self.value))

    def __repr__(self) -> str:
        return f"Left({self.value!r})"


class Right(Generic[A_co]):
    """The success side of `Effect.either`."""

    __slots__ = ("value",)
    __match_args__ = ("value",)

    def __init__(self, value: A_co) -> None:
        self.value = value

    def is_left(self) -> bool:
        return False

    def is_right(self) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Right) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Right", self.value))

    def __repr__(self) -> str:
        return f"Right({self.value!r})"


Either = Left[E] | Right[A]


# --- constructors ------------------------------------------------------------------------


def succeed(value: A) -> Effect[Any, NoReturn, A]:
    """An effect that succeeds with ``value``.

    >>> import effectpy
    >>> effectpy.run(succeed(3))
    3
    """
    eff: Effect[Any, NoReturn, A] = _alloc()
    eff._tag = SUCCEED
    eff._a = value
    return eff


def fail(error: E) -> Effect[Any, E, NoReturn]:
    """An effect that fails with the typed error ``error`` (recoverable with `catch_all`)."""
    return _make(FAIL, Fail(error))


def fail_cause(cause: Cause) -> Effect[Any, Any, NoReturn]:
    if not isinstance(cause, Cause):
        raise TypeError(f"fail_cause expects a Cause, got {type(cause).__name__} {cause!r}")
    return _make(FAIL, cause)


def die(exception: BaseException) -> Effect[Any, NoReturn, NoReturn]:
    """An effect that dies with a defect (not caught by `catch_all`)."""
    if not isinstance(exception, BaseException):
        raise TypeError(
            f"die expects an exception, got {type(exception).__name__} {exception!r}; "
            "use fail(...) for a typed failure"
        )
    return _make(FAIL, Die(exception))


def sync(thunk: Callable[[], A]) -> Effect[Any, NoReturn, A]:
    """An effect that calls ``thunk()`` each time it runs; an exception is a defect."""
    _check_thunk(thunk, "sync")
    return _make(SYNC, thunk)


def attempt(thunk: Callable[[], A]) -> Effect[Any, Exception, A]:
    """Like `sync`, but an `Exception` raised by ``thunk`` is a typed failure."""
    _check_thunk(thunk, "attempt")
    return _make(ATTEMPT, thunk)


def suspend(thunk: Callable[[], Effect[R, E, A]]) -> Effect[R, E, A]:
    """An effect built anew by ``thunk()`` each time it runs (for recursion and laziness)."""
    _check_thunk(thunk, "suspend")
    return _make(SUSPEND, thunk)


@overload
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: Literal[False] = False) -> Effect[R, E, list[A]]: ...
@overload
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: Literal[True]) -> Effect[R, E, None]: ...
@overload
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: bool) -> Effect[R, E, list[A] | None]: ...
def for_each(items: Iterable[T], fn: Callable[[T], Effect[R, E, A]], *,
             discard: bool = False) -> Effect[R, E, list[A] | None]:
    """Run ``fn(item)`` for each item, one after the other, and succeed with the results
    in order (None with ``discard=True``, which keeps none of them). The first failure
    stops the loop and fails the whole; the items after it are not run. Interruption is
    seen between items, even when no item waits. The sequential sibling of
    `for_each_par`. ``items`` are read into a list when the effect is built (a `range` or
    a tuple is kept as it is), so an endless iterator is for `Stream`, not for this; the
    loop runs in constant stack.

    >>> import effectpy
    >>> effectpy.run(for_each([1, 2, 3], lambda x: succeed(x * 10)))
    [10, 20, 30]
    """
    if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(f"for_each expects an iterable of items, got {type(items).__name__} {items!r}")
    _check_callable(fn, "for_each")
    if not isinstance(discard, bool):
        raise TypeError(f"for_each's discard must be a bool, got {type(discard).__name__} {discard!r}")
    values: Sequence[T] = items if isinstance(items, (range, tuple)) else list(items)

    def run() -> Effect[R, E, Any]:
        # one FLAT_MAP node per item, continued by `step` (one closure per run, none per
        # item): an item's effect that completes at once (succeed, a queue operation that
        # need not wait) and its continuation are one run-loop step
        it = iter(values)
        out: list[Any] | None = None if discard else []

        def step(value: object) -> Effect[R, E, Any]:
            if out is not None:
                out.append(value)
            for x in it:
                eff = fn(x)
                if eff.__class__ is not Effect:
                    eff = lift(eff, "for_each's function")
                node: Effect[R, E, Any] = _alloc()
                node._tag = FLAT_MAP
                node._a = eff
                node._b = step
                return node
            return succeed(out)
        first = step(None)
        if out is not None:
            out.clear()  # the None that started the loop (`first` may be succeed(out))
        return first
    return _shaped(_make(SUSPEND, run), "for_each", ("fn", fn), ("items", len(values)),
                   ("discard", discard))


def from_async(async_thunk: Callable[[], Awaitable[A]]) -> Effect[Any, NoReturn, A]:
    """An effect that calls ``async_thunk()`` and awaits the result each time it runs.

    >>> import asyncio, effectpy
    >>> async def answer():
    ...     await asyncio.sleep(0)
    ...     return 42
    >>> effectpy.run(from_async(answer))
    42
    """
    if isinstance(async_thunk, Effect) or _is_awaitable(async_thunk):
        raise TypeError(
            f"from_async expects a function returning an awaitable, got {_describe(async_thunk)}; "
            "pass the function itself, e.g. from_async(fetch) or from_async(lambda: fetch(x))"
        )
    _check_thunk(async_thunk, "from_async")
    return _make(ASYNC, async_thunk, False)


def _check_thunk(thunk: object, where: str) -> None:
    if isinstance(thunk, Effect):
        raise TypeError(f"{where} expects a function, got an Effect; use the effect directly")
    if _is_awaitable(thunk):
        raise TypeError(f"{where} expects a function, got {_describe(thunk)}; pass a function "
                        f"that makes it, e.g. {where}(lambda: ...)")
    if not callable(thunk):
        raise TypeError(f"{where} expects a function of no arguments, got {type(thunk).__name__} {thunk!r}")


def sleep(duration: float | Duration) -> Effect[Any, NoReturn, None]:
    """Suspend the fiber for ``duration`` on the context's `Clock` (the live clock by default)."""
    seconds = to_seconds(duration, "sleep")
    from ._clock import clock_sleep
    return _shaped(clock_sleep(seconds), "sleep", ("seconds", seconds))


def uninterruptible_mask(
    body: Callable[[Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]], Effect[R, E, A]],
) -> Effect[R, E, A]:
    """Run ``body(restore)`` uninterruptibly; ``restore(effect)`` runs ``effect`` with the
    interruptibility of the caller."""
    _check_callable(body, "uninterruptible_mask")

    def with_fiber(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
        status = fiber._interruptible

        def restore(eff: Effect[Any, Any, Any]) -> Effect[Any, Any, Any]:
            return _make(STATUS, lift(eff, "restore"), status)

        return _make(STATUS, _make(SUSPEND, lambda: lift(body(restore), "uninterruptible_mask's body")), False)

    return _make(WITH_FIBER, with_fiber)


def service(key: type[A]) -> Effect[Any, NoReturn, A]:
    """An effect succeeding with the service held under ``key`` in the running context.

    A missing service is a defect (`MissingServiceError`) naming what the context holds."""
    if not isinstance(key, type):
        raise TypeError(f"service expects a type, got {type(key).__name__} {key!r}")
    return _make(WITH_FIBER, lambda fiber: _make(SUCCEED, fiber._ctx.get(key)))


def with_fiber(f: Callable[[Fiber[Any, Any]], Effect[R, E, A]]) -> Effect[R, E, A]:
    return _make(WITH_FIBER, f)


def async_callback(
    register: Callable[[Fiber[Any, Any], Callable[[bool, Any], None]], Callable[[], None] | None],
) -> Effect[Any, Any, Any]:
    """Low level: suspend until ``resume(ok, value_or_cause)`` is called.

    ``register(fiber, resume)`` may call ``resume`` at once. It returns a canceller or
    None; on interruption the canceller is called and must lead to a ``resume`` call
    (at once, or after cleanup); without a canceller the fiber resumes at once."""
    return _make(CALLBACK, register)


UNIT: Final[Effect[Any, NoReturn, None]] = _make(SUCCEED, None)
unit: Final = UNIT
yield_now: Final[Effect[Any, NoReturn, None]] = _make(YIELD)


def _never_register(fiber: Fiber[Any, Any], resume: Callable[[bool, Any], None]) -> None:
    return None


never: Final[Effect[Any, NoReturn, NoReturn]] = _make(CALLBACK, _never_register, "never")


def exit_effect(exit_: Exit[A]) -> Effect[Any, Any, A]:
    """The effect that ends as ``exit_`` did."""
    return _make(SUCCEED, exit_._value) if exit_._ok else _make(FAIL, exit_._cause)

