"""Deterministic sampling: the decision is a function of the trace id alone.

So a replay, a redelivery or a second worker decides exactly as the first one did, and a
trace is never half-exported.
"""

from __future__ import annotations

_SPACE = float(1 << 64)


def sampled(trace_id: str, rate: float) -> bool:
    """Keep the trace when the first 64 bits of its (uniform, hex) id fall below ``rate``."""
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return int(trace_id[:16], 16) / _SPACE < rate
