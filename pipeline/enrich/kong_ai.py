"""Kong AI Gateway's ``ai`` block, normalised across its layouts (3.6 → 3.12+).

3.6 is flat (``ai.usage``), 3.7/3.8 and EE 3.9.0.1+ use ``ai["ai-proxy"]`` (3.7 with singular
``prompt_token``/``completion_token``), OSS 3.9 and EE 3.10+ use ``ai.proxy``. Blocks we do not
understand (semantic cache, guardrails, …) are kept as metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.enrich.providers.base import non_negative_int
from pipeline.trace import Usage

_PROXY_KEYS = ("proxy", "ai-proxy", "ai-proxy-advanced")
_UNSPECIFIED = {"", "UNSPECIFIED", None}


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
    return None if value in _UNSPECIFIED or not isinstance(value, str) else value


def _details(usage: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        value = usage.get(key)
        if isinstance(value, dict):
            return value
    return {}


def _usage(usage: dict[str, Any]) -> Usage | None:
    prompt = non_negative_int(usage.get("prompt_tokens", usage.get("prompt_token")))
    completion = non_negative_int(usage.get("completion_tokens", usage.get("completion_token")))
    if prompt is None:
        prompt = non_negative_int(usage.get("input_tokens"))
    if completion is None:
        completion = non_negative_int(usage.get("output_tokens"))
    total = non_negative_int(usage.get("total_tokens"))
    if prompt is None and completion is None and total is None:
        return None
    if total is None:
        total = (prompt or 0) + (completion or 0)
    prompt_details = _details(usage, "prompt_tokens_details", "input_tokens_details")
    completion_details = _details(usage, "completion_tokens_details", "output_tokens_details")
    return Usage(
        input=prompt,
        output=completion,
        total=total,
        input_cached=non_negative_int(prompt_details.get("cached_tokens")),
        output_reasoning=non_negative_int(completion_details.get("reasoning_tokens")),
        source="kong-ai",
    )


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
    known_meta = {
        "provider_name",
        "request_model",
        "response_model",
        "llm_latency",
        "request_mode",
        "operation_name",
        "time_to_first_token",
    }
    unknown_meta = {k: v for k, v in meta.items() if k not in known_meta and v not in ({}, [])}
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
