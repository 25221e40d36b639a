"""The provider registry: the first provider whose ``detect`` answers wins.

A new provider is one module with a class following :class:`Provider` plus one entry here.
"""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.enrich.providers.anthropic import AnthropicMessages
from pipeline.enrich.providers.base import LLMCall, Provider
from pipeline.enrich.providers.openai import OpenAICompatible
from pipeline.enrich.providers.vllm import VLLMGenerate
from pipeline.kong.bodies import Body
from pipeline.kong.record import KongRecord

REGISTRY: tuple[Provider, ...] = (AnthropicMessages(), VLLMGenerate(), OpenAICompatible())

NON_AI_PATHS = ("/v1/models", "/models", "/health", "/healthz", "/metrics", "/status", "/ready")


def detect(
    record: KongRecord, path: str, request: Body, registry: Sequence[Provider] = REGISTRY
) -> tuple[Provider, str] | None:
    """Which provider and operation a record is, or None for non-AI traffic."""
    if path.rstrip("/").endswith(NON_AI_PATHS):
        return None
    for provider in registry:
        operation = provider.detect(record, path, request)
        if operation is not None:
            return provider, operation
    return None


__all__ = ["REGISTRY", "LLMCall", "Provider", "detect"]
