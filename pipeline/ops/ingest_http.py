"""``kong-litefuse ingest-http``: Kong's http-log plugin → the Kong topic, for Kong open source.

kafka-log is an Enterprise plugin; http-log is in every Kong. It POSTs the same serializer
records (one JSON object, or an array when its queue batches), so this endpoint only has to
publish them as kafka-log would: one Kafka record per Kong record, on the Kong topic.

The answer is the delivery guarantee: 200 only once the broker acknowledged every record of the
request (acks=all, idempotent producer), so http-log's queue retries whatever we could not
deliver (503). A batch that failed half-way is retried whole; the pipeline's trace ids are
deterministic, so the records published twice become the same traces. Malformed input (400) and
oversized input (413) are permanent: retrying cannot help, so they are not 5xx.

Memory is bounded by design, whatever a client sends: credentials are checked before the body is
read; the body is read up to ``max_body_bytes`` as sent; a gzip or deflate body is inflated here
(aiohttp's own inflation is off), a bounded step at a time, and refused (413) as soon as it
inflates past ``max_body_bytes``; the top-level records of an array are counted on the bytes,
before anything is parsed, and a request with more than ``max_records`` is refused (413); and
the bytes all requests hold across awaits (bodies being read, records awaiting Kafka) come out
of one budget, ``max_in_flight_bytes``: past it a request is answered 503 (http-log retries).
Every check runs before the first record is published, so a refused request publishes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import re
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from pipeline.kafka import LibrdkafkaLog
from pipeline.terminal import UserError

log = logging.getLogger("pipeline.ingest_http")

TOKEN_HEADER = "x-kong-litefuse-token"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_RECORD_BYTES = 1_000_000  # Kafka's default message.max.bytes, less the overhead
DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
"""Bytes all requests in progress may hold at once (bodies read, records awaiting Kafka's
acknowledgement); past it a request is answered 503 and http-log retries it."""
DEFAULT_MAX_RECORDS = 1000
"""Records per request: 20x the batches our http-log config sends (queue.max_batch_size 50);
Kong's own default is 1."""
STRUCTURE_PER_RECORD = 1000
"""Brackets, braces and commas a request may hold per record it may carry (500 values per
record on average; strings do not count): so a few records cannot smuggle in the millions of
tiny objects the record cap keeps out (1 MB of ``{},`` is 330,000 dicts, ~25 MB parsed)."""
MAX_DEPTH = 254
"""Deepest nesting a record may have: what orjson writes back (it reads 1,024 levels)."""
COMPRESSIONS = ("lz4", "zstd", "gzip", "snappy", "none")
DEFAULT_COMPRESSION = "lz4"
"""lz4: the cheapest codec on CPU with a good ratio on JSON. Every consumer of the topic must
be able to decode it: the worker can (cramjam is a dependency); pick gzip or none for others."""


class PublishError(RuntimeError):
    """The broker did not acknowledge every record in time; the message says why."""


class IngestConfigError(UserError, ValueError):
    """A configuration ingest-http refuses to start with; the message says what to change."""

    exit_code = 2


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
    max_records: int = DEFAULT_MAX_RECORDS
    allow_no_auth: bool = False
    max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES

    @property
    def authenticated(self) -> bool:
        return self.token is not None or self.basic_user is not None

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
            "logger": LibrdkafkaLog(),  # at DEBUG: a failed publish is logged once, by us
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


_GZIP_MAGIC = b"\x1f\x8b"
_INFLATE_STEP = 256 * 1024
# A JSON string, escapes included; an unterminated one runs to the end. Possessive, so a
# string never matches in two ways: linear time on any input (the plain pattern took O(n^2) on
# a quote followed by escaped quotes: 0.7 s for 16 KB).
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_STRUCTURE = bytes(set(range(256)) - set(b"[]{},"))
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")
_ARRAY = re.compile(rb"[ \t\r\n]*\[")  # a top-level array (JSON's whitespace, then [)


def inflate(body: bytes, encoding: str, limit: int) -> bytes | bytearray:
    """The body as its ``Content-Encoding`` says, never more than ``limit`` bytes inflated.

    zlib inflates at most one step's worth of output per call, so a bomb costs ``limit`` bytes
    at most before it is refused (413). Concatenated gzip members are read like ``gzip -d`` does.
    """
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        # HTTP's deflate is the zlib format; some clients send raw deflate: accept both
        zlib_header = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0
        wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
    else:
        raise _error(
            web.HTTPUnsupportedMediaType,
            f"Content-Encoding {encoding!r} is not supported (gzip, deflate or none)",
        )
    out = bytearray()
    pending = body
    try:
        while pending:
            unpacker = zlib.decompressobj(wbits)
            while pending and not unpacker.eof:
                out += unpacker.decompress(
                    pending, max(1, min(_INFLATE_STEP, limit + 1 - len(out)))
                )
                if len(out) > limit:
                    inflated = len(out)
                    out.clear()  # freed now, whatever keeps this frame
                    raise _error(
                        web.HTTPRequestEntityTooLarge,
                        f"the {encoding} body inflates to more than {limit} bytes",
                        max_size=limit,
                        actual_size=inflated,
                    )
                pending = unpacker.unconsumed_tail
            if not unpacker.eof:
                raise _error(web.HTTPBadRequest, f"the {encoding} body is truncated")
            pending = unpacker.unused_data
            if wbits != 16 + zlib.MAX_WBITS or not pending.startswith(_GZIP_MAGIC):
                if pending.strip(b"\0"):
                    raise _error(web.HTTPBadRequest, f"data after the end of the {encoding} body")
                break
    except zlib.error as exc:
        raise _error(web.HTTPBadRequest, f"the body is not valid {encoding}: {exc}") from None
    return out


def shape(
    document: bytes | bytearray, stop: int, structure_limit: int | None = None
) -> tuple[int, int]:
    """(items, structure) of a JSON document, read from its bytes without parsing it.

    ``structure`` is how many brackets, braces and commas it has outside strings (what bounds
    the objects a parser would build); ``items`` how many items a top-level array holds (1 for
    anything else), counted only up to ``stop`` + 1, and not at all (0) once ``structure`` is
    over ``structure_limit``. Exact for valid JSON; for invalid JSON any answer will do, since
    the parser refuses it afterwards. Linear time on any input.
    """
    structure = _JSON_STRING.sub(b"", document).translate(None, _NOT_STRUCTURE)
    if structure_limit is not None and len(structure) > structure_limit:
        return 0, len(structure)
    if not _ARRAY.match(document):  # (lstrip would copy the whole body)
        return 1, len(structure)
    depth = 0
    items = 1
    for byte in structure:
        if byte in _OPEN:
            depth += 1
        elif byte in _CLOSE:
            depth -= 1
        elif depth == 1:  # a comma between two top-level items
            items += 1
            if items > stop:
                break
    return items, len(structure)


def split_records(
    body: bytes | bytearray, max_record_bytes: int, max_records: int = DEFAULT_MAX_RECORDS
) -> list[tuple[bytes | None, bytes]]:
    """The (key, value) Kafka records of one http-log POST; raises web errors for bad input.

    Nothing is published until every record passed, so a refused request publishes nothing.
    """
    structure_limit = max_records * STRUCTURE_PER_RECORD
    count, structure = shape(body, max_records, structure_limit)
    if structure > structure_limit:
        raise _error(
            web.HTTPRequestEntityTooLarge,
            f"more than {structure_limit} JSON brackets, braces and commas in one request "
            f"({STRUCTURE_PER_RECORD} per record of INGEST_HTTP_MAX_RECORDS)",
            max_size=structure_limit,
            actual_size=structure,
        )
    if count > max_records:
        raise _error(
            web.HTTPRequestEntityTooLarge,
            f"more than {max_records} records in one request (INGEST_HTTP_MAX_RECORDS)",
            max_size=max_records,
            actual_size=count,
        )
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
        try:
            compact = orjson.dumps(item)
        except orjson.JSONEncodeError:  # deeper than orjson writes: the worker could not either
            raise _error(
                web.HTTPBadRequest, f"{where} is nested deeper than {MAX_DEPTH} levels"
            ) from None
        value = bytes(body) if not isinstance(document, list) else compact
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
    if not config.authenticated:
        return True
    if config.token is not None:
        given = request.headers.get(TOKEN_HEADER, "")
        authorization = request.headers.get("Authorization", "")
        if authorization.lower().startswith("bearer "):
            given = given or authorization[7:].strip()
        # header bytes that are not UTF-8 arrive as surrogates: compare them as the bytes sent
        if given and hmac.compare_digest(_raw(given), config.token.encode()):
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


def _raw(header: str) -> bytes:
    return header.encode("utf-8", "surrogateescape")


def check_config(config: IngestConfig, announce: bool = True) -> None:
    """Refuse to serve without credentials on an address other hosts can reach, unless
    explicitly allowed (``--allow-no-auth``); say so loudly when allowed (``announce``: the
    command checks first, silently, and says it when it serves). Refuse an in-flight budget
    smaller than one body."""
    from pipeline.sinks.routing import is_loopback_host

    if config.max_in_flight_bytes < config.max_body_bytes:
        raise IngestConfigError(
            f"INGEST_HTTP_MAX_IN_FLIGHT_BYTES ({config.max_in_flight_bytes}) is below "
            f"INGEST_HTTP_MAX_BODY_BYTES ({config.max_body_bytes}): a full body could never fit"
        )
    if config.authenticated:
        return
    if is_loopback_host(config.host):
        if not announce:
            return
        log.info("ingest-http takes requests without credentials (bound to %s only)", config.host)
        return
    if not config.allow_no_auth:
        raise IngestConfigError(
            f"ingest-http would accept anyone's records on {config.host} without credentials: "
            "set INGEST_HTTP_TOKEN (or INGEST_HTTP_BASIC_USER / INGEST_HTTP_BASIC_PASSWORD), bind "
            "127.0.0.1, or pass --allow-no-auth (INGEST_HTTP_ALLOW_NO_AUTH=true) if something "
            "in front of it authenticates"
        )
    if not announce:
        return
    log.warning(
        "ingest-http takes requests WITHOUT credentials on %s (--allow-no-auth): anyone who "
        "reaches this port can publish to the Kong topic",
        config.host,
    )


class ByteBudget:
    """Bytes the requests in progress may hold at once (one event loop: no lock needed)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


def _busy(budget: ByteBudget) -> web.HTTPException:
    return web.HTTPServiceUnavailable(
        text=orjson.dumps(
            {"error": f"busy: {budget.used} of {budget.limit} bytes in progress; retry"}
        ).decode(),
        content_type="application/json",
        headers={"Retry-After": "1"},
    )


def create_app(config: IngestConfig, publisher: KafkaPublisher) -> web.Application:
    """The aiohttp app: POST / or /ingest, GET /healthz and /readyz."""
    budget = ByteBudget(config.max_in_flight_bytes)

    async def ingest(request: web.Request) -> web.Response:
        try:
            return await _ingest(request)
        except web.HTTPException as refused:
            # One line per refused request, never a traceback (the client is at fault). The
            # answer is a fresh response: aiohttp keeps a connection's last response until its
            # next request, and a raised exception would keep its traceback's frames, with the
            # body and the inflated bytes in them, alive that long.
            if refused.status >= 400:
                log.warning(
                    "refused a request from %s: %d %s",
                    request.remote,
                    refused.status,
                    (refused.text or refused.reason or "")[:300],
                )
            refused.__traceback__ = None
            headers = {k: v for k, v in refused.headers.items() if k.lower() != "content-length"}
            return web.Response(status=refused.status, body=refused.body, headers=headers)

    async def _ingest(request: web.Request) -> web.Response:
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
        # Bytes held across awaits (a body being read, records waiting for Kafka) come out of
        # one budget; inflating and parsing run without an await, one request at a time.
        held = request.content_length or config.max_body_bytes
        if not budget.take(held):
            raise _busy(budget)
        try:
            try:
                body = await request.read()  # as sent: aiohttp's inflation is off (serve())
            except web.HTTPRequestEntityTooLarge:
                raise _error(
                    web.HTTPRequestEntityTooLarge,
                    f"body is over {config.max_body_bytes} bytes",
                    max_size=config.max_body_bytes,
                    actual_size=config.max_body_bytes + 1,
                ) from None
            encoding = request.headers.get("Content-Encoding", "")
            document = inflate(body, encoding, config.max_body_bytes)
            del body
            records = split_records(document, config.max_record_bytes, config.max_records)
            del document
            budget.give(held)
            held = sum(len(value) + len(key or b"") for key, value in records)
            if not budget.take(held):
                held = 0
                raise _busy(budget)
            try:
                await publisher.publish(config.topic, records)
            except PublishError as exc:
                log.warning(
                    "could not publish %d record(s) to %s: %s", len(records), config.topic, exc
                )
                raise _error(web.HTTPServiceUnavailable, f"Kafka unavailable: {exc}") from None
        finally:
            budget.give(held)
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
    """Run until SIGINT/SIGTERM; queued records are flushed on the way out.

    Raises IngestConfigError (before binding anything) for a configuration it refuses.
    """
    check_config(config)
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
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        access_log=None,
        # bodies are inflated by inflate(), a bounded step at a time, after the size check
        auto_decompress=False,
    )
