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
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **config})
    errors: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(str(err))

    count = 0
    for item in values:
        key, value = item if isinstance(item, tuple) else (None, item)
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
        raise RuntimeError(
            f"publishing to {topic}: {remaining} unacknowledged, errors: {errors[:3]}"
        )
    return count
