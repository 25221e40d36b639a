"""Kafka helpers shared by the CLI, the demo and the tests (confluent-kafka side)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
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
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            # Java-compatible key hashing, as faust (aiokafka) uses: a trace keyed by its id
            # lands in the same partition whoever publishes it, so its de-duplication entry is
            # owned by the same worker.
            "partitioner": "murmur2_random",
            **config,
        }
    )
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
