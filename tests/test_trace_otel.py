"""OpenTelemetry export, checked with the SDK's in-memory exporter."""

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402
from test_trace_export import guide_race_trace  # noqa: E402

import effectpy  # noqa: E402
from effectpy import fail, sleep, zip_par  # noqa: E402
from effectpy.trace import record  # noqa: E402


def tracer_and_exporter():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_fibers_become_spans_with_parent_links_and_events():
    tracer, exporter = tracer_and_exporter()
    trace = guide_race_trace()
    trace.to_opentelemetry(tracer, epoch_ns=1_000_000_000_000)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {f.label for f in trace.fibers()}
    backup, primary = spans["#4 Backup"], spans["#3 Primary"]
    race_span = spans["#2 zip_par[0]"]
    assert backup.parent.span_id == race_span.context.span_id
    assert backup.context.trace_id == race_span.context.trace_id
    assert backup.end_time - backup.start_time == 200_000_000  # 0.2 s of virtual time
    assert backup.start_time == 1_000_000_000_000
    assert primary.attributes["effectpy.outcome"] == "interrupted"
    cancel = next(e for e in primary.events if e.name == "cancel")
    assert cancel.attributes["effectpy.by"] == 2 and cancel.attributes["effectpy.reason"].startswith("race")
    assert any(e.name == "release" for e in primary.events)


def test_failures_set_error_status():
    tracer, exporter = tracer_and_exporter()
    with record() as trace:
        effectpy.run_exit(zip_par(sleep(0.001), fail("database down")))
    trace.to_opentelemetry(tracer)
    failed = [s for s in exporter.get_finished_spans() if s.status.status_code == StatusCode.ERROR]
    assert failed and all("database down" in s.status.description for s in failed)
    assert any(e.name == "fail" for s in failed for e in s.events)
