"""Export a `Trace` as Chrome trace-event JSON, for ui.perfetto.dev and chrome://tracing.

One thread track per fiber (in fiber-tree order, named after the fiber) holding a complete
slice for its lifetime and nested slices for the time it waited; fork and cancel as flow
arrows between tracks; zip_par / race / ... scopes as async slices; acquire, release,
failures and timeouts as instant events. Times are microseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = ["to_perfetto"]

PID: Final = 1
_INSTANTS: Final = {"acquire": "acquire", "release": "release", "fail": "fail", "die": "die",
                    "timeout": "timeout", "join": "join", "retry": "retry"}


def _us(seconds: float) -> float:
    return round(seconds * 1_000_000, 3)


def to_perfetto(trace: Trace) -> dict[str, Any]:
    events = trace.events
    end_of_trace = events[-1].ts if events else 0.0
    out: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": PID, "tid": 0, "args": {"name": "effectpy"}},
    ]
    for index, f in enumerate(trace.tree_order()):
        out.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": f.id, "args": {"name": f.label}})
        out.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": f.id,
                    "args": {"sort_index": index}})
        end = f.end if f.end is not None else end_of_trace
        out.append({"ph": "X", "name": f.label, "cat": "fiber", "pid": PID, "tid": f.id,
                    "ts": _us(f.start), "dur": _us(end - f.start),
                    "args": {"outcome": f.outcome or "never ended", "parent": f.parent}})
    waiting: dict[int, tuple[float, str]] = {}
    flow = 0
    for e in events:
        kind = e.kind
        if kind == "suspend":
            waiting[e.fiber] = (e.ts, str(e.data.get("on", "?")))
        elif kind in ("resume", "exit") and e.fiber in waiting:
            start, on = waiting.pop(e.fiber)
            out.append({"ph": "X", "name": f"waiting: {on}", "cat": "wait", "pid": PID, "tid": e.fiber,
                        "ts": _us(start), "dur": _us(e.ts - start)})
        if kind == "fork" and e.parent is not None:
            flow += 1
            out.append({"ph": "s", "name": "fork", "cat": "fork", "id": flow, "pid": PID,
                        "tid": e.parent, "ts": _us(e.ts)})
            out.append({"ph": "f", "bp": "e", "name": "fork", "cat": "fork", "id": flow, "pid": PID,
                        "tid": e.fiber, "ts": _us(e.ts)})
        elif kind == "cancel":
            reason = str(e.data.get("reason", ""))
            if isinstance(e.by, int):
                flow += 1
                out.append({"ph": "s", "name": "cancel", "cat": "cancel", "id": flow, "pid": PID,
                            "tid": e.by, "ts": _us(e.ts)})
                out.append({"ph": "f", "bp": "e", "name": "cancel", "cat": "cancel", "id": flow,
                            "pid": PID, "tid": e.fiber, "ts": _us(e.ts)})
            out.append({"ph": "i", "s": "t", "name": f"cancelled by {e.by}", "cat": "cancel",
                        "pid": PID, "tid": e.fiber, "ts": _us(e.ts), "args": {"reason": reason}})
        elif kind in ("scope_open", "scope_close"):
            out.append({"ph": "b" if kind == "scope_open" else "e", "name": str(e.data.get("kind")),
                        "cat": "scope", "id": int(e.data.get("scope", 0)), "pid": PID, "tid": e.fiber,
                        "ts": _us(e.ts)})
        elif kind in _INSTANTS:
            out.append({"ph": "i", "s": "t", "name": _INSTANTS[kind], "cat": kind, "pid": PID,
                        "tid": e.fiber, "ts": _us(e.ts),
                        "args": {k: v for k, v in e.data.items() if k != "cause"} | (
                            {"fiber": e.by} if kind == "join" else {})})
    for fid, (start, on) in waiting.items():  # still waiting when the trace ended
        out.append({"ph": "X", "name": f"waiting: {on}", "cat": "wait", "pid": PID, "tid": fid,
                    "ts": _us(start), "dur": _us(end_of_trace - start)})
    return {"traceEvents": out, "displayTimeUnit": "ms",
            "otherData": {"generator": "effectpy", "clock": trace.clock, "dropped": trace.dropped}}
