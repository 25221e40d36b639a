"""Kong records on a real broker → worker process → local Litefuse receiver."""

from __future__ import annotations

import json
import signal
import time
from datetime import timedelta
from typing import Any

import pytest

from pipeline.bench.e2e import descendants
from pipeline.delivery.deadletter import read_headers
from pipeline.kafka import publish
from tests.conftest import (
    EXAMPLES,
    ROOT,
    Names,
    committed_offsets,
    consume_all,
    still_running,
    wait_until,
)
from tests.receiver import SECRET_KEY, LitefuseReceiver

pytestmark = pytest.mark.integration

AI_EXAMPLES = sorted(p for p in EXAMPLES.glob("*.json") if "non-ai" not in p.name)
# the agent run's calls join the app's trace (their traceparent): no trace row of their own
AGENT_CALLS = [p for p in AI_EXAMPLES if "agent-call" in p.name]
OWN_TRACES = [p for p in AI_EXAMPLES if p not in AGENT_CALLS]


def _agent_run() -> tuple[str, set[str]]:
    """The agent run's trace id and the app spans its two calls were made under."""
    parents = set()
    for path in AGENT_CALLS:
        _, trace, parent, _ = json.loads(path.read_text())["request"]["headers"][
            "traceparent"
        ].split("-")
        parents.add(parent)
    return trace, parents


def _publish_examples(bootstrap: str, topic: str) -> int:
    values = [p.read_bytes() for p in sorted(EXAMPLES.iterdir())]
    return publish(bootstrap, topic, values)


# ENRICH_PROCESSES=1: enrichment in a helper process, counted and dead-lettered by the worker.
@pytest.mark.parametrize("enrich_processes", ["0", "1"])
def test_records_arrive_as_otlp_spans_and_malformed_goes_to_dlq(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
    enrich_processes: str,
) -> None:
    worker = start_worker({**worker_env, "ENRICH_PROCESSES": enrich_processes})
    worker.wait_ready()
    _publish_examples(kafka_bootstrap, names.kong)

    ids = receiver.wait_for_traces(len(OWN_TRACES), timeout=60)
    assert sorted(ids) == sorted(set(ids)), "a trace arrived twice"
    assert len(ids) == len(OWN_TRACES), worker.log()[-3000:]

    # the agent run's two calls: two generations in the app's trace, each under the app's
    # span that made the call (no trace row of ours: the app's root span writes it)
    agent_trace, app_spans = _agent_run()

    def agent_generations() -> list[Any]:
        with receiver._lock:
            rows = receiver.view.observations_of(agent_trace)
        return [row for row in rows if row.type == "GENERATION"]

    generations = wait_until(lambda: len(agent_generations()) == 2 and agent_generations(), 30)
    assert generations, worker.log()[-3000:]
    with receiver._lock:
        by_id = {row.id: row for row in receiver.view.observations_of(agent_trace)}
    assert {by_id[g.parent_span_id].parent_span_id for g in generations} == app_spans
    assert {(g.prompt_name, g.prompt_version) for g in generations} == {("order-agent/system", 4)}
    assert agent_trace not in receiver.trace_ids()

    # every request used Basic auth, the ingestion-version header and protobuf
    assert receiver.requests and all(r.status == 200 for r in receiver.requests)
    assert all(r.headers["x-langfuse-ingestion-version"] == "4" for r in receiver.requests)
    # batched: far fewer requests than traces
    assert len(receiver.requests) < len(AI_EXAMPLES)

    # what a user sees in Litefuse (the rows its mapping rules store)
    chat = json.loads((EXAMPLES / "01-openai-chat.json").read_text())
    trace = receiver.trace(chat["request"]["id"])
    generation = receiver.generation(chat["request"]["id"])
    assert trace.name == "/v1/chat/completions"
    assert (trace.user_id, trace.session_id) == ("alice@example.com", "sess-7f3a")
    assert trace.environment == generation.environment == "production"
    request_messages = json.loads(chat["request"]["body"])["messages"]
    assert trace.input_json == generation.input_json == request_messages
    assert trace.output_json == generation.output_json
    assert generation.output_json["role"] == "assistant" and generation.output_json["content"]
    for key, value in {
        "chat_id": "chat-42",
        "message_id": "msg-0007",
        "organization_id": "org-acme",
        "project_id": "proj-support",
    }.items():
        assert trace.metadata[key] == value
    # the generation row carries the trace's user and session too (filters on observations)
    assert (generation.user_id, generation.session_id) == ("alice@example.com", "sess-7f3a")
    assert generation.type == "GENERATION"
    assert generation.model == "gpt-4o-mini-2024-07-18"
    assert (generation.input_tokens, generation.output_tokens, generation.total_tokens) == (
        31,
        29,
        60,
    )
    assert generation.usage_details == {"input": 31, "output": 29, "total": 60}
    assert generation.total_cost is not None and generation.total_cost > 0
    assert generation.model_parameters["temperature"] == 0.2
    assert generation.end_time - generation.start_time == timedelta(milliseconds=812)
    assert generation.metadata["usage_estimated"] is False

    # the streamed Anthropic call was reassembled
    anthropic = json.loads((EXAMPLES / "04-anthropic-stream.json").read_text())
    stream_generation = receiver.generation(anthropic["request"]["id"])
    assert stream_generation.output_json["content"] == "Kafka keeps order per partition."
    assert stream_generation.output_tokens == 9

    # the provider error is an ERROR observation with the provider's message
    limited = json.loads((EXAMPLES / "07-openai-rate-limited.json").read_text())
    error_generation = receiver.generation(limited["request"]["id"])
    assert error_generation.level == "ERROR"
    assert "Rate limit reached" in (error_generation.status_message or "")

    # the malformed record is a dead letter with its reason and position; its key is scrubbed
    letters = consume_all(kafka_bootstrap, names.dlq, expected=1, timeout=30)
    assert len(letters) == 1
    headers = read_headers(letters[0].headers())
    assert headers["stage"] == "enrich"
    assert headers["reason"].startswith("not JSON")
    assert headers["source-topic"] == names.kong
    assert "sk-proj-DEMOFAKEKEY" not in letters[0].value().decode()

    # secrets never reached Litefuse
    sent = b"".join(receiver.raw_bodies)
    assert b"sk-ant-api03-DEMOFAKEKEY" not in sent
    assert SECRET_KEY.encode() not in sent

    metrics = worker.metrics()
    assert "kong_litefuse_records_consumed_total 11.0" in metrics
    assert 'kong_litefuse_trace_context_total{result="joined"} 2.0' in metrics
    assert f'kong_litefuse_trace_context_total{{result="absent"}} {len(OWN_TRACES)}.0' in metrics
    assert 'kong_litefuse_records_skipped_total{reason="not an AI request"} 1.0' in metrics
    assert "sk-lf-test-secret" not in worker.log()
    # the worker ran in the checkout and left no faust data directory there
    assert not (ROOT / f"{names.group}-data").exists()


def test_legacy_ingestion_mode(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    worker = start_worker({**worker_env, "LANGFUSE_INGESTION": "legacy"})
    worker.wait_ready()
    _publish_examples(kafka_bootstrap, names.kong)

    # one trace-create per record: the agent calls' hold only user, session, tags, environment
    ids = receiver.wait_for_traces(len(AI_EXAMPLES), timeout=60)
    assert len(ids) == len(AI_EXAMPLES), worker.log()[-3000:]
    assert all(r.path == "/api/public/ingestion" for r in receiver.requests)
    agent_trace, app_spans = _agent_run()
    agent = receiver.trace(agent_trace)
    assert (agent.name, agent.input, agent.output) == (None, None, None)
    assert agent.session_id == "sess-orders-19"
    with receiver._lock:
        rows = receiver.view.observations_of(agent_trace)
    assert {row.parent_span_id for row in rows} == app_spans
    # what Langfuse v3 stores for the legacy events
    chat = json.loads((EXAMPLES / "01-openai-chat.json").read_text())
    trace = receiver.trace(chat["request"]["id"])
    generation = receiver.generation(chat["request"]["id"])
    assert trace.name == "/v1/chat/completions"
    assert (trace.user_id, trace.session_id) == ("alice@example.com", "sess-7f3a")
    assert trace.input_json == json.loads(chat["request"]["body"])["messages"]
    assert trace.output_json == generation.output_json and trace.output_json["content"]
    assert generation.model == "gpt-4o-mini-2024-07-18"
    assert (generation.input_tokens, generation.output_tokens, generation.total_tokens) == (
        31,
        29,
        60,
    )
    assert generation.total_cost is not None and generation.total_cost > 0


def test_wrong_keys_are_reported_and_nothing_is_acknowledged(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    worker = start_worker({**worker_env, "LANGFUSE_SECRET_KEY": "sk-lf-wrong-key-123456"})
    worker.wait_ready()
    publish(kafka_bootstrap, names.kong, [(EXAMPLES / "01-openai-chat.json").read_bytes()])
    assert wait_until(lambda: bool(receiver.requests), 30), worker.log()[-3000:]
    assert receiver.trace_ids() == []
    assert all(r.status == 401 for r in receiver.requests)
    # the worker does commit (the enrich agent's offset on the Kong topic moves) ...
    assert wait_until(lambda: sum(committed_offsets(kafka_bootstrap, names.group, names.kong)), 30)
    # ... but not past the refused trace: over several commit intervals, nothing on the traces
    # topic is acknowledged
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert committed_offsets(kafka_bootstrap, names.group, names.traces) == [0, 0, 0, 0]
        time.sleep(0.5)
    # one attempt, then a long pause: no busy loop against a server refusing our keys
    assert len(receiver.requests) <= 2
    log = worker.log()
    assert "401" in log and "LANGFUSE_SECRET_KEY" in log
    assert "sk-lf-wrong-key-123456" not in log


@pytest.mark.parametrize("enrich_processes", ["0", "1"])
def test_a_trace_too_large_for_a_kafka_record_is_truncated_not_stalled(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
    enrich_processes: str,
) -> None:
    from tests.factories import kong_record

    # A 150 KB completion appears twice in the trace (trace and generation output): over the
    # 200 KB record limit set here, as a multi-MB body would be over a broker's 1 MB default.
    worker = start_worker(
        {**worker_env, "KAFKA_MAX_MESSAGE_BYTES": "200000", "ENRICH_PROCESSES": enrich_processes}
    )
    worker.wait_ready()
    big = kong_record(1)
    body = json.loads(big["response"]["body"])
    body["choices"][0]["message"]["content"] = "word " * 30_000
    big["response"]["body"] = json.dumps(body)
    normal = [kong_record(i) for i in range(2, 6)]
    # one partition for all, the big one first: what follows it must not wait behind it
    publish(
        kafka_bootstrap,
        names.kong,
        [(b"same-key", json.dumps(r).encode()) for r in [big, *normal]],
    )
    ids = receiver.wait_for_traces(5, timeout=60)
    assert len(ids) == 5, worker.log()[-3000:]
    generation = receiver.generation(big["request"]["id"])
    assert (generation.output or "").startswith("[truncated by kong-litefuse: ")
    assert "kong_litefuse_traces_truncated_total 1.0" in worker.metrics()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_worker_stopped_or_killed_leaves_no_enrich_helper_behind(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
    sig: signal.Signals,
) -> None:
    from tests.factories import kong_values

    worker = start_worker({**worker_env, "ENRICH_PROCESSES": "1"})
    worker.wait_ready()
    publish(kafka_bootstrap, names.kong, kong_values(20))
    assert len(receiver.wait_for_traces(20, timeout=60)) == 20, worker.log()[-3000:]
    helpers = descendants(worker.pid)
    assert helpers, "no helper process was started"
    worker.stop(sig)
    assert not still_running(helpers, timeout=20), "a helper outlived its worker"


def test_a_trace_litefuse_rejects_is_dead_lettered_with_its_reason(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    """Sink-stage dead letters: a 207 whose errors reject one trace's events (a 4xx for
    good) puts that trace on the traces dead-letter topic; the others are delivered and
    every record is acknowledged."""
    from tests.factories import kong_record

    records = [kong_record(i) for i in range(5)]
    refused = records[2]["request"]["id"]

    def respond(batch: list[dict[str, object]]) -> tuple[int, dict[str, object]]:
        errors = [
            {"id": e["id"], "status": 400, "message": "invalid usageDetails"}
            for e in batch
            if str(e["id"]).startswith(refused)
        ]
        failed = {error["id"] for error in errors}
        successes = [{"id": e["id"], "status": 201} for e in batch if e["id"] not in failed]
        return 207, {"successes": successes, "errors": errors}

    receiver.legacy_responder = respond
    worker = start_worker({**worker_env, "LANGFUSE_INGESTION": "legacy"})
    worker.wait_ready()
    publish(kafka_bootstrap, names.kong, [json.dumps(r).encode() for r in records])
    letters = consume_all(kafka_bootstrap, names.traces_dlq, expected=1, timeout=60)
    assert len(letters) == 1, worker.log()[-3000:]
    headers = read_headers(letters[0].headers())
    assert (headers["stage"], headers["status"]) == ("sink", "400")
    assert headers["reason"] == "rejected by Litefuse (400): invalid usageDetails"
    assert headers["source-topic"] == names.kong  # where the Kong record came from
    assert json.loads(letters[0].value())["id"] == refused  # the trace, to redrive later
    ids = receiver.wait_quiet(4, timeout=60)
    assert sorted(ids) == sorted(
        r["request"]["id"] for r in records if r["request"]["id"] != refused
    )
    # settled: the rejected trace is acknowledged too (it is in the dead-letter topic)
    assert wait_until(
        lambda: sum(committed_offsets(kafka_bootstrap, names.group, names.traces)) == 5, 30
    )
    assert "kong_litefuse_dead_letters_total{reason=" in worker.metrics()
