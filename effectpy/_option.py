"""`Option`: a value that may be absent (`Some(x)` or `NONE`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Generic, NoReturn, TypeVar, final

__all__ = ["NONE", "Option", "Some"]

A = TypeVar("A")
B = TypeVar("B")
A_co = TypeVar("A_co", covariant=True)


@final
class Some(Generic[A_co]):
    """A present value.

    >>> Some(2).map(lambda x: x + 1)
    Some(3)
    """

    __slots__ = ("value",)
    __match_args__ = ("value",)

    def __init__(self, value: A_co) -> None:
        self.value = value

    def is_some(self) -> bool:
        return True

    def is_none(self) -> bool:
        return False

    def map(self, f: Callable[[A_co], B]) -> Some[B]:
        return Some(f(self.value))

    def get_or_else(self, default: object) -> A_co:
        return self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Some) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("Some", self.value))

    def __repr__(self) -> str:
        return f"Some({self.value!r})"


@final
class Nothing:
    """The absent value; use the `NONE` singleton.

    >>> NONE.get_or_else(0)
    0
    """

    __slots__ = ()
    _instance: Nothing | None = None

    def __new__(cls) -> Nothing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def is_some(self) -> bool:
        return False

    def is_none(self) -> bool:
        return True

    @property
    def value(self) -> NoReturn:
        raise ValueError("NONE has no value; check is_some() first, or use get_or_else(default)")

    def map(self, f: Callable[[Any], Any]) -> Nothing:
        return self

    def get_or_else(self, default: B) -> B:
        return default

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NONE"


NONE: Final = Nothing()

Option = Some[A] | Nothing
