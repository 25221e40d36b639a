"""Deterministic ids: the same Kong record always yields the same trace and span ids.

That is what makes replays, restarts and redeliveries idempotent as Litefuse sees them.
"""

from __future__ import annotations

import hashlib
import re

_KONG_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def _digest(*parts: str, size: int) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=size).hexdigest()


def trace_id(
    request_id: str | None,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    index: int = 0,
    content: bytes | None = None,
) -> str:
    """A 32-hex-char OTLP trace id.

    Kong's request id (3.5+) is used as is when it already is 32 hex chars, so users can search
    Litefuse for the ``x-kong-request-id`` their client saw. Older records get a hash of their
    Kafka position, or of their content when there is none (the offline ``transform``).
    """
    if request_id:
        normalised = request_id.strip().lower()
        if _KONG_REQUEST_ID.match(normalised):
            return normalised
        return _digest("kong-request", normalised, size=16)
    if offset is not None and topic is not None:
        return _digest("kafka", topic, str(partition), str(offset), str(index), size=16)
    if content is not None:
        return _digest("content", hashlib.blake2b(content).hexdigest(), str(index), size=16)
    raise ValueError("a trace id needs Kong's request id, a Kafka position or the content")


def span_id(trace: str, name: str) -> str:
    """A 16-hex-char span id, stable for a given trace and observation name."""
    return _digest(trace, name, size=8)
