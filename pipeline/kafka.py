"""Kafka helpers shared by the CLI, the demo and the tests (confluent-kafka side)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaException, Producer

from pipeline.broker import EmbeddedBroker
from pipeline.settings import Settings
from pipeline.terminal import UserError

log = logging.getLogger(__name__)
librdkafka_log = logging.getLogger("librdkafka")

CHECK_TIMEOUT_SECONDS = 5.0
"""How long the commands wait for Kafka to answer before they say it cannot be reached."""


class LibrdkafkaLog:
    """librdkafka's own log lines → Python logging at DEBUG (logger ``librdkafka``).

    Without it librdkafka writes to stderr itself: an unreachable broker gave hundreds of
    ``%3|…|FAIL|…`` lines in the terminal. The commands say once what is wrong; the lines are
    there with LOG_LEVEL=DEBUG. The last warnings are kept for those messages. (librdkafka
    hands them over when its client is polled.)
    """

    def __init__(self, keep: int = 5) -> None:
        self.recent: deque[str] = deque(maxlen=keep)

    def log(self, level: int, fmt: str, *args: Any) -> None:
        message = fmt % args if args else fmt
        if level >= logging.WARNING:
            self.recent.append(message)
        librdkafka_log.debug(message)

    def last_problem(self) -> str | None:
        """The last warning or error, without librdkafka's ``FAC [client] [thread]:`` prefix."""
        if not self.recent:
            return None
        text = self.recent[-1]
        return _PREFIX.sub("", text).strip()


_PREFIX = re.compile(r"^\S+ \[[^\]]*\] (?:\[[^\]]*\]: )?(?:\S+: )?")


def quiet(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A librdkafka client config whose log lines go to :class:`LibrdkafkaLog`."""
    merged = dict(config or {})
    merged.setdefault("logger", LibrdkafkaLog())
    return merged


class KafkaUnavailable(UserError):
    """No broker of KAFKA_BOOTSTRAP_SERVERS answered (the message says how each failed)."""


def _split_server(server: str) -> tuple[str, int]:
    host, _, port = server.strip().rpartition(":")
    return host.strip("[]"), int(port)


def _connect_problem(host: str, port: int, timeout: float) -> str | None:
    """None if something accepts a TCP connection there, else why not (lower case)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.gaierror:
        return f"unknown host {host!r}"
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer in {timeout:.0f} s"
    except OSError as exc:
        if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return "no route to the host"
        return (exc.strerror or str(exc)).lower()


def check_kafka(
    bootstrap: str,
    client_config: Mapping[str, str] | None = None,
    timeout: float = CHECK_TIMEOUT_SECONDS,
    setting: str = "KAFKA_BOOTSTRAP_SERVERS",
) -> None:
    """Raise :class:`KafkaUnavailable` unless a broker of ``bootstrap`` answers in ``timeout``.

    First a plain TCP connection to each server (the exact reason: refused, unknown host, no
    answer), then a metadata request as the commands' clients make it (security settings
    included), so a port that is not Kafka or a TLS/SASL mismatch is caught too.
    """
    deadline = time.monotonic() + timeout
    servers = [s for s in bootstrap.split(",") if s.strip()]
    problems: list[str] = []
    for server in servers:
        try:
            host, port = _split_server(server)
        except ValueError:
            problems.append(f"{server.strip()}: not host:port")
            continue
        left = max(deadline - time.monotonic(), 0.5)
        problem = _connect_problem(host, port, min(left, 3.0))
        if problem is None:
            break
        problems.append(problem if len(servers) == 1 else f"{server.strip()}: {problem}")
    else:
        raise KafkaUnavailable(
            f"cannot reach Kafka at {bootstrap} ({setting}): {'; '.join(problems)}"
        )
    from confluent_kafka.admin import AdminClient

    logger = LibrdkafkaLog()
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, **(client_config or {})}
    config["logger"] = logger
    admin = AdminClient(config)
    wait = max(deadline - time.monotonic(), 1.0)
    try:
        admin.list_topics(timeout=wait)
        return
    except KafkaException:
        pass
    admin.poll(0)  # hands over librdkafka's log lines, the reason among them
    detail = logger.last_problem()
    security = (client_config or {}).get("security.protocol", "plaintext").upper()
    raise KafkaUnavailable(
        f"Kafka at {bootstrap} ({setting}) accepts connections but gave no metadata within "
        f"{timeout:.0f} s{': ' + detail if detail else ''} (is it a Kafka broker? "
        f"KAFKA_SECURITY_PROTOCOL is {security}: check it and the KAFKA_SASL_*/KAFKA_SSL_* "
        "settings)"
    )


def client_config(settings: Settings) -> dict[str, str]:
    """librdkafka (confluent-kafka) security settings; empty for PLAINTEXT."""
    config: dict[str, str] = {}
    if settings.kafka_security_protocol != "PLAINTEXT":
        config["security.protocol"] = settings.kafka_security_protocol.lower()
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username:
        config["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password:
        config["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_cafile:
        config["ssl.ca.location"] = settings.kafka_ssl_cafile
    if settings.kafka_ssl_certfile:
        config["ssl.certificate.location"] = settings.kafka_ssl_certfile
    if settings.kafka_ssl_keyfile:
        config["ssl.key.location"] = settings.kafka_ssl_keyfile
    return config


def faust_credentials(settings: Settings) -> Any:
    """faust/aiokafka credentials for the same settings, or None for PLAINTEXT."""
    import ssl

    import faust

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile)
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    assert settings.kafka_sasl_username and settings.kafka_sasl_password
    return faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )


@contextlib.contextmanager
def bootstrap_servers(settings: Settings) -> Iterator[tuple[str, bool]]:
    """The configured cluster, or an embedded broker for the duration (bootstrap, embedded?)."""
    if settings.kafka_bootstrap_servers:
        yield settings.kafka_bootstrap_servers, False
        return
    with EmbeddedBroker() as broker:
        log.warning(
            "KAFKA_BOOTSTRAP_SERVERS is not set: started the embedded broker on %s "
            "(memory storage, data is lost when it stops)",
            broker.bootstrap_servers,
        )
        yield broker.bootstrap_servers, True


def producer_config(bootstrap: str, **config: Any) -> dict[str, Any]:
    """What every producer of the pipeline shares, overridable."""
    return {
        "bootstrap.servers": bootstrap,
        "logger": LibrdkafkaLog(),
        "linger.ms": 5,
        # Java-compatible key hashing, as faust (aiokafka) uses: a trace keyed by its id lands
        # in the same partition whoever publishes it, so its de-duplication entry is owned by
        # the same worker.
        "partitioner": "murmur2_random",
        **config,
    }


class PublishFailed(UserError, RuntimeError):
    """Kafka did not acknowledge every record :func:`publish_to` produced."""


def publish(
    bootstrap: str,
    topic: str,
    values: Iterable[bytes | tuple[bytes | None, bytes]],
    timeout: float = 30.0,
    **config: Any,
) -> int:
    """Produce values (or (key, value) pairs) and wait until all are acknowledged."""
    items = ((topic, *item) if isinstance(item, tuple) else (topic, None, item) for item in values)
    return publish_to(bootstrap, items, timeout, **config)


def publish_to(
    bootstrap: str,
    items: Iterable[tuple[str, bytes | None, bytes]],
    timeout: float = 30.0,
    **config: Any,
) -> int:
    """Produce (topic, key, value) triples and wait until all are acknowledged."""
    producer = Producer(producer_config(bootstrap, **config))
    errors: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    count = 0
    for topic, key, value in items:
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.1)
        count += 1
        producer.poll(0)
    remaining = producer.flush(timeout)
    if remaining or errors:
        problems = f"; {len(errors)} refused, first: {errors[0]}" if errors else ""
        raise PublishFailed(
            f"Kafka did not acknowledge every record published: {remaining} left unacknowledged "
            f"after {timeout:.0f} s{problems} (KAFKA_BOOTSTRAP_SERVERS {bootstrap})"
        )
    return count


#: (topic, key, value, headers) as a batch of records to produce.
Outgoing = tuple[str, bytes | None, bytes, list[tuple[str, str | bytes | None]] | None]


class ProduceError(RuntimeError):
    """Kafka did not acknowledge every record of a batch."""


class BatchProducer:
    """A confluent-kafka producer for asyncio code: ``await send(records)`` per batch.

    faust's producer costs ~50 µs of the event loop per record; librdkafka queues a record in
    a few µs and does the rest on its own threads. Delivery reports are served by a polling
    thread that resolves one asyncio future per batch, so the caller learns once that the
    whole batch is durable (or which error stopped it) and only then acknowledges its source.
    """

    def __init__(self, bootstrap: str, **config: Any) -> None:
        # idempotent: retries never duplicate or reorder a record
        self._producer = Producer(
            producer_config(bootstrap, **{"enable.idempotence": True, **config})
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="kafka-producer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, records: Sequence[Outgoing]) -> None:
        """Produce the records; returns when Kafka acknowledged all of them."""
        if not records:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[str]] = loop.create_future()
        remaining = len(records)
        errors: list[str] = []

        def report(err: Any, _msg: Any) -> None:  # on the polling thread
            nonlocal remaining
            if err is not None:
                errors.append(str(err))
            remaining -= 1
            if remaining == 0:
                loop.call_soon_threadsafe(_resolve, done, errors)

        produce = self._producer.produce
        for topic, key, value, headers in records:
            while True:
                try:
                    produce(topic, value, key, headers=headers, on_delivery=report)
                    break
                except BufferError:  # librdkafka's queue is full: wait for it to drain
                    await asyncio.sleep(0.005)
        failed = await done
        if failed:
            raise ProduceError(f"{len(failed)} of {len(records)} records failed: {failed[0]}")

    def close(self, timeout: float = 10.0) -> int:
        """Deliver what is queued (up to ``timeout``); returns how many records were left.

        The librdkafka client is released too: alive, it keeps reconnecting (and logging)
        after the broker is gone, e.g. when the demo stops its embedded broker.
        """
        self._stop.set()
        self._thread.join(timeout)
        left = int(self._producer.flush(timeout))
        del self._producer
        return left


def _resolve(future: asyncio.Future[list[str]], errors: list[str]) -> None:
    if not future.done():
        future.set_result(errors)
