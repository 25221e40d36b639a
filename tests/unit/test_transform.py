"""``kong-litefuse transform``: events checked by Langfuse's own models and the rules they miss."""

from __future__ import annotations

import base64
import copy
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf import json_format
from langfuse.api.core.pydantic_utilities import parse_obj_as
from langfuse.api.ingestion.types import IngestionEvent
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from pipeline.enrich import enrich
from pipeline.enrich.stage import enrich_options
from pipeline.kong import RecordError, parse_records
from pipeline.ops.transform import check_event, run_transform, split_input
from pipeline.settings import Settings
from pipeline.sinks.otlp import encode_request
from pipeline.trace import SourceRef, Trace

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "kong"
EXAMPLES = ROOT / "schemas" / "examples"


def _all_records() -> bytes:
    """Every fixture and example as one JSON value per line."""
    lines = []
    for path in sorted([*FIXTURES.glob("*.json"), *EXAMPLES.glob("*.json")]):
        lines.append(orjson.dumps(orjson.loads(path.read_bytes())))
    return b"\n".join(lines) + b"\n"


def _run(data: bytes, fmt: str = "langfuse", **settings: Any) -> tuple[list[Any], str, int]:
    out, err = io.StringIO(), io.StringIO()
    failures = run_transform(data, Settings(**settings), fmt, out, err)  # type: ignore[arg-type]
    return [orjson.loads(line) for line in out.getvalue().splitlines()], err.getvalue(), failures


def test_every_event_validates_against_langfuse_models_and_our_rules() -> None:
    events, err, failures = _run(_all_records())
    assert failures == 0, err
    assert len(events) % 2 == 0 and events
    kinds = [event["type"] for event in events]
    assert kinds == ["trace-create", "generation-create"] * (len(events) // 2)
    for event in events:
        parsed = parse_obj_as(IngestionEvent, event)  # type: ignore[arg-type]
        assert parsed.type == event["type"]  # type: ignore[union-attr]
        assert check_event(event) == [], event["id"]
        body = parsed.body  # type: ignore[union-attr]
        assert body.id == event["body"]["id"]
    generations = [e["body"] for e in events if e["type"] == "generation-create"]
    # camelCase fields survived the models (a bare TypeAdapter would drop them)
    assert all("traceId" in g and "startTime" in g for g in generations)
    assert sum("usageDetails" in g for g in generations) > 30
    assert sum("costDetails" in g for g in generations) > 20


def test_trace_and_generation_per_ai_request_skipped_print_nothing() -> None:
    health = (EXAMPLES / "08-non-ai-health.json").read_bytes()
    chat = (EXAMPLES / "01-openai-chat.json").read_bytes()
    assert _run(health)[0] == []
    events, _, _ = _run(chat)
    assert [e["type"] for e in events] == ["trace-create", "generation-create"]
    assert events[1]["body"]["traceId"] == events[0]["body"]["id"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"timestamp": "2025-11-29 07:00:00"}, "event timestamp"),
        ({"body": {"timestamp": "2025-11-29T07:00:00.000Z"}}, "body.id is missing"),
        ({"body": {"id": "x", "environment": "Langfuse-Prod"}}, "body.environment"),
        ({"body": {"id": "x", "usageDetails": {"input": 1.5}}}, "usageDetails.input"),
        ({"body": {"id": "x", "usageDetails": {"output": -1}}}, "usageDetails.output"),
        ({"body": {"id": "x", "startTime": "yesterday"}}, "body.startTime"),
        ({"body": {"id": "x", "costDetails": {"total": -0.1}}}, "costDetails.total"),
    ],
)
def test_check_event_catches_what_the_models_miss(change: dict[str, Any], problem: str) -> None:
    event = {"id": "e1", "timestamp": "2025-11-29T07:00:00.000Z", "type": "trace-create"}
    event.update(change)
    event.setdefault("body", {"id": "x"})
    # Langfuse's own model accepts it …
    parse_obj_as(IngestionEvent, event)  # type: ignore[arg-type]
    # … our check does not
    assert any(problem in found for found in check_event(event))


def test_ids_are_deterministic_without_kong_request_id() -> None:
    data = (FIXTURES / "shape-3.4-no-request-id.json").read_bytes()
    first, _, _ = _run(data)
    second, _, _ = _run(data)
    assert first == second
    assert len(first[0]["body"]["id"]) == 32


def test_json_array_and_pretty_printed_documents() -> None:
    array = (FIXTURES / "shape-json-array.json").read_bytes()
    assert len(split_input(array)) == 1  # one pretty-printed document
    events, _, failures = _run(array)
    assert failures == 0 and len(events) == 2  # the health check in the array is skipped


def test_malformed_inputs_are_reported_and_the_rest_processed() -> None:
    chat = orjson.dumps(orjson.loads((EXAMPLES / "01-openai-chat.json").read_bytes()))
    no_start = orjson.loads(chat)
    del no_start["started_at"]
    data = b"\n".join([b"{not json", chat, b"[1, 2]", orjson.dumps(no_start), b'"text"'])
    events, err, failures = _run(data)
    assert failures == 4
    assert len(events) == 2
    lines = err.splitlines()
    assert lines[0].startswith("line 1: not JSON")
    assert lines[1].startswith("line 3: item 0 is a JSON int")
    assert lines[2] == "line 4 record 0: AI request without started_at"
    assert lines[3].startswith("line 5: value is a JSON str")


def _read_otlp_json(document: dict[str, Any]) -> ExportTraceServiceRequest:
    """What an OTLP/HTTP JSON receiver does: OTLP/JSON ids are hex (protobuf's JSON mapping
    would read base64), then opentelemetry-proto's classes parse the rest."""
    document = copy.deepcopy(document)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for field in ("traceId", "spanId", "parentSpanId"):
                    if field in span:
                        raw = bytes.fromhex(span[field])
                        span[field] = base64.b64encode(raw).decode()
    return json_format.ParseDict(document, ExportTraceServiceRequest())


def test_otlp_json_is_the_otlp_json_encoding() -> None:
    chat = (EXAMPLES / "01-openai-chat.json").read_bytes()
    messages, _, _ = _run(chat, "otlp-json")
    assert len(messages) == 1
    spans = messages[0]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert len(spans) == 2
    root, generation = spans
    # hex ids (the chat's Kong request id is its trace id), integer enums
    assert root["traceId"] == generation["traceId"] == orjson.loads(chat)["request"]["id"]
    assert len(root["spanId"]) == 16 and generation["parentSpanId"] == root["spanId"]
    assert all(isinstance(span["kind"], int) for span in spans)
    keys = {a["key"] for a in generation["attributes"]}
    assert {"langfuse.observation.usage_details", "langfuse.observation.model.name"} <= keys


def test_transform_piped_into_an_otlp_json_parse_gives_the_sinks_spans() -> None:
    """``kong-litefuse transform --format otlp-json | <an OTLP JSON receiver>``: the same
    spans, attributes and values as the protobuf the sink sends, for every fixture."""
    command = [sys.executable, "-m", "pipeline.cli", "transform", "--format", "otlp-json", "-"]
    piped = subprocess.run(command, input=_all_records(), capture_output=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    received = [_read_otlp_json(orjson.loads(line)) for line in piped.stdout.splitlines()]
    sent = [encode_request([trace]) for trace in _traces(_all_records())]
    assert len(received) == len(sent) > 40
    for got, expected in zip(received, sent, strict=True):
        assert got == expected


def _traces(data: bytes) -> list[Trace]:
    """The traces ``transform`` enriches from the same input, in its order."""
    options = enrich_options(Settings())
    found = []
    for _, value in split_input(data):
        try:
            records = parse_records(value)
        except RecordError:
            continue
        for index, record in enumerate(records):
            try:
                result = enrich(record, options, SourceRef(index=index), content=value)
            except RecordError:
                continue
            if isinstance(result, Trace):
                found.append(result)
    return found


def test_same_settings_as_the_worker() -> None:
    data = _all_records()
    nothing, _, _ = _run(data, sample_rate=0.0)
    assert nothing == []
    staging, _, _ = _run(data, langfuse_environment="staging", sample_rates={"staging": 1.0})
    assert staging and all(e["body"]["environment"] == "staging" for e in staging)


def test_cli_exit_status(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes((EXAMPLES / "01-openai-chat.json").read_bytes())
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps(orjson.loads(good.read_bytes())) + b"\n{broken\n")
    command = [sys.executable, "-m", "pipeline.cli", "transform"]
    ok = subprocess.run([*command, str(good)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert len(ok.stdout.splitlines()) == 2
    failed = subprocess.run([*command, "-"], input=bad.read_text(), capture_output=True, text=True)
    assert failed.returncode == 1
    assert len(failed.stdout.splitlines()) == 2  # the good record was still transformed
    assert "line 2: not JSON" in failed.stderr


def test_an_ai_block_whose_names_are_objects_is_traced_not_a_crash(tmp_path: Path) -> None:
    # Kong's ai block with provider_name (and a model) as JSON objects: the worker dead-lettered
    # such a record as an internal error, and `transform` died with a traceback on it
    record = orjson.loads((EXAMPLES / "01-openai-chat.json").read_bytes())
    record["ai"] = {
        "proxy": {
            "meta": {"provider_name": {"name": "openai"}, "request_model": ["gpt-4o"]},
            "usage": {"prompt_tokens": 3, "completion_tokens": 4},
        }
    }
    path = tmp_path / "odd-ai-block.json"
    path.write_bytes(orjson.dumps(record))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "transform", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    events = [orjson.loads(line) for line in done.stdout.splitlines()]
    generation = next(e for e in events if e["type"] == "generation-create")
    assert generation["body"]["model"] == "gpt-4o-mini-2024-07-18"  # from the response

    # the worker's stage: a trace, not a dead letter
    from pipeline.enrich.options import EnrichOptions
    from pipeline.enrich.stage import KafkaValue, StageConfig, Traced, run_stage

    config = StageConfig(options=EnrichOptions(), traces_topic="t")
    (outcome,) = run_stage([KafkaValue(orjson.dumps(record), "kong", 0, 0)], config)
    assert isinstance(outcome, Traced), outcome
