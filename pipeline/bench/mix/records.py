"""The mix itself: which category each record is, in order, and the records' bytes."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping

from pipeline.bench.mix.categories import CATEGORIES
from pipeline.bench.mix.maker import Maker
from pipeline.bench.mix.weights import resolve_weights


def plan(count: int, seed: int = 7, weights: Mapping[str, float] | None = None) -> list[str]:
    """The category of each record, in order: exact proportions (largest remainder), shuffled."""
    if count < 0:
        raise ValueError("count must be >= 0")
    resolved = resolve_weights(weights)
    total = sum(resolved.values())
    quotas = {name: count * weight / total for name, weight in resolved.items()}
    counts = {name: int(quota) for name, quota in quotas.items()}
    order = sorted(
        resolved, key=lambda name: (counts[name] - quotas[name], list(resolved).index(name))
    )
    for name in order[: count - sum(counts.values())]:
        counts[name] += 1
    labels = [name for name in resolved for _ in range(counts[name])]
    random.Random(seed).shuffle(labels)
    return labels


def composition(
    count: int, seed: int = 7, weights: Mapping[str, float] | None = None
) -> dict[str, int]:
    """How many records of each category ``generate`` makes (every category, zeros included)."""
    counted = Counter(plan(count, seed, weights))
    return {category.name: counted.get(category.name, 0) for category in CATEGORIES}


def generate_labelled(
    count: int,
    seed: int = 7,
    *,
    size_scale: float = 1.0,
    weights: Mapping[str, float] | None = None,
) -> list[tuple[str, bytes]]:
    """``count`` records as (category, Kafka value). Same arguments → same bytes.

    Record ``index`` is built by its category from its own random stream
    (``Maker(seed, index, size_scale)``), so records are independent of each other.
    """
    if not (size_scale > 0 and math.isfinite(size_scale)):
        raise ValueError("size_scale must be a positive number")
    makers = {category.name: category.make for category in CATEGORIES}
    labels = plan(count, seed, weights)
    return [
        (label, makers[label](Maker(seed, index, size_scale))) for index, label in enumerate(labels)
    ]


def generate(
    count: int,
    seed: int = 7,
    *,
    size_scale: float = 1.0,
    weights: Mapping[str, float] | None = None,
) -> list[bytes]:
    """``count`` Kong kafka-log values (JSON bytes) in the default (or given) mix."""
    return [
        value for _, value in generate_labelled(count, seed, size_scale=size_scale, weights=weights)
    ]
