"""Record-batch events: what the agents read (``pipeline.transport`` makes them)."""

from __future__ import annotations

from typing import Any

from faust.types import EventT

from pipeline import metrics
from pipeline.enrich.stage import KafkaValue
from pipeline.transport import RecordBatch


def batch_of(event: EventT[bytes]) -> RecordBatch:
    """The event's records as a batch (a plain message is a batch of one)."""
    message = event.message
    if isinstance(message, RecordBatch):
        return message
    return single(message)  # only if the transport is not ours


def single(message: Any) -> RecordBatch:
    """A plain faust message as a one-record batch (when another transport is configured)."""
    return RecordBatch.of(message.tp, [message], message.timestamp, message.generation_id)


def consumed(batch: RecordBatch) -> list[KafkaValue]:
    """Count a batch as consumed; the enrich stage's view of its messages."""
    metrics.records_consumed.inc(len(batch.records))
    return [KafkaValue(m.value, m.topic, m.partition, m.offset) for m in batch.records]
