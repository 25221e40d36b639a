"""A real OpenTelemetry-instrumented app calls an LLM through "Kong"; its generations land in
the app's own trace.

The app: OpenTelemetry's SDK, an ``httpx`` client instrumented by
``opentelemetry-instrumentation-httpx`` (which sends a W3C ``traceparent`` on every call) and
OpenTelemetry's OTLP/HTTP exporter, which sends the app's spans to the Litefuse stand-in (as an
app exporting to Litefuse does). The upstream: a real HTTP server on 127.0.0.1 that answers as
OpenAI and records the headers it received; each Kong record is built from them, as Kong's
log serializer would log that request. Then enrichment and the real OTLP sink, to the same
stand-in. Everything is asserted on the rows Litefuse would store.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from pipeline.enrich import enrich
from pipeline.enrich.options import build_options
from pipeline.kong import parse_records
from pipeline.sinks import LitefuseSink
from pipeline.trace import Trace
from tests.conftest import EXAMPLES
from tests.receiver import PUBLIC_KEY, SECRET_KEY, LitefuseReceiver

APP_NAME = "support-agent"
QUESTIONS = ["Which plan am I on?", "How do I rotate my API key?"]


class Upstream:
    """An OpenAI-compatible server on 127.0.0.1 that keeps what each request carried."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, Any], bytes]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                # as Kong logs them: names lower-cased, a repeated header as a list
                headers: dict[str, Any] = {}
                for name, value in self.headers.items():
                    key = name.lower()
                    if key in headers:
                        previous = headers[key]
                        headers[key] = (
                            [*previous, value]
                            if isinstance(previous, list)
                            else [
                                previous,
                                value,
                            ]
                        )
                    else:
                        headers[key] = value
                upstream.requests.append((headers, body))
                answer = orjson.dumps(upstream.completion(len(upstream.requests)))
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def completion(number: int) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": 1764384000,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"Answer {number}."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 4, "total_tokens": 24},
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def run_app(upstream: Upstream, receiver: LitefuseReceiver) -> str:
    """The app's agent run: one root span, two LLM calls through its instrumented client.
    Returns the app's trace id."""
    token = base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
    exporter = OTLPSpanExporter(
        endpoint=f"{receiver.base_url}/api/public/otel/v1/traces",
        headers={"Authorization": f"Basic {token}", "x-langfuse-ingestion-version": "4"},
        timeout=5,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "support-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("support-app")
    try:
        with httpx.Client(base_url=upstream.base_url, timeout=5.0) as client:
            HTTPXClientInstrumentor.instrument_client(client, tracer_provider=provider)
            with tracer.start_as_current_span("agent-run") as root:
                root.set_attribute("langfuse.trace.name", APP_NAME)
                root.set_attribute("langfuse.observation.input", json.dumps(QUESTIONS))
                for question in QUESTIONS:
                    response = client.post(
                        "/v1/chat/completions",
                        json={
                            "model": "gpt-4o-mini",
                            "messages": [{"role": "user", "content": question}],
                        },
                        headers={"authorization": "Bearer sk-app-secret-do-not-log-0123456789"},
                    )
                    response.raise_for_status()
                root.set_attribute("langfuse.observation.output", '"done"')
            trace_id = format(root.get_span_context().trace_id, "032x")
    finally:
        provider.shutdown()  # flushes the exporter
    return trace_id


def kong_records(upstream: Upstream) -> list[bytes]:
    """The Kong records of the app's calls, built from what the upstream received."""
    template = orjson.loads((EXAMPLES / "01-openai-chat.json").read_bytes())
    records = []
    for index, (headers, body) in enumerate(upstream.requests):
        record = copy.deepcopy(template)
        record["request"]["id"] = uuid.uuid4().hex
        record["request"]["headers"] = headers
        record["request"]["body"] = body.decode()
        record["response"]["body"] = orjson.dumps(Upstream.completion(index + 1)).decode()
        record["started_at"] += index * 2000
        records.append(orjson.dumps(record))
    return records


def test_generations_land_under_the_apps_spans_in_the_apps_trace(
    upstream: Upstream, receiver: LitefuseReceiver
) -> None:
    app_trace = run_app(upstream, receiver)
    assert len(upstream.requests) == 2
    assert all("traceparent" in headers for headers, _ in upstream.requests)

    options = build_options(provider_plugins=False)
    traces = []
    for value in kong_records(upstream):
        result = enrich(parse_records(value)[0], options, content=value)
        assert isinstance(result, Trace)
        traces.append(result)
    sink = LitefuseSink(receiver.base_url, PUBLIC_KEY, SECRET_KEY, timeout=5.0)
    assert asyncio.run(sink.write(traces)).accepted == 2

    view = receiver.view
    assert [row.id for row in view.traces()] == [app_trace]  # one trace: the app's
    trace = view.trace(app_trace)
    assert trace.name == APP_NAME and trace.input_json == QUESTIONS
    assert trace.output_json == "done"

    rows = view.observations_of(app_trace)
    client_spans = {
        row.id: row
        for row in rows
        if row.metadata["resourceAttributes"].get("service.name") == "support-app"
        and not row.is_root
    }
    assert len(client_spans) == 2  # the instrumented client's span of each call
    generations = [row for row in rows if row.type == "GENERATION"]
    assert len(generations) == 2
    by_id = {row.id: row for row in rows}
    for generation in generations:
        request_span = by_id[generation.parent_span_id]  # the request through Kong
        assert request_span.parent_span_id in client_spans  # under the app's call
        assert generation.trace_name is None and request_span.trace_name is None
        assert generation.model == "gpt-4o-mini-2024-07-18"
    # each generation under the very call that carried its traceparent
    carried = {headers["traceparent"].split("-")[2] for headers, _ in upstream.requests}
    assert {by_id[g.parent_span_id].parent_span_id for g in generations} == carried
    # the app's credentials never left
    assert "sk-app-secret" not in json.dumps([row.__dict__ for row in rows], default=str)
