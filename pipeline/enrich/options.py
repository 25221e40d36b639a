"""What enrichment needs from the settings, as a plain value (enrich does no I/O).

Everything that needs reading or compiling — the price-override file, masking regexes, custom
provider rules, entry-point plugins — is done once by :func:`build_options`, so the per-record
path only looks things up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pipeline.enrich.cost import EMPTY_BOOK, PriceBook, load_price_file, price_book
from pipeline.enrich.privacy import MaskRule, PayloadMode, mask_rules
from pipeline.enrich.providers import REGISTRY, Provider, build_registry
from pipeline.trace import JoinMode


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    environment: str = "production"
    release: str | None = None
    trace_name: Literal["path", "route", "service"] = "path"
    payload_mode: PayloadMode = "full"
    payload_max_chars: int = 20_000
    masks: tuple[MaskRule, ...] = ()
    sample_rate: float = 1.0
    sample_rates: Mapping[str, float] = field(default_factory=dict)
    """Per-environment rates; an environment not listed uses ``sample_rate``."""
    prices: PriceBook = EMPTY_BOOK
    providers: tuple[Provider, ...] = REGISTRY
    estimate_tokens: bool = True
    environment_from_request: bool = False
    """Honour ``x-langfuse-environment`` / body ``metadata.environment`` (validated)."""
    trace_context: Literal["join", "ignore"] = "join"
    """Join the caller's trace (``traceparent``, ``x-langfuse-trace-id``, body metadata ids)."""
    trace_join_mode: JoinMode = "observation"
    """What a joining request says of the caller's trace: observation-level data only, or
    its name, input, output and metadata too (``full``)."""

    def rate_for(self, environment: str) -> float:
        return self.sample_rates.get(environment, self.sample_rate)


def build_options(
    *,
    environment: str = "production",
    release: str | None = None,
    trace_name: Literal["path", "route", "service"] = "path",
    payload_mode: PayloadMode = "full",
    payload_max_chars: int = 20_000,
    mask_patterns: Sequence[str] = (),
    sample_rate: float = 1.0,
    sample_rates: Mapping[str, float] | None = None,
    price_override_file: Path | None = None,
    model_aliases: Mapping[str, str] | None = None,
    custom_providers: Sequence[Mapping[str, Any]] = (),
    vllm_services: Sequence[str] = (),
    provider_plugins: bool = True,
    estimate_tokens: bool = True,
    environment_from_request: bool = False,
    trace_context: Literal["join", "ignore"] = "join",
    trace_join_mode: JoinMode = "observation",
) -> EnrichOptions:
    """Read files, compile rules, load plugins: the once-per-process part of enrichment."""
    book = load_price_file(price_override_file) if price_override_file else EMPTY_BOOK
    if model_aliases:
        aliases = {**{k.lower(): v for k, v in model_aliases.items()}, **book.aliases}
        book = PriceBook(exact=book.exact, patterns=book.patterns, aliases=aliases)
    return EnrichOptions(
        environment=environment,
        release=release,
        trace_name=trace_name,
        payload_mode=payload_mode,
        payload_max_chars=payload_max_chars,
        masks=mask_rules(mask_patterns),
        sample_rate=sample_rate,
        sample_rates=dict(sample_rates or {}),
        prices=book,
        providers=build_registry(vllm_services, custom_providers, plugins=provider_plugins),
        estimate_tokens=estimate_tokens,
        environment_from_request=environment_from_request,
        trace_context=trace_context,
        trace_join_mode=trace_join_mode,
    )


__all__ = ["EnrichOptions", "build_options", "price_book"]
