"""Kafka helpers shared by the CLI, the demo and the tests (confluent-kafka side)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from confluent_kafka import Producer

from pipeline.broker import EmbeddedBroker
from pipeline.settings import Settings

log = logging.getLogger(__name__)


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
        "linger.ms": 5,
        # Java-compatible key hashing, as faust (aiokafka) uses: a trace keyed by its id lands
        # in the same partition whoever publishes it, so its de-duplication entry is owned by
        # the same worker.
        "partitioner": "murmur2_random",
        **config,
    }


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
        raise RuntimeError(f"publishing: {remaining} unacknowledged, errors: {errors[:3]}")
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
