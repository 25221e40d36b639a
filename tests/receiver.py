"""A Litefuse-compatible HTTP receiver on 127.0.0.1 for tests: a real server, real sockets.

It checks Basic auth, decodes OTLP protobuf (``/api/public/otel/v1/traces``) and legacy JSON
batches (``/api/public/ingestion``) and keeps what it decoded. Faults are scripted: a queue of
canned responses to answer before normal service, or the whole server stopped and restarted
on the same port.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

PUBLIC_KEY = "pk-lf-test-public"
SECRET_KEY = "sk-lf-test-secret-do-not-log"


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind) if kind else None


@dataclass
class DecodedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    status_code: int


@dataclass
class Canned:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class RequestLog:
    path: str
    status: int
    at: float
    headers: dict[str, str]
    size: int


class LitefuseReceiver:
    def __init__(self, public_key: str = PUBLIC_KEY, secret_key: str = SECRET_KEY) -> None:
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self.expected_auth = f"Basic {token}"
        self.spans: list[DecodedSpan] = []
        self.legacy_events: list[dict[str, Any]] = []
        self.requests: list[RequestLog] = []
        self.raw_bodies: list[bytes] = []
        self.canned: deque[Canned] = deque()
        self.legacy_responder: Any = None  # callable(batch) -> (status, body dict) for 207 tests
        self.delay = 0.0  # seconds every request takes (a slow server)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._down = False
        self._thread: threading.Thread | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LitefuseReceiver:
        receiver = self
        self._down = False

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                receiver._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: clients get 'connection refused' until start() again (same port).

        Kept-alive connections would outlive the listener, so requests arriving on them are
        dropped without an answer, as a dead server would.
        """
        self._down = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LitefuseReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- queries -------------------------------------------------------------------------------
    def root_span_count(self) -> int:
        """Root spans received, duplicates included (each is one trace as Litefuse sees it)."""
        with self._lock:
            return sum(1 for s in self.spans if not s.parent_span_id)

    def trace_ids(self) -> list[str]:
        with self._lock:
            ids = [s.trace_id for s in self.spans if not s.parent_span_id]
            ids += [e["body"]["id"] for e in self.legacy_events if e["type"] == "trace-create"]
            return ids

    def wait_for_traces(self, count: int, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids = self.trace_ids()
            if len(ids) >= count:
                return ids
            time.sleep(0.05)
        return self.trace_ids()

    def spans_of(self, trace_id: str) -> list[DecodedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    # --- handling ------------------------------------------------------------------------------
    def _reply(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        handler.send_response(status)
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if self._down:
            handler.close_connection = True
            return
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if headers.get("content-encoding") == "gzip":
            # what was sent, for size checks: stored as the header the log reads back
            headers["x-wire-size"] = str(len(body))
            body = gzip.decompress(body)
        path = handler.path
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            canned = self.canned.popleft() if self.canned else None
        if canned is not None:
            if canned.delay:
                time.sleep(canned.delay)
            self._log(path, canned.status, headers, body)
            self._reply(handler, canned.status, canned.body, canned.headers)
            return
        if headers.get("authorization") != self.expected_auth:
            self._log(path, 401, headers, body)
            self._reply(handler, 401, b'{"message":"Invalid credentials"}')
            return
        if path == "/api/public/otel/v1/traces":
            self._otlp(handler, headers, body)
        elif path == "/api/public/ingestion":
            self._legacy(handler, headers, body)
        else:
            self._log(path, 404, headers, body)
            self._reply(handler, 404, b'{"message":"not found"}')

    def _log(self, path: str, status: int, headers: dict[str, str], body: bytes) -> None:
        with self._lock:
            size = int(headers.get("x-wire-size") or len(body))
            self.requests.append(RequestLog(path, status, time.monotonic(), headers, size))
            self.raw_bodies.append(body)

    def _otlp(self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes) -> None:
        if headers.get("content-type") != "application/x-protobuf":
            self._log(handler.path, 415, headers, body)
            self._reply(handler, 415, b'{"message":"unsupported content type"}')
            return
        if headers.get("x-langfuse-ingestion-version") not in (None, "4"):
            self._log(handler.path, 400, headers, body)
            self._reply(handler, 400, b'{"message":"bad ingestion version"}')
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        decoded = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _any_value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    decoded.append(
                        DecodedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            attributes={a.key: _any_value(a.value) for a in span.attributes},
                            resource=resource,
                            status_code=span.status.code,
                        )
                    )
        with self._lock:
            self.spans.extend(decoded)
        self._log(handler.path, 200, headers, body)
        self._reply(handler, 200, b"{}")

    def _legacy(
        self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes
    ) -> None:
        payload = json.loads(body)
        batch = payload["batch"]
        if self.legacy_responder is not None:
            status, answer = self.legacy_responder(batch)
        else:
            status, answer = (
                207,
                {
                    "successes": [{"id": e["id"], "status": 201} for e in batch],
                    "errors": [],
                },
            )
        failed = {e["id"] for e in answer.get("errors", [])}
        with self._lock:
            self.legacy_events.extend(e for e in batch if e["id"] not in failed)
        self._log(handler.path, status, headers, body)
        self._reply(handler, status, json.dumps(answer).encode())


def otlp_to_dict(body: bytes) -> dict[str, Any]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return MessageToDict(request)
