"""Resources: `acquire_release` and `scoped`."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, Final, TypeVar

from ._core._cause import Die, Exit
from ._core._effect import Effect, _make, die, lift, uninterruptible_mask
from ._core._nodes import FLAT_MAP, IN_SCOPE, STATUS, SUCCEED, SUSPEND, SYNC, WITH_FIBER, _shaped
from ._core._group import SCOPE_IDS
from ._core._fiber import Fiber
from ._core._scope import Scope, accepts_arguments

__all__ = ["acquire_release", "scoped"]

A = TypeVar("A")
B = TypeVar("B")
E = TypeVar("E")

_RESOURCE_IDS: Final = itertools.count(1)


def _release_fn(release: object) -> Callable[[Any, Exit[Any]], Effect[Any, Any, Any]]:
    if isinstance(release, Effect) or not callable(release):
        raise TypeError(
            "acquire_release's release must be a function of the resource (or of the "
            f"resource and the Exit) returning an Effect, got {type(release).__name__} {release!r}"
        )
    fn: Callable[..., Any] = release
    two = accepts_arguments(fn, 2)

    def call(resource: Any, exit_: Exit[Any]) -> Effect[Any, Any, Any]:
        out = fn(resource, exit_) if two else fn(resource)
        return _make(SUCCEED, None) if out is None else lift(out, "release")

    return call


def _tracked_release(fiber: Fiber[Any, Any], rid: int, call: Callable[[Any, Exit[Any]], Effect[Any, Any, Any]], resource: Any) -> Callable[[Exit[Any]], Effect[Any, Any, Any]]:
    def finalizer(exit_: Exit[Any]) -> Effect[Any, Any, Any]:
        inst = fiber._runtime.instrument
        if inst is not None:
            inst.emit("resource_releasing", fiber, rid)
        eff = call(resource, exit_)
        if inst is None:
            return eff
        return eff.ensuring(_make(SYNC, lambda: inst.emit("resource_released", fiber, rid, exit_)))
    return finalizer


def acquire_release(
    acquire: Effect[Any, E, A],
    release: Callable[..., Any],
    use: Callable[[A], Effect[Any, Any, B]] | None = None,
) -> Effect[Any, Any, Any]:
    """Acquire a resource and guarantee its release, exactly once.

    ``acquire`` and ``release`` run uninterruptibly; ``release(resource)`` (or
    ``release(resource, exit)``) gets the resource and, if it takes two arguments, the
    `Exit` of the use.

    Without ``use``, the effect succeeds with the resource and the release is registered
    in the enclosing scope: the innermost `scoped(...)`, or else the current fiber's own
    scope, closed when that fiber ends (each branch of `zip_par`/`for_each_par` is a fiber).
    With ``use`` (the bracket form), ``use(resource)`` runs interruptibly and the resource
    is released as soon as it ends.

    >>> import effectpy
    >>> log = []
    >>> res = acquire_release(effectpy.sync(lambda: "conn"), lambda c: effectpy.sync(lambda: log.append("closed " + c)))
    >>> effectpy.run(res.map(len))
    4
    >>> log
    ['closed conn']
    """
    acq = lift(acquire, "acquire_release's acquire")
    call = _release_fn(release)
    if use is None:
        def register(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
            def on_acquired(resource: Any) -> Effect[Any, Any, Any]:
                rid = next(_RESOURCE_IDS)
                inst = fiber._runtime.instrument
                if inst is not None:
                    inst.emit("resource_acquired", fiber, rid, resource)
                release_it = _tracked_release(fiber, rid, call, resource)
                scope = fiber.current_scope()
                if scope.closed:  # release at once rather than leak it, then say why
                    error = RuntimeError("acquire_release: the enclosing scope is already closed, "
                                         "so the resource was released at once")
                    return release_it(Exit.fail_cause(Die(error))).flat_map(lambda _: die(error))
                scope.add_finalizer(release_it)
                return _make(SUCCEED, resource)
            return _make(FLAT_MAP, acq, on_acquired)
        return _shaped(_make(STATUS, _make(WITH_FIBER, register), False),
                       "acquire_release", ("acquire", acq), ("release", release))

    if not callable(use) or isinstance(use, Effect):
        raise TypeError(f"acquire_release's use must be a function of the resource, got {type(use).__name__} {use!r}")
    use_fn = use

    def bracket(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
        def with_resource(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
            def acquired(resource: Any) -> Effect[Any, Any, Any]:
                rid = next(_RESOURCE_IDS)
                inst = fiber._runtime.instrument
                if inst is not None:
                    inst.emit("resource_acquired", fiber, rid, resource)
                fin = _tracked_release(fiber, rid, call, resource)
                used = restore(_make(SUSPEND, lambda: lift(use_fn(resource), "acquire_release's use")))
                return used.on_exit(fin)
            return acq.flat_map(acquired)
        return _make(WITH_FIBER, with_resource)

    return _shaped(uninterruptible_mask(bracket), "acquire_release",
                   ("acquire", acq), ("release", release), ("use", use_fn))


def scoped(effect: Effect[Any, E, A]) -> Effect[Any, E, A]:
    """Run ``effect`` with a fresh `Scope`: every resource it acquires with
    `acquire_release` is released (last first) when it ends, however it ends."""
    eff = lift(effect, "scoped")

    def body(restore: Callable[[Effect[Any, Any, Any]], Effect[Any, Any, Any]]) -> Effect[Any, Any, Any]:
        def with_scope(fiber: Fiber[Any, Any]) -> Effect[Any, Any, Any]:
            scope = Scope()
            sid = next(SCOPE_IDS)
            inst = fiber._runtime.instrument
            if inst is not None:
                inst.emit("scope_opened", fiber, sid, "scoped")

            def closing(exit_: Exit[Any]) -> Effect[Any, Any, Any]:
                closed = scope.close(exit_)
                if inst is None:
                    return closed
                return closed.ensuring(_make(SYNC, lambda: inst.emit("scope_closed", fiber, sid, "scoped")))
            return restore(_make(IN_SCOPE, eff, scope)).on_exit(closing)
        return _make(WITH_FIBER, with_scope)

    return _shaped(uninterruptible_mask(body), "scoped", ("effect", eff))
