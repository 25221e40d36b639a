"""The Litefuse stand-in's own rules (``tests/litefuse.py``), on hand-built spans.

Each test states one rule of Litefuse's mapping as its server code applies it; the integration
and golden tests trust the stand-in, so its rules are pinned here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from tests.litefuse import LitefuseView, extract_tools, reduce_details

TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
ROOT = bytes.fromhex("b7ad6b7169203331")
CHILD = bytes.fromhex("00f067aa0ba902b7")


def _value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[_value(v) for v in value]))
    return AnyValue(string_value=value if isinstance(value, str) else json.dumps(value))


def _span(span_id: bytes, parent: bytes = b"", status: int = 0, **attributes: Any) -> Span:
    return Span(
        trace_id=TRACE,
        span_id=span_id,
        parent_span_id=parent,
        name="span-name",
        start_time_unix_nano=1_700_000_000_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
        attributes=[
            KeyValue(key=k.replace("__", "."), value=_value(v)) for k, v in attributes.items()
        ],
        status=Status(code=status),
    )


def _view(*spans: Span, resource: dict[str, Any] | None = None) -> LitefuseView:
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={
                    "attributes": [
                        KeyValue(key=k, value=_value(v)) for k, v in (resource or {}).items()
                    ]
                },
                scope_spans=[ScopeSpans(scope={"name": "kong-litefuse"}, spans=list(spans))],
            )
        ]
    )
    view = LitefuseView()
    view.add_otlp(request.SerializeToString())
    return view


USAGE = json.dumps(
    {"input": 1024, "input_cached_tokens": 1024, "output": 188, "output_reasoning_tokens": 512}
)


def test_usage_and_cost_are_kept_only_on_an_observation_that_names_a_model() -> None:
    """createEventRecord calls getGenerationUsage only when modelName is set."""
    view = _view(
        _span(ROOT),
        _span(
            CHILD,
            ROOT,
            **{
                "langfuse.observation.usage_details": USAGE,
                "langfuse.observation.cost_details": '{"total": 1.5}',
            },
        ),
    )
    row = view.observations[1]
    assert row.provided_usage_details and row.usage_details == {} and row.cost_details == {}
    assert row.input_tokens is None and row.total_tokens == 0
    named = _view(
        _span(ROOT),
        _span(
            CHILD,
            ROOT,
            **{"langfuse.observation.usage_details": USAGE, "langfuse.observation.model.name": "m"},
        ),
    ).observations[1]
    # total added as the sum when absent; the UI sums every input* / output* key
    assert named.usage_details["total"] == 1024 + 1024 + 188 + 512
    assert (named.input_tokens, named.output_tokens) == (2048, 700)


def test_the_ui_sums_every_key_by_prefix() -> None:
    assert reduce_details(
        {"input": 1, "input_cache_read": 2, "output": 3, "output_x": 4, "total": 10}
    ) == (
        3,
        7,
        10,
    )
    assert reduce_details({"input": 1}) == (1, None, 0)


def test_usage_values_must_be_non_negative_integers() -> None:
    usage = json.dumps({"input": 3.5, "output": -1, "x": "7", "total": 10})
    row = _view(
        _span(ROOT),
        _span(
            CHILD,
            ROOT,
            **{"langfuse.observation.usage_details": usage, "langfuse.observation.model.name": "m"},
        ),
    ).observations[1]
    assert row.usage_details == {"x": 7, "total": 10}


def test_a_trace_row_comes_from_the_root_span_and_its_observation_input_output() -> None:
    view = _view(
        _span(
            ROOT,
            **{
                "langfuse.trace.name": "n",
                "langfuse.trace.input": '"ignored"',
                "langfuse.observation.input": '{"q": 1}',
                "langfuse.observation.output": "plain text",
                "langfuse.user.id": "u",
            },
        ),
        _span(CHILD, ROOT, **{"langfuse.trace.name": "other"}),
    )
    (trace,) = view.traces()
    assert (trace.name, trace.user_id) == ("n", "u")
    assert trace.input_json == {"q": 1} and trace.output_json == "plain text"


def test_a_trace_name_is_only_the_trace_name_attribute() -> None:
    (trace,) = _view(_span(ROOT)).traces()
    assert trace.name is None  # no fallback to the span name


def test_observation_types_in_the_mappers_priority_order() -> None:
    view = _view(
        _span(
            ROOT, **{"langfuse.observation.type": "span", "langfuse.observation.model.name": "m"}
        ),
        _span(CHILD, ROOT, **{"gen_ai.operation.name": "embeddings"}),
        _span(b"\x01" * 8, ROOT, **{"gen_ai.request.model": "m"}),
        _span(b"\x02" * 8, ROOT),
    )
    assert [row.type for row in view.observations] == ["SPAN", "EMBEDDING", "GENERATION", "SPAN"]


def test_level_status_environment_and_version_fallbacks() -> None:
    row = _view(_span(ROOT, status=2), resource={"service.version": "9.9"}).observations[0]
    assert (row.level, row.environment, row.version) == ("ERROR", "default", "9.9")
    row = _view(
        _span(ROOT, **{"langfuse.observation.level": "WARNING", "langfuse.environment": "staging"}),
        resource={"deployment.environment.name": "prod"},
    ).observations[0]
    assert (row.level, row.environment, row.version) == ("WARNING", "staging", None)


def test_trace_metadata_overrides_observation_metadata_of_the_same_name() -> None:
    row = _view(
        _span(
            ROOT,
            **{"langfuse.observation.metadata.k": "obs", "langfuse.trace.metadata.k": "trace"},
        )
    ).observations[0]
    assert row.metadata["k"] == "trace"


@pytest.mark.parametrize(
    ("output", "calls"),
    [
        (
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            [("c1", "f", "{}")],
        ),
        (
            {"content": [{"type": "tool_use", "id": "t1", "name": "g", "input": {"a": 1}}]},
            [("t1", "g", '{"a":1}')],  # JSON.stringify: compact
        ),
        ({"role": "assistant", "content": "no calls"}, []),
    ],
)
def test_tool_calls_are_read_from_openai_and_anthropic_shapes(
    output: dict[str, Any], calls: list[tuple[str, str, str]]
) -> None:
    _, found = extract_tools(None, json.dumps(output))
    assert [(c["id"], c["name"], c["arguments"]) for c in found] == calls


def test_tool_definitions_are_read_from_the_inputs_tools() -> None:
    tools = [
        {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
    ]
    definitions, _ = extract_tools(json.dumps({"messages": [], "tools": tools}), None)
    assert definitions == {"weather": {"description": "", "parameters": {"type": "object"}}}
    assert extract_tools(json.dumps([{"role": "user", "content": "x"}]), None)[0] == {}


def test_another_frameworks_attributes_are_not_mapped_by_a_guess() -> None:
    with pytest.raises(NotImplementedError):
        _view(_span(ROOT, **{"gen_ai.input.messages": "[]"}))


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (0, 0),
        (2**31 - 1, 2**31 - 1),
        (2**31, -(2**31)),
        (3_000_000_000, -1_294_967_296),
        (-1, -1),
        (-5, -4_294_967_301),
        (1_764_384_000_123, 1_760_089_032_827),
    ],
)
def test_int_attributes_are_read_back_through_32_bit_halves(sent: int, read: int) -> None:
    """convertValueToPlainJavascript on a Long JSON'd as {low, high}: only 0 … 2**31-1 survive
    (the cross-check against Litefuse's own code found these exact values)."""
    row = _view(_span(ROOT, **{"langfuse.trace.metadata.n": sent})).observations[0]
    assert row.metadata["n"] == read


def test_error_observations_without_usage_are_tokenized_by_litefuse() -> None:
    """On the OTLP path getUsageUnits gets no level: a failed call without usage is counted
    (and priced) by Litefuse when it knows the model."""
    row = _view(
        _span(ROOT),
        _span(CHILD, ROOT, status=2, **{"langfuse.observation.model.name": "gpt-4o"}),
    ).observations[1]
    assert row.level == "ERROR" and row.litefuse_tokenizes


def test_only_the_root_span_makes_the_trace_row() -> None:
    """toTraceScalarRecord takes is_root rows only (parent_span_id empty): a child's trace
    name lands on its own row (trace_name), never on the trace."""
    view = _view(
        _span(ROOT, **{"langfuse.trace.name": "app"}),
        _span(CHILD, ROOT, **{"langfuse.trace.name": "gateway"}),
    )
    assert [row.name for row in view.traces()] == ["app"]
    child = next(row for row in view.observations if row.id == CHILD.hex())
    assert child.trace_name == "gateway"


def test_a_child_with_trace_attributes_carries_a_trace_update() -> None:
    """hasTraceUpdates: trace name, user, session, tags or a langfuse.trace.metadata key on a
    non-root span; createTraceEvent's update sets only the fields the span has."""
    plain = _view(_span(ROOT), _span(CHILD, ROOT, **{"langfuse.observation.metadata.k": "v"}))
    assert all(row.trace_update is None for row in plain.observations)
    view = _view(
        _span(ROOT),
        _span(
            CHILD,
            ROOT,
            **{"langfuse.user.id": "alice", "langfuse.trace.metadata.team": "support"},
        ),
    )
    child = next(row for row in view.observations if row.id == CHILD.hex())
    assert child.trace_update == {"user_id": "alice", "metadata": {"team": "support"}}
    root = next(row for row in view.observations if row.is_root)
    assert root.trace_update is None  # a root span is the trace itself


def test_legacy_trace_events_merge_by_id() -> None:
    """mergeTraceRecords → overwriteObject: what is sent replaces, what is left out stays;
    metadata merges by key, tags are united and sorted, timestamp and environment stay."""
    view = LitefuseView()
    first = {
        "id": "t",
        "timestamp": "2025-01-01T00:00:00.000Z",
        "name": "app",
        "input": "question",
        "metadata": {"a": "1"},
        "tags": ["z"],
        "environment": "production",
    }
    later = {
        "id": "t",
        "timestamp": "2025-01-01T00:00:09.000Z",
        "userId": "alice",
        "metadata": {"b": "2"},
        "tags": ["a"],
        "environment": "staging",
    }
    view.add_legacy(
        [{"type": "trace-create", "body": first}, {"type": "trace-create", "body": later}]
    )
    trace = view.trace("t")
    assert (trace.name, trace.input, trace.user_id) == ("app", "question", "alice")
    assert trace.metadata == {"a": "1", "b": "2"} and trace.tags == ["a", "z"]
    assert trace.environment == "production" and trace.start_time.second == 0
