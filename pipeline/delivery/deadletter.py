"""Dead letters: the original bytes (credentials scrubbed) plus why, where and when.

The reason, stage, time and source position travel as Kafka headers so the value stays the
original record and ``redrive`` can re-publish it unchanged.

Dead-lettering is the last resort for a record nothing else could handle, so it must not fail
on that record: :func:`letter_value` scrubs structurally, falls back to scrubbing the text, and
at worst keeps a marker; the value always fits ``limit`` bytes, and the reason is scrubbed too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from pipeline.enrich.privacy import redact_bytes, redact_text
from pipeline.trace import Trace

log = logging.getLogger(__name__)

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
        try:
            value = trace.to_json()
        except Exception as exc:  # a trace that cannot be written is dead-lettered all the same
            value = orjson.dumps({"id": trace.id, "unwritable": f"{type(exc).__name__}"})
        return cls(
            stage="sink",
            reason=f"rejected by Litefuse ({status}): {reason}" if status else reason,
            value=value,
            key=trace.id.encode(),
            source_topic=trace.source.topic,
            source_partition=trace.source.partition,
            source_offset=trace.source.offset,
            status=status,
        )


MAX_REASON_CHARS = 2000
TRUNCATED = b"...[truncated by kong-litefuse]"
UNREADABLE = b'{"kong_litefuse":"the value could not be scrubbed and was dropped"}'


def letter_value(data: bytes, limit: int) -> bytes:
    """The value to dead-letter: ``data`` without credentials, at most ``limit`` bytes.

    Never raises: structural scrubbing (JSON) can fail on what made the record a dead letter
    (nesting deeper than JSON writers allow, say), scrubbing the text cannot.
    """
    value: bytes = UNREADABLE
    try:
        value = redact_bytes(data)
    except Exception:
        try:
            value = redact_text(data.decode("utf-8", "replace")).encode()
        except Exception:
            log.exception("a dead letter could not be scrubbed; its value is dropped")
    if len(value) > limit:  # cut after scrubbing: no credential is left to cut in half
        value = value[: max(limit - len(TRUNCATED), 0)] + TRUNCATED
    return value


def scrubbed_reason(reason: str) -> str:
    """A reason as it may leave the process (headers, logs): scrubbed, bounded."""
    reason = reason[: MAX_REASON_CHARS * 2]
    try:
        reason = redact_text(reason)
    except Exception:
        reason = "(reason withheld: it could not be scrubbed)"
    return reason[:MAX_REASON_CHARS]


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    values: dict[str, Any] = {
        "reason": scrubbed_reason(letter.reason),
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
