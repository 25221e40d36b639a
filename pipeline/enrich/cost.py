"""Cost in USD per generation: the user's price file, Kong's configured price, ``genai-prices``.

Order: a price the operator wrote in the override file wins; then the cost Kong computed with
the prices configured in ai-proxy; then the maintained ``genai-prices`` database with model-name
normalisation (``openai/gpt-4o``, ``models/gemini-…``, Azure deployment aliases). Unknown model
→ no cost at all (Litefuse may still price it from its own table), never a wrong $0.

Model resolution is cached; the arithmetic for flat per-token prices is done in floats, so the
hot path costs a dictionary lookup and a few multiplications.
"""

from __future__ import annotations

import fnmatch
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from genai_prices.types import ModelPrice

from pipeline.trace import Cost, Usage, amounts, checked

# Provider names (ours, Kong's, LiteLLM-style prefixes) → genai-prices provider ids
PROVIDER_IDS = {
    "openai": "openai",
    "azure": "azure",
    "azure_ai": "azure",
    "anthropic": "anthropic",
    "gemini": "google",
    "google": "google",
    "vertex-ai": "google",
    "vertex_ai": "google",
    "mistral": "mistral",
    "cohere": "cohere",
    "bedrock": "aws",
    "aws": "aws",
    "groq": "groq",
    "deepseek": "deepseek",
    "together": "together",
    "together_ai": "together",
    "x-ai": "x-ai",
    "xai": "x-ai",
    "openrouter": "openrouter",
    "fireworks": "fireworks",
    "perplexity": "perplexity",
}


class PriceFileError(ValueError):
    """The price-override file cannot be read; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per one million tokens."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True, slots=True)
class PriceBook:
    """The user's prices and model aliases, loaded once from the override file."""

    exact: Mapping[str, Price] = field(default_factory=dict)
    patterns: tuple[tuple[str, Price], ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)

    def find(self, model: str) -> Price | None:
        name = model.lower()
        found = self.exact.get(name)
        if found is not None:
            return found
        for pattern, price in self.patterns:
            if fnmatch.fnmatchcase(name, pattern):
                return price
        return None

    def alias(self, model: str) -> str:
        return self.aliases.get(model.lower(), model)


def _price(name: str, raw: Any, source: str) -> Price:
    if not isinstance(raw, Mapping):
        raise PriceFileError(f"{source}: models.{name} must be a mapping")
    try:
        values = {
            key: None if raw.get(key) is None else float(raw[key])
            for key in ("input", "output", "cached_input", "cache_write")
        }
    except (TypeError, ValueError):
        raise PriceFileError(f"{source}: models.{name}: prices must be numbers") from None
    if values["input"] is None or values["output"] is None:
        raise PriceFileError(f"{source}: models.{name} needs input and output (USD per 1M)")
    if any(v is not None and v < 0 for v in values.values()):
        raise PriceFileError(f"{source}: models.{name}: prices must not be negative")
    return Price(
        input=values["input"],
        output=values["output"],
        cached_input=values["cached_input"],
        cache_write=values["cache_write"],
    )


def price_book(document: Mapping[str, Any], source: str = "price file") -> PriceBook:
    """Build the book from ``{models: {name|glob: {input, output, …}}, aliases: {…}}``."""
    models = document.get("models") or {}
    aliases = document.get("aliases") or {}
    if not isinstance(models, Mapping) or not isinstance(aliases, Mapping):
        raise PriceFileError(f"{source}: 'models' and 'aliases' must be mappings")
    exact: dict[str, Price] = {}
    patterns: list[tuple[str, Price]] = []
    for name, raw in models.items():
        price = _price(str(name), raw, source)
        key = str(name).lower()
        if any(ch in key for ch in "*?["):
            patterns.append((key, price))
        else:
            exact[key] = price
    return PriceBook(
        exact=exact,
        patterns=tuple(patterns),
        aliases={str(k).lower(): str(v) for k, v in aliases.items()},
    )


def load_price_file(path: Path) -> PriceBook:
    """Read a YAML, JSON or TOML price-override file (once, when options are built)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PriceFileError(f"price file {path}: {exc.strerror}") from None
    try:
        if path.suffix == ".toml":
            document: Any = tomllib.loads(text)
        elif path.suffix == ".json":
            document = json.loads(text)
        else:
            document = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise PriceFileError(f"price file {path}: {exc}") from None
    if not isinstance(document, Mapping):
        raise PriceFileError(f"price file {path}: must hold a mapping")
    return price_book(document, str(path))


EMPTY_BOOK = PriceBook()


def candidates(model: str, provider: str | None) -> list[tuple[str, str | None]]:
    """(name, genai-prices provider) pairs to try, most specific first."""
    provider_id = PROVIDER_IDS.get((provider or "").lower())
    name = model.strip()
    found: list[tuple[str, str | None]] = []
    if name.startswith("models/"):  # Gemini's resource names
        name = name.removeprefix("models/")
    if "/" in name:
        prefix, _, rest = name.partition("/")
        if prefix.lower() in PROVIDER_IDS and rest:
            found.append((rest, PROVIDER_IDS[prefix.lower()]))
            found.append((rest, None))
        found.append((name.rsplit("/", 1)[-1], provider_id))
    found += [(name, provider_id), (name, None)]
    if "." in name:
        found += _bedrock_candidates(name, provider_id)
    return list(dict.fromkeys(found))


_BEDROCK_REGIONS = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")
_BEDROCK_VENDORS = ("anthropic.", "amazon.", "meta.", "mistral.", "cohere.", "ai21.", "deepseek.")


def _bedrock_candidates(name: str, provider_id: str | None) -> list[tuple[str, str | None]]:
    """A Bedrock model id's shorter spellings: ``us.anthropic.claude-3-5-sonnet-20240620-v1:0``
    → without the cross-region prefix, then the vendor, then the ``-v1:0`` version suffix."""
    lowered = name.lower()
    region = next((r for r in _BEDROCK_REGIONS if lowered.startswith(r)), "")
    rest = name[len(region) :]
    vendor = next((v for v in _BEDROCK_VENDORS if rest.lower().startswith(v)), "")
    if not vendor:
        return []
    found: list[tuple[str, str | None]] = []
    if region:
        found += [(rest, provider_id), (rest, None)]
    bare = rest[len(vendor) :]
    found.append((bare, None))
    head, dash, version = bare.rpartition("-v")
    if dash and head and version[:1].isdigit() and all(c.isdigit() or c == ":" for c in version):
        found.append((head, None))
    return found


@dataclass(frozen=True, slots=True, eq=False)
class Resolved:
    """A model's genai-prices entry, and its flat float rates when it has only those."""

    model_id: str
    model_price: ModelPrice
    flat: Price | None


@lru_cache(maxsize=4096)
def resolve(model: str, provider: str | None) -> Resolved | None:
    """The genai-prices entry for a model name, or None; cached (the lookup is the slow part)."""
    for name, provider_id in candidates(model, provider):
        try:
            result = calc_price(
                PriceUsage(input_tokens=0, output_tokens=0), name, provider_id=provider_id
            )
        except LookupError:
            continue
        return Resolved(result.model.id, result.model_price, _flat_price(result.model_price))
    return None


def _flat(value: Any) -> float | None:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    return None


def _usd(value: float | Decimal | None) -> float | None:
    return None if value is None else round(float(value), 10)


def _from_price(price: Price, usage: Usage, source: str) -> Cost:
    """Each usage bucket priced once (see ``Usage.details``): uncached input, cache reads,
    cache writes, non-reasoning output, reasoning (at the output rate)."""
    cached_tokens = usage.input_cached or 0
    write_tokens = usage.input_cache_write or 0
    reasoning_tokens = usage.output_reasoning or 0
    cached_rate = price.cached_input if price.cached_input is not None else price.input
    write_rate = price.cache_write if price.cache_write is not None else price.input
    plain = max((usage.input or 0) - cached_tokens - write_tokens, 0)
    plain_output = max((usage.output or 0) - reasoning_tokens, 0)
    input_usd = _usd(plain * price.input / 1e6)
    cached_usd = _usd(cached_tokens * cached_rate / 1e6) if cached_tokens else None
    write_usd = _usd(write_tokens * write_rate / 1e6) if write_tokens else None
    output_usd = _usd(plain_output * price.output / 1e6)
    reasoning_usd = _usd(reasoning_tokens * price.output / 1e6) if reasoning_tokens else None
    parts = (input_usd, cached_usd, write_usd, output_usd, reasoning_usd)
    total = _usd(sum(p for p in parts if p is not None)) or 0.0
    cost = Cost(
        input=input_usd,
        input_cached=cached_usd,
        input_cache_write=write_usd,
        output=output_usd,
        output_reasoning=reasoning_usd,
        total=total,
        source=source,
    )
    return cost if amounts(*parts, total) else checked(cost)  # NaN or < 0 raises


_FLAT_KEYS = frozenset({"input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok"})


def _flat_price(model_price: ModelPrice) -> Price | None:
    """The token rates as floats when none is tiered (per-request extras are not ours to bill)."""
    values = {key: getattr(model_price, key, None) for key in _FLAT_KEYS}
    if any(v is not None and _flat(v) is None for v in values.values()):
        return None
    input_rate, output_rate = _flat(values["input_mtok"]), _flat(values["output_mtok"])
    if input_rate is None or output_rate is None:
        return None
    return Price(
        input=input_rate,
        output=output_rate,
        cached_input=_flat(values["cache_read_mtok"]),
        cache_write=_flat(values["cache_write_mtok"]),
    )


def _from_model_price(resolved: Resolved, usage: Usage) -> Cost:
    if resolved.flat is not None:
        return _from_price(resolved.flat, usage, "genai-prices")
    # Tiered or otherwise structured prices: let genai-prices do the arithmetic.
    price = resolved.model_price.calc_price(
        PriceUsage(
            input_tokens=usage.input or 0,
            output_tokens=usage.output or 0,
            cache_read_tokens=usage.input_cached,
            cache_write_tokens=usage.input_cache_write,
        )
    )
    cost = Cost(
        input=_usd(price["input_price"]),
        output=_usd(price["output_price"]),
        total=_usd(price["total_price"]) or 0.0,
        source="genai-prices",
    )
    return cost if amounts(cost.input, cost.output, cost.total) else checked(cost)


def compute_cost(
    model: str | None,
    provider: str | None,
    usage: Usage | None,
    kong_cost: float | None = None,
    prices: PriceBook = EMPTY_BOOK,
) -> Cost | None:
    name: str | None = None
    if model and usage is not None and (usage.input is not None or usage.output is not None):
        name = prices.alias(model)
        if prices.exact or prices.patterns:  # find() finds nothing in a book without prices
            override = prices.find(name) or (prices.find(model) if name != model else None)
            if override is not None:
                return _from_price(override, usage, "override")
    if kong_cost is not None and kong_cost > 0:
        return Cost(total=round(kong_cost, 10), source="kong")
    if name is None or usage is None:  # no model, or no token counts
        return None
    resolved = resolve(name, provider)
    if resolved is None:
        return None
    return _from_model_price(resolved, usage)
