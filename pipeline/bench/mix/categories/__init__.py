"""The categories of the mix: one module per generator, and their weights in one table.

Each :class:`Category` carries the function that builds one of its records from a
:class:`~pipeline.bench.mix.maker.Maker`. Adding a category is a module with a ``make(m)`` and
a row here; the weights of the defaults add up to 100 (percent of records).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline.bench.mix.categories import (
    anthropic,
    chat,
    embeddings,
    error,
    kong_ai,
    malformed,
    non_ai,
    stream,
    vllm,
)
from pipeline.bench.mix.maker import Maker

Outcome = str  # "trace" | "skipped" | "dead_letter"


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    weight: float
    """Default share of the records, in percent."""
    expect: Outcome
    """What the enrich stage makes of every record of the category."""
    description: str
    make: Callable[[Maker], bytes] = field(repr=False, compare=False)
    """Builds one record (a Kafka value) from a maker's random stream."""


CATEGORIES: tuple[Category, ...] = (
    Category("chat", 36, "trace", "OpenAI-compatible chat completions, JSON bodies", chat.make),
    Category(
        "stream", 17, "trace", "chat with stream: true, SSE body with a usage chunk", stream.make
    ),
    Category(
        "embeddings", 8, "trace", "OpenAI embeddings, base64 or float vectors", embeddings.make
    ),
    Category("anthropic", 8, "trace", "Anthropic messages, JSON and SSE", anthropic.make),
    Category("vllm", 5, "trace", "vLLM chat / completions / generate", vllm.make),
    Category(
        "kong_ai", 10, "trace", "Kong ai-proxy logging only, no captured bodies", kong_ai.make
    ),
    Category("error", 5, "trace", "upstream and Kong 4xx/5xx on AI routes", error.make),
    Category(
        "non_ai", 9, "skipped", "health checks, model lists, preflights, REST APIs", non_ai.make
    ),
    Category("malformed", 2, "dead_letter", "not a readable Kong record", malformed.make),
)
DEFAULT_WEIGHTS: dict[str, float] = {c.name: c.weight for c in CATEGORIES}
EXPECTED: dict[str, Outcome] = {c.name: c.expect for c in CATEGORIES}

__all__ = ["CATEGORIES", "DEFAULT_WEIGHTS", "EXPECTED", "Category", "Outcome"]
