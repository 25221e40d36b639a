"""Cost: genai-prices with name normalisation, Kong's configured cost, the override file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich.cost import (
    PriceFileError,
    compute_cost,
    load_price_file,
    price_book,
    resolve,
)
from pipeline.trace import Usage

USAGE = Usage(input=1000, output=100, total=1100, input_cached=200)


@pytest.mark.parametrize(
    ("model", "provider", "total"),
    [
        ("gpt-4o-mini", "openai", 0.000195),  # 800 x 0.15 + 200 x 0.075 + 100 x 0.6 per 1M
        ("gpt-4o-mini-2024-07-18", "openai", 0.000195),  # dated snapshot
        ("openai/gpt-4o-mini", None, 0.000195),  # provider prefix
        ("models/gemini-1.5-flash", "google", 0.00009375),  # Gemini resource name
        ("claude-3-5-sonnet-20241022", "anthropic", 0.00246 + 0.0015),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "bedrock", 0.00396),
        ("gpt-35-turbo", "azure", 0.00065),  # Azure's model spelling
    ],
)
def test_genai_prices_with_normalised_names(model: str, provider: str, total: float) -> None:
    cost = compute_cost(model, provider, USAGE)
    assert cost is not None and cost.source == "genai-prices"
    assert cost.total == pytest.approx(total, rel=1e-6)
    buckets = cost.details(model)
    assert cost.total == pytest.approx(sum(v for k, v in buckets.items() if k != "total"))


@pytest.mark.parametrize(
    ("model", "usage"),
    [
        ("llama3.1:8b", USAGE),  # self-hosted: unknown
        ("acme-13b", USAGE),
        (None, USAGE),
        ("gpt-4o", None),
        ("gpt-4o", Usage()),
    ],
)
def test_unknown_gives_no_cost_never_zero(model: str | None, usage: Usage | None) -> None:
    assert compute_cost(model, "openai", usage) is None


def test_cached_tokens_are_priced_apart() -> None:
    cost = compute_cost("gpt-4o-mini", "openai", USAGE)
    assert cost is not None
    assert cost.input_cached == pytest.approx(200 * 0.075 / 1e6)
    assert cost.input == pytest.approx(800 * 0.15 / 1e6)


def test_each_usage_bucket_is_priced_once_under_its_own_key() -> None:
    """Cache writes and reasoning get cost buckets of their own, keyed like the usage buckets,
    so the UI's input and output cost (sums of input*/output* keys) count each token once."""
    usage = Usage(
        input=2048,
        output=700,
        total=2748,
        input_cached=1024,
        input_cache_write=24,
        output_reasoning=512,
    )
    book = price_book(
        {"models": {"m": {"input": 2, "output": 8, "cached_input": 1, "cache_write": 3}}}
    )
    cost = compute_cost("m", "openai", usage, prices=book)
    assert cost is not None
    assert cost.details("m") == pytest.approx(
        {
            "input": 1000 * 2 / 1e6,
            "input_cached_tokens": 1024 * 1 / 1e6,
            "input_cache_creation": 24 * 3 / 1e6,
            "output": 188 * 8 / 1e6,
            "output_reasoning_tokens": 512 * 8 / 1e6,
            "total": (2000 + 1024 + 72 + 1504 + 4096) / 1e6,
        }
    )
    assert usage.details("m") == {
        "input": 1000,
        "input_cached_tokens": 1024,
        "input_cache_creation": 24,
        "output": 188,
        "output_reasoning_tokens": 512,
        "total": 2748,
    }


def test_kong_configured_cost_wins_over_the_database_and_zero_is_no_price() -> None:
    assert compute_cost("gpt-4o-mini", "openai", USAGE, kong_cost=0.5) is not None
    kong = compute_cost("gpt-4o-mini", "openai", USAGE, kong_cost=0.5)
    assert kong is not None and (kong.total, kong.source) == (0.5, "kong")
    database = compute_cost("gpt-4o-mini", "openai", USAGE, kong_cost=0.0)
    assert database is not None and database.source == "genai-prices"


def test_override_file_wins_and_aliases_map_deployments(tmp_path: Path) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        "models:\n"
        "  acme-13b: {input: 1.0, output: 2.0, cached_input: 0.5}\n"
        "  'llama3*': {input: 0.1, output: 0.2}\n"
        "  gpt-4o-mini: {input: 10, output: 10}\n"
        "aliases:\n"
        "  prod-gpt4o: gpt-4o\n"
    )
    book = load_price_file(path)
    acme = compute_cost("acme-13b", None, USAGE, prices=book)
    assert acme is not None and acme.source == "override"
    assert acme.total == pytest.approx((800 * 1.0 + 200 * 0.5 + 100 * 2.0) / 1e6)
    llama = compute_cost("llama3.1:8b", "ollama", USAGE, prices=book)
    assert llama is not None and llama.total == pytest.approx((1000 * 0.1 + 100 * 0.2) / 1e6)
    # the user's price beats Kong's and the database's
    mini = compute_cost("gpt-4o-mini", "openai", USAGE, kong_cost=0.5, prices=book)
    assert mini is not None and mini.source == "override"
    deployment = compute_cost("prod-gpt4o", "azure", USAGE, prices=book)
    assert deployment is not None and deployment.source == "genai-prices"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models: {x: {input: 1}}", "needs input and output"),
        ("models: {x: {input: -1, output: 1}}", "must not be negative"),
        ("models: {x: {input: cheap, output: 1}}", "must be numbers"),
        ("- a list", "must hold a mapping"),
    ],
)
def test_bad_price_files_are_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(text)
    with pytest.raises(PriceFileError, match=message):
        load_price_file(path)


def test_price_file_formats(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text("[models.acme]\ninput = 1\noutput = 2\n")
    (tmp_path / "p.json").write_text('{"models": {"acme": {"input": 1, "output": 2}}}')
    for name in ("p.toml", "p.json"):
        assert load_price_file(tmp_path / name).find("ACME") is not None
    assert price_book({"models": {}}).find("acme") is None


def test_model_resolution_is_cached() -> None:
    """The genai-prices lookup is the slow part: it runs once per model, not per record
    (speed itself is measured by ``kong-litefuse bench enrich``, not by a timed test)."""
    first = compute_cost("gpt-4o-mini", "openai", USAGE)
    hits = resolve.cache_info().hits
    for _ in range(5):
        assert compute_cost("gpt-4o-mini", "openai", USAGE) == first
    assert resolve.cache_info().hits >= hits + 5
