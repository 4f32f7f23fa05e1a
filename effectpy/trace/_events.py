"""`TraceEvent`: one step of interest in a run, as a JSON-serialisable value.

The trace format is the contract between the runtime and everything that draws it:

    TraceEvent(seq, ts, kind, fiber, parent, by, name, data)

``seq`` orders events within a trace; ``ts`` is seconds since the trace started, on the
trace's clock (virtual under a `TestClock`); ``fiber`` is a trace-local fiber id (1, 2, ...);
``parent`` the forking fiber (for ``fork``); ``by`` the other actor (who cancelled, whom a
join waits for); ``name`` the fiber's label; ``data`` a JSON object of kind-specific fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

__all__ = ["FIELDS", "FORMAT", "KINDS", "MAX_TEXT", "MAX_TS", "VERSION", "TraceEvent", "TraceFormatError",
           "safe_repr", "safe_str", "safe_text", "visible"]

FORMAT: Final = "effectpy-trace"
VERSION: Final = 1

# kind -> what its `data` holds
KINDS: Final[Mapping[str, str]] = {
    "fork": "daemon (bool, only when true), source (file:line, only with record(source=True))",
    "exit": "outcome: success | failure | interrupted; cause (text) unless success",
    "cancel": "reason; `by` is the canceller (a fiber id, or 'host')",
    "fail": "error (repr of the typed failure), cause (text)",
    "die": "error (the defect as 'Type: message'), cause (text)",
    "suspend": "on: sleep | join | await | deferred | semaphore | queue | never | zip_par | race | ...",
    "resume": "",
    "join": "`by` is the fiber waited for",
    "sleep": "deadline (trace seconds), seconds",
    "wake": "",
    "timeout": "after (seconds)",
    "retry": "attempt (1, 2, ...), delay (seconds before the next try), error (repr)",
    "scope_open": "scope (trace-local id), kind: zip_par | race | race_success | for_each_par | timeout | scoped",
    "scope_close": "scope, kind",
    "acquire": "resource (trace-local id), value (repr)",
    "release": "resource, exit: success | failure | interrupted; seconds (how long the release "
               "ran, when 1 ms or more)",
    "unwind": "waited (seconds since it was asked for): an interruption took effect late (1 ms "
              "or more): the fiber stops and runs its finalizers",
    "step": "seconds: a synchronous step held the event loop that long (real time: steps of 1 ms "
            "or more, on the live clock only); source (file:line of the code, when captured)",
}

# Longest text kept for user values (names, errors, resources, reasons) in events.
MAX_TEXT: Final = 500
# Timestamps beyond this many seconds either side of a trace's start are absurd (31,700
# years): `Trace.load` rejects them, so every renderer can do arithmetic on any loaded time.
MAX_TS: Final = 1e12
# Ids and sequence numbers are at most this (2**53: exact in JSON readers, e.g. JavaScript).
MAX_ID: Final = 2**53

# The `data` fields that readers (queries, renderers) use, and their JSON types; "number"
# is an int or a finite float, or null where the recorder had no finite value (a sleep
# forever); a tuple lists the strings allowed. Other fields may be present; every value of
# `data` is a JSON scalar.
_NUMBER: Final = "number"
OUTCOMES: Final = ("success", "failure", "interrupted")  # (a tuple: one of these strings)
FIELDS: Final[Mapping[str, Mapping[str, object]]] = {
    "fork": {"daemon": bool, "source": str},
    "exit": {"outcome": OUTCOMES, "cause": str},
    "cancel": {"reason": str},
    "fail": {"error": str, "cause": str},
    "die": {"error": str, "cause": str},
    "suspend": {"on": str},
    "sleep": {"deadline": _NUMBER, "seconds": _NUMBER},
    "timeout": {"after": _NUMBER},
    "retry": {"attempt": int, "delay": _NUMBER, "error": str},
    "scope_open": {"scope": int, "kind": str},
    "scope_close": {"scope": int, "kind": str},
    "acquire": {"resource": int, "value": str},
    "release": {"resource": int, "exit": OUTCOMES},
}
# The fields without which an event of the kind means nothing (pairing ids).
REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "scope_open": ("scope",), "scope_close": ("scope",), "acquire": ("resource",),
    "release": ("resource",),
}
_EVENT_FIELDS: Final = frozenset(("seq", "ts", "kind", "fiber", "parent", "by", "name", "data"))


class TraceFormatError(ValueError):
    """A saved trace is malformed, or of a format or version this effectpy cannot read."""


class TraceEvent(NamedTuple):
    seq: int
    ts: float
    kind: str
    fiber: int
    parent: int | None
    by: int | str | None
    name: str | None
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "fiber": self.fiber,
                "parent": self.parent, "by": self.by, "name": self.name, "data": dict(self.data)}

    @staticmethod
    def from_json(obj: object, where: str = "event") -> TraceEvent:
        """Validate a decoded JSON object and build the event; `TraceFormatError` if bad."""
        if not isinstance(obj, dict):
            raise TraceFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if obj.keys() != _EVENT_FIELDS:
            missing, extra = _EVENT_FIELDS - set(obj), set(obj) - _EVENT_FIELDS
            raise TraceFormatError(f"{where}: wrong fields (missing {sorted(missing)}, "
                                   f"unexpected {sorted(extra)[:10]})")
        seq, ts, kind, fiber = obj["seq"], obj["ts"], obj["kind"], obj["fiber"]
        parent, by, name, data = obj["parent"], obj["by"], obj["name"], obj["data"]
        if not _is_id(seq, 0):
            raise TraceFormatError(f"{where}: seq must be an int from 0 to 2**53, got {_shown(seq)}")
        if not _is_number(ts) or not -MAX_TS <= ts <= MAX_TS:
            raise TraceFormatError(f"{where}: ts must be a number of seconds from {-MAX_TS:g} to "
                                   f"{MAX_TS:g}, got {_shown(ts)}")
        if kind not in KINDS:
            raise TraceFormatError(f"{where}: unknown kind {_shown(kind)} (known: {', '.join(KINDS)})")
        if not _is_id(fiber, 1):
            raise TraceFormatError(f"{where}: fiber must be an int from 1 to 2**53, got {_shown(fiber)}")
        if parent is not None and not _is_id(parent, 1):
            raise TraceFormatError(f"{where}: parent must be null or an int from 1 to 2**53, "
                                   f"got {_shown(parent)}")
        if by is not None and not (_is_id(by, 1) or isinstance(by, str)):
            raise TraceFormatError(f"{where}: by must be null, a fiber id (an int from 1 to 2**53) "
                                   f"or a string, got {_shown(by)}")
        if name is not None and not isinstance(name, str):
            raise TraceFormatError(f"{where}: name must be null or a string, got {_shown(name)}")
        if not isinstance(data, dict):
            raise TraceFormatError(f"{where}: data must be a JSON object, got {type(data).__name__}")
        _check_data(kind, data, where)
        return TraceEvent(seq, float(ts), kind, fiber, parent, by, name, data)


def _check_data(kind: str, data: Mapping[str, object], where: str) -> None:
    """`TraceFormatError` unless ``data`` holds JSON scalars, with the types `FIELDS` gives."""
    fields = FIELDS.get(kind, {})
    for key, value in data.items():
        expected = fields.get(key)
        if expected is None:
            ok = value is None or isinstance(value, (str, bool, int)) or _is_number(value)
            what = "a JSON scalar (string, number, true, false or null)"
        elif expected is _NUMBER:
            ok = value is None or _is_number(value)
            what = "a finite number or null"
        elif expected is int:
            ok = _is_id(value, 0)
            what = "an int from 0 to 2**53"
        elif isinstance(expected, tuple):
            ok = value in expected and isinstance(value, str)
            what = " or ".join(map(repr, expected))
        else:
            ok = isinstance(value, expected)  # type: ignore[arg-type]
            what = "true or false" if expected is bool else "a string"
        if not ok:
            raise TraceFormatError(f"{where}: data[{key!r}] of this {kind} event must be {what}, "
                                   f"got {_shown(value)}")
    for key in REQUIRED.get(kind, ()):
        if key not in data:
            raise TraceFormatError(f"{where}: this {kind} event needs data[{key!r}]")


def _is_id(x: object, low: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and low <= x <= MAX_ID


def _is_number(x: object) -> bool:
    return (isinstance(x, float) and math.isfinite(x)) or (isinstance(x, int) and not isinstance(x, bool))


def _shown(value: object) -> str:
    """A bad value, shown short (a hostile file's value may be megabytes long)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {len(str(abs(value)))} digits"
    return safe_repr(value, 60)


_ADDRESS: Final = re.compile(r" at 0x[0-9a-fA-F]+")


def safe_repr(value: object, limit: int = MAX_TEXT) -> str:
    """``repr(value)`` for a trace: never raises, no memory addresses (so traces are
    reproducible), truncated to ``limit`` characters with a marker saying how much was cut."""
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break tracing
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return safe_text(text, limit)


def safe_str(value: object, limit: int = MAX_TEXT) -> str:
    """``str(value)`` for a trace, as `safe_repr` does ``repr``."""
    try:
        text = str(value)
    except Exception as exc:  # noqa: BLE001 - a broken __str__ must not break tracing
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    return safe_text(text, limit)


def safe_text(text: str, limit: int = MAX_TEXT) -> str:
    """Text for a trace: no memory addresses, truncated to ``limit`` characters.

    >>> safe_text("x" * 12, 5)
    'xxxxx... [7 more characters]'
    """
    if " at 0x" in text:  # (a substring test is much cheaper than the regex)
        text = _ADDRESS.sub("", text)
    if len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit} more characters]"
    return text


# What a picture must not pass on as is: control characters (C0 but tab, newline and
# carriage return; DEL; C1), the bidirectional formatting characters (which can make a
# label read backwards, e.g. U+202E RIGHT-TO-LEFT OVERRIDE), lone surrogates and the
# noncharacters U+FFFE / U+FFFF (not allowed in XML).
_INVISIBLE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    o = ord(match.group())
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def visible(text: str) -> str:
    """``text`` for a picture: control and bidirectional formatting characters shown as
    escapes, so that no name can hide text or reorder a label.

    >>> visible("evil\\u202eexe.txt")
    'evil\\\\u202eexe.txt'
    """
    return _INVISIBLE.sub(_escape, text)
