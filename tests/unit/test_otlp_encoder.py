"""The OTLP encoder of ``pipeline.sinks.otlp`` against the opentelemetry-proto classes.

``reference_spans`` / ``reference_request`` below are the library-built encoder the sink used
before it wrote the protobuf wire format by hand (a verbatim copy of it, kept as the
specification). Every fixture trace, a batch of all of them over several environments, and
synthetic traces with every kind of attribute value are encoded both ways; the sink's bytes are
decoded with ``ExportTraceServiceRequest.FromString`` and must be *equal as messages* to the
reference (same spans, same attributes in the same order, same value types: an int stays an
int), so a mismatch in any field fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf import text_format
from msgspec.structs import replace
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
from pipeline.enrich import enrich
from pipeline.enrich.caller import detached_parent
from pipeline.enrich.options import EnrichOptions
from pipeline.kong import RecordError, parse_records
from pipeline.sinks.litefuse import LitefuseSink
from pipeline.sinks.otlp import encode_request, encode_request_bytes, encode_spans
from pipeline.trace import Cost, Trace, Usage
from tests.litefuse import rows_for

ROOT = Path(__file__).resolve().parent.parent.parent

# --- the reference: the library-built encoder, as it was -------------------------------------

_SCOPE = InstrumentationScope(name="kong-litefuse", version=__version__)


def _nanos(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def _json(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        # Litefuse reads back only 0 … 2**31 - 1 from an int64 attribute unchanged
        if 0 <= value < 2**31:
            return AnyValue(int_value=value)
        if abs(value) <= 2**53:
            return AnyValue(double_value=float(value))
        return AnyValue(string_value=str(value))
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value]))
    return AnyValue(string_value=_json(value))


def _attributes(items: Iterable[tuple[str, Any]]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_value(value)) for key, value in items if value is not None]


def _observation_only(trace: Trace) -> bool:
    return trace.joined == "observation"


def _trace_attributes(trace: Trace) -> list[tuple[str, Any]]:
    """Trace-level attributes; joined in observation mode, no trace name or trace metadata."""
    items: list[tuple[str, Any]] = [
        ("langfuse.trace.name", None if _observation_only(trace) else trace.name),
        ("langfuse.user.id", trace.user_id),
        ("langfuse.session.id", trace.session_id),
        ("langfuse.environment", trace.environment),
        ("langfuse.release", trace.release),
        ("langfuse.version", trace.version),
        ("langfuse.trace.tags", trace.tags or None),
    ]
    if not _observation_only(trace):
        items += [(f"langfuse.trace.metadata.{k}", v) for k, v in trace.metadata.items()]
    return items


def _root_parent(trace: Trace) -> bytes:
    """The request span's parent: the caller's span, a detached one (a trace id given without
    a parent, observation mode), or none (the trace's root)."""
    if trace.parent_span_id is not None:
        return bytes.fromhex(trace.parent_span_id)
    if _observation_only(trace):
        return bytes.fromhex(detached_parent(trace.id))
    return b""


def reference_spans(trace: Trace) -> list[Span]:
    """The root span and the generation span of one trace."""
    trace_id = bytes.fromhex(trace.id)
    shared = _trace_attributes(trace)
    generation = trace.generation
    observation_only = _observation_only(trace)
    root = Span(
        trace_id=trace_id,
        span_id=bytes.fromhex(trace.span_id),
        trace_state=trace.trace_state or "",
        parent_span_id=_root_parent(trace),
        name=trace.name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=_nanos(trace.timestamp),
        end_time_unix_nano=_nanos(trace.end_time),
        attributes=_attributes(
            [
                *shared,
                ("langfuse.observation.type", "span"),
                # the trace's input/output, where Litefuse reads them: the root observation's
                (
                    "langfuse.observation.input",
                    _json(trace.input) if trace.input is not None else None,
                ),
                (
                    "langfuse.observation.output",
                    _json(trace.output) if trace.output is not None else None,
                ),
                ("langfuse.observation.level", generation.level),
                ("langfuse.observation.status_message", generation.status_message),
                *[
                    (f"langfuse.observation.metadata.{k}", v)
                    for k, v in (trace.metadata if observation_only else {}).items()
                ],
            ]
        ),
    )
    observation_metadata = (
        {**generation.metadata, **trace.metadata} if observation_only else generation.metadata
    )
    prompt = generation.prompt_name is not None and generation.prompt_version is not None
    usage = generation.usage.details(generation.model) if generation.usage else {}
    cost = generation.cost.details(generation.model) if generation.cost else {}
    counted = generation.usage is not None and bool(usage)
    # Litefuse keeps usage and cost only on an observation that names a model
    unknown = generation.model is None and bool(generation.usage or generation.cost)
    child = Span(
        trace_id=trace_id,
        span_id=bytes.fromhex(generation.id),
        trace_state=trace.trace_state or "",
        parent_span_id=root.span_id,
        name=generation.name,
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=_nanos(generation.start_time),
        end_time_unix_nano=_nanos(generation.end_time),
        attributes=_attributes(
            [
                *shared,
                ("langfuse.observation.type", generation.type),
                ("langfuse.observation.model.name", "unknown" if unknown else generation.model),
                ("gen_ai.request.model", generation.model),
                ("gen_ai.system", trace.metadata.get("provider")),
                ("gen_ai.operation.name", trace.metadata.get("operation", generation.name)),
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
                ("gen_ai.usage.input_tokens", generation.usage.input if counted else None),
                ("gen_ai.usage.output_tokens", generation.usage.output if counted else None),
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
                ("langfuse.observation.prompt.name", generation.prompt_name if prompt else None),
                (
                    "langfuse.observation.prompt.version",
                    generation.prompt_version if prompt else None,
                ),
                ("langfuse.observation.level", generation.level),
                ("langfuse.observation.status_message", generation.status_message),
                *[
                    (f"langfuse.observation.metadata.{k}", v)
                    for k, v in observation_metadata.items()
                ],
            ]
        ),
    )
    if generation.level == "ERROR":
        error = Status(code=Status.STATUS_CODE_ERROR, message=generation.status_message or "")
        root.status.CopyFrom(error)
        child.status.CopyFrom(error)
    return [root, child]


def reference_request(
    traces: Sequence[Trace], spans_of: Callable[[Trace], list[Span]] = reference_spans
) -> ExportTraceServiceRequest:
    """One export request for a batch; the resource names our service and environment."""
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
                            ("deployment.environment.name", environment),
                        ]
                    )
                ),
                scope_spans=[ScopeSpans(scope=_SCOPE, spans=spans)],
            )
            for environment, spans in by_environment.items()
        ]
    )


# --- traces to encode ------------------------------------------------------------------------


def _fixture_traces() -> list[tuple[str, Trace]]:
    """Every trace the bundled examples and Kong fixtures enrich to (like benchmarks/bench.py)."""
    paths = sorted((ROOT / "schemas" / "examples").glob("*.json"))
    paths += sorted((ROOT / "tests" / "fixtures" / "kong").glob("*.json"))
    found: list[tuple[str, Trace]] = []
    options = EnrichOptions()
    for path in paths:
        value = path.read_bytes()
        try:
            records = parse_records(value)
        except RecordError:
            continue
        for index, record in enumerate(records):
            try:
                result = enrich(record, options, content=value)
            except RecordError:
                continue
            if isinstance(result, Trace):
                found.append((f"{path.parent.name}/{path.stem}#{index}", result))
    return found


FIXTURE_TRACES = _fixture_traces()


def _base() -> Trace:
    return next(t for name, t in FIXTURE_TRACES if name.endswith("01-openai-chat#0"))


def _variants() -> list[tuple[str, Trace]]:
    """Synthetic traces for the value kinds and edge cases the fixtures may not reach."""
    base = _base()
    start = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    long_text = "ü" * 70_000  # a three-byte length varint
    every_kind: dict[str, Any] = {
        "true": True,
        "false": False,
        "zero": 0,
        "one": 1,
        "negative": -1,
        "int64_max": 2**63 - 1,
        "int64_min": -(2**63),
        "big": 2**40 + 7,
        "float_zero": 0.0,
        "negative_zero": -0.0,
        "float": 35.714,
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "infinity": float("inf"),
        "empty": "",
        "unicode": "héllo ✓ 🎉 中文",
        "long": "x" * 200,
        "longer": "y" * 20_000,
        "strings": ["a", "", "é"],
        "no_strings": [],
        "mixed_list": ["a", 1, None],
        "numbers": [1, 2.5],
        "dict": {"feature": "support-bot", "nested": {"n": [1, 2]}},
        "empty_dict": {},
        "skipped": None,
        "tuple": ("a", "b"),
    }
    generation = base.generation
    return [
        ("every-value-kind", replace(base, metadata=every_kind)),
        (
            "every-value-kind-on-the-generation",
            replace(base, generation=replace(generation, metadata=every_kind)),
        ),
        (
            "bare",
            replace(
                base,
                user_id=None,
                session_id=None,
                release=None,
                tags=[],
                metadata={},
                input=None,
                output=None,
                name="",
                generation=replace(
                    generation,
                    model=None,
                    model_parameters={},
                    input=None,
                    output=None,
                    usage=None,
                    cost=None,
                    finish_reason=None,
                    metadata={},
                    completion_start_time=None,
                ),
            ),
        ),
        (
            "everything-set",
            replace(
                base,
                release="v1.2.3",
                tags=["a", "ü", "x" * 300],
                input="plain text input",
                output=long_text,
                name="名前 " * 50,
                environment="staging",
                timestamp=start,
                end_time=start + timedelta(seconds=2),
                generation=replace(
                    generation,
                    type="embedding",
                    input={"text": long_text},
                    output=[0.1, -2.0, 3],
                    usage=Usage(input=0, output=2**31, total=2**33, input_cached=5),
                    cost=Cost(input=0.0, output=1e-9, input_cached=0.5, total=1.0),
                    start_time=start,
                    end_time=start + timedelta(microseconds=1),
                    completion_start_time=start + timedelta(milliseconds=3),
                    finish_reason="length",
                    level="WARNING",
                    status_message="slow",
                ),
            ),
        ),
        (
            "error",
            replace(
                base,
                generation=replace(
                    generation, level="ERROR", status_message="upstream 429: slow down"
                ),
            ),
        ),
        (
            "error-without-message",
            replace(base, generation=replace(generation, level="ERROR", status_message=None)),
        ),
        ("zero-ids", replace(base, id="0" * 32, span_id="0" * 16)),
        (
            "empty-ids",
            replace(base, id="", span_id="", generation=replace(generation, id="")),
        ),
        # values equal as dict keys but typed differently: the encoder's memos must not mix them
        (
            "look-alike-values",
            replace(
                base,
                tags=["1", "True"],
                metadata={"a": "1", "b": 1, "c": True, "d": 1.0, "e": ["1"], "f": [1]},
            ),
        ),
        (
            "look-alike-values-swapped",
            replace(
                base,
                tags=[1, True],
                metadata={"a": 1, "b": True, "c": 1.0, "d": "1", "e": [1], "f": ["1"]},
            ),
        ),
        ("non-string-tags", replace(base, tags=["a", 2, None])),
        # joined to a caller's trace: parent, tracestate, observation-level attributes only
        (
            "joined-observation",
            replace(
                base,
                id="4bf92f3577b34da6a3ce929d0e0e4736",
                parent_span_id="00f067aa0ba902b7",
                joined="observation",
                trace_state="rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
                version="app-2.3.1",
                generation=replace(generation, prompt_name="support/answer", prompt_version=7),
            ),
        ),
        (
            "joined-observation-without-parent",
            replace(base, id="4bf92f3577b34da6a3ce929d0e0e4736", joined="observation"),
        ),
        (
            "joined-full",
            replace(
                base,
                id="4bf92f3577b34da6a3ce929d0e0e4736",
                parent_span_id="00f067aa0ba902b7",
                joined="full",
            ),
        ),
        (
            "joined-full-without-parent",
            replace(base, id="4bf92f3577b34da6a3ce929d0e0e4736", joined="full"),
        ),
        (
            "prompt-version-only",
            replace(base, generation=replace(generation, prompt_version=7)),
        ),
        # None where the model allows none: the attribute is left out, as by the library
        (
            "nones",
            replace(
                base,
                name=None,
                environment=None,
                generation=replace(generation, name=None, type=None, level=None),
            ),
        ),
    ]


ALL_TRACES = FIXTURE_TRACES + _variants()


def _decoded(traces: Sequence[Trace]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(encode_request_bytes(traces))


def _explain(got: ExportTraceServiceRequest, want: ExportTraceServiceRequest) -> str:
    return f"got:\n{text_format.MessageToString(got)}\nwant:\n{text_format.MessageToString(want)}"


# --- the tests -------------------------------------------------------------------------------


def test_the_fixtures_give_traces() -> None:
    assert len(FIXTURE_TRACES) >= 40


@pytest.mark.parametrize(("name", "trace"), ALL_TRACES, ids=[name for name, _ in ALL_TRACES])
def test_each_trace_decodes_to_the_library_built_request(name: str, trace: Trace) -> None:
    got, want = _decoded([trace]), reference_request([trace])
    assert got == want, _explain(got, want)
    # and span by span, so a failure names the span
    spans = list(got.resource_spans[0].scope_spans[0].spans)
    assert spans == reference_spans(trace)


def test_a_batch_over_several_environments_decodes_to_the_library_built_request() -> None:
    traces = [t for _, t in ALL_TRACES]
    traces += [
        replace(t, environment=env) for env in ("staging", "dev", "") for _, t in FIXTURE_TRACES[:5]
    ]
    got, want = _decoded(traces), reference_request(traces)
    assert len(got.resource_spans) == 5  # production, staging, dev, "", None
    assert got == want
    assert encode_request(traces) == want
    # encoded again (the encoder remembers frequent attributes): the same bytes
    assert encode_request_bytes(traces) == encode_request_bytes(traces)
    assert encode_request_bytes(traces[::-1]) == encode_request_bytes(traces[::-1])


def test_an_empty_batch() -> None:
    assert encode_request_bytes([]) == b""
    assert encode_request([]) == reference_request([]) == ExportTraceServiceRequest()


def test_a_caller_can_reuse_encoded_spans() -> None:
    """The sink encodes each trace's spans once (to size them) and joins them into requests."""
    traces = [t for _, t in FIXTURE_TRACES]
    cache = {id(t): encode_spans(t) for t in traces}
    calls: list[Trace] = []

    def spans_of(trace: Trace) -> bytes:
        calls.append(trace)
        return cache[id(trace)]

    assert encode_request_bytes(traces, spans_of) == encode_request_bytes(traces)
    assert calls == traces
    # the cached bytes are the spans' framed encodings: their size is the request's, minus
    # the resource and scope headers
    request = reference_request(traces)
    header = request.ByteSize() - sum(len(b) for b in cache.values())
    assert 0 < header < 200


@pytest.mark.parametrize(
    "number", [2**31, 1764384000123, -5, -(2**53), 2**63, -(2**63) - 1, 10**30]
)
def test_integers_litefuse_would_misread_arrive_as_their_value(number: int) -> None:
    """Litefuse gets an int64 attribute outside 0 … 2**31 - 1 wrong; we send such a value as a
    double (exact up to 2**53) or a string, and the stand-in reads the number back."""
    trace = replace(_base(), metadata={"big": number})
    assert ExportTraceServiceRequest.FromString(encode_request_bytes([trace])) == reference_request(
        [trace]
    )
    shown = rows_for([trace]).trace(trace.id).metadata["big"]
    assert shown == (float(number) if abs(number) <= 2**53 else str(number))
    assert int(shown) == number


def test_the_sink_sends_the_library_equivalent_request() -> None:
    """LitefuseSink sizes traces by their cached span bytes and posts the joined request."""
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return httpx.Response(200, json={})

    traces = [t for _, t in ALL_TRACES]
    sink = LitefuseSink("http://litefuse.test", "pk", "sk", transport=httpx.MockTransport(answer))
    result = asyncio.run(sink.write(traces))
    asyncio.run(sink.aclose())
    assert result.accepted == len(traces) and result.requests == len(bodies) == 1
    assert ExportTraceServiceRequest.FromString(bodies[0]) == reference_request(traces)
    assert [sink.encoded_size(t) for t in traces] == [len(encode_spans(t)) for t in traces]
