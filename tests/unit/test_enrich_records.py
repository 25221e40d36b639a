"""Table-driven: one realistic Kong record per record shape, provider and token source.

Each row names a fixture in tests/fixtures/kong/ and what its trace must say. The rows cover
items 1 (record shapes and ``ai`` layouts), 2 (providers) and 4 (token math) of issue 3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pipeline.enrich import Skipped, enrich
from pipeline.enrich.options import EnrichOptions, build_options
from pipeline.kong import parse_records
from pipeline.trace import Trace
from tests.litefuse import rows_for

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kong"

OPTIONS = build_options(
    vllm_services=["llama-internal"],
    provider_plugins=False,
    custom_providers=[
        {
            "name": "acme",
            "family": "openai",
            "match": {"path_prefix": "/acme/", "service": "acme-llm"},
        }
    ],
    model_aliases={"prod-gpt4o": "gpt-4o"},
)


@dataclass(frozen=True)
class Row:
    fixture: str
    provider: str | None = None
    operation: str | None = None
    model: str | None = None
    usage: dict[str, int] | None = None
    """The provider's counts (``input``/``output``/``total``, cached and reasoning tokens
    included) and the cache/reasoning buckets, under the keys Litefuse stores them."""
    estimated: bool = False
    usage_source: str | None = None
    cost: str | None = None  # cost source, "none" for no cost, "zero" for a known $0
    level: str = "DEFAULT"
    status: str | None = None  # substring of the status message
    output: str | None = None  # substring of the output text
    user: str | None = None
    session: str | None = None
    finish: str | None = None
    ttft_ms: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    index: int = 0


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("content"))
    return str(value)


# --- item 1: every record shape and every ai layout -----------------------------------------
SHAPES = [
    Row(
        "shape-3.4-no-request-id",
        provider="openai",
        usage={"input": 24, "output": 11, "total": 35},
        user="legacy-user",
        metadata={"upstream_status": "200", "status_code": 200},
    ),
    Row(
        "shape-3.5-retries-escaped-slashes",
        provider="openai",
        user="multi-user",  # repeated header: first non-empty value
        metadata={"upstream_status": "502, 200", "kong_service": "openai"},
    ),
    Row(
        "shape-encoder-quirks",
        provider="openai",
        usage={"input": 24, "output": 11, "total": 35},
        metadata={"status_code": 200, "total_duration_ms": 816.0, "kong_latency_ms": 3.0},
    ),
    Row("shape-json-array", provider="openai", user="batch-1", index=0),
    Row("shape-json-array", skipped=True, index=1),
    Row(
        "ai-3.6-flat",
        provider="openai",
        operation="chat_completion",
        model="gpt-4o-2024-08-06",
        usage={"input": 40, "output": 12, "total": 52},
        usage_source="kong-ai",
        output="Hi on-call!",
        metadata={"kong_ai_plugin": "usage"},
    ),
    Row(
        "ai-3.7-ai-proxy-singular",
        provider="azure",
        usage={"input": 51, "output": 17, "total": 68},
        usage_source="kong-ai",
        cost="genai-prices",
        metadata={"kong_ai_plugin": "ai-proxy"},
    ),
    Row(
        "ai-3.8-plural-cost",
        provider="mistral",
        usage={"input": 120, "output": 30, "total": 150},
        cost="kong",
        metadata={"llm_latency_ms": 790.0, "kong_time_per_token_ms": 26.0},
    ),
    Row(
        "ai-3.9-proxy-zero-cost",
        provider="openai",
        model="gpt-4o-mini-2024-07-18",
        cost="genai-prices",  # Kong's 0 means "no price configured", not free
    ),
    Row(
        "ai-3.10-proxy-native-anthropic",
        provider="anthropic",
        operation="messages",
        output="Delay.",
        usage={"input": 14, "output": 3, "total": 17},
        finish="end_turn",
    ),
    Row(
        "ai-3.11-token-details",
        provider="openai",
        model="o3-mini-2025-01-31",
        usage={
            "input": 2048,
            "output": 700,
            "total": 2748,
            "input_cached_tokens": 1024,
            "output_reasoning_tokens": 512,
        },
        cost="genai-prices",
    ),
    Row(
        "ai-3.12-ttft-stream",
        provider="openai",
        usage={"input": 12, "output": 6, "total": 18},
        estimated=True,  # the stream we hold has no usage: Kong estimated it
        usage_source="kong-ai",
        ttft_ms=300.0,
        output="Rebalance moves partitions between consumers.",
        metadata={"request_mode": "stream", "time_per_token_ms": 240.0},
    ),
    Row("ai-unknown-blocks", provider="openai", usage_source="kong-ai"),
    Row(
        "ai-and-bodies-prefer-kong-usage",
        usage={"input": 24, "output": 11, "total": 35},
        usage_source="kong-ai",
        output="At most once",
        cost="kong",
    ),
]

# --- item 2: providers --------------------------------------------------------------------
PROVIDERS = [
    Row(
        "openai-chat-tools",
        provider="openai",
        operation="chat_completion",
        model="gpt-4.1-2025-04-14",
        finish="tool_calls",
        user="u-body",  # body beats the x-user-id header
        session="s-body",
        metadata={
            "request_metadata": {"features": {"web_search": False}, "variables": {"city": "Oslo"}}
        },
    ),
    Row("openai-completions", provider="openai", operation="completion", output="a log."),
    Row(
        "openai-responses",
        provider="openai",
        operation="responses",
        model="gpt-4o-2024-08-06",
        output="Same effect however often applied.",
        usage={
            "input": 20,
            "output": 8,
            "total": 28,
        },
        finish="completed",
    ),
    Row(
        "vllm-openai-completions-by-service",
        provider="vllm",
        operation="completion",
        model="meta-llama/Llama-3.1-8B-Instruct",
        cost="none",
    ),
    Row("vllm-chat-by-body-shape", provider="vllm", operation="chat_completion", output="4"),
    Row(
        "anthropic-messages",
        provider="anthropic",
        operation="messages",
        user="reviewer-7",
        usage={
            "input": 1220,
            "output": 12,
            "total": 1232,
            "input_cache_read": 1200,  # Anthropic's key: what Litefuse prices for Claude
        },
        cost="genai-prices",
    ),
    Row(
        "ollama-chat-ndjson",
        provider="ollama",
        operation="chat_completion",
        output="Offsets mark progress.",
        usage={"input": 18, "output": 4, "total": 22},
        ttft_ms=200.0,
        cost="none",
    ),
    Row("ollama-generate-json", provider="ollama", operation="generate", finish="stop"),
    Row("ollama-embed", provider="ollama", operation="embedding", usage={"input": 2, "total": 2}),
    Row(
        "gemini-generate",
        provider="google",
        operation="chat_completion",
        model="gemini-2.0-flash",
        output="In-sync replicas",
        finish="STOP",
        cost="genai-prices",
    ),
    Row("gemini-embed", provider="google", operation="embedding", estimated=True),
    Row(
        "cohere-v2-chat",
        provider="cohere",
        output="Apache Flink.",
        usage={"input": 7, "output": 4, "total": 11},  # billed units
        finish="COMPLETE",
    ),
    Row("cohere-embed", provider="cohere", operation="embedding", usage={"input": 2, "total": 2}),
    Row(
        "azure-deployment-chat",
        provider="azure",
        model="gpt-4o-2024-11-20",
        metadata={"azure_deployment": "prod-gpt4o", "azure_api_version": "2024-10-21"},
        cost="genai-prices",
    ),
    Row(
        "azure-deployment-no-response-body",
        provider="azure",
        model="gpt-4o",  # the deployment name, through the alias
        estimated=True,
        cost="genai-prices",
    ),
    Row("custom-provider-by-config", provider="acme", model="acme-13b-v2", cost="none"),
    Row("mistral-by-host", provider="mistral", cost="genai-prices"),
    Row("non-ai-models-list", skipped=True),
    Row("non-ai-ollama-tags", skipped=True),
    Row("non-ai-cors-preflight", skipped=True),
    Row("non-ai-count-tokens", skipped=True),
    Row("non-ai-other-api", skipped=True),
    Row(
        "kong-short-circuit-rate-limit",
        provider="openai",
        level="ERROR",
        status="Kong answered 429: API rate limit exceeded",
        # Kong answered: the provider never saw the call, so zero tokens and a known $0
        usage={"input": 0, "output": 0, "total": 0},
        usage_source="failed call",
        cost="zero",
    ),
    Row(
        "kong-ai-proxy-bad-request",
        provider="openai",
        level="ERROR",
        status="request format not recognised",
    ),
    Row("anthropic-overloaded", provider="anthropic", level="ERROR", status="Overloaded"),
]

# --- item 4: token math -------------------------------------------------------------------
TOKENS = [
    Row(
        "openai-stream-without-usage",
        provider="openai",
        model="gpt-4o-2024-08-06",
        estimated=True,
        usage_source="estimate:o200k_base",
        output="Rebalance moves partitions between consumers.",
        cost="genai-prices",
    ),
    Row(
        "openai-responses-stream",
        operation="responses",
        usage={
            "input": 30,
            "output": 200,
            "total": 230,
            "input_cached_tokens": 10,
            "output_reasoning_tokens": 192,
        },
        usage_source="stream",
        output="Use keys.",
    ),
    Row(
        "anthropic-stream-cache-write",
        usage={
            "input": 2050,
            "output": 42,
            "total": 2092,
            "input_cache_creation": 2000,
        },
        usage_source="stream",
        finish="max_tokens",
    ),
    Row(
        "gemini-stream-sse",
        usage={
            "input": 10,
            "output": 48,
            "total": 58,
            "input_cached_tokens": 4,
            "output_reasoning": 40,  # Gemini's key
        },
        usage_source="stream",
        output="Thinking done: use idempotent producers.",
    ),
    Row(
        "cohere-v1-chat-stream",
        provider="cohere",
        usage={"input": 6, "output": 3, "total": 9},
        usage_source="stream",
        output="Kafka Streams.",
    ),
    Row(
        "vllm-stream-without-usage",
        provider="vllm",
        estimated=True,
        usage_source="estimate:cl100k_base",
        output="Oslo is cold.",
    ),
    Row(
        "vllm-generate-stream",
        provider="vllm",
        operation="generate",
        estimated=True,
        output="Kong is a gateway.",
    ),
]

ROWS = SHAPES + PROVIDERS + TOKENS


def _enrich(row: Row, options: EnrichOptions = OPTIONS) -> Trace | Skipped:
    data = (FIXTURES / f"{row.fixture}.json").read_bytes()
    records = parse_records(data)
    return enrich(records[row.index], options, content=data)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.fixture}[{r.index}]")
def test_record(row: Row) -> None:
    result = _enrich(row)
    if row.skipped:
        assert result == Skipped(reason="not an AI request")
        return
    assert isinstance(result, Trace)
    generation, metadata = result.generation, result.metadata
    if row.provider:
        assert metadata["provider"] == row.provider
        assert row.provider in result.tags
    if row.operation:
        assert generation.name == metadata["operation"] == row.operation
    if row.model:
        assert generation.model == metadata["model"] == row.model
    usage = generation.usage
    shown = rows_for([result]).generation(result.id)  # the row Litefuse stores
    if row.usage is not None:
        counts = {key: row.usage[key] for key in ("input", "output", "total") if key in row.usage}
        assert {
            "input": shown.input_tokens,
            "output": shown.output_tokens,
            "total": shown.total_tokens,
        } == {
            "input": counts.get("input"),
            "output": counts.get("output"),
            "total": counts["total"],
        }
        buckets = {k: v for k, v in row.usage.items() if k not in counts}
        assert {k: v for k, v in shown.usage_details.items() if k not in counts} == buckets
    if row.estimated:
        assert usage is not None and usage.estimated and (usage.input or 0) > 0
        assert shown.metadata["usage_estimated"] is True  # on the generation it qualifies
    elif usage is not None:
        assert usage.estimated is False and shown.metadata["usage_estimated"] is False
    if row.usage_source:
        assert usage is not None and usage.source == row.usage_source
    if row.cost == "none":
        assert generation.cost is None
    elif row.cost == "zero":  # a failed call: nothing was billed
        assert generation.cost is not None and generation.cost.total == 0
    elif row.cost:
        assert generation.cost is not None and generation.cost.source == row.cost
        assert generation.cost.total > 0
    assert generation.level == row.level
    if row.status:
        assert generation.status_message and row.status in generation.status_message
    else:
        assert generation.status_message is None
    if row.output:
        assert row.output in _text(generation.output)
        assert result.output == generation.output
    if row.user:
        assert result.user_id == row.user
    if row.session:
        assert result.session_id == row.session
    if row.finish:
        assert generation.finish_reason == metadata["finish_reason"] == row.finish
    if row.ttft_ms is not None:
        assert generation.completion_start_time is not None
        delta = generation.completion_start_time - generation.start_time
        assert delta.total_seconds() * 1000 == pytest.approx(row.ttft_ms)
        assert metadata["time_to_first_token_ms"] == row.ttft_ms
    for key, value in row.metadata.items():
        assert metadata[key] == value, key
    # every trace: deterministic ids, trace-level metadata the issue names, valid environment
    assert len(result.id) == 32 and len(generation.id) == 16
    assert metadata["environment"] == result.environment == "production"
    assert {"provider", "status_code", "environment", "total_duration_ms"} <= metadata.keys()
    assert ("request_id" in metadata) == (row.fixture != "shape-3.4-no-request-id")
    assert generation.start_time >= result.timestamp and generation.end_time <= result.end_time


def test_the_table_covers_every_fixture() -> None:
    assert {p.stem for p in FIXTURES.glob("*.json")} == {row.fixture for row in ROWS}


def test_kong_3_4_record_gets_ids_from_its_content() -> None:
    row = Row("shape-3.4-no-request-id")
    first, second = _enrich(row), _enrich(row)
    assert isinstance(first, Trace) and isinstance(second, Trace)
    assert first.id == second.id and "request_id" not in first.metadata
    data = (FIXTURES / "shape-3.4-no-request-id.json").read_bytes()
    other = enrich(
        parse_records(data.replace(b"legacy-user", b"other-user"))[0], OPTIONS, content=data + b" "
    )
    assert isinstance(other, Trace) and other.id != first.id


def test_kong_request_id_is_the_trace_id() -> None:
    result = _enrich(Row("openai-completions"))
    assert isinstance(result, Trace)
    assert result.id == result.metadata["request_id"]


def test_timings_per_output_token_and_throughput() -> None:
    result = _enrich(Row("ollama-generate-json"))
    assert isinstance(result, Trace)
    # 800 ms upstream, 6 output tokens
    assert result.metadata["llm_latency_ms"] == 800.0
    assert result.metadata["time_per_token_ms"] == pytest.approx(800 / 6, abs=1e-3)
    assert result.metadata["throughput_tokens_per_second"] == pytest.approx(7.5)
    assert result.metadata["provider_decode_ms"] == 400.0


def test_model_parameters_are_flat_scalars() -> None:
    gemini = _enrich(Row("gemini-generate"))
    ollama = _enrich(Row("ollama-chat-ndjson"))
    responses = _enrich(Row("openai-responses-stream"))
    assert isinstance(gemini, Trace) and isinstance(ollama, Trace) and isinstance(responses, Trace)
    assert gemini.generation.model_parameters == {
        "temperature": 0.4,
        "max_tokens": 100,
        "top_k": 40,
    }
    assert ollama.generation.model_parameters == {
        "temperature": 0.8,
        "max_tokens": 64,
        "stream": True,
    }
    assert responses.generation.model_parameters["reasoning_effort"] == "low"


def test_unknown_ai_blocks_are_kept_as_metadata() -> None:
    result = _enrich(Row("ai-unknown-blocks"))
    assert isinstance(result, Trace)
    assert set(result.metadata["kong_ai"]) == {"ai-semantic-cache", "ai-prompt-guard", "audit"}
    tried = _enrich(Row("ai-3.11-token-details"))
    assert isinstance(tried, Trace)
    assert tried.metadata["kong_ai_meta"]["tried_targets"][0]["model"] == "o3-mini"


def test_estimation_can_be_switched_off() -> None:
    options = build_options(provider_plugins=False, estimate_tokens=False)
    result = _enrich(Row("openai-stream-without-usage"), options)
    assert isinstance(result, Trace) and result.generation.usage is None
    assert result.generation.cost is None


def _with_response(fixture: str, status: int, body: str, **changes: Any) -> Trace:
    record = json.loads((FIXTURES / f"{fixture}.json").read_bytes())
    record["response"].update(status=status, body=body)
    record["response"]["headers"]["content-type"] = "text/html"
    record["upstream_status"] = str(status)
    record.update(changes)
    result = enrich(parse_records(json.dumps(record).encode())[0], OPTIONS)
    assert isinstance(result, Trace)
    return result


def test_a_non_json_error_page_says_what_happened() -> None:
    page = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>x</body></html>"
    generation = _with_response("openai-completions", 502, page).generation
    assert generation.level == "ERROR"
    assert generation.status_message == "HTTP 502: 502 Bad Gateway"
    text = "upstream connect error or disconnect/reset before headers. " * 10
    message = _with_response("openai-completions", 503, text).generation.status_message
    assert message is not None and message.startswith("HTTP 503: upstream connect error")
    assert len(message) == len("HTTP 503: ") + 200 and message.endswith("…")
    kong = _with_response(
        "openai-completions",
        503,
        "<p>The upstream server is <b>unavailable</b></p>",
        source="kong",
        upstream_status="",
    )
    message = kong.generation.status_message
    assert message == "Kong answered 503: The upstream server is unavailable"
    json_error = _with_response("anthropic-overloaded", 529, "")  # no body: the status alone
    assert json_error.generation.status_message == "HTTP 529"


def test_a_request_without_the_expected_prompt_keeps_its_body_as_input() -> None:
    record = json.loads((FIXTURES / "openai-completions.json").read_bytes())
    sent = {"model": "gpt-3.5-turbo-instruct", "promt": "Say hi", "api_key": "sk-abcdef0123456789"}
    record["request"]["body"] = json.dumps(sent)
    record["response"].update(status=400, body='{"error": {"message": "prompt is required"}}')
    record["upstream_status"] = "400"
    result = enrich(parse_records(json.dumps(record).encode())[0], OPTIONS)
    assert isinstance(result, Trace)
    expected = {**sent, "api_key": "REDACTED"}  # the body, scrubbed like any input
    assert result.input == result.generation.input == expected
    assert result.generation.status_message == "prompt is required"
    shown = rows_for([result], "legacy").trace(result.id)
    assert shown.input_json == expected
