"""Kong AI Gateway's ``ai`` block, normalised across its layouts (3.6 → 3.12+).

3.6 is flat (``ai.usage``), 3.7/3.8 and EE 3.9.0.1+ use ``ai["ai-proxy"]`` (3.7 with singular
``prompt_token``/``completion_token``), OSS 3.9 and EE 3.10+ use ``ai.proxy``. Blocks we do not
understand (semantic cache, guardrails, …) are kept as metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.enrich.providers.openai import usage_from_openai
from pipeline.trace import Usage

_PROXY_KEYS = ("proxy", "ai-proxy", "ai-proxy-advanced")
_UNSPECIFIED = {"", "UNSPECIFIED", None}
_KNOWN_META = frozenset(
    {
        "provider_name",
        "request_model",
        "response_model",
        "llm_latency",
        "request_mode",
        "operation_name",
        "time_to_first_token",
    }
)


@dataclass(slots=True)
class KongAI:
    provider: str | None = None
    request_model: str | None = None
    response_model: str | None = None
    usage: Usage | None = None
    cost: float | None = None
    llm_latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
    request_mode: str | None = None
    operation: str | None = None
    request_payload: str | None = None
    response_payload: str | None = None
    time_per_token_ms: float | None = None
    plugin: str | None = None
    """Which key held the statistics: ``usage`` (3.6 flat), ``ai-proxy`` or ``proxy``."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Meta fields we do not interpret (plugin id, Azure ids, tried targets, cache…)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other ``ai.*`` producers (guardrails, semantic cache, transformers…), kept as metadata."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _name(value: Any) -> str | None:
    """A name Kong wrote, or None. Only a string is a name: any other JSON value (an object, a
    list) is not one, and must not reach the set lookup (unhashable: a crash per record)."""
    if not isinstance(value, str) or value in _UNSPECIFIED:
        return None
    return value


def _usage(usage: dict[str, Any]) -> Usage | None:
    """OpenAI's usage shape, but for Kong 3.7's singular ``prompt_token``/``completion_token``."""
    normalised = dict(usage)
    for plural, singular in (
        ("prompt_tokens", "prompt_token"),
        ("completion_tokens", "completion_token"),
    ):
        if normalised.get(plural) is None:
            normalised.pop(plural, None)  # so input_tokens/output_tokens (3.11) still count
            if singular in usage:
                normalised[plural] = usage[singular]
    return usage_from_openai(normalised, "kong-ai")


def read_kong_ai(ai: dict[str, Any] | None) -> KongAI | None:
    """Normalise the ``ai`` block; None when it holds no proxy statistics."""
    if not ai:
        return None
    block: dict[str, Any] | None = None
    extra: dict[str, Any] = {}
    plugin: str | None = None
    if isinstance(ai.get("usage"), dict) or isinstance(ai.get("meta"), dict):
        block, plugin = ai, "usage"  # 3.6: flat
        extra = {k: v for k, v in ai.items() if k not in ("usage", "meta", "payload")}
    else:
        for key in _PROXY_KEYS:
            if isinstance(ai.get(key), dict):
                block, plugin = ai[key], key
                break
        extra = {k: v for k, v in ai.items() if k != plugin}
    if block is None:
        return KongAI(extra=extra) if extra else None
    meta = _object(block.get("meta"))
    usage = _object(block.get("usage"))
    payload = _object(block.get("payload"))
    cost = _number(usage.get("cost"))
    unknown_meta = {k: v for k, v in meta.items() if k not in _KNOWN_META and v not in ({}, [])}
    for key, value in block.items():  # e.g. 3.8's cache: {} next to meta/usage/payload
        if key not in ("meta", "usage", "payload") and value not in ({}, [], None):
            unknown_meta[key] = value
    return KongAI(
        time_per_token_ms=_number(usage.get("time_per_token")),
        plugin=plugin,
        meta=unknown_meta,
        provider=_name(meta.get("provider_name")),
        request_model=_name(meta.get("request_model")),
        response_model=_name(meta.get("response_model")),
        usage=_usage(usage),
        cost=cost if cost is not None and cost > 0 else None,
        llm_latency_ms=_number(meta.get("llm_latency")),
        time_to_first_token_ms=_number(
            usage.get("time_to_first_token", meta.get("time_to_first_token"))
        ),
        request_mode=_name(meta.get("request_mode")),
        operation=_name(meta.get("operation_name")),
        request_payload=payload.get("request") if isinstance(payload.get("request"), str) else None,
        response_payload=payload.get("response")
        if isinstance(payload.get("response"), str)
        else None,
        extra=extra,
    )
