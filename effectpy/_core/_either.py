"""`Either`: the result of `Effect.either`, a typed failure (`Left`) or a success (`Right`)."""

from __future__ import annotations

from typing import Generic, TypeVar

__all__ = ["Either", "Left", "Right"]

E = TypeVar("E")
A = TypeVar("A")
E_co = TypeVar("E_co", covariant=True)
A_co = TypeVar("A_co", covariant=True)


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
