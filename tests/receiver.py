"""A Litefuse-compatible HTTP receiver on 127.0.0.1 for tests: a real server, real sockets.

It checks Basic auth and the headers Litefuse requires, decodes OTLP protobuf
(``/api/public/otel/v1/traces``) and legacy JSON batches (``/api/public/ingestion``), and turns
what it accepted into the rows Litefuse would store (``self.view``, a
:class:`tests.litefuse.LitefuseView`): tests assert on those rows, what a user sees, not on raw
attributes. Faults are scripted: a queue of canned responses to answer before normal service,
or the whole server stopped and restarted on the same port.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.litefuse import LitefuseView, ObservationRow, TraceRow

PUBLIC_KEY = "pk-lf-test-public"
SECRET_KEY = "sk-lf-test-secret-do-not-log"


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
        self.view = LitefuseView()
        self.legacy_events: list[dict[str, Any]] = []  # as accepted, resends included
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
        """Root spans received, duplicates included (each is one trace row in Litefuse)."""
        with self._lock:
            return sum(1 for row in self.view.observations if row.is_root)

    def trace_ids(self) -> list[str]:
        """The id of every trace row stored, plus every legacy trace event accepted: a trace
        sent twice appears twice."""
        with self._lock:
            ids = [row.trace_id for row in self.view.observations if row.is_root]
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

    def wait_quiet(self, count: int, timeout: float, quiet: float = 3.0) -> list[str]:
        """Trace ids once at least ``count`` arrived and then nothing more for ``quiet``
        seconds (so a late duplicate is counted, not missed), or at ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                last = self.requests[-1].at if self.requests else None
            ids = self.trace_ids()
            if len(ids) >= count and last is not None and time.monotonic() - last >= quiet:
                return ids
            time.sleep(0.05)
        return self.trace_ids()

    def trace(self, trace_id: str) -> TraceRow:
        """The trace's row as Litefuse shows it (exactly one)."""
        with self._lock:
            return self.view.trace(trace_id)

    def generation(self, trace_id: str) -> ObservationRow:
        """The trace's generation (or embedding) row as Litefuse shows it (exactly one)."""
        with self._lock:
            return self.view.generation(trace_id)

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

    def _log(
        self,
        path: str,
        status: int,
        headers: dict[str, str],
        body: bytes,
        accept: Callable[[], None] | None = None,
    ) -> None:
        """Log a request; ``accept`` stores what it carried under the same lock, so whoever sees
        its traces also sees the request (a test saw the traces with no request logged yet)."""
        with self._lock:
            if accept is not None:
                accept()
            size = int(headers.get("x-wire-size") or len(body))
            self.requests.append(RequestLog(path, status, time.monotonic(), headers, size))
            self.raw_bodies.append(body)

    def _otlp(self, handler: BaseHTTPRequestHandler, headers: dict[str, str], body: bytes) -> None:
        if headers.get("content-type") != "application/x-protobuf":
            self._log(handler.path, 415, headers, body)
            self._reply(handler, 415, b'{"message":"unsupported content type"}')
            return
        if headers.get("x-langfuse-ingestion-version") != "4":  # Litefuse answers 400 too
            self._log(handler.path, 400, headers, body)
            self._reply(handler, 400, b'{"message":"bad ingestion version"}')
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self._log(handler.path, 200, headers, body, lambda: self.view.add_otlp(request))
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
        accepted = [e for e in batch if e["id"] not in failed]

        def accept() -> None:
            self.legacy_events.extend(accepted)
            self.view.add_legacy(accepted)

        self._log(handler.path, status, headers, body, accept)
        self._reply(handler, status, json.dumps(answer).encode())


def otlp_to_dict(body: bytes) -> dict[str, Any]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    return MessageToDict(request)
