"""``kong-litefuse transform``: events checked by Langfuse's own models and the rules they miss."""

from __future__ import annotations

import base64
import copy
import io
import os
import subprocess
import sys
import uuid
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
from pipeline.sinks.legacy import encode_events
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


# --- the command line: files, directories, streams, rejections, size caps ---------------------


def _cli(*args: str, stdin: bytes = b"", **env: str) -> subprocess.CompletedProcess[bytes]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "SINK_"))}
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "transform", *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env={**environment, **env},
    )


def _chat(request_id: str, **changes: Any) -> dict[str, Any]:
    record = orjson.loads((EXAMPLES / "01-openai-chat.json").read_bytes())
    record["request"]["id"] = request_id
    record.update(changes)
    return record


def _trace_ids(stdout: bytes) -> list[str]:
    return [
        event["body"]["id"]
        for event in map(orjson.loads, stdout.splitlines())
        if event["type"] == "trace-create"
    ]


def test_the_bundled_examples_as_a_directory_and_concatenated_give_the_same_events() -> None:
    """The examples are pretty-printed: concatenated they gave 711 "not JSON" errors."""
    directory = _cli(str(EXAMPLES))
    assert directory.returncode == 0, directory.stderr
    assert directory.stderr == b""
    files = sorted(EXAMPLES.glob("*.json"))
    concatenated = _cli("-", stdin=b"".join(path.read_bytes() for path in files))
    assert concatenated.returncode == 0, concatenated.stderr[:500]
    assert concatenated.stderr == b""
    assert concatenated.stdout == directory.stdout
    one_by_one = b"".join(_cli(str(path)).stdout for path in files)
    assert directory.stdout == one_by_one
    assert len(_trace_ids(directory.stdout)) == 9  # 10 examples, the health check skipped


def test_files_directories_and_stdin_in_order_recursively_in_sorted_order(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "records"
    (folder / "sub").mkdir(parents=True)
    ids = {name: uuid.uuid4().hex for name in ("a1", "a2", "b", "c", "stdin", "file")}
    (folder / "c.ndjson").write_bytes(orjson.dumps(_chat(ids["c"])) + b"\n")
    (folder / "a.jsonl").write_bytes(
        orjson.dumps(_chat(ids["a1"])) + b"\n" + orjson.dumps(_chat(ids["a2"])) + b"\n"
    )
    (folder / "sub" / "b.json").write_bytes(
        orjson.dumps(_chat(ids["b"]), option=orjson.OPT_INDENT_2)
    )
    (folder / "notes.txt").write_text("not records: a directory's other files are left alone")
    single = tmp_path / "single.json"
    single.write_bytes(orjson.dumps(_chat(ids["file"])))
    stdin = orjson.dumps(_chat(ids["stdin"]), option=orjson.OPT_INDENT_2)
    done = _cli(str(folder), "-", str(single), stdin=stdin)
    assert done.returncode == 0, done.stderr
    expected = ["a1", "a2", "c", "b", "stdin", "file"]  # a.jsonl, c.ndjson, sub/b.json
    assert _trace_ids(done.stdout) == [ids[name] for name in expected]


def test_a_stream_of_values_in_any_layout() -> None:
    one, two, three = (orjson.dumps(_chat(uuid.uuid4().hex)) for _ in range(3))
    pretty = orjson.dumps(orjson.loads(three), option=orjson.OPT_INDENT_2)
    tall = pretty.count(b"\n")  # the pretty-printed value spans tall + 1 lines
    data = one + two + b"\n\n" + pretty + b"  [" + one + b"]\n{broken\n" + two + b"\n"
    values = split_input(data)
    assert values == [
        (1, one),
        (1, two),
        (3, pretty),
        (3 + tall, b"[" + one + b"]"),
        (4 + tall, b"{broken"),
        (5 + tall, two),
    ]
    done = _cli("-", stdin=data)
    assert done.returncode == 1
    (reason,) = done.stderr.decode().splitlines()
    assert reason.startswith(f"line {4 + tall}: not JSON"), reason
    assert len(_trace_ids(done.stdout)) == 5  # one, two, three, one again, two again


def test_implausible_values_are_one_line_each_with_the_reason_and_exit_1(tmp_path: Path) -> None:
    future = _chat(uuid.uuid4().hex, started_at=1e30)
    tokens = _chat(uuid.uuid4().hex)
    body = orjson.loads(tokens["response"]["body"])  # Kong logs the body as a string
    body["usage"]["prompt_tokens"] = 1e300
    tokens["response"]["body"] = orjson.dumps(body).decode()
    good = _chat(uuid.uuid4().hex)
    data = b"\n".join(orjson.dumps(r) for r in (future, good, tokens))
    done = _cli("-", stdin=data)
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("line 1 record 0: implausible started_at"), lines
    assert lines[1].startswith("line 3 record 0: implausible token count"), lines
    assert _trace_ids(done.stdout) == [good["request"]["id"]]


@pytest.mark.parametrize("data", [b"", b"  \n\t\n"], ids=["empty", "blank"])
def test_an_input_without_records_says_so(data: bytes) -> None:
    done = _cli("-", stdin=data)
    assert done.returncode == 1
    assert done.stdout == b""
    assert (
        done.stderr
        == b"error: no Kong records in the input (transform's FILES argument, or stdin)\n"
    )


def _big_chat(content_bytes: int) -> dict[str, Any]:
    record = _chat(uuid.uuid4().hex)
    body = orjson.loads(record["response"]["body"])
    body["choices"][0]["message"]["content"] = "x" * content_bytes
    record["response"]["body"] = orjson.dumps(body).decode()
    return record


def _generation(stdout: bytes) -> dict[str, Any]:
    events = [orjson.loads(line) for line in stdout.splitlines()]
    body: dict[str, Any] = next(e for e in events if e["type"] == "generation-create")["body"]
    return body


def test_a_trace_over_the_kafka_record_limit_is_cut_as_the_worker_cuts_it() -> None:
    from pipeline.enrich.stage import KafkaValue, StageConfig, Traced, run_stage
    from pipeline.sinks.batching import TRUNCATION_MARKER

    record = _big_chat(300_000)
    done = _cli("-", stdin=orjson.dumps(record), KAFKA_MAX_MESSAGE_BYTES="100000")
    assert done.returncode == 0, done.stderr
    printed = _generation(done.stdout)
    assert printed["output"].startswith(TRUNCATION_MARKER.split("{")[0]), printed["output"]
    # the worker's enrich stage on the same record, under the same limit
    settings = Settings(kafka_max_message_bytes=100_000)
    config = StageConfig.from_settings(settings)
    (outcome,) = run_stage([KafkaValue(orjson.dumps(record), "kong", 0, 0)], config)
    assert isinstance(outcome, Traced) and outcome.truncated
    worker = [
        e for e in encode_events(Trace.from_json(outcome.value)) if e["type"] == "generation-create"
    ]
    assert printed["output"] == worker[0]["body"]["output"]
    assert printed["input"] == worker[0]["body"]["input"]
    # without the limit, nothing is cut
    whole = _generation(_cli("-", stdin=orjson.dumps(record)).stdout)
    assert len(whole["output"]["content"]) == 300_000


def test_a_trace_over_the_sink_event_limit_is_cut_as_the_sink_cuts_it() -> None:
    record = _big_chat(60_000)
    done = _cli("-", stdin=orjson.dumps(record), SINK_MAX_EVENT_BYTES="20000")
    assert done.returncode == 0, done.stderr
    events = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert len(orjson.dumps(events)) + 2 <= 20_000  # what the sink measures
    assert str(_generation(done.stdout)["output"]).startswith("[truncated by kong-litefuse:")
    otlp = _cli(
        "-", "--format", "otlp-json", stdin=orjson.dumps(record), SINK_MAX_EVENT_BYTES="20000"
    )
    assert otlp.returncode == 0, otlp.stderr
    assert b"[truncated by kong-litefuse:" in otlp.stdout
