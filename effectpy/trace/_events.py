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

__all__ = ["FORMAT", "KINDS", "VERSION", "TraceEvent", "TraceFormatError", "safe_repr", "safe_text"]

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

# Longest repr kept for user values (names, errors, resources) in events.
MAX_TEXT: Final = 500


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
        expected = {"seq", "ts", "kind", "fiber", "parent", "by", "name", "data"}
        if set(obj) != expected:
            missing, extra = expected - set(obj), set(obj) - expected
            raise TraceFormatError(f"{where}: wrong fields (missing {sorted(missing)}, unexpected {sorted(extra)})")
        seq, ts, kind, fiber = obj["seq"], obj["ts"], obj["kind"], obj["fiber"]
        parent, by, name, data = obj["parent"], obj["by"], obj["name"], obj["data"]
        if not _is_int(seq) or seq < 0:
            raise TraceFormatError(f"{where}: seq must be an int >= 0, got {seq!r}")
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
            raise TraceFormatError(f"{where}: ts must be a finite number, got {ts!r}")
        if kind not in KINDS:
            raise TraceFormatError(f"{where}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
        if not _is_int(fiber) or fiber < 1:
            raise TraceFormatError(f"{where}: fiber must be an int >= 1, got {fiber!r}")
        if parent is not None and (not _is_int(parent) or parent < 1):
            raise TraceFormatError(f"{where}: parent must be null or an int >= 1, got {parent!r}")
        if by is not None and not (_is_int(by) or isinstance(by, str)):
            raise TraceFormatError(f"{where}: by must be null, an int or a string, got {by!r}")
        if name is not None and not isinstance(name, str):
            raise TraceFormatError(f"{where}: name must be null or a string, got {name!r}")
        if not isinstance(data, dict):
            raise TraceFormatError(f"{where}: data must be a JSON object, got {type(data).__name__}")
        return TraceEvent(seq, float(ts), kind, fiber, parent, by, name, data)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


_ADDRESS: Final = re.compile(r" at 0x[0-9a-fA-F]+")


def safe_repr(value: object, limit: int = MAX_TEXT) -> str:
    """``repr(value)`` for a trace: never raises, no memory addresses (so traces are
    reproducible), truncated to ``limit`` characters with a marker saying how much was cut."""
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break tracing
        text = f"<unrepresentable {type(value).__name__}: {type(exc).__name__}>"
    return safe_text(text, limit)


def safe_text(text: str, limit: int = MAX_TEXT) -> str:
    """Text for a trace: no memory addresses, truncated to ``limit`` characters."""
    text = _ADDRESS.sub("", text)
    if len(text) > limit:
        text = f"{text[:limit]}... [{len(text) - limit} more characters]"
    return text
