"""``kong-litefuse ingest-http``: Kong's http-log plugin → the Kong topic, for Kong open source.

kafka-log is an Enterprise plugin; http-log is in every Kong. It POSTs the same serializer
records (one JSON object, or an array when its queue batches), so this endpoint only has to
publish them as kafka-log would: one Kafka record per Kong record, on the Kong topic.

The answer is the delivery guarantee: 200 only once the broker acknowledged every record of the
request (acks=all, idempotent producer), so http-log's queue retries whatever we could not
deliver (503). A batch that failed half-way is retried whole; the pipeline's trace ids are
deterministic, so the records published twice become the same traces. Malformed input (400) and
oversized input (413) are permanent: retrying cannot help, so they are not 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from confluent_kafka import KafkaError, KafkaException, Message, Producer

log = logging.getLogger("pipeline.ingest_http")

TOKEN_HEADER = "x-kong-litefuse-token"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_RECORD_BYTES = 1_000_000  # Kafka's default message.max.bytes, less the overhead
COMPRESSIONS = ("lz4", "zstd", "gzip", "snappy", "none")
DEFAULT_COMPRESSION = "lz4"
"""lz4: the cheapest codec on CPU with a good ratio on JSON. Every consumer of the topic must
be able to decode it: the worker can (cramjam is a dependency); pick gzip or none for others."""


class PublishError(RuntimeError):
    """The broker did not acknowledge every record in time; the message says why."""


@dataclass(frozen=True, slots=True)
class IngestConfig:
    bootstrap_servers: str
    topic: str
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    basic_user: str | None = None
    basic_password: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    delivery_timeout: float = 8.0
    compression: str = DEFAULT_COMPRESSION

    def __repr__(self) -> str:  # never show the secrets
        return (
            f"IngestConfig(bootstrap_servers={self.bootstrap_servers!r}, topic={self.topic!r}, "
            f"host={self.host!r}, port={self.port})"
        )


class KafkaPublisher:
    """A confluent-kafka producer whose deliveries can be awaited from asyncio.

    A thread serves the delivery callbacks (``poll``), which resolve the request's futures on
    the event loop; librdkafka's ``message.timeout.ms`` bounds how long a delivery can take, so
    every awaited future resolves.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        delivery_timeout: float,
        max_record_bytes: int,
        compression: str = DEFAULT_COMPRESSION,
    ):
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {', '.join(COMPRESSIONS)}")
        self.delivery_timeout = delivery_timeout
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "compression.type": compression,
            "message.timeout.ms": int(delivery_timeout * 1000),
            "message.max.bytes": max_record_bytes + 64 * 1024,
            "logger": logging.getLogger("pipeline.ingest_http.librdkafka"),
        }
        self._producer = Producer(self._config)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                producer = self._producer
            producer.poll(0.1)

    def _reset_after_fatal(self, error: KafkaError) -> None:
        # An idempotent producer that hit a fatal error refuses every later record.
        log.error("Kafka producer fatal error, starting a new producer: %s", error.str())
        with self._lock:
            self._producer = Producer(self._config)

    async def publish(self, topic: str, records: Sequence[tuple[bytes | None, bytes]]) -> None:
        """Produce all records and wait for the broker's acknowledgement of each."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[None]] = []

        def settle(future: asyncio.Future[None], error: KafkaError | None) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(PublishError(error.str()))

        def callback(future: asyncio.Future[None]) -> Any:
            def report(error: KafkaError | None, _message: Message) -> None:
                if error is not None and error.fatal():
                    self._reset_after_fatal(error)
                loop.call_soon_threadsafe(settle, future, error)

            return report

        with self._lock:
            producer = self._producer
        for key, value in records:
            future: asyncio.Future[None] = loop.create_future()
            try:
                producer.produce(topic, value=value, key=key, on_delivery=callback(future))
            except BufferError:
                raise PublishError("the producer's local queue is full") from None
            except KafkaException as exc:
                raise PublishError(str(exc.args[0].str() if exc.args else exc)) from None
            futures.append(future)
        try:
            # librdkafka's message timeout fires first; the margin only guards against a bug
            await asyncio.wait_for(asyncio.gather(*futures), self.delivery_timeout + 5)
        except TimeoutError:
            raise PublishError("no acknowledgement from Kafka in time") from None

    def ready(self, topic: str, timeout: float = 2.0) -> bool:
        """The broker answers and has the topic (what a readiness probe wants to know)."""
        with self._lock:
            producer = self._producer
        try:
            metadata = producer.list_topics(topic, timeout=timeout)
        except KafkaException:
            return False
        found = metadata.topics.get(topic)
        return found is not None and found.error is None

    def close(self, timeout: float = 10.0) -> int:
        """Flush what is queued; return the number of records left undelivered."""
        remaining = self._producer.flush(timeout)
        self._stop.set()
        self._poller.join(timeout=2)
        return int(remaining)


def split_records(body: bytes, max_record_bytes: int) -> list[tuple[bytes | None, bytes]]:
    """The (key, value) Kafka records of one http-log POST; raises web errors for bad input."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _error(web.HTTPBadRequest, f"not JSON: {exc.msg} at position {exc.pos}") from None
    items = document if isinstance(document, list) else [document]
    if not items:
        raise _error(web.HTTPBadRequest, "empty JSON array: no Kong records")
    records: list[tuple[bytes | None, bytes]] = []
    for index, item in enumerate(items):
        where = f"item {index}" if isinstance(document, list) else "body"
        if not isinstance(item, dict):
            raise _error(
                web.HTTPBadRequest, f"{where} is a JSON {type(item).__name__}, not a Kong record"
            )
        if "request" not in item and "response" not in item:
            raise _error(
                web.HTTPBadRequest, f"{where} is not a Kong log record (no request or response)"
            )
        value = body if not isinstance(document, list) else orjson.dumps(item)
        if len(value) > max_record_bytes:
            raise _error(
                web.HTTPRequestEntityTooLarge,
                f"{where} is {len(value)} bytes, over the {max_record_bytes}-byte record limit",
                max_size=max_record_bytes,
                actual_size=len(value),
            )
        records.append((_key(item), value))
    return records


def _key(item: dict[str, Any]) -> bytes | None:
    # Kong's request id spreads records evenly and keeps a request's retries on one partition.
    request = item.get("request")
    request_id = request.get("id") if isinstance(request, dict) else None
    return str(request_id).encode() if request_id else None


def _error(kind: type[web.HTTPException], reason: str, **kwargs: Any) -> web.HTTPException:
    return kind(
        text=orjson.dumps({"error": reason}).decode(), content_type="application/json", **kwargs
    )


def _authorised(request: web.Request, config: IngestConfig) -> bool:
    """Constant-time checks of the shared token and/or Basic credentials, when configured."""
    if config.token is None and config.basic_user is None:
        return True
    if config.token is not None:
        given = request.headers.get(TOKEN_HEADER, "")
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            given = given or authorization[7:].strip()
        if given and hmac.compare_digest(given.encode(), config.token.encode()):
            return True
    if config.basic_user is not None:
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True)
            except (binascii.Error, ValueError):
                return False
            user, _, password = decoded.partition(b":")
            ok_user = hmac.compare_digest(user, config.basic_user.encode())
            ok_password = hmac.compare_digest(password, (config.basic_password or "").encode())
            return ok_user and ok_password
    return False


def create_app(config: IngestConfig, publisher: KafkaPublisher) -> web.Application:
    """The aiohttp app: POST / or /ingest, GET /healthz and /readyz."""

    async def ingest(request: web.Request) -> web.Response:
        if not _authorised(request, config):
            raise web.HTTPUnauthorized(
                text='{"error": "missing or wrong credentials"}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Basic realm="kong-litefuse"'}
                if config.basic_user
                else None,
            )
        if request.content_length is not None and request.content_length > config.max_body_bytes:
            raise _error(
                web.HTTPRequestEntityTooLarge,
                f"body of {request.content_length} bytes is over {config.max_body_bytes}",
                max_size=config.max_body_bytes,
                actual_size=request.content_length,
            )
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _error(
                web.HTTPRequestEntityTooLarge,
                f"body is over {config.max_body_bytes} bytes",
                max_size=config.max_body_bytes,
                actual_size=config.max_body_bytes + 1,
            ) from None
        records = split_records(body, config.max_record_bytes)
        try:
            await publisher.publish(config.topic, records)
        except PublishError as exc:
            log.warning("could not publish %d record(s) to %s: %s", len(records), config.topic, exc)
            raise _error(web.HTTPServiceUnavailable, f"Kafka unavailable: {exc}") from None
        return web.json_response({"published": len(records)})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_request: web.Request) -> web.Response:
        ready = await asyncio.get_running_loop().run_in_executor(
            None, publisher.ready, config.topic
        )
        if not ready:
            return web.json_response({"status": "kafka unavailable"}, status=503)
        return web.json_response({"status": "ready"})

    async def close_publisher(_app: web.Application) -> None:
        left = await asyncio.get_running_loop().run_in_executor(None, publisher.close)
        if left:
            log.error("%d record(s) were still undelivered at shutdown", left)

    app = web.Application(client_max_size=config.max_body_bytes)
    app.router.add_post("/", ingest)
    app.router.add_post("/ingest", ingest)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.on_cleanup.append(close_publisher)
    return app


def serve(config: IngestConfig) -> None:
    """Run until SIGINT/SIGTERM; queued records are flushed on the way out."""
    publisher = KafkaPublisher(
        config.bootstrap_servers,
        config.delivery_timeout,
        config.max_record_bytes,
        config.compression,
    )
    app = create_app(config, publisher)
    auth = "token" if config.token else ("basic" if config.basic_user else "none")
    log.info(
        "ingest-http listening on http://%s:%d → topic %s (auth: %s)",
        config.host,
        config.port,
        config.topic,
        auth,
    )
    web.run_app(app, host=config.host, port=config.port, print=None, access_log=None)
