"""Category weights: the defaults with some replaced (``--mix stream=40,malformed=0``)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from pipeline.bench.mix.categories import DEFAULT_WEIGHTS


def resolve_weights(weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """The default weights with ``weights`` replacing some of them (unknown names refused)."""
    merged = dict(DEFAULT_WEIGHTS)
    for name, value in (weights or {}).items():
        if name not in merged:
            raise ValueError(f"unknown category {name!r} (known: {', '.join(merged)})")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"weight of {name} must be a non-negative number")
        merged[name] = float(value)
    if sum(merged.values()) <= 0:
        raise ValueError("at least one category needs a positive weight")
    return merged


def parse_weights(text: str) -> dict[str, float]:
    """``"chat=40,malformed=0"`` → the default weights with those replaced."""
    given: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"expected name=weight, got {part.strip()!r}")
        try:
            given[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"weight of {name.strip()} is not a number: {value!r}") from None
    return resolve_weights(given)
