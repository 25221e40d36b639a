"""One librdkafka producer per worker, made on first use (not when the app is built)."""

from __future__ import annotations

import logging

from pipeline.kafka import BatchProducer, client_config
from pipeline.settings import Settings

log = logging.getLogger("pipeline")


class LazyProducer:
    """The worker's producer: traces, dead letters. Building the app connects to nothing."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: BatchProducer | None = None

    def __call__(self) -> BatchProducer:
        if self._producer is None:
            settings = self._settings
            self._producer = BatchProducer(
                settings.kafka_bootstrap_servers or "",
                **client_config(settings),
                **{"message.max.bytes": settings.kafka_max_message_bytes},
            )
        return self._producer

    def close(self) -> None:
        """Deliver what is queued (bounded), then release the client."""
        if self._producer is not None:
            left = self._producer.close()
            if left:
                log.error("%d records were still unacknowledged by Kafka at shutdown", left)
