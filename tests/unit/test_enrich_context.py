"""Context precedence, environments, sampling, token estimates and the per-record cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.enrich import Skipped, enrich
from pipeline.enrich import tokens as tokens_module
from pipeline.enrich.context import read_context, valid_environment
from pipeline.enrich.options import build_options
from pipeline.enrich.sampling import sampled
from pipeline.enrich.tokens import (
    MAX_CHARS,
    count_text,
    count_value,
    encoding_name,
    estimate_usage,
)
from pipeline.kong import parse_records
from pipeline.kong.record import KongRecord
from pipeline.trace import Trace, Usage

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kong"
OPTIONS = build_options(provider_plugins=False)


def _record(headers: dict[str, Any], body: dict[str, Any], consumer: Any = None) -> KongRecord:
    data = orjson.loads((FIXTURES / "openai-completions.json").read_bytes())
    data["request"]["headers"].update(headers)
    data["request"]["body"] = orjson.dumps({"model": "gpt-4o", "prompt": "x", **body}).decode()
    if consumer is not None:
        data["consumer"] = consumer
    return parse_records(orjson.dumps(data))[0]


CONSUMER = {"id": "c-1", "username": "kong-consumer", "custom_id": "cust-9"}


@pytest.mark.parametrize(
    ("headers", "body", "consumer", "expected"),
    [
        ({}, {}, None, {"user_id": None, "session_id": None}),  # never a random session
        ({}, {}, CONSUMER, {"user_id": "kong-consumer"}),
        ({"x-user-id": "h-user"}, {}, CONSUMER, {"user_id": "h-user"}),
        ({"user-id": "fallback"}, {}, None, {"user_id": "fallback"}),
        ({"x-user-email": "a@b.c"}, {}, None, {"user_id": "a@b.c"}),
        ({"x-auth-user": "authed"}, {}, None, {"user_id": "authed"}),
        ({"x-user-id": "h-user"}, {"user": "body-user"}, None, {"user_id": "body-user"}),
        (
            {"x-user-id": "h"},
            {"user": "u", "metadata": {"user_id": "meta-user"}},
            None,
            {"user_id": "meta-user"},
        ),
        ({"session-id": "s-fallback"}, {}, None, {"session_id": "s-fallback"}),
        (
            {"x-session-id": "s-h"},
            {"metadata": {"session_id": "s-m"}},
            None,
            {"session_id": "s-m"},
        ),
        (
            {
                "x-chat-id": "chat-h",
                "x-message-id": "msg-h",
                "openai-organization": "org-h",
                "project-id": "proj-h",
            },
            {},
            None,
            {
                "chat_id": "chat-h",
                "message_id": "msg-h",
                "organization_id": "org-h",
                "project_id": "proj-h",
            },
        ),
        (
            {"x-chat-id": "chat-h", "x-project-id": "proj-h"},
            {"metadata": {"chat_id": "chat-m", "project_id": "proj-m"}},
            None,
            {"chat_id": "chat-m", "project_id": "proj-m"},
        ),
    ],
)
def test_context_precedence(
    headers: dict[str, Any], body: dict[str, Any], consumer: Any, expected: dict[str, Any]
) -> None:
    record = _record(headers, body, consumer)
    context = read_context(record, orjson.loads(record.request.body or "{}"))
    for key, value in expected.items():
        assert getattr(context, key) == value, key
    result = enrich(record, OPTIONS)
    assert isinstance(result, Trace)
    assert result.user_id == context.user_id and result.session_id == context.session_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("production", "production"),
        ("Staging EU", "staging-eu"),
        ("langfuse-internal", None),
        ("", None),
        ("x" * 50, "x" * 40),
    ],
)
def test_environment_validation(value: str, expected: str | None) -> None:
    assert valid_environment(value) == expected


def test_environment_from_request_is_opt_in_and_validated() -> None:
    record = _record({"x-langfuse-environment": "Canary"}, {})
    off = enrich(record, OPTIONS)
    on = enrich(record, build_options(provider_plugins=False, environment_from_request=True))
    assert isinstance(off, Trace) and isinstance(on, Trace)
    assert off.environment == "production" and on.environment == "canary"
    bad = _record({"x-langfuse-environment": "langfuse"}, {})
    kept = enrich(bad, build_options(provider_plugins=False, environment_from_request=True))
    assert isinstance(kept, Trace) and kept.environment == "production"


def test_sampling_is_deterministic_and_per_environment() -> None:
    ids = [f"{i:016x}{0:016x}" for i in range(0, 2**64, 2**54)]  # spread over the id space
    assert all(sampled(i, 1.0) for i in ids) and not any(sampled(i, 0.0) for i in ids)
    kept = [i for i in ids if sampled(i, 0.25)]
    assert kept == [i for i in ids if sampled(i, 0.25)]
    assert 0.15 < len(kept) / len(ids) < 0.35
    record = parse_records((FIXTURES / "openai-completions.json").read_bytes())[0]
    staging = build_options(
        provider_plugins=False,
        environment="staging",
        sample_rate=1.0,
        sample_rates={"staging": 0.0},
    )
    assert enrich(record, staging) == Skipped(reason="sampled out")
    assert isinstance(
        enrich(record, build_options(provider_plugins=False, sample_rates={"staging": 0.0})), Trace
    )


def test_token_estimates() -> None:
    assert encoding_name("gpt-4o-2024-08-06") == "o200k_base"
    assert encoding_name("openai/o3-mini") == "o200k_base"
    assert encoding_name("gpt-4") == "cl100k_base"
    assert encoding_name("meta-llama/Llama-3.1-8B") == "cl100k_base"
    assert count_text("hello world", "cl100k_base") == 2
    assert count_text("<|endoftext|>") > 1  # special-token look-alikes are plain text
    messages = [{"role": "user", "content": "hello world"}]
    assert count_value(messages) == 2 + 3 + 3
    usage = estimate_usage("gpt-4o", messages, "hi there", Usage(output=7, source="response"))
    assert usage is not None and usage.estimated
    assert (usage.input, usage.output, usage.total) == (8, 7, 15)  # reported output kept


def test_long_texts_are_counted_by_a_prefix_and_scaled() -> None:
    text = "Kafka partitions order records; consumers in a group share them. " * 70  # ~1k tokens
    tokens = count_text(text, "o200k_base")
    assert 800 < tokens < 1200
    long = text * (MAX_CHARS // len(text) * 3)
    assert len(long) > MAX_CHARS
    assert abs(count_text(long, "o200k_base") - tokens * len(long) / len(text)) < 0.02 * (
        tokens * len(long) / len(text)
    )


def test_counts_match_bpe_openai_public_api() -> None:
    """The native tokenizer is loaded without bpe-openai's Python package (its import builds
    every vocabulary as Python dicts, ~67 MB): counts must be what its public API gives."""
    texts = [
        "hello world",
        "<|endoftext|> and <|fim_prefix|> are plain text here",
        "日本語のテキストと emoji 😀😀 and code: def f(x): return x**2",
        "lone surrogate \ud800 in JSON",
        "",
    ]
    for name in ("cl100k_base", "o200k_base"):
        public = tokens_module._Public(name)
        assert [count_text(t, name) for t in texts] == [public.count(t) for t in texts]


def test_estimates_do_not_import_the_bpe_openai_package() -> None:
    code = (
        "import sys; from pipeline.enrich.tokens import count_text; "
        "n = count_text('hello world', 'o200k_base'); "
        "print(n, 'bpe_openai.compat' in sys.modules, 'bpe_openai._bindings' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["2", "False", "True"], done.stderr
