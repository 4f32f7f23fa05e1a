"""`Duration`: a non-negative span of time, and the coercion every time-taking API uses."""

from __future__ import annotations

import math
from typing import Final, final

__all__ = ["Duration"]


@final
class Duration:
    """A non-negative span of time with millisecond-and-finer precision.

    >>> Duration.seconds(5) + Duration.millis(250)
    Duration.seconds(5.25)
    >>> Duration.minutes(1) > Duration.seconds(59)
    True
    """

    __slots__ = ("_seconds",)

    def __init__(self, seconds: float) -> None:
        self._seconds = to_seconds(seconds, "Duration")

    @classmethod
    def seconds(cls, n: float) -> Duration:
        return cls(n)

    @classmethod
    def millis(cls, n: float) -> Duration:
        return cls(_number(n, "Duration.millis") / 1000)

    @classmethod
    def micros(cls, n: float) -> Duration:
        return cls(_number(n, "Duration.micros") / 1_000_000)

    @classmethod
    def minutes(cls, n: float) -> Duration:
        return cls(_number(n, "Duration.minutes") * 60)

    @classmethod
    def hours(cls, n: float) -> Duration:
        return cls(_number(n, "Duration.hours") * 3600)

    def total_seconds(self) -> float:
        return self._seconds

    def to_millis(self) -> float:
        return self._seconds * 1000

    def __add__(self, other: Duration) -> Duration:
        if not isinstance(other, Duration):
            return NotImplemented
        return Duration(self._seconds + other._seconds)

    def __sub__(self, other: Duration) -> Duration:
        if not isinstance(other, Duration):
            return NotImplemented
        return Duration(max(0.0, self._seconds - other._seconds))

    def __mul__(self, factor: float) -> Duration:
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            return NotImplemented
        return Duration(self._seconds * factor)

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> Duration:
        if isinstance(divisor, bool) or not isinstance(divisor, (int, float)):
            return NotImplemented
        return Duration(self._seconds / divisor)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other._seconds == self._seconds

    def __lt__(self, other: Duration) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return self._seconds < other._seconds

    def __le__(self, other: Duration) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return self._seconds <= other._seconds

    def __gt__(self, other: Duration) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return self._seconds > other._seconds

    def __ge__(self, other: Duration) -> bool:
        if not isinstance(other, Duration):
            return NotImplemented
        return self._seconds >= other._seconds

    def __hash__(self) -> int:
        return hash(self._seconds)

    def __bool__(self) -> bool:
        return self._seconds > 0

    def __repr__(self) -> str:
        s = self._seconds
        return f"Duration.seconds({int(s) if s == int(s) else s})"



def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{where} expects a number of seconds or a Duration, got {type(value).__name__} {value!r}"
        )
    return float(value)


def to_seconds(value: object, where: str) -> float:
    """Seconds from a number or `Duration`; rejects negatives, NaN and non-numbers."""
    if isinstance(value, Duration):
        return value._seconds
    seconds = _number(value, where)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"{where} expects a non-negative duration, got {value!r}")
    return seconds


ZERO: Final = Duration(0)
