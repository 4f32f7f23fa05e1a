"""The JSONL form of a trace: written whole, written as a run goes on, and read back.

The whole form (`Trace.to_jsonl`, `Trace.save_jsonl`) is a header line, then one line per
event::

    {"clock": "TestClock", "dropped": 0, "events": 2, "format": "effectpy-trace", "version": 1}
    {"by": null, "data": {}, "fiber": 1, "kind": "fork", "name": null, "parent": null, "seq": 0, "ts": 0.0}
    {"by": null, "data": {"outcome": "success"}, "fiber": 1, "kind": "exit", ...}

The streamed form (``record(path=...)``) cannot know the number of events in advance: its
header says ``"streamed": true`` instead, events follow as they are recorded, and an end
line closes it when the recording ends::

    {"clock": "live", "format": "effectpy-trace", "streamed": true, "version": 1}
    ... one line per event ...
    {"clock": "live", "end": true, "events": 2}

A streamed file without its end line is *truncated*: the process died first. `read` loads
every complete event of it and says so; a last line cut in the middle (a kill while
writing) is left out. Anything malformed elsewhere is a `TraceFormatError` naming its line.
Lines are ASCII (``json.dumps`` escapes the rest), so no user text can split a line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any, Final, NamedTuple

from ._events import FORMAT, KINDS, MAX_ID, VERSION, TraceEvent, TraceFormatError, safe_repr
from ._store import EventStore, ns_times

__all__ = ["LineWriter", "Loaded", "Spill", "read", "whole_header"]

# A clock's name is shown in pictures: longer ones are not a clock's name.
MAX_CLOCK: Final = 100
# Distinct values remembered while reading, to share one copy of each; then forgotten.
_SHARE_LIMIT: Final = 65_536
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def whole_header(clock: str, dropped: int, events: int) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "clock": clock, "dropped": dropped,
                       "events": events}, sort_keys=True)


def _streamed_header(clock: str) -> str:
    return json.dumps({"format": FORMAT, "version": VERSION, "clock": clock, "streamed": True},
                      sort_keys=True)


def _end_line(clock: str, events: int) -> str:
    return json.dumps({"clock": clock, "end": True, "events": events}, sort_keys=True)


class LineWriter:
    """Event lines, exactly as ``json.dumps(event.to_json(), sort_keys=True)`` writes them,
    about five times faster: the JSON of each name and of each shared data mapping (the
    recorder's and loader's read-only ones) is made once."""

    def __init__(self) -> None:
        self._texts: dict[object, str] = {None: "null"}
        self._datas: dict[int, tuple[Mapping[str, Any], str]] = {}

    def _text(self, value: str | int | None) -> str:
        text = self._texts.get(value)
        if text is None:
            if value.__class__ is int:
                return str(value)
            text = json.dumps(value)
            if len(self._texts) >= _SHARE_LIMIT:
                self._texts.clear()
                self._texts[None] = "null"
            self._texts[value] = text
        return text

    def _data(self, data: Mapping[str, Any]) -> str:
        if data.__class__ is not MappingProxyType:
            return json.dumps(dict(data), sort_keys=True)
        known = self._datas.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        text = json.dumps(dict(data), sort_keys=True)
        if len(self._datas) >= _SHARE_LIMIT:
            self._datas.clear()
        self._datas[id(data)] = (data, text)  # (holding data: its id stays its own)
        return text

    def line(self, seq: int, ts: float, kind: str, fiber: int, parent: int | None,
             by: int | str | None, name: str | None, data: Mapping[str, Any]) -> str:
        return (f'{{"by": {self._text(by)}, "data": {self._data(data)}, "fiber": {fiber}, '
                f'"kind": "{kind}", "name": {self._text(name)}, '
                f'"parent": {"null" if parent is None else parent}, "seq": {seq}, "ts": {ts!r}}}\n')

    def lines(self, events: Iterable[TraceEvent]) -> Iterator[str]:
        line = self.line
        for e in events:
            yield line(*e)


class Spill:
    """A trace file written while the run goes on (the streamed form).

    The file is opened (created or emptied) at once, so a bad path fails before the run.
    Writes are buffered; `flush` hands them to the OS (which keeps them if the process is
    killed). A write that fails (a full disk) stops the spill and is kept in `error`: the
    run goes on, and the recorder warns when it closes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] | None = open(path, "w", encoding="ascii", newline="\n",  # noqa: SIM115
                                          buffering=1 << 16)
        self._writer = LineWriter()
        self._started = False
        self.written = 0
        self.error: OSError | None = None

    def _guarded(self, action: Callable[[], None]) -> None:
        """Run ``action`` (a write), unless the spill has stopped; an OSError stops it."""
        if self._file is None:
            return
        try:
            action()
        except OSError as exc:
            self.error = exc
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:
                pass

    def _start(self, clock: str) -> None:
        if not self._started:
            self._started = True
            assert self._file is not None
            self._file.write(_streamed_header(clock) + "\n")

    def write(self, clock: str, seq0: int, slots: Sequence[Any], readings: Sequence[float],
              origin: float | None) -> None:
        """Write a batch of events, numbered from ``seq0``: their six stored slots each
        (`effectpy.trace._store`), and their clock readings (minus ``origin``: times)."""
        def write() -> None:
            self._start(clock)
            times = ns_times(readings, origin) if origin is not None else readings
            assert self._file is not None
            self._file.writelines(map(self._writer.line, range(seq0, seq0 + len(readings)), times,
                                      slots[0::6], slots[1::6], slots[2::6], slots[3::6],
                                      slots[4::6], slots[5::6]))
            self.written += len(readings)
        self._guarded(write)

    def flush(self, clock: str) -> None:
        def flush() -> None:
            self._start(clock)
            assert self._file is not None
            self._file.flush()
        self._guarded(flush)

    def close(self, clock: str) -> None:
        def close() -> None:
            self._start(clock)
            assert self._file is not None
            self._file.write(_end_line(clock, self.written) + "\n")
            self._file.close()
            self._file = None
        self._guarded(close)


def write_whole(target: Path, header: str, lines: Iterable[str]) -> Path:
    """Write a whole trace to ``target`` through a temporary file renamed into place, so a
    process killed while saving leaves the old file or the new one, never half of one."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="ascii", newline="\n") as out:
            out.write(header + "\n")
            out.writelines(lines)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


# --- reading ------------------------------------------------------------------------------


class Loaded(NamedTuple):
    store: EventStore
    dropped: int
    clock: str
    truncated: bool


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a trace may hold")


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
_KIND: Final = {kind: kind for kind in KINDS}  # a kind read -> the one copy of it


def _parse(line: bytes | str, where: str) -> Any:
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{where}: not UTF-8 text ({exc.reason})") from None
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise TraceFormatError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise TraceFormatError(f"{where}: JSON nested too deeply") from None
    except ValueError as exc:  # a number of more than 4,300 digits, NaN, Infinity
        raise TraceFormatError(f"{where}: not a valid trace line ({exc})") from None


def _count(header: Mapping[str, Any], key: str, where: str, default: int | None = None) -> int:
    value = header.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise TraceFormatError(f"{where}: {key!r} must be an int from 0 to 2**53, got "
                               f"{safe_repr(value, 60)}")
    return value


def _clock(header: Mapping[str, Any], where: str) -> str:
    clock = header.get("clock", "live")
    if not isinstance(clock, str) or len(clock) > MAX_CLOCK:
        raise TraceFormatError(f"{where}: 'clock' must be the clock's name (a string of at most "
                               f"{MAX_CLOCK} characters), got {safe_repr(clock, 60)}")
    return clock


class _Sharer:
    """One copy of each repeated name, id and data mapping while reading (bounded)."""

    def __init__(self) -> None:
        self._values: dict[object, object] = {}
        self._datas: dict[tuple[tuple[str, Any], ...], Mapping[str, Any]] = {}

    def value(self, value: Any) -> Any:
        if value is None:
            return None
        values = self._values
        if len(values) >= _SHARE_LIMIT:
            values.clear()
        return values.setdefault(value, value)

    def data(self, data: dict[str, Any]) -> Mapping[str, Any]:
        if not data:
            return _EMPTY
        # only strings, booleans and nulls: 1 == 1.0 == True and 0.0 == -0.0 would mix
        if not all(v is None or v.__class__ is str or v.__class__ is bool for v in data.values()):
            return data
        key = tuple(data.items())
        shared = self._datas.get(key)
        if shared is None:
            if len(self._datas) >= _SHARE_LIMIT:
                self._datas.clear()
            shared = self._datas[key] = MappingProxyType(data)
        return shared


def read(lines: Iterable[bytes | str], source: str) -> Loaded:
    """Read a trace's lines (each with its ``\\n``, but perhaps the last); see the module's
    docstring for the forms. `TraceFormatError` names the line of any problem."""
    numbered = enumerate(lines, start=1)
    first = next(numbered, (1, b""))[1]
    if not first.strip():
        raise TraceFormatError(f"{source}: empty; expected an effectpy trace (JSONL with a header line)")
    header = _parse(first, f"{source}, line 1")
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TraceFormatError(f"{source}: not an effectpy trace (line 1 should be a header with "
                               f"format {FORMAT!r}, got {safe_repr(first[:80])})")
    where = f"{source}, line 1 (header)"
    version = header.get("version")
    if version.__class__ is not int or version != VERSION:
        raise TraceFormatError(f"{source}: trace format version {safe_repr(version, 60)}; "
                               f"this effectpy reads version {VERSION}")
    streamed = header.get("streamed", False)
    if streamed.__class__ is not bool:
        raise TraceFormatError(f"{where}: 'streamed' must be true or false, got {safe_repr(streamed, 60)}")
    clock = _clock(header, where)
    if streamed:
        if "events" in header:
            raise TraceFormatError(f"{where}: a streamed trace counts its events in its end line, "
                                   "not in its header")
        count, dropped = -1, 0
    else:
        count, dropped = _count(header, "events", where), _count(header, "dropped", where, 0)

    store = EventStore(own_seqs=True)
    share = _Sharer()
    last = -1
    end: int | None = None  # the line number of a streamed trace's end line
    truncated = False
    for n, line in numbered:
        if not line.strip():
            continue
        where = f"{source}, line {n}"
        if end is not None:
            raise TraceFormatError(f"{where}: a line after the end line (line {end})")
        try:
            obj = _parse(line, where)
        except TraceFormatError:
            if streamed and line[-1:] not in (b"\n", "\n"):
                truncated = True  # the last line, cut by a kill: every complete event is in
                break
            raise
        if streamed and isinstance(obj, dict) and "end" in obj:
            if obj.get("end") is not True or set(obj) != {"clock", "end", "events"}:
                raise TraceFormatError(f"{where}: an end line is {{\"clock\": ..., \"end\": true, "
                                       f"\"events\": N}}, got {safe_repr(obj, 80)}")
            count, clock, end = _count(obj, "events", where), _clock(obj, where), n
            continue
        seq, ts, kind, fiber, parent, by, name, data = TraceEvent.from_json(obj, where)
        if seq <= last:
            raise TraceFormatError(f"{where}: seq {seq} does not follow {last}")
        last = seq
        store.append(seq, ts, _KIND[kind], share.value(fiber), share.value(parent), share.value(by),
                     share.value(name), share.data(data))  # type: ignore[arg-type]
    if streamed and end is None:
        truncated = True
    elif len(store) != count:
        raise TraceFormatError(f"{source}: the {'end line' if streamed else 'header'} announces "
                               f"{count} events but {len(store)} were found"
                               + ("" if streamed else " (truncated file?)"))
    return Loaded(store, dropped, clock, truncated)


def text_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` split at ``\\n`` only (JSON escapes every other line break),
    each with its ``\\n`` but the last."""
    pieces = text.split("\n")
    for piece in pieces[:-1]:
        yield piece + "\n"
    yield pieces[-1]
