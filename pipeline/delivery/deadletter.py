"""Dead letters: the original bytes (credentials scrubbed) plus why, where and when.

The reason, stage, time and source position travel as Kafka headers so the value stays the
original record and ``redrive`` can re-publish it unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pipeline.trace import Trace

Stage = Literal["enrich", "sink"]
HEADER_PREFIX = "kong-litefuse-"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    stage: Stage
    reason: str
    value: bytes
    key: bytes | None = None
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    index: int | None = None
    status: int | None = None

    @classmethod
    def from_message(
        cls, stage: Stage, reason: str, message: Any, index: int | None = None
    ) -> DeadLetter:
        """From a consumed faust/Kafka message (``topic``, ``partition``, ``offset``, ``value``)."""
        return cls(
            stage=stage,
            reason=reason,
            value=message.value or b"",
            key=message.key,
            source_topic=message.topic,
            source_partition=message.partition,
            source_offset=message.offset,
            index=index,
        )

    @classmethod
    def for_trace(cls, trace: Trace, status: int, reason: str) -> DeadLetter:
        return cls(
            stage="sink",
            reason=f"rejected by Litefuse ({status}): {reason}",
            value=trace.to_json(),
            key=trace.id.encode(),
            source_topic=trace.source.topic,
            source_partition=trace.source.partition,
            source_offset=trace.source.offset,
            status=status,
        )


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    values: dict[str, Any] = {
        "reason": letter.reason[:2000],
        "stage": letter.stage,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source-topic": letter.source_topic,
        "source-partition": letter.source_partition,
        "source-offset": letter.source_offset,
        "source-index": letter.index,
        "status": letter.status,
    }
    return [
        (HEADER_PREFIX + name, str(value).encode())
        for name, value in values.items()
        if value is not None
    ]


RawHeaders = Mapping[str, str | bytes | None] | Sequence[tuple[str, str | bytes | None]]


def read_headers(headers: RawHeaders | None) -> dict[str, str]:
    """Dead-letter headers back as a dict, without the prefix."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or []
    return {
        name.removeprefix(HEADER_PREFIX): value.decode("utf-8", "replace")
        if isinstance(value, bytes)
        else str(value or "")
        for name, value in pairs
        if name.startswith(HEADER_PREFIX)
    }
