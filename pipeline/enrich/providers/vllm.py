"""vLLM: its native ``/generate`` and its OpenAI-compatible routes.

The reference plugin calls a vLLM server's ``/v1/completions`` plain "openai_compatible". We
recognise vLLM by configuration (Kong service/route names or upstream hosts), by names that say
so, and by the fields only vLLM's responses carry (``prompt_logprobs``, ``stop_reason``,
``kv_transfer_params``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.enrich.providers.base import (
    Exchange,
    LLMCall,
    error_message,
    model_parameters,
)
from pipeline.enrich.providers.openai import operation_for_path, parse_openai

_VLLM_ONLY_FIELDS = ("prompt_logprobs", "kv_transfer_params")


def _vllm_shaped(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    if any(key in document for key in _VLLM_ONLY_FIELDS):
        return True
    choices = document.get("choices")
    return (
        isinstance(choices, list)
        and bool(choices)
        and isinstance(choices[0], dict)
        and "stop_reason" in choices[0]
    )


class VLLM:
    """vLLM, native or OpenAI-compatible. ``services`` come from the settings."""

    name = "vllm"

    def __init__(self, services: Iterable[str] = ()) -> None:
        self.services = frozenset(s.lower() for s in services)

    def _is_vllm(self, exchange: Exchange) -> bool:
        service = (exchange.service_name or "").lower()
        route = (exchange.route_name or "").lower()
        host = exchange.upstream_host
        services = self.services
        if services and (service in services or route in services or host in services):
            return True
        if "vllm" in service or "vllm" in route or "vllm" in host:
            return True
        if (exchange.kong_provider or "") == "vllm":
            return True
        response = exchange.response
        if response.is_stream:
            return any(_vllm_shaped(event) for event in response.events[:3])
        return _vllm_shaped(response.document)

    def detect(self, exchange: Exchange) -> str | None:
        if exchange.path.endswith("/generate") and not exchange.path.endswith("/api/generate"):
            return "generate"
        operation = operation_for_path(exchange.path)
        if operation in ("chat_completion", "completion", "embedding") and self._is_vllm(exchange):
            return operation
        return None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        if operation != "generate":
            call = parse_openai(operation, exchange.request, exchange.response, exchange.status)
            call.provider = self.name
            return call
        body = exchange.request.json_object() or {}
        model = body.get("model")
        call = LLMCall(
            provider=self.name,
            operation=operation,
            request_model=model if isinstance(model, str) else None,
            model_parameters=model_parameters(body),
            input=body.get("prompt"),
            stream=bool(body.get("stream")) or exchange.response.is_stream,
        )
        response = exchange.response
        # Streams carry the text so far in each chunk: the last one is the whole answer.
        document = response.events[-1] if response.is_stream and response.events else None
        document = document if isinstance(document, dict) else response.json_object()
        if document is not None:
            call.error = error_message(document, exchange.status)
            text = document.get("text")
            call.output = text[0] if isinstance(text, list) and len(text) == 1 else text
        return call
