"""A Litefuse stand-in for benchmarks: accepts every OTLP request and notes when each trace came.

Run in its own process (``python -m pipeline.bench.receiver --port N``) so decoding requests
never competes with the worker being measured for the same interpreter. It answers 200 to
``POST /api/public/otel/v1/traces`` (or 503 while an outage is switched on), records per trace
id the first arrival time, and reports through ``GET /_stats``:
requests, bytes, spans, traces, duplicates and ``arrivals`` ([trace id hex, unix time]);
``GET /_stats?arrivals=0`` leaves ``arrivals`` out. The benchmark polls that light form while
the worker runs: the full list is megabytes of JSON at tens of thousands of traces, work that
should not share the machine with the worker being measured.
``POST /_outage/on`` and ``/_outage/off`` switch the outage. Listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

OTLP_PATH = "/api/public/otel/v1/traces"


class Tally:
    """What the receiver saw; guarded by one lock (handlers run on threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.refused = 0
        self.bytes = 0
        self.spans = 0
        self.duplicates = 0
        self.arrivals: dict[str, float] = {}
        self.outage = False

    def accept(self, body: bytes, now: float) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        ids = {
            span.trace_id.hex()
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
        }
        spans = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        with self.lock:
            self.requests += 1
            self.spans += spans
            for trace_id in ids:
                if trace_id in self.arrivals:
                    self.duplicates += 1
                else:
                    self.arrivals[trace_id] = now

    def stats(self, arrivals: bool = True) -> dict[str, Any]:
        with self.lock:
            stats: dict[str, Any] = {
                "requests": self.requests,
                "refused": self.refused,
                "bytes": self.bytes,
                "spans": self.spans,
                "traces": len(self.arrivals),
                "duplicates": self.duplicates,
            }
            if arrivals:
                stats["arrivals"] = list(self.arrivals.items())
            return stats


def serve(port: int) -> None:
    tally = Tally()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            return

        def _answer(self, status: int, body: bytes = b"{}") -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.startswith("/_stats"):
                light = "arrivals=0" in self.path.partition("?")[2].split("&")
                self._answer(200, orjson.dumps(tally.stats(arrivals=not light)))
            else:
                self._answer(404)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.time()
            if self.path.startswith("/_outage/"):
                tally.outage = self.path.endswith("/on")
                self._answer(200)
                return
            if self.path != OTLP_PATH:
                self._answer(404)
                return
            with tally.lock:
                tally.bytes += len(body)
                if tally.outage:
                    tally.refused += 1
            if tally.outage:
                self._answer(503, b'{"error":"outage"}')
                return
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            tally.accept(body, now)
            self._answer(200)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)


if __name__ == "__main__":
    main()
