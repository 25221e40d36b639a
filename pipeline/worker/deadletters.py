"""Dead letters as records to produce: counted, logged, scrubbed, sized. Never raises."""

from __future__ import annotations

import logging

from pipeline import metrics
from pipeline.delivery.deadletter import (
    DeadLetter,
    dead_letter_headers,
    letter_value,
    scrubbed_reason,
)
from pipeline.enrich.stage import KAFKA_FRAMING_BYTES
from pipeline.kafka import Outgoing

log = logging.getLogger("pipeline")


class DeadLetters:
    """Turns a :class:`DeadLetter` into the record for its topic."""

    def __init__(self, max_message_bytes: int) -> None:
        self.limit = max_message_bytes - KAFKA_FRAMING_BYTES

    def record(self, topic: str, letter: DeadLetter) -> Outgoing:
        """Count, log and encode a dead letter: the value scrubbed of credentials and fitting a
        Kafka record (see ``letter_value``), the reason scrubbed in the log and the headers."""
        metrics.dead_letters.labels(letter.stage, metrics.reason_label(letter.reason)).inc()
        trace_id = letter.key.decode() if letter.stage == "sink" and letter.key else None
        log.warning(
            "dead letter (%s) %s[%s]@%s: %s",
            letter.stage,
            letter.source_topic,
            letter.source_partition,
            letter.source_offset,
            scrubbed_reason(letter.reason),
            extra={
                "stage": letter.stage,
                "source_topic": letter.source_topic,
                "source_partition": letter.source_partition,
                "source_offset": letter.source_offset,
                **({"trace_id": trace_id} if trace_id else {}),
            },
        )
        headers: list[tuple[str, str | bytes | None]] = [*dead_letter_headers(letter)]
        return (topic, letter.key, letter_value(letter.value, self.limit), headers)
