"""Gateway calls inside the caller's trace: W3C trace context, Langfuse ids and attributes.

Every assertion is on what Litefuse stores (the stand-in's rows), with the app's own spans sent
through the stand-in too, so the app's trace row exists and can be checked untouched.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import random
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import msgspec
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from pipeline import metrics
from pipeline.delivery.dedup import DedupWindow
from pipeline.delivery.deliverer import Deliverer
from pipeline.enrich import Skipped, enrich
from pipeline.enrich.caller import (
    detached_parent,
    parse_traceparent,
    parse_tracestate,
    scan,
    span_hex,
    trace_hex,
)
from pipeline.enrich.options import EnrichOptions, build_options
from pipeline.enrich.sampling import sampled
from pipeline.enrich.stage import KafkaValue, StageConfig, Traced, run_stage
from pipeline.kong import parse_records
from pipeline.kong.record import KongRecord
from pipeline.sinks.base import WriteResult
from pipeline.sinks.legacy import encode_batch
from pipeline.sinks.litefuse import LitefuseSink
from pipeline.sinks.otlp import encode_request_bytes
from pipeline.trace import Trace
from pipeline.worker.enrich import count_trace
from tests.conftest import EXAMPLES
from tests.litefuse import LitefuseView, rows_for

APP_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
APP_ROOT = "a3ce929d0e0e4736"  # the agent run: the trace's root span
APP_CALL = "00f067aa0ba902b7"  # the app's HTTP client span around the call to Kong
TRACEPARENT = f"00-{APP_TRACE}-{APP_CALL}-01"
APP_NAME = "support-agent"
APP_INPUT = "How do I rotate my API key?"
APP_OUTPUT = "Open Settings → Keys and press Rotate."

_CHAT = orjson.loads((EXAMPLES / "01-openai-chat.json").read_bytes())
OPTIONS = build_options(provider_plugins=False)


def kong_record(
    index: int,
    headers: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> KongRecord:
    """The OpenAI chat example as request ``index`` of its own (own request id)."""
    data = copy.deepcopy(_CHAT)
    data["request"]["id"] = uuid.UUID(int=(0xA6E47 << 96) + index).hex
    data["started_at"] += index * 1000
    data["request"]["headers"].update(headers or {})
    if metadata is not None:
        body = orjson.loads(data["request"]["body"])
        body["metadata"] = metadata
        data["request"]["body"] = orjson.dumps(body).decode()
    return parse_records(orjson.dumps(data))[0]


def traced(record: KongRecord, options: EnrichOptions = OPTIONS) -> Trace:
    result = enrich(record, options)
    assert isinstance(result, Trace), result
    return result


def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def app_spans() -> bytes:
    """The app's own trace as its OpenTelemetry exporter sends it: the agent run (root, with
    the trace's name, input and output) and the HTTP client span of its call to Kong."""
    start = 1_764_384_000_000_000_000
    root = Span(
        trace_id=bytes.fromhex(APP_TRACE),
        span_id=bytes.fromhex(APP_ROOT),
        name="agent-run",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 5_000_000_000,
        attributes=[
            _kv("langfuse.trace.name", APP_NAME),
            _kv("langfuse.observation.input", orjson.dumps(APP_INPUT).decode()),
            _kv("langfuse.observation.output", orjson.dumps(APP_OUTPUT).decode()),
            _kv("langfuse.trace.metadata.app_build", "4711"),
        ],
    )
    call = Span(
        trace_id=bytes.fromhex(APP_TRACE),
        span_id=bytes.fromhex(APP_CALL),
        parent_span_id=bytes.fromhex(APP_ROOT),
        name="POST",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start + 100_000_000,
        end_time_unix_nano=start + 4_000_000_000,
    )
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_kv("service.name", "support-app")]),
                scope_spans=[
                    ScopeSpans(scope=InstrumentationScope(name="support-app"), spans=[root, call])
                ],
            )
        ]
    )
    return request.SerializeToString()


def view_with_app(traces: Sequence[Trace]) -> LitefuseView:
    view = LitefuseView()
    view.add_otlp(app_spans())
    view.add_otlp(encode_request_bytes(traces))
    return view


def _app_legacy_trace() -> dict[str, Any]:
    """The app's own trace-create, as a Langfuse v2 SDK sends it."""
    return {
        "id": "app-trace-create",
        "type": "trace-create",
        "timestamp": "2025-11-29T02:39:59.000Z",
        "body": {
            "id": APP_TRACE,
            "timestamp": "2025-11-29T02:39:59.000Z",
            "name": APP_NAME,
            "input": APP_INPUT,
            "output": APP_OUTPUT,
            "metadata": {"app_build": "4711"},
            "release": "app-3.4",
            "tags": ["agent"],
        },
    }


# --- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (TRACEPARENT, (APP_TRACE, APP_CALL, True)),
        (f"00-{APP_TRACE}-{APP_CALL}-00", (APP_TRACE, APP_CALL, False)),
        (f"  00-{APP_TRACE}-{APP_CALL}-03 ", (APP_TRACE, APP_CALL, True)),
        (f"cc-{APP_TRACE}-{APP_CALL}-01-what-the-future-adds", (APP_TRACE, APP_CALL, True)),
        ([TRACEPARENT, TRACEPARENT], (APP_TRACE, APP_CALL, True)),
        (f"00-{APP_TRACE}-{APP_CALL}-01-extra", None),  # version 00 has four fields
        (f"ff-{APP_TRACE}-{APP_CALL}-01", None),  # version ff is invalid
        (f"00-{APP_TRACE.upper()}-{APP_CALL}-01", None),  # lower-case hex only
        (f"00-{'0' * 32}-{APP_CALL}-01", None),
        (f"00-{APP_TRACE}-{'0' * 16}-01", None),
        (f"00-{APP_TRACE[:-1]}-{APP_CALL}-01", None),
        (f"00-{APP_TRACE}-{APP_CALL}", None),
        ([TRACEPARENT, f"00-{APP_TRACE}-{APP_ROOT}-01"], None),  # repeated, disagreeing
        ("", None),
    ],
)
def test_traceparent_follows_the_w3c_format(value: Any, expected: Any) -> None:
    found = parse_traceparent(value)
    got = None if found is None else (found.trace_id, found.parent_id, found.sampled)
    assert got == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        (["rojo=1", "congo=2"], "rojo=1,congo=2"),
        ("tenant@vendor=x , other=y", "tenant@vendor=x,other=y"),
        ("no-equals-sign", None),
        ("UPPER=1", None),
        ("a=" + "x" * 600, None),
    ],
)
def test_tracestate_is_passed_on_only_when_valid(value: Any, expected: str | None) -> None:
    assert parse_tracestate(value) == expected


def test_ids_of_other_shapes_map_as_langfuse_sdks_map_them() -> None:
    assert trace_hex(APP_TRACE) == APP_TRACE
    assert trace_hex(APP_TRACE.upper()) == APP_TRACE
    assert trace_hex("0" * 32) is None
    # Langfuse.create_trace_id(seed=...): the first 16 bytes of the seed's SHA-256
    run = "3f2b8c1e-5d6a-4b7c-9e0f-1a2b3c4d5e6f"
    assert trace_hex(run) == hashlib.sha256(run.encode()).digest()[:16].hex()
    assert span_hex(APP_CALL) == APP_CALL and span_hex("0" * 16) is None
    assert span_hex("step-7") == hashlib.sha256(b"step-7").digest()[:8].hex()


def test_a_record_without_trace_context_costs_one_intersection() -> None:
    record = kong_record(0)
    body = orjson.loads(record.request.body or "{}")
    assert scan(record.request.headers, body) is None  # example 01 has metadata, none of ours
    plain = traced(record)
    assert plain.joined is None and plain.parent_span_id is None and plain.key == plain.id


# --- joining ----------------------------------------------------------------------------------


def test_a_traceparent_puts_the_request_under_the_callers_span() -> None:
    own = traced(kong_record(1))
    joined = traced(kong_record(1, {"traceparent": TRACEPARENT}))
    assert joined.id == APP_TRACE and joined.parent_span_id == APP_CALL
    # span ids stay the Kong request's own: replays and restarts send the same spans
    assert (joined.span_id, joined.generation.id) == (own.span_id, own.generation.id)
    view = view_with_app([joined])
    spans = {row.id: row for row in view.observations_of(APP_TRACE)}
    assert spans[joined.span_id].parent_span_id == APP_CALL
    assert spans[joined.generation.id].parent_span_id == joined.span_id
    assert view.generation(APP_TRACE).model == own.generation.model


def test_two_calls_sharing_a_traceparent_are_one_trace_with_two_generations() -> None:
    first = traced(kong_record(2, {"traceparent": TRACEPARENT}))
    second = traced(kong_record(3, {"traceparent": TRACEPARENT}))
    assert first.key != second.key  # not duplicates of each other
    view = view_with_app([first, second])
    assert [row.id for row in view.traces()] == [APP_TRACE]
    trace = view.trace(APP_TRACE)
    assert trace.name == APP_NAME
    assert (trace.input_json, trace.output_json) == (APP_INPUT, APP_OUTPUT)
    assert trace.metadata.get("app_build") == "4711"
    rows = view.observations_of(APP_TRACE)
    requests = [row for row in rows if row.parent_span_id == APP_CALL]
    generations = [row for row in rows if row.type == "GENERATION"]
    assert sorted(r.id for r in requests) == sorted([first.span_id, second.span_id])
    assert sorted(g.parent_span_id for g in generations) == sorted(r.id for r in requests)
    # observation mode: nothing of ours would rename or refill the app's trace
    for row in requests + generations:
        assert row.trace_name is None
        update = row.trace_update or {}
        assert not {"name", "input", "output", "metadata"} & update.keys(), update
        assert row.metadata["provider"] == "openai"  # the gateway's facts, per observation


class _Table:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def send_changelog(self, partition: int | None, key: str, value: Any) -> None:
        return None


class _StandInSink:
    """Sends what the OTLP sink sends into a Litefuse stand-in; accepts every trace."""

    name = "stand-in"

    def __init__(self, view: LitefuseView) -> None:
        self.view = view

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        self.view.add_otlp(encode_request_bytes(traces))
        return WriteResult(accepted_ids=[t.key for t in traces])

    async def aclose(self) -> None:
        return None


def test_replaying_joined_calls_through_the_deliverer_duplicates_nothing() -> None:
    calls = [traced(kong_record(i, {"traceparent": TRACEPARENT})) for i in (4, 5)]
    view = LitefuseView()
    view.add_otlp(app_spans())
    deliverer = Deliverer(_StandInSink(view), DedupWindow(_Table(), 3600))
    first = asyncio.run(deliverer.deliver([(t, 0) for t in calls]))
    again = asyncio.run(deliverer.deliver([(t, 0) for t in calls]))
    assert len(first.accepted) == 2 and first.duplicates == 0
    assert again.accepted == [] and again.duplicates == 2
    assert [row.id for row in view.traces()] == [APP_TRACE]
    ids = [row.id for row in view.observations_of(APP_TRACE)]
    assert len(ids) == len(set(ids)) == 2 + 2 * 2  # the app's two spans, two per call


class _IdSink:
    """A sink of before Trace.key (the demo's, third parties'): it names trace ids."""

    name = "ids"

    def __init__(self) -> None:
        self.writes = 0

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        self.writes += 1
        return WriteResult(accepted_ids=[t.id for t in traces])

    async def aclose(self) -> None:
        return None


def test_a_sink_that_names_trace_ids_still_settles_joined_calls() -> None:
    calls = [traced(kong_record(i, {"traceparent": TRACEPARENT})) for i in (4, 5)]
    sink = _IdSink()
    window = DedupWindow(_Table(), 3600)
    deliver = Deliverer(sink, window).deliver([(t, 0) for t in calls])
    report = asyncio.run(asyncio.wait_for(deliver, timeout=5))
    assert len(report.accepted) == 2 and sink.writes == 1
    now = time.time()
    assert all(window.seen(t.key, now) for t in calls)


@pytest.mark.parametrize(
    ("headers", "metadata", "trace", "parent"),
    [
        # body metadata wins over headers, explicit Langfuse ids over traceparent
        (
            {"traceparent": TRACEPARENT, "x-langfuse-trace-id": "b" * 32},
            {"existing_trace_id": "c" * 32},
            "c" * 32,
            None,
        ),
        ({"x-langfuse-trace-id": "b" * 32}, {"trace_id": "c" * 32}, "c" * 32, None),
        ({"traceparent": TRACEPARENT, "x-langfuse-trace-id": "b" * 32}, None, "b" * 32, None),
        # the traceparent's span is the parent when it names the same trace
        ({"traceparent": TRACEPARENT, "x-langfuse-trace-id": APP_TRACE}, None, APP_TRACE, APP_CALL),
        # an explicit parent wins over the traceparent's
        (
            {"traceparent": TRACEPARENT, "x-langfuse-parent-observation-id": APP_ROOT},
            None,
            APP_TRACE,
            APP_ROOT,
        ),
        (
            {"x-langfuse-trace-id": APP_TRACE, "x-langfuse-parent-observation-id": APP_ROOT},
            {"parent_observation_id": APP_CALL},
            APP_TRACE,
            APP_CALL,
        ),
        # an unusable explicit id falls through to the next source
        ({"traceparent": TRACEPARENT}, {"trace_id": ["not", "an", "id"]}, APP_TRACE, APP_CALL),
        ({"traceparent": TRACEPARENT, "x-langfuse-trace-id": "0" * 32}, None, APP_TRACE, APP_CALL),
    ],
)
def test_precedence_of_the_callers_ids(
    headers: dict[str, str], metadata: dict[str, Any] | None, trace: str, parent: str | None
) -> None:
    joined = traced(kong_record(6, headers, metadata))
    assert (joined.id, joined.parent_span_id) == (trace, parent)
    # the ids read are kept out of the trace's metadata; an unusable one stays there
    leftover = set(joined.metadata.get("request_metadata", {}))
    used = {key for key, value in (metadata or {}).items() if isinstance(value, str)}
    assert not used & leftover


@pytest.mark.parametrize(
    ("headers", "metadata"),
    [
        ({"x-langfuse-trace-id": APP_TRACE}, None),
        ({}, {"existing_trace_id": APP_TRACE}),
        ({}, {"trace_id": APP_TRACE}),
    ],
)
def test_a_given_trace_id_joins_that_trace_without_becoming_its_root(
    headers: dict[str, str], metadata: dict[str, Any] | None
) -> None:
    joined = traced(kong_record(7, headers, metadata))
    assert joined.id == APP_TRACE and joined.joined == "observation"
    view = view_with_app([joined])
    assert [row.id for row in view.traces()] == [APP_TRACE]  # the app's row only
    assert view.trace(APP_TRACE).name == APP_NAME
    request = next(row for row in view.observations_of(APP_TRACE) if row.id == joined.span_id)
    assert request.parent_span_id == detached_parent(APP_TRACE)  # top level, never the root
    assert view.generation(APP_TRACE).parent_span_id == joined.span_id


def test_existing_trace_id_stays_observation_level_even_in_full_mode() -> None:
    full = build_options(provider_plugins=False, trace_join_mode="full")
    existing = traced(kong_record(8, metadata={"existing_trace_id": APP_TRACE}), full)
    named = traced(kong_record(8, {"x-langfuse-trace-id": APP_TRACE}), full)
    assert existing.joined == "observation" and named.joined == "full"


def test_full_mode_with_a_trace_id_alone_makes_the_gateway_span_the_root() -> None:
    full = build_options(provider_plugins=False, trace_join_mode="full")
    joined = traced(kong_record(9, {"x-langfuse-trace-id": "run-42"}), full)
    assert joined.id == trace_hex("run-42") and joined.metadata["caller_trace_id"] == "run-42"
    trace = rows_for([joined]).trace(joined.id)
    assert trace.name == "/v1/chat/completions"  # the caller asked us to write the trace
    assert trace.input_json == joined.input


def test_full_mode_under_a_parent_sends_the_trace_attributes() -> None:
    full = build_options(provider_plugins=False, trace_join_mode="full")
    joined = traced(kong_record(10, {"traceparent": TRACEPARENT}), full)
    view = view_with_app([joined])
    request = next(row for row in view.observations_of(APP_TRACE) if row.id == joined.span_id)
    assert request.trace_name == "/v1/chat/completions"
    assert (request.trace_update or {}).get("name") == "/v1/chat/completions"
    # still not the root: Litefuse's trace row stays the app's
    assert view.trace(APP_TRACE).name == APP_NAME


def test_trace_context_ignore_gives_every_request_its_own_trace() -> None:
    ignore = build_options(provider_plugins=False, trace_context="ignore")
    record = kong_record(11, {"traceparent": TRACEPARENT}, {"trace_id": "mine", "tenant": "a"})
    own = traced(record, ignore)
    assert own.id != APP_TRACE and own.joined is None and own.parent_span_id is None
    assert own.metadata["request_metadata"] == {"trace_id": "mine", "tenant": "a"}


def test_invalid_trace_context_is_marked_and_counted() -> None:
    record = kong_record(12, {"traceparent": f"00-{'0' * 32}-{APP_CALL}-01"})
    own = traced(record)
    assert own.joined is None and own.metadata["trace_context"] == "invalid"
    config = StageConfig(options=OPTIONS, traces_topic="t")
    values = [
        KafkaValue(msgspec.json.encode(record), "k", 0, 0),
        KafkaValue(msgspec.json.encode(kong_record(13)), "k", 0, 1),
        KafkaValue(
            msgspec.json.encode(kong_record(14, {"traceparent": TRACEPARENT})),
            "k",
            0,
            2,
        ),
    ]
    outcomes = run_stage(values, config)
    assert [o.trace_context for o in outcomes if isinstance(o, Traced)] == [
        "invalid",
        "absent",
        "joined",
    ]

    def count(result: str) -> float:
        name = "kong_litefuse_trace_context_total"
        return metrics.REGISTRY.get_sample_value(name, {"result": result}) or 0.0

    before = count("joined")
    for outcome in outcomes:
        assert isinstance(outcome, Traced)
        count_trace(outcome)
    assert count("joined") == before + 1


@pytest.mark.parametrize(
    "value",
    [
        "Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",  # a key is never an id
        "x" * 300,
        "tab\there",
    ],
)
def test_unusable_given_ids_are_invalid(value: str) -> None:
    own = traced(kong_record(15, {"x-langfuse-trace-id": value}))
    assert own.joined is None and own.metadata["trace_context"] == "invalid"
    assert value not in own.to_json().decode()


# --- sampling ----------------------------------------------------------------------------------


def test_sampling_follows_the_callers_flag_and_keeps_traces_whole() -> None:
    unsampled = kong_record(16, {"traceparent": f"00-{APP_TRACE}-{APP_CALL}-00"})
    result = enrich(unsampled, OPTIONS)
    assert isinstance(result, Skipped) and result.reason == "sampled out"
    assert result.trace_context == "joined"
    low = build_options(provider_plugins=False, sample_rate=0.000001)
    assert isinstance(enrich(kong_record(17, {"traceparent": TRACEPARENT}), low), Trace)
    off = build_options(provider_plugins=False, sample_rate=0.0)
    assert isinstance(enrich(kong_record(17, {"traceparent": TRACEPARENT}), off), Skipped)
    # a trace id without a flag: decided on the trace, so every call of it alike
    half = build_options(provider_plugins=False, sample_rate=0.5)
    for trace_id in (f"{i:02x}" * 16 for i in range(1, 40)):
        kept = {
            isinstance(enrich(kong_record(i, {"x-langfuse-trace-id": trace_id}), half), Trace)
            for i in range(18, 22)
        }
        assert len(kept) == 1, trace_id


def test_time_prefixed_trace_ids_sample_at_the_rate() -> None:
    """AWS X-Ray ids in a traceparent: 8 hex chars of epoch seconds, then 24 random ones."""
    rng = random.Random(17)
    ids = [f"{1764384000 + i // 50:08x}{rng.getrandbits(96):024x}" for i in range(400)]
    kept = sum(sampled(trace_id, 0.5) for trace_id in ids)
    assert 0.4 < kept / len(ids) < 0.6


# --- the legacy path --------------------------------------------------------------------------


def _legacy_view(traces: Sequence[Trace]) -> LitefuseView:
    view = LitefuseView()
    view.add_legacy([_app_legacy_trace()])
    view.add_legacy(orjson.loads(orjson.dumps(encode_batch(traces)))["batch"])
    return view


def test_legacy_observation_mode_leaves_the_apps_trace_as_it_was() -> None:
    calls = [traced(kong_record(i, {"traceparent": TRACEPARENT})) for i in (23, 24)]
    view = _legacy_view(calls)
    trace = view.trace(APP_TRACE)
    assert (trace.name, trace.input, trace.output) == (APP_NAME, APP_INPUT, APP_OUTPUT)
    assert trace.release == "app-3.4" and trace.metadata == {"app_build": "4711"}
    # user, session and tags still apply
    assert (trace.user_id, trace.session_id) == ("alice@example.com", "sess-7f3a")
    assert {"agent", "openai"} <= set(trace.tags)
    generations = [row for row in view.observations_of(APP_TRACE) if row.type == "GENERATION"]
    assert len(generations) == 2
    assert all(row.parent_span_id == APP_CALL for row in generations)
    assert all(row.metadata["provider"] == "openai" for row in generations)
    events = encode_batch(calls)["batch"]
    assert len({event["id"] for event in events}) == 4  # one envelope per call, no collision


def test_legacy_full_mode_updates_the_apps_trace() -> None:
    full = build_options(provider_plugins=False, trace_join_mode="full")
    call = traced(kong_record(25, {"traceparent": TRACEPARENT}), full)
    trace = _legacy_view([call]).trace(APP_TRACE)
    assert trace.name == "/v1/chat/completions"


def test_legacy_sends_the_callers_ids_as_given() -> None:
    run = "3f2b8c1e-5d6a-4b7c-9e0f-1a2b3c4d5e6f"  # a Langfuse v2 SDK's trace id
    call = traced(
        kong_record(26, {"x-langfuse-trace-id": run, "x-langfuse-parent-observation-id": "obs-1"})
    )
    assert call.id == trace_hex(run) and call.given_trace_id == run
    generation = rows_for([call], "legacy").generation(run)
    assert generation.parent_span_id == "obs-1"


# --- what else an app can say -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["otel", "legacy"])
def test_a_prompt_header_links_the_generation_to_the_prompt(mode: str) -> None:
    headers = {"x-langfuse-prompt-name": "support/answer", "x-langfuse-prompt-version": "7"}
    call = traced(kong_record(27, headers))
    generation = rows_for([call], mode).generation(call.id)
    assert (generation.prompt_name, generation.prompt_version) == ("support/answer", 7)


@pytest.mark.parametrize(
    "headers",
    [
        {"x-langfuse-prompt-name": "support/answer"},
        {"x-langfuse-prompt-version": "7"},
        {"x-langfuse-prompt-name": "support/answer", "x-langfuse-prompt-version": "latest"},
        {"x-langfuse-prompt-name": "support/answer", "x-langfuse-prompt-version": "0"},
    ],
)
def test_a_prompt_is_linked_with_name_and_version_or_not_at_all(headers: dict[str, str]) -> None:
    call = traced(kong_record(28, headers))
    assert (call.generation.prompt_name, call.generation.prompt_version) == (None, None)
    for mode in ("otel", "legacy"):
        generation = rows_for([call], mode).generation(call.id)
        assert (generation.prompt_name, generation.prompt_version) == (None, None)


def test_body_metadata_wins_over_headers_for_every_attribute() -> None:
    headers = {
        "x-langfuse-prompt-name": "header-prompt",
        "x-langfuse-prompt-version": "1",
        "x-langfuse-tags": "header-tag",
        "x-langfuse-release": "header-release",
        "x-langfuse-version": "header-version",
        "x-langfuse-trace-name": "header-trace",
        "x-langfuse-observation-name": "header-step",
        "x-langfuse-trace-metadata": '{"from": "header", "team": "support"}',
        "x-langfuse-observation-metadata": '{"step": "header"}',
        "x-langfuse-user-id": "header-user",
        "x-langfuse-session-id": "header-session",
    }
    metadata = {
        "prompt_name": "body-prompt",
        "prompt_version": 3,
        "tags": ["body-tag", "vip"],
        "trace_release": "body-release",
        "trace_version": "body-version",
        "trace_name": "body-trace",
        "generation_name": "plan-step",
        "trace_metadata": {"from": "body"},
        "observation_metadata": {"step": "body", "finish_reason": "mine"},
        "trace_user_id": "body-user",
        "session_id": "body-session",
        "tenant": "acme",
    }
    call = traced(kong_record(29, headers, metadata))
    view = rows_for([call])
    trace = view.trace(call.id)
    generation = view.generation(call.id)
    assert trace.name == "body-trace" and generation.name == "plan-step"
    assert (trace.release, trace.version) == ("body-release", "body-version")
    assert (trace.user_id, trace.session_id) == ("body-user", "body-session")
    assert {"body-tag", "vip", "openai"} <= set(trace.tags) and "header-tag" not in trace.tags
    assert (generation.prompt_name, generation.prompt_version) == ("body-prompt", 3)
    assert generation.metadata["from"] == "body" and "team" not in generation.metadata
    assert generation.metadata["step"] == "body"
    assert generation.metadata["finish_reason"] == "stop"  # the gateway's facts win
    assert generation.metadata["operation"] == "chat_completion"
    # the keys read are not repeated in request_metadata; the rest stays there
    assert orjson.loads(trace.metadata["request_metadata"]) == {"tenant": "acme"}


def test_headers_alone_set_the_attributes() -> None:
    headers = {
        "x-langfuse-tags": "agent, tier-1",
        "x-langfuse-release": "app-3.4",
        "x-langfuse-version": "2.0.1",
        "x-langfuse-observation-name": "answer",
        "x-langfuse-trace-metadata": '{"team": "support"}',
    }
    call = traced(kong_record(30, headers))
    view = rows_for([call])
    trace = view.trace(call.id)
    assert {"agent", "tier-1"} <= set(trace.tags)
    assert (trace.release, trace.version) == ("app-3.4", "2.0.1")
    assert view.generation(call.id).name == "answer" and trace.metadata["team"] == "support"


def test_credentials_in_caller_attributes_never_leave() -> None:
    key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
    headers = {
        "x-langfuse-trace-metadata": orjson.dumps({"api_key": key, "note": f"key {key}"}).decode(),
        "x-langfuse-tags": f"ok,{key}",
        "x-langfuse-observation-name": f"Bearer {key}",
    }
    call = traced(kong_record(31, headers, {"trace_metadata": {"password": "hunter2"}}))
    for mode in ("otel", "legacy"):
        view = rows_for([call], mode)
        shown = orjson.dumps(
            [row.__dict__ for row in view.all_observations] + [t.__dict__ for t in view.traces()],
            default=str,
        ).decode()
        assert key not in shown and "hunter2" not in shown


def test_observation_mode_sends_only_the_apps_own_release() -> None:
    released = build_options(provider_plugins=False, release="gateway-1.2")
    joined = traced(kong_record(32, {"traceparent": TRACEPARENT}), released)
    assert joined.release is None  # the gateway's would replace the app's where merged
    said = traced(
        kong_record(32, {"traceparent": TRACEPARENT, "x-langfuse-release": "app-3.4"}), released
    )
    assert said.release == "app-3.4"
    own = traced(kong_record(32), released)
    assert own.release == "gateway-1.2"


def test_the_bundled_agent_run_is_one_trace() -> None:
    """schemas/examples/10 and 11: two calls of one agent run, sharing its traceparent."""
    calls = []
    for name in ("10-agent-call-1.json", "11-agent-call-2.json"):
        value = (EXAMPLES / name).read_bytes()
        calls.append(traced(parse_records(value)[0]))
    first, second = calls
    assert first.id == second.id and first.key != second.key
    assert first.parent_span_id != second.parent_span_id  # each call under its own app span
    view = LitefuseView()
    view.add_otlp(encode_request_bytes(calls))
    assert view.traces() == []  # the app's root span writes the trace's row, not the gateway
    generations = [row for row in view.observations_of(first.id) if row.type == "GENERATION"]
    assert len(generations) == 2
    assert {(g.prompt_name, g.prompt_version) for g in generations} == {("order-agent/system", 4)}
    assert [call["name"] for call in generations[0].tool_calls] == ["lookup_order"]


def test_a_legacy_207_settles_each_joined_call_on_its_own() -> None:
    """Two calls in one trace: Langfuse refuses one call's generation; only that call is
    rejected (the 207's event ids name the call, not just the trace)."""
    calls = [traced(kong_record(i, {"traceparent": TRACEPARENT})) for i in (33, 34)]
    refused = f"{calls[0].key}-{calls[0].generation.id}"

    def answer(request: httpx.Request) -> httpx.Response:
        batch = orjson.loads(request.content)["batch"]
        return httpx.Response(
            207,
            json={
                "successes": [{"id": e["id"], "status": 201} for e in batch if e["id"] != refused],
                "errors": [{"id": refused, "status": 400, "message": "invalid generation"}],
            },
        )

    sink = LitefuseSink(
        "http://127.0.0.1:9",
        "pk-lf-x",
        "sk-lf-x",
        mode="legacy",
        transport=httpx.MockTransport(answer),
    )
    result = asyncio.run(sink.write(calls))
    assert result.accepted_ids == [calls[1].key]
    assert [r.trace.key for r in result.rejected] == [calls[0].key]


def test_an_all_zero_existing_trace_id_is_as_if_not_given() -> None:
    full = build_options(provider_plugins=False, trace_join_mode="full")
    record = kong_record(35, {"traceparent": TRACEPARENT}, {"existing_trace_id": "0" * 32})
    joined = traced(record, full)
    assert (joined.id, joined.parent_span_id, joined.joined) == (APP_TRACE, APP_CALL, "full")
    assert "trace_context" not in joined.metadata  # the next source joined: counted joined
    assert "existing_trace_id" in orjson.loads(orjson.dumps(joined.metadata["request_metadata"]))
