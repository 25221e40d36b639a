"""The provider registry: the first provider whose ``detect`` answers wins.

Order: custom rules from the config file, then entry-point plugins, then the built-ins from the
most specific (Azure deployment paths, Gemini's ``:generateContent``) to the catch-all
OpenAI-compatible family. A new built-in provider is one module plus one entry here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipeline.enrich.providers.anthropic import AnthropicMessages
from pipeline.enrich.providers.azure import AzureOpenAI
from pipeline.enrich.providers.base import Exchange, LLMCall, Provider
from pipeline.enrich.providers.bedrock import BedrockRuntime
from pipeline.enrich.providers.cohere import CohereAPI
from pipeline.enrich.providers.custom import (
    ENTRY_POINT_GROUP,
    ProviderConfigError,
    ProviderRule,
    build_rule,
    load_plugins,
)
from pipeline.enrich.providers.gemini import GeminiGenerateContent
from pipeline.enrich.providers.huggingface import HuggingFaceTextGeneration
from pipeline.enrich.providers.ollama import OllamaAPI
from pipeline.enrich.providers.openai import OpenAICompatible
from pipeline.enrich.providers.vllm import VLLM

# Parser families custom rules can name → (parser, operation when nothing else tells).
FAMILIES: dict[str, tuple[Provider, str]] = {
    "openai": (OpenAICompatible(), "chat_completion"),
    "azure": (AzureOpenAI(), "chat_completion"),
    "anthropic": (AnthropicMessages(), "messages"),
    "bedrock": (BedrockRuntime(), "chat_completion"),
    "gemini": (GeminiGenerateContent(), "chat_completion"),
    "cohere": (CohereAPI(), "chat_completion"),
    "ollama": (OllamaAPI(), "chat_completion"),
    "vllm": (VLLM(), "generate"),
    "huggingface": (HuggingFaceTextGeneration(), "completion"),
}

# Paths that are never LLM calls, even under an AI route.
NON_AI_SUFFIXES = (
    "/models",
    "/health",
    "/healthz",
    "/livez",
    "/readyz",
    "/ready",
    "/metrics",
    "/status",
    "/ping",
    "/version",
    "/favicon.ico",
    "/api/tags",
    "/api/ps",
    "/api/show",
    "/api/pull",
    "/api/version",
    "/count_tokens",
    ":countTokens",
    "/tokenize",
    "/detokenize",
)
CALL_METHODS = frozenset({"POST", "PUT"})


def builtin_providers(vllm_services: Iterable[str] = ()) -> tuple[Provider, ...]:
    return (
        AzureOpenAI(),
        GeminiGenerateContent(),
        BedrockRuntime(),
        AnthropicMessages(),
        CohereAPI(),
        OllamaAPI(),
        VLLM(vllm_services),
        HuggingFaceTextGeneration(),
        OpenAICompatible(),
    )


def build_registry(
    vllm_services: Iterable[str] = (),
    rules: Sequence[Mapping[str, Any]] = (),
    plugins: bool = True,
) -> tuple[Provider, ...]:
    """Config rules, then plugins, then built-ins. Raises ProviderConfigError on bad config."""
    custom: list[Provider] = [build_rule(rule, FAMILIES) for rule in rules]
    if plugins:
        custom.extend(load_plugins())
    return (*custom, *builtin_providers(vllm_services))


REGISTRY: tuple[Provider, ...] = builtin_providers()


def is_non_ai_path(path: str) -> bool:
    return (path.rstrip("/") or "/").endswith(NON_AI_SUFFIXES)


def is_non_ai(exchange: Exchange) -> bool:
    return is_non_ai_path(exchange.path) or exchange.method not in CALL_METHODS


def detect(
    exchange: Exchange, registry: Sequence[Provider] = REGISTRY
) -> tuple[Provider, str] | None:
    """Which provider and operation a record is, or None for non-AI traffic."""
    if is_non_ai(exchange):
        return None
    for provider in registry:
        operation = provider.detect(exchange)
        if operation is not None:
            return provider, operation
    return None


_KONG_OPERATIONS = {
    "chat": "chat_completion",
    "completions": "completion",
    "completion": "completion",
    "embeddings": "embedding",
    "embedding": "embedding",
    "responses": "responses",
    "messages": "messages",
}


def sniff(exchange: Exchange, kong_operation: str | None) -> tuple[Provider, str]:
    """Parser for a call only Kong's ``ai`` block vouches for (ai-proxy on its own route).

    Kong answers clients in OpenAI format by default, but 3.9+ payloads are the provider's
    native bodies, so the response's shape decides.
    """
    response = exchange.response
    sample: Any = response.events[0] if response.is_stream and response.events else None
    sample = sample if sample is not None else response.document
    if isinstance(sample, list) and sample:
        sample = sample[0]
    shape = sample if isinstance(sample, dict) else {}
    kind = shape.get("type")
    if response.kind == "eventstream" or ("stopReason" in shape and "output" in shape):
        return FAMILIES["bedrock"][0], "chat_completion"  # Converse, JSON or event stream
    if "candidates" in shape or "usageMetadata" in shape:
        return FAMILIES["gemini"][0], "chat_completion"
    if kind in ("message", "message_start"):
        return FAMILIES["anthropic"][0], "messages"
    if shape.get("object") == "response" or (
        isinstance(kind, str) and kind.startswith("response.")
    ):
        return FAMILIES["openai"][0], "responses"
    if "done" in shape and ("message" in shape or "response" in shape):
        return FAMILIES["ollama"][0], "chat_completion" if "message" in shape else "generate"
    operation = (kong_operation or "").rsplit("/", 1)[-1]
    if operation in _KONG_OPERATIONS:
        return FAMILIES["openai"][0], _KONG_OPERATIONS[operation]
    body = exchange.request.json_object() or {}
    if "messages" in body:
        return FAMILIES["openai"][0], "chat_completion"
    if "prompt" in body:
        return FAMILIES["openai"][0], "completion"
    if "input" in body and shape.get("object") == "list":
        return FAMILIES["openai"][0], "embedding"
    return FAMILIES["openai"][0], "chat_completion"


__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "REGISTRY",
    "Exchange",
    "LLMCall",
    "Provider",
    "ProviderConfigError",
    "ProviderRule",
    "build_registry",
    "builtin_providers",
    "detect",
    "is_non_ai",
    "is_non_ai_path",
    "sniff",
]
