"""Why an effect did not succeed: the `Cause` tree, `Exit`, and the `Failure` exception.

Exception and outcome tree::

    Cause                    why a fiber did not succeed (a value, not an exception)
    ├── Empty                no failure at all (the unit of Then/Both)
    ├── Fail(error)          a typed failure, from `fail(...)`; `catch_all` handles it
    ├── Die(exception)       a defect: an exception escaped user code
    ├── Interrupt(fiber_id)  the fiber was interrupted (by fiber `fiber_id`, or the host)
    ├── Then(first, second)  `second` happened while handling `first` (e.g. a finalizer failed)
    └── Both(left, right)    two causes at once (e.g. two branches of `zip_par` failed)

    Exit = Success(value) | Failed(cause)

    Exception
    └── Failure              raised by `run`, `await effect` and `_run`; `.error`, `.cause`
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, NoReturn, TypeVar, final

__all__ = [
    "Both", "Cause", "Die", "Empty", "Exit", "Fail", "Failure", "Interrupt", "Then",
]

A = TypeVar("A")
B = TypeVar("B")

# Who interrupted a fiber when it was not another fiber.
HOST: Final = "host"


class Cause:
    """Base of the cause tree. Causes are immutable values compared by structure."""

    __slots__ = ()

    def _walk(self) -> Iterator[Cause]:
        # Iterative pre-order walk: causes can be deep (long Then chains) and must not
        # overflow the Python stack.
        stack: list[Cause] = [self]
        while stack:
            c = stack.pop()
            yield c
            if isinstance(c, (Then, Both)):
                stack.append(c.right if isinstance(c, Both) else c.second)
                stack.append(c.left if isinstance(c, Both) else c.first)

    def failures(self) -> list[Any]:
        """The typed errors in this cause, in order."""
        return [c.error for c in self._walk() if isinstance(c, Fail)]

    def defects(self) -> list[BaseException]:
        """The exceptions that escaped user code, in order."""
        return [c.exception for c in self._walk() if isinstance(c, Die)]

    def interruptors(self) -> list[object]:
        """The ids of whoever interrupted (fiber ids, or ``"host"``), in order."""
        return [c.fiber_id for c in self._walk() if isinstance(c, Interrupt)]

    def is_empty(self) -> bool:
        return all(isinstance(c, (Empty, Then, Both)) for c in self._walk())

    def is_interrupted_only(self) -> bool:
        """True when the cause holds interruptions and nothing else."""
        leaves = [c for c in self._walk() if not isinstance(c, (Empty, Then, Both))]
        return bool(leaves) and all(isinstance(c, Interrupt) for c in leaves)

    def is_failure_only(self) -> bool:
        """True when the cause holds typed failures and nothing else: what `catch_all` handles."""
        leaves = [c for c in self._walk() if not isinstance(c, (Empty, Then, Both))]
        return bool(leaves) and all(isinstance(c, Fail) for c in leaves)

    def _unsandboxed(self) -> Cause:
        """This cause with each typed failure whose error is itself a `Cause` replaced by
        that cause (`Effect.unsandbox`)."""
        if isinstance(self, Fail):
            return self.error if isinstance(self.error, Cause) else self
        if isinstance(self, Then):
            return self.first._unsandboxed().then(self.second._unsandboxed())
        if isinstance(self, Both):
            return self.left._unsandboxed().both(self.right._unsandboxed())
        return self

    def then(self, other: Cause) -> Cause:
        if isinstance(self, Empty):
            return other
        if isinstance(other, Empty):
            return self
        return Then(self, other)

    def both(self, other: Cause) -> Cause:
        if isinstance(self, Empty):
            return other
        if isinstance(other, Empty):
            return self
        return Both(self, other)

    def pretty(self, who: Callable[[object], str] | None = None) -> str:
        """A readable, traceback-style rendering of every failure in the tree.

        ``who`` names an interruptor (default: "fiber #<id>", or the text given)."""
        lines: list[str] = []
        self._pretty(lines, "", who or _who)
        return "\n".join(lines)

    def _pretty(self, out: list[str], indent: str, who: Callable[[object], str]) -> None:
        # Recursive on Then/Both only, which nest shallowly in practice; leaves are bounded.
        if isinstance(self, Then):
            out.append(indent + "Then:")
            self.first._pretty(out, indent + "  ", who)
            out.append(indent + "  -- then, while handling it --")
            self.second._pretty(out, indent + "  ", who)
        elif isinstance(self, Both):
            out.append(indent + "Both (in parallel):")
            self.left._pretty(out, indent + "  ", who)
            out.append(indent + "  -- and --")
            self.right._pretty(out, indent + "  ", who)
        elif isinstance(self, Fail):
            out.append(f"{indent}Fail: {self.error!r}")
        elif isinstance(self, Die):
            out.append(f"{indent}Die: {type(self.exception).__name__}: {self.exception}")
            tb = traceback.format_exception(self.exception)
            out.extend(indent + "  " + ln for chunk in tb[:-1] for ln in chunk.rstrip().splitlines())
        elif isinstance(self, Interrupt):
            out.append(f"{indent}Interrupt: by {who(self.fiber_id)}")
        else:
            out.append(f"{indent}Empty")


def _who(fiber_id: object) -> str:
    return f"fiber #{fiber_id}" if isinstance(fiber_id, int) else str(fiber_id)


@final
class Empty(Cause):
    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Empty)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "Empty()"


EMPTY: Final = Empty()


@final
class Fail(Cause):
    __slots__ = ("error",)

    def __init__(self, error: Any) -> None:
        self.error = error

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fail) and other.error == self.error

    def __hash__(self) -> int:
        return hash(("Fail", repr(self.error)))

    def __repr__(self) -> str:
        return f"Fail({self.error!r})"


@final
class Die(Cause):
    __slots__ = ("exception",)

    def __init__(self, exception: BaseException) -> None:
        if not isinstance(exception, BaseException):
            raise TypeError(
                f"Die expects an exception, got {type(exception).__name__} {exception!r}; "
                "use Fail(...) for a typed failure value"
            )
        self.exception = exception

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Die) and other.exception is self.exception

    def __hash__(self) -> int:
        return id(self.exception)

    def __repr__(self) -> str:
        return f"Die({self.exception!r})"


@final
class Interrupt(Cause):
    __slots__ = ("fiber_id",)

    def __init__(self, fiber_id: object) -> None:
        self.fiber_id = fiber_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interrupt) and other.fiber_id == self.fiber_id

    def __hash__(self) -> int:
        return hash(("Interrupt", self.fiber_id))

    def __repr__(self) -> str:
        return f"Interrupt({self.fiber_id!r})"


@final
class Then(Cause):
    __slots__ = ("first", "second")

    def __init__(self, first: Cause, second: Cause) -> None:
        self.first = first
        self.second = second

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Then) and other.first == self.first and other.second == self.second

    def __hash__(self) -> int:
        return hash(("Then", self.first, self.second))

    def __repr__(self) -> str:
        return f"Then({self.first!r}, {self.second!r})"


@final
class Both(Cause):
    __slots__ = ("left", "right")

    def __init__(self, left: Cause, right: Cause) -> None:
        self.left = left
        self.right = right

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Both) and other.left == self.left and other.right == self.right

    def __hash__(self) -> int:
        return hash(("Both", self.left, self.right))

    def __repr__(self) -> str:
        return f"Both({self.left!r}, {self.right!r})"


class Failure(Exception):
    """Raised when a run of an effect does not succeed.

    ``error`` is the first typed failure (what ``fail(...)`` was given), or, when the
    effect died or was interrupted, the defect or ``None``; ``cause`` is the whole tree.
    """

    def __init__(self, cause: Cause) -> None:
        self.cause = cause
        failures = cause.failures()
        if failures:
            self.error: Any = failures[0]
        else:
            defects = cause.defects()
            self.error = defects[0] if defects else None
        super().__init__(cause.pretty())

    def __repr__(self) -> str:
        return f"Failure({self.cause!r})"


@final
class Exit(Generic[A]):
    """How a run ended: a success with ``value``, or a failure with ``cause``."""

    __slots__ = ("_ok", "_value", "_cause")

    def __init__(self, ok: bool, value: Any, cause: Cause) -> None:
        self._ok = ok
        self._value = value
        self._cause = cause

    @staticmethod
    def succeed(value: B) -> Exit[B]:
        return Exit(True, value, EMPTY)

    @staticmethod
    def fail_cause(cause: Cause) -> Exit[Any]:
        return Exit(False, None, cause)

    @staticmethod
    def fail(error: Any) -> Exit[Any]:
        return Exit(False, None, Fail(error))

    def is_success(self) -> bool:
        return self._ok

    def is_failure(self) -> bool:
        return not self._ok

    def is_interrupted(self) -> bool:
        return not self._ok and bool(self._cause.interruptors())

    @property
    def value(self) -> A:
        """The success value; raises `Failure` for a failed exit."""
        if not self._ok:
            raise Failure(self._cause)
        return self._value  # type: ignore[no-any-return]

    @property
    def cause(self) -> Cause:
        """The failure's cause; `Empty()` for a success."""
        return self._cause

    def get_or_raise(self) -> A:
        return self.value

    def map(self, f: Callable[[A], B]) -> Exit[B]:
        return Exit(True, f(self._value), EMPTY) if self._ok else Exit(False, None, self._cause)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Exit) or other._ok != self._ok:
            return False
        return bool(other._value == self._value) if self._ok else other._cause == self._cause

    def __hash__(self) -> int:
        return hash((self._ok, repr(self._value), self._cause))

    def __repr__(self) -> str:
        return f"Exit.succeed({self._value!r})" if self._ok else f"Exit.fail_cause({self._cause!r})"


def raise_failure(cause: Cause) -> NoReturn:
    """Raise what a failed run should raise: `Failure`, or a fatal exception as itself."""
    for d in cause.defects():
        if not isinstance(d, Exception):  # KeyboardInterrupt, SystemExit: propagate as-is
            raise d
    raise Failure(cause)
