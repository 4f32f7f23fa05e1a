"""`Effect`: an immutable description of a program, built from a small set of primitive nodes.

Nothing here runs anything: every constructor and combinator builds nodes, and the fiber
run loop (`_loop.py`) interprets them. An effect can be run any number of times; each run
repeats its side effects.

The nodes themselves (their tags and fields) are in `_nodes.py`.
"""

from __future__ import annotations

import inspect
from asyncio import CancelledError as _CancelledError
from types import FunctionType as _FunctionType
from collections.abc import Awaitable, Callable, Generator
from typing import (
    TYPE_CHECKING, Any, Final, Generic, NoReturn, TypeVar, cast,
)

from ._cause import Cause, Die, Exit, Fail, Failure, Interrupt
from ._either import Either as Either, Left as Left, Right as Right
from ._duration import Duration
from ._hooks import user_location
from ._nodes import (
    ASYNC, AWAIT, FAIL, FLAT_MAP, FOLD, FORK, MAP, NAMED, OP, PROVIDE, STATUS, SUCCEED, SUSPEND, TAG_NAMES,
    WITH_FIBER, _describe, _ForkOptions, _is_awaitable, _OneShot, _shaped,
)

if TYPE_CHECKING:
    from .._option import Option
    from .._schedule import Schedule
    from ._context import Context
    from ._fiber import Fiber
    from ._scope import Scope

__all__ = ["Effect"]

# What a `CancelledError` raised by user code (or a cancelled await) ends a fiber with.
_CANCELLED: Final = Interrupt("cancelled")

R = TypeVar("R")
E = TypeVar("E")
A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")
E2 = TypeVar("E2")
R_co = TypeVar("R_co", covariant=True)
E_co = TypeVar("E_co", covariant=True)
A_co = TypeVar("A_co", covariant=True)

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
    `Failure` (a nested run that failed); an interruption (``Interrupt("cancelled")``) if
    it is asyncio's `CancelledError`, as a task whose code raises it ends cancelled (the
    same on both backends, and for synchronous code too); else a defect."""
    if isinstance(exc, Failure):
        return exc.cause
    if isinstance(exc, _CancelledError):
        return _CANCELLED
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

    def when(self, condition: bool | Callable[[], bool]) -> Effect[R_co, E_co, Option[A_co]]:
        """Run this effect only if ``condition`` (a bool, or a function of no arguments
        called at each run) holds: succeed with `Some(value)`, else with `NONE`.

        >>> import effectpy
        >>> effectpy.run(succeed(1).when(True)), effectpy.run(succeed(1).when(lambda: False))
        (Some(1), NONE)
        """
        return _when(self, _check_condition(condition, "when"), True)

    def unless(self, condition: bool | Callable[[], bool]) -> Effect[R_co, E_co, Option[A_co]]:
        """Run this effect only if ``condition`` does *not* hold (see `when`)."""
        return _when(self, _check_condition(condition, "unless"), False)

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

    def tap_error(self, f: Callable[[E_co], object]) -> Effect[R_co, E_co, A_co]:
        """On a typed failure, run ``f(error)`` for its effect (an Effect, a coroutine, or
        None), then fail with the same error (or with ``f``'s failure, if it fails)."""
        _check_callable(f, "tap_error")

        def on_failure(cause: Cause) -> Effect[Any, Any, Any]:
            if not cause.is_failure_only():
                return _make(FAIL, cause)
            out = f(cause.failures()[0])
            if out is None:
                return _make(FAIL, cause)
            return _make(FLAT_MAP, lift(out, "tap_error's function"), lambda _: _make(FAIL, cause))

        return _make(FOLD, self, on_failure, None)

    def ignore(self) -> Effect[R_co, NoReturn, None]:
        """Succeed with None whether this succeeds or fails with a typed error (defects and
        interruption still propagate)."""
        return _make(FOLD, self, _unit_if_typed, _to_unit)

    def or_die(self) -> Effect[R_co, NoReturn, A_co]:
        """Turn a typed failure into a defect: an exception error dies as itself, another
        value as a `Failure` whose ``.error`` it is."""
        def on_failure(cause: Cause) -> Effect[Any, Any, Any]:
            if not cause.is_failure_only():
                return _make(FAIL, cause)
            error = cause.failures()[0]
            return _make(FAIL, Die(error if isinstance(error, BaseException) else Failure(cause)))

        return _make(FOLD, self, on_failure, None)

    def catch_all_defect(self, handler: Callable[[BaseException], Effect[Any, E2, B]]) -> Effect[R_co, E_co | E2, A_co | B]:
        """Recover from a defect: ``handler(exception)`` for the first defect in the cause
        (as ZIO's ``catchAllDefect``). Typed failures alone pass through; interruption is
        never caught. For plugins and supervisors: prefer handling errors where they occur."""
        _check_callable(handler, "catch_all_defect")

        def on_failure(cause: Cause) -> Effect[Any, Any, Any]:
            defects = cause.defects()
            if defects and not cause.interruptors():
                return lift(handler(defects[0]), "catch_all_defect's handler")
            return _make(FAIL, cause)

        return _make(FOLD, self, on_failure, None)

    def sandbox(self) -> Effect[R_co, Cause, A_co]:
        """Expose the whole `Cause` of a failure (defects included) as the typed error, for
        `catch_all` and `map_error`; `unsandbox` turns it back."""
        return _make(FOLD, self, lambda c: _make(FAIL, Fail(c)), None)

    def unsandbox(self) -> Effect[R_co, Any, A_co]:
        """The inverse of `sandbox`: a typed error that is a `Cause` becomes the cause.

        >>> import effectpy
        >>> exit_ = effectpy.run_exit(die(KeyError("k")).sandbox().map_error(lambda c: c).unsandbox())
        >>> exit_.cause.defects()
        [KeyError('k')]
        """
        return _make(FOLD, self, lambda c: _make(FAIL, c._unsandboxed()), None)

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

    def timed(self) -> Effect[R_co, E_co, tuple[Duration, A_co]]:
        """Succeed with ``(duration, value)``: how long this effect took on the context's
        `Clock` (a `TestClock` too), and its value."""
        from ._clock import timed
        return timed(self)

    def cached(self, ttl: float | Duration) -> Effect[R_co, NoReturn, Effect[Any, E_co, A_co]]:
        """An effect that makes a memoised version of this one (ZIO's and Effect-TS's
        ``cached``): running the memoised effect computes this one, then gives the same
        outcome (value or failure) until ``ttl`` has passed on the `Clock`, then computes
        again. Callers that come while it computes wait for that computation, not one of
        their own. It runs with the context of the fiber that made it.

        >>> import effectpy
        >>> calls = []
        >>> def twice(get):
        ...     return get.zip(get)
        >>> effectpy.run(sync(lambda: calls.append(1) or len(calls)).cached(60).flat_map(twice))
        (1, 1)
        """
        from .._cache import cached
        return cached(self, ttl)

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

    def retry_while(self, predicate: Callable[[E_co], bool]) -> Effect[R_co, E_co, A_co]:
        """Retry at once after each typed failure while ``predicate(error)`` holds."""
        from .._retry import retry_while
        return retry_while(self, predicate)

    def retry_until(self, predicate: Callable[[E_co], bool]) -> Effect[R_co, E_co, A_co]:
        """Retry at once after each typed failure until ``predicate(error)`` holds."""
        from .._retry import retry_until
        return retry_until(self, predicate)

    def repeat_while(self, predicate: Callable[[A_co], bool]) -> Effect[R_co, E_co, A_co]:
        """Run again while ``predicate(value)`` holds; succeed with the first value that
        fails it."""
        from .._retry import repeat_while
        return repeat_while(self, predicate)

    def repeat_until(self, predicate: Callable[[A_co], bool]) -> Effect[R_co, E_co, A_co]:
        """Run again until ``predicate(value)`` holds; succeed with that value.

        >>> import effectpy, itertools
        >>> counter = itertools.count(1)
        >>> effectpy.run(sync(lambda: next(counter)).repeat_until(lambda n: n % 3 == 0))
        3
        """
        from .._retry import repeat_until
        return repeat_until(self, predicate)

    def repeat(self, schedule: Schedule) -> Effect[R_co, E_co, Any]:
        """Run again after each success, as ``schedule`` decides; stops at the first
        failure. Succeeds with the output of the schedule's step that stopped it (ZIO's and
        Effect-TS's rule: ``repeat(Schedule.recurs(n))`` succeeds with ``n``, 0 included)."""
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

    def fork_scoped(self, *, name: str | None = None) -> Effect[R_co, NoReturn, Fiber[E_co, A_co]]:
        """Like `fork`, but the child lives as long as the enclosing scope (the innermost
        `scoped(...)`, or else the fiber's own scope): it is interrupted when that closes."""
        label, source = _check_name(name), user_location()
        return _make(WITH_FIBER, lambda fiber: _make(
            FORK, self, _ForkOptions(True, fiber.current_scope(), label, source)))

    # --- running -----------------------------------------------------------------------

    async def _run(self, ctx: Context | None = None) -> A_co:
        """Run this effect in the awaiting task and return its value (the guide's form;
        supported API despite the underscore). With ``ctx``, it sees that `Context`'s
        services; without, an empty one, or, awaited inside a fiber's coroutine, that
        fiber's.

        Awaited inside a fiber's coroutine, it runs as that fiber's child (in its trace,
        interrupted with it); anywhere else, as a root. Raises `Failure` when the effect
        fails. Cancelling the task awaiting this interrupts the fiber, waits for its
        finalizers, and re-raises the cancellation.
        """
        from ._cause import raise_failure
        from ._runtime import run_async
        exit_ = await run_async(self, ctx)
        if exit_._ok:
            return exit_._value  # type: ignore[no-any-return]
        raise_failure(exit_._cause)

    async def _run_exit(self, ctx: Context | None = None) -> Exit[A_co]:
        """`_run`, returning the effect's `Exit` instead of raising when it fails."""
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


def _to_unit(_: object) -> Effect[Any, Any, None]:
    return UNIT


def _unit_if_typed(cause: Cause) -> Effect[Any, Any, None]:
    return UNIT if cause.is_failure_only() else _make(FAIL, cause)


def _check_condition(condition: object, where: str) -> Callable[[], object]:
    if isinstance(condition, bool):
        return lambda: condition
    if callable(condition) and not isinstance(condition, Effect):
        return condition
    raise TypeError(f"{where} expects a bool or a function returning one, got "
                    f"{type(condition).__name__} {condition!r}")


def _when(eff: Effect[Any, Any, Any], condition: Callable[[], object], run_if: bool) -> Effect[Any, Any, Any]:
    from .._option import NONE, Some

    def go() -> Effect[Any, Any, Any]:
        if bool(condition()) is run_if:
            return _make(MAP, eff, Some)
        return _make(SUCCEED, NONE)
    return _make(SUSPEND, go)


def _finalizer_effect(f: Callable[[Any], object], exit_: Exit[Any]) -> Effect[Any, Any, Any]:
    """Call a finalizer function; None means nothing more to run."""
    out = f(exit_)
    if out is None:
        return UNIT
    return lift(out, "the finalizer")


# The constructors build on `Effect`, so they come last; they are re-exported from here.
from ._constructors import (  # noqa: E402
    UNIT as UNIT, _check_thunk as _check_thunk, async_callback as async_callback,
    attempt as attempt, die as die, exit_effect as exit_effect, fail as fail,
    fail_cause as fail_cause, for_each as for_each, from_async as from_async, never as never,
    service as service, sleep as sleep, succeed as succeed, suspend as suspend, sync as sync,
    uninterruptible_mask as uninterruptible_mask, unit as unit, with_fiber as with_fiber,
    yield_now as yield_now,
)
