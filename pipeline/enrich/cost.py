"""Cost in USD from the maintained ``genai-prices`` database, or Kong's configured price.

Unknown model → no cost at all (Litefuse may still price it from its own table), never $0.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from pipeline.trace import Cost, Usage

# Kong's provider names → genai-prices provider ids
_PROVIDER_IDS = {
    "openai": "openai",
    "azure": "azure",
    "anthropic": "anthropic",
    "gemini": "google",
    "google": "google",
    "mistral": "mistral",
    "cohere": "cohere",
    "bedrock": "aws",
}


def _split_model(model: str, provider: str | None) -> tuple[str, str | None]:
    """``openai/gpt-4o`` → (``gpt-4o``, ``openai``): prefixed names are a known $0 trap."""
    if "/" in model:
        prefix, _, rest = model.partition("/")
        if prefix in _PROVIDER_IDS and rest:
            return rest, _PROVIDER_IDS[prefix]
    return model, _PROVIDER_IDS.get(provider or "")


@lru_cache(maxsize=4096)
def _known(model: str, provider: str | None) -> bool:
    try:
        calc_price(PriceUsage(input_tokens=0, output_tokens=0), model, provider_id=provider)
    except LookupError:
        return False
    return True


def _usd(value: Decimal | float | None) -> float | None:
    return None if value is None else round(float(value), 10)


def compute_cost(
    model: str | None,
    provider: str | None,
    usage: Usage | None,
    kong_cost: float | None = None,
) -> Cost | None:
    if kong_cost is not None and kong_cost > 0:
        return Cost(total=kong_cost, source="kong")
    if not model or usage is None or (usage.input is None and usage.output is None):
        return None
    name, provider_id = _split_model(model, provider)
    if not _known(name, provider_id):
        if provider_id is None or not _known(name, None):
            return None
        provider_id = None
    price = calc_price(
        PriceUsage(
            input_tokens=usage.input or 0,
            output_tokens=usage.output or 0,
            cache_read_tokens=usage.input_cached,
            cache_write_tokens=usage.input_cache_write,
        ),
        name,
        provider_id=provider_id,
    )
    cached = None
    cache_price = price.model_price.cache_read_mtok
    if usage.input_cached and isinstance(cache_price, (int, float, Decimal)):
        cached = Decimal(usage.input_cached) * Decimal(str(cache_price)) / Decimal(1_000_000)
    return Cost(
        input=_usd(price.input_price - (cached or 0)),
        output=_usd(price.output_price),
        cached=_usd(cached),
        total=_usd(price.total_price) or 0.0,
        source="genai-prices",
    )
