"""Trace → OTLP protobuf, with the attributes Litefuse reads (langfuse.* and gen_ai.*).

Each Kong request becomes two spans of one trace: the root span (the request through Kong)
and its child generation (the upstream LLM call). Trace-level attributes go on both spans,
because Litefuse v4 reads them per span; each span is exported once, complete.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from pipeline import __version__
from pipeline.trace import Trace

SCOPE = InstrumentationScope(name="kong-litefuse", version=__version__)


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value]))
    return AnyValue(string_value=_json(value))


def _attributes(items: Iterable[tuple[str, Any]]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_value(value)) for key, value in items if value is not None]


def _trace_attributes(trace: Trace) -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = [
        ("langfuse.trace.name", trace.name),
        ("langfuse.user.id", trace.user_id),
        ("langfuse.session.id", trace.session_id),
        ("langfuse.environment", trace.environment),
        ("langfuse.release", trace.release),
        ("langfuse.trace.tags", trace.tags or None),
    ]
    items += [(f"langfuse.trace.metadata.{k}", v) for k, v in trace.metadata.items()]
    return items


def encode_spans(trace: Trace) -> list[Span]:
    """The root span and the generation span of one trace."""
    trace_id = bytes.fromhex(trace.id)
    shared = _trace_attributes(trace)
    generation = trace.generation
    root = Span(
        trace_id=trace_id,
        span_id=bytes.fromhex(trace.span_id),
        name=trace.name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=_nanos(trace.timestamp),
        end_time_unix_nano=_nanos(trace.end_time),
        attributes=_attributes(
            [
                *shared,
                ("langfuse.observation.type", "span"),
                ("langfuse.trace.input", _json(trace.input) if trace.input is not None else None),
                (
                    "langfuse.trace.output",
                    _json(trace.output) if trace.output is not None else None,
                ),
                ("langfuse.observation.level", generation.level),
                ("langfuse.observation.status_message", generation.status_message),
            ]
        ),
    )
    usage = generation.usage.details() if generation.usage else {}
    cost = generation.cost.details() if generation.cost else {}
    child = Span(
        trace_id=trace_id,
        span_id=bytes.fromhex(generation.id),
        parent_span_id=root.span_id,
        name=generation.name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=_nanos(generation.start_time),
        end_time_unix_nano=_nanos(generation.end_time),
        attributes=_attributes(
            [
                *shared,
                ("langfuse.observation.type", generation.type),
                ("langfuse.observation.model.name", generation.model),
                ("gen_ai.request.model", generation.model),
                ("gen_ai.system", trace.metadata.get("provider")),
                ("gen_ai.operation.name", generation.name),
                (
                    "langfuse.observation.model.parameters",
                    _json(generation.model_parameters) if generation.model_parameters else None,
                ),
                (
                    "langfuse.observation.input",
                    _json(generation.input) if generation.input is not None else None,
                ),
                (
                    "langfuse.observation.output",
                    _json(generation.output) if generation.output is not None else None,
                ),
                ("langfuse.observation.usage_details", _json(usage) if usage else None),
                ("gen_ai.usage.input_tokens", usage.get("input")),
                ("gen_ai.usage.output_tokens", usage.get("output")),
                ("langfuse.observation.cost_details", _json(cost) if cost else None),
                (
                    "langfuse.observation.completion_start_time",
                    generation.completion_start_time.isoformat()
                    if generation.completion_start_time
                    else None,
                ),
                ("gen_ai.response.finish_reasons", [generation.finish_reason])
                if generation.finish_reason
                else ("gen_ai.response.finish_reasons", None),
                ("langfuse.observation.level", generation.level),
                ("langfuse.observation.status_message", generation.status_message),
                *[
                    (f"langfuse.observation.metadata.{k}", v)
                    for k, v in generation.metadata.items()
                ],
            ]
        ),
    )
    if generation.level == "ERROR":
        error = Status(code=Status.STATUS_CODE_ERROR, message=generation.status_message or "")
        root.status.CopyFrom(error)
        child.status.CopyFrom(error)
    return [root, child]


def encode_request(
    traces: Sequence[Trace], spans_of: Callable[[Trace], list[Span]] = encode_spans
) -> ExportTraceServiceRequest:
    """One export request for a batch; the resource names our service and environment.

    ``spans_of`` lets a caller that already encoded the spans (to measure them) reuse them.
    """
    by_environment: dict[str, list[Span]] = {}
    for trace in traces:
        by_environment.setdefault(trace.environment, []).extend(spans_of(trace))
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=_attributes(
                        [
                            ("service.name", "kong-litefuse"),
                            ("service.version", __version__),
                            ("deployment.environment.name", environment),
                        ]
                    )
                ),
                scope_spans=[ScopeSpans(scope=SCOPE, spans=spans)],
            )
            for environment, spans in by_environment.items()
        ]
    )
