"""Deliver batches to Litefuse: OTLP/HTTP protobuf (default) or legacy JSON batch ingestion.

What each answer means is decided in one place, :func:`pipeline.sinks.status.classify`: network
errors, timeouts, 5xx and 429 are retried with jittered exponential backoff (honouring
``Retry-After``, every wait capped at ``backoff_cap``), 413 splits the batch, a legacy 207
resends only its 5xx events and returns the 4xx ones as rejected. 401/403 and a wrong URL (a
redirect, 404) raise SinkAuthError at once: nothing to gain by hammering a server that refuses
our keys, and redirects are never followed, so the keys never reach another host.

OTLP requests can be gzip-compressed (``SINK_COMPRESSION=gzip``, the worker's default): spans
carry prompts and completions as JSON text, which shrinks ~6x, so a full batch of 1,000 traces
fits one request under the size limit. Compression uses ISA-L (``isal``), ~4x faster than
zlib level 1 here, and runs off the event loop (it releases the GIL). Batches are split by
their estimated compressed size, learned from the requests sent so far.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import httpx
import orjson

try:  # ISA-L: same gzip output format, ~4x faster than zlib level 1
    from isal.igzip import compress as _gzip_compress
except ImportError:  # pragma: no cover - platforms without an isal wheel
    from gzip import compress as _gzip_compress  # type: ignore[assignment]

from pipeline import __version__, metrics
from pipeline.sinks import status as answers
from pipeline.sinks.base import Rejected, SinkAuthError, SinkError, WriteResult
from pipeline.sinks.batching import (
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
    fit_trace,
    split_by_size,
)
from pipeline.sinks.legacy import encode_batch, encode_events
from pipeline.sinks.otlp import encode_request_bytes, encode_spans
from pipeline.sinks.routing import url_without_userinfo
from pipeline.trace import Trace

log = logging.getLogger(__name__)

OTLP_PATH = "/api/public/otel/v1/traces"
LEGACY_PATH = "/api/public/ingestion"


class SinkMisdirectedError(SinkAuthError):
    """Litefuse's URL is wrong (a redirect, a 404): held like an auth failure until fixed."""

    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.location = location


class _Retry(Exception):
    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class LitefuseSink:
    def __init__(
        self,
        base_url: str,
        public_key: str,
        secret_key: str,
        *,
        mode: Literal["otel", "legacy"] = "otel",
        timeout: float = 10.0,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        compression: Literal["gzip", "none"] = "none",
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        """``sleep`` and ``rng`` (the backoff's jitter) are seams for tests: pauses recorded,
        not waited."""
        self.name = f"litefuse-{mode}"
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.mode = mode
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_batch_bytes = max_batch_bytes
        self.max_event_bytes = max_event_bytes
        self.compress = compression == "gzip" and mode == "otel"
        # compressed/raw size, learned per request; starts cautious (measured ~0.17)
        self._ratio = 0.4 if self.compress else 1.0
        # Per write: each trace's encoding and size, shared by sizing, splitting and sending.
        self._encoded: dict[int, Any] = {}
        self._sizes: dict[int, int] = {}
        headers = {"user-agent": f"kong-litefuse/{__version__}"}
        if mode == "otel":
            headers["content-type"] = "application/x-protobuf"
            headers["x-langfuse-ingestion-version"] = "4"
        else:
            headers["content-type"] = "application/json"
        self._client = httpx.AsyncClient(
            base_url=base_url,
            auth=httpx.BasicAuth(public_key, secret_key),
            headers=headers,
            timeout=timeout,
            transport=transport,
            follow_redirects=False,  # the keys must never go to another host
        )
        self.base_url = url_without_userinfo(base_url)

    def __repr__(self) -> str:  # never show the keys
        return f"LitefuseSink({self.base_url}, mode={self.mode})"

    def _backoff(self, attempt: int) -> float:
        """Jittered exponential backoff, at most ``backoff_cap``."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(ceiling / 2, ceiling)

    def _wait(self, delay: float) -> float:
        """Every pause between attempts, whatever asked for it, is within [0, backoff_cap]."""
        if not math.isfinite(delay) or delay < 0:
            return self.backoff_cap
        return min(delay, self.backoff_cap)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _encoding(self, trace: Trace) -> Any:
        """The trace's spans (otel) or events (legacy), encoded once per write."""
        key = id(trace)
        if key not in self._encoded:
            encode = encode_spans if self.mode == "otel" else encode_events
            self._encoded[key] = encode(trace)
        return self._encoded[key]

    def _spans(self, trace: Trace) -> bytes:
        spans: bytes = self._encoding(trace)
        return spans

    def _events(self, trace: Trace) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self._encoding(trace)
        return events

    def encoded_size(self, trace: Trace) -> int:
        """Bytes this trace adds to a request (its framed OTLP spans, or legacy JSON events)."""
        key = id(trace)
        if key not in self._sizes:
            if self.mode == "otel":
                size = len(self._spans(trace))
            else:
                size = len(orjson.dumps(self._events(trace))) + 2
            self._sizes[key] = size
        return self._sizes[key]

    async def write(self, traces: Sequence[Trace]) -> WriteResult:
        result = WriteResult()
        if not traces:
            return result
        try:
            fitted = [fit_trace(t, self.encoded_size, self.max_event_bytes) for t in traces]
            ratio = self._ratio
            for chunk in split_by_size(
                fitted, lambda t: int(self.encoded_size(t) * ratio) + 1, self.max_batch_bytes
            ):
                await self._deliver(chunk, result)
        except SinkError as exc:
            exc.result = result
            raise
        finally:
            self._encoded.clear()
            self._sizes.clear()
        metrics.sink_batches.labels(self.name).inc()
        metrics.sink_events.labels(self.name).inc(result.accepted)
        metrics.sink_up.set(1)
        return result

    async def _deliver(self, traces: list[Trace], result: WriteResult) -> None:
        """Send with retries; 413 splits the batch in two and delivers each half."""
        attempt = 0
        while True:
            try:
                pending = await self._send_once(traces, result)
            except _Retry as retry:
                attempt += 1
                metrics.sink_retries.labels(retry.reason.split(" ")[0]).inc()
                if attempt > self.max_retries:
                    metrics.sink_up.set(0)
                    raise SinkError(
                        f"Litefuse unavailable after {attempt} attempts: {retry.reason}"
                    ) from None
                delay = self._wait(self._backoff(attempt) if retry.delay is None else retry.delay)
                log.warning("Litefuse: %s; retry %d in %.2fs", retry.reason, attempt, delay)
                await self._sleep(delay)
                continue
            except _TooLarge:
                if len(traces) == 1:
                    raise SinkError("one trace is larger than Litefuse accepts (413)") from None
                middle = len(traces) // 2
                await self._deliver(traces[:middle], result)
                await self._deliver(traces[middle:], result)
                return
            if not pending:
                return
            # Legacy 207 with 5xx events: resend only those, after a backoff.
            traces = pending
            attempt += 1
            if attempt > self.max_retries:
                raise SinkError(f"{len(pending)} events kept failing with 5xx") from None
            await self._sleep(self._wait(self._backoff(attempt)))

    async def _send_once(self, traces: list[Trace], result: WriteResult) -> list[Trace]:
        if self.mode == "otel":
            body = encode_request_bytes(traces, self._spans)
            path = OTLP_PATH
        else:
            body = orjson.dumps(encode_batch(traces, self._events))
            path = LEGACY_PATH
        headers = None
        if self.compress:
            raw = len(body)
            body = await asyncio.to_thread(_gzip_compress, body, 1)
            self._ratio = min(1.0, max(0.02, 0.7 * self._ratio + 0.3 * len(body) / raw * 1.15))
            headers = {"content-encoding": "gzip"}
        started = time.perf_counter()
        try:
            response = await self._client.post(path, content=body, headers=headers)
        except httpx.TimeoutException:
            raise _Retry("timeout") from None
        except httpx.TransportError as exc:
            raise _Retry(f"network {type(exc).__name__}") from None
        finally:
            metrics.sink_latency.observe(time.perf_counter() - started)
        metrics.sink_responses.labels(str(response.status_code)).inc()
        result.requests += 1
        result.bytes_sent += len(body)
        metrics.sink_bytes.labels(self.name).inc(len(body))
        action = answers.classify(response.status_code, response.headers, response.text)
        match action:
            case answers.Accepted():
                result.accepted_ids.extend(t.key for t in traces)
                return []
            case answers.Partial():
                if self.mode == "legacy":
                    return self._partial(traces, response, result)
                result.accepted_ids.extend(t.key for t in traces)  # OTLP: 2xx is success
                return []
            case answers.Split():
                raise _TooLarge()
            case answers.Retry(reason=reason, delay=delay):
                raise _Retry(reason, delay)
            case answers.Misdirected(reason=reason, location=location):
                metrics.sink_up.set(0)
                raise SinkMisdirectedError(
                    f"{reason} (LANGFUSE_BASE_URL: {self.base_url})", location
                )
            case answers.AuthFailed(reason=reason):
                metrics.sink_up.set(0)
                raise SinkAuthError(reason)
            case answers.Rejected(reason=reason):
                metrics.sink_up.set(0)
                raise SinkError(reason)
        raise AssertionError(f"unhandled action {action!r}")  # pragma: no cover

    @staticmethod
    def _partial(traces: list[Trace], response: httpx.Response, result: WriteResult) -> list[Trace]:
        """Split a 207: 5xx events are retried, 4xx ones rejected with the server's message."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            # which events failed is unknown: send them all again (legacy ingestion upserts by
            # event id, so a resend is harmless), never count them delivered on a guess
            raise _Retry("HTTP 207 without a readable body")
        by_id = {trace.key: trace for trace in traces}  # the envelope ids' prefix
        retry: dict[str, Trace] = {}
        rejected: dict[str, Rejected] = {}
        for error in payload.get("errors") or []:
            trace_key = str(error.get("id", "")).split("-", 1)[0]
            trace = by_id.get(trace_key)
            if trace is None:
                continue
            try:
                status = int(error.get("status") or 500)
            except (TypeError, ValueError):
                status = 500
            if status >= 500 or status == 429:
                retry[trace_key] = trace
            elif trace_key not in rejected:
                message = error.get("message") or error.get("error") or f"HTTP {status}"
                rejected[trace_key] = Rejected(trace=trace, status=status, reason=str(message))
        for key in retry:
            rejected.pop(key, None)
        result.rejected.extend(rejected.values())
        result.accepted_ids.extend(
            t.key for t in traces if t.key not in retry and t.key not in rejected
        )
        return list(retry.values())


class _TooLarge(Exception):
    pass
