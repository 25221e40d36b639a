"""``kong-litefuse redrive``: put dead letters back where they came from, once the cause is fixed.

Each letter goes back, unchanged, to its source topic (its ``source-topic`` header, or the topic
its stage reads: the Kong topic for enrich letters, the traces topic for sink letters), so the
live workers process it again like any record. Progress is committed under the group
``<CONSUMER_GROUP>-redrive`` after the re-published letters were acknowledged, so a second run
moves only letters that arrived since; ``--from-beginning`` starts over. A run filtered with
``--reason-contains`` commits nothing, so the letters it passed over are still there later.
The run stops at the dead-letter topic's end as it was at start, so new letters cannot keep it
going. Records moved twice are harmless: their trace ids are the same and the sink's
de-duplication window skips what Litefuse already accepted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, TopicPartition

from pipeline.delivery.deadletter import read_headers
from pipeline.kafka import publish_to, quiet
from pipeline.ops.offsets import KafkaPartitionReader, find_end, partitions_of, watermarks


@dataclass(slots=True)
class RedriveSummary:
    read: int = 0
    redriven: int = 0
    filtered: int = 0
    by_target: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    complete: bool = True


def _target(headers: dict[str, str], kong_topic: str, traces_topic: str) -> str:
    if headers.get("source-topic"):
        return headers["source-topic"]
    return traces_topic if headers.get("stage") == "sink" else kong_topic


def redrive(
    bootstrap: str,
    dead_letter_topic: str,
    *,
    group_id: str,
    kong_topic: str,
    traces_topic: str,
    to_topic: str | None = None,
    reason_contains: str | None = None,
    from_beginning: bool = False,
    dry_run: bool = False,
    limit: int | None = None,
    timeout: float = 120.0,
    client_config: dict[str, str] | None = None,
    on_letter: Callable[[str, dict[str, str]], None] | None = None,
) -> RedriveSummary:
    """Re-publish dead letters; returns what was read, moved and left."""
    summary = RedriveSummary()
    extra = dict(client_config or {})
    consumer = Consumer(
        quiet(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "enable.partition.eof": True,
                **extra,
            }
        )
    )
    try:
        partitions = partitions_of(consumer, dead_letter_topic)
        ends = {
            p: find_end(KafkaPartitionReader(consumer, dead_letter_topic, p), low, high)
            for p, (low, high) in watermarks(consumer, dead_letter_topic, partitions).items()
        }
        committed = consumer.committed(
            [TopicPartition(dead_letter_topic, p) for p in partitions], timeout=10
        )
        starts = {
            tp.partition: 0 if from_beginning or tp.offset < 0 else tp.offset for tp in committed
        }
        pending = {p for p in partitions if starts[p] < ends[p]}
        if not pending:
            return summary
        consumer.assign([TopicPartition(dead_letter_topic, p, starts[p]) for p in pending])
        moves: list[tuple[str, bytes | None, bytes]] = []
        positions: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            if limit is not None and summary.read >= limit:
                break
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            partition, offset = message.partition(), message.offset()
            if partition not in pending or offset is None or offset >= ends[partition]:
                pending.discard(partition)
                continue
            summary.read += 1
            positions[partition] = offset + 1
            if offset + 1 >= ends[partition]:
                pending.discard(partition)
            raw_headers = message.headers() or []
            headers = read_headers(raw_headers)
            reason = headers.get("reason", "")
            if reason_contains and reason_contains.lower() not in reason.lower():
                summary.filtered += 1
                continue
            target = to_topic or _target(headers, kong_topic, traces_topic)
            summary.by_target[target] += 1
            summary.by_reason[reason.split(":", 1)[0][:60] or "unknown"] += 1
            if on_letter is not None:
                on_letter(target, headers)
            moves.append((target, message.key(), message.value() or b""))
        summary.complete = not pending
        if not dry_run:
            if moves:
                summary.redriven = publish_to(bootstrap, moves, 30.0, **extra)
            # A filtered run leaves progress alone: letters it passed over stay to be redriven.
            if positions and not reason_contains:
                consumer.commit(
                    offsets=[
                        TopicPartition(dead_letter_topic, p, at) for p, at in positions.items()
                    ],
                    asynchronous=False,
                )
        return summary
    finally:
        consumer.close()
