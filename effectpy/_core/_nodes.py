"""The nodes an `Effect` is built from: their tags, what each keeps in its fields, and the
small objects some of them carry. The run loop (`_loop.py`) interprets them; `_effect.py`
builds them.

The primitive nodes (``Effect._tag``) and their fields::

    SUCCEED    a=value
    FAIL       a=Cause
    SYNC       a=thunk()                      exceptions become defects (Die)
    ATTEMPT    a=thunk()                      exceptions become typed failures (Fail)
    SUSPEND    a=thunk() -> Effect
    OP         a=fn(b, c, fiber) -> value, or _Instead(effect): that effect runs in the node's place
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
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

if TYPE_CHECKING:
    from ._effect import Effect
    from ._scope import Scope

__all__: list[str] = []

R = TypeVar("R")
E = TypeVar("E")
A = TypeVar("A")

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
    parts: Iterable[tuple[str, object]] = ()


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
