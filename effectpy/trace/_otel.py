"""Export a `Trace` to OpenTelemetry: fibers as spans (with parent links), cancellations,
failures and resource events as span events, failures as error status.

Needs the ``otel`` extra (``pip install effectpy[otel]``); the spans go to whatever
exporter the tracer provider has (OTLP to Jaeger, Tempo, any collector; or in memory).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._trace import Trace

__all__ = ["to_opentelemetry"]

_SPAN_EVENTS = ("cancel", "fail", "die", "acquire", "release", "timeout", "sleep", "wake", "join",
                "scope_open", "scope_close")


def _attr(value: Any) -> str | int | float | bool:
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def to_opentelemetry(trace: Trace, tracer: Any = None, *, epoch_ns: int | None = None) -> list[Any]:
    """Emit one span per fiber to ``tracer`` (default: the global tracer "effectpy") and
    return the spans, ended.

    Trace times are offsets on the trace's clock; ``epoch_ns`` is the wall-clock time of
    offset 0 (default: chosen so that the trace ends now).
    """
    try:
        from opentelemetry import trace as otel_trace
        from opentelemetry.trace import Status, StatusCode
    except ImportError:
        raise ImportError(
            "the OpenTelemetry export needs the OpenTelemetry SDK: pip install effectpy[otel]"
        ) from None
    events = trace.events
    if tracer is None:
        tracer = otel_trace.get_tracer("effectpy")
    end_of_trace = events[-1].ts if events else 0.0
    if epoch_ns is None:
        epoch_ns = time.time_ns() - int(end_of_trace * 1e9)

    def ns(ts: float) -> int:
        return epoch_ns + int(round(ts * 1e9))

    spans: dict[int, Any] = {}
    for f in trace.tree_order():
        parent = spans.get(f.parent) if f.parent is not None else None
        context = otel_trace.set_span_in_context(parent) if parent is not None else None
        spans[f.id] = tracer.start_span(
            f.label, context=context, start_time=ns(f.start),
            attributes={"effectpy.fiber": f.id, "effectpy.outcome": f.outcome or "never ended",
                        "effectpy.name": f.name or "", "effectpy.clock": trace.clock},
        )
    failures: dict[int, str] = {}
    for e in events:
        span = spans.get(e.fiber)
        if span is None or e.kind not in _SPAN_EVENTS:
            continue
        attributes = {f"effectpy.{k}": _attr(v) for k, v in e.data.items()}
        if e.by is not None:
            attributes["effectpy.by"] = _attr(e.by)
        span.add_event(e.kind, attributes=attributes, timestamp=ns(e.ts))
        if e.kind in ("fail", "die"):
            failures.setdefault(e.fiber, str(e.data.get("error", e.kind)))
    for f in trace.fibers():
        span = spans[f.id]
        if f.outcome == "failure":
            span.set_status(Status(StatusCode.ERROR, failures.get(f.id, "failed")))
        span.end(end_time=ns(f.end if f.end is not None else end_of_trace))
    return list(spans.values())
