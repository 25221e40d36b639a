"""Deterministic sampling: the decision is a function of the trace id alone.

So a replay, a redelivery or a second worker decides exactly as the first one did, and a
trace is never half-exported: every Kong request that joins the same caller's trace is kept or
dropped with it.
"""

from __future__ import annotations

import hashlib

_SPACE = float(1 << 64)


def sampled(trace_id: str, rate: float) -> bool:
    """Keep the trace when a 64-bit hash of its id falls below ``rate``.

    A hash, not the id's own bits: a caller's trace id need not be uniform (AWS X-Ray ids
    carried in a ``traceparent`` start with the epoch seconds, so their first bits say when,
    not whether).
    """
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    digest = hashlib.blake2b(trace_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SPACE < rate


def follows_caller(caller_sampled: bool, rate: float) -> bool:
    """A request joining a ``traceparent``'s trace follows the caller's sampled flag, as
    OpenTelemetry's ParentBased sampler does: the app's trace is recorded whole or not at
    all. A rate of 0 still turns the environment off."""
    return caller_sampled and rate > 0.0
