"""Anthropic Messages API (``/v1/messages``), JSON and SSE."""

from __future__ import annotations

from typing import Any

from pipeline.enrich.providers.base import (
    Exchange,
    LLMCall,
    error_message,
    model_parameters,
    non_negative_int,
    usage_built,
)
from pipeline.trace import Usage

_GIVEN = frozenset(Usage.model_fields) - {"estimated", "output_reasoning"}


def usage_from_anthropic(usage: Any, source: str) -> Usage | None:
    """Anthropic reports uncached input apart from cache reads and writes; input is their sum."""
    if not isinstance(usage, dict):
        return None
    uncached = non_negative_int(usage.get("input_tokens"))
    output = non_negative_int(usage.get("output_tokens"))
    cache_read = non_negative_int(usage.get("cache_read_input_tokens"))
    cache_write = non_negative_int(usage.get("cache_creation_input_tokens"))
    if uncached is None and output is None:
        return None
    total_input = (uncached or 0) + (cache_read or 0) + (cache_write or 0)
    total = total_input + (output or 0)
    if type(source) is str:  # the counts are non_negative_int's
        return usage_built(
            total_input, output, total, cache_read, cache_write, None, source, _GIVEN
        )
    return Usage(
        input=total_input,
        output=output,
        total=total,
        input_cached=cache_read,
        input_cache_write=cache_write,
        source=source,
    )


def _text(content: Any) -> Any:
    if isinstance(content, list):
        texts = [part.get("text") for part in content if isinstance(part, dict)]
        if texts and all(isinstance(t, str) for t in texts):
            return "".join(t for t in texts if t)
    return content


class AnthropicMessages:
    name = "anthropic"

    def detect(self, exchange: Exchange) -> str | None:
        path = exchange.path
        if path.endswith("/v1/messages") or (
            path.endswith("/messages")
            and (
                "anthropic-version" in exchange.record.request.headers
                or exchange.upstream_host.endswith("anthropic.com")
            )
        ):
            return "messages"
        return None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        request, response = exchange.request, exchange.response
        body = request.json_object() or {}
        messages = body.get("messages")
        system = body.get("system")
        call = LLMCall(
            provider=self.name,
            operation=operation,
            request_model=body.get("model") if isinstance(body.get("model"), str) else None,
            model_parameters=model_parameters(body, renames={"stop_sequences": "stop"}),
            input=[{"role": "system", "content": system}, *messages]
            if system and isinstance(messages, list)
            else messages,
            stream=bool(body.get("stream")) or response.is_stream,
        )
        if response.is_stream:
            self._stream(call, response.events)
            return call
        document = response.json_object()
        if document is None:
            return call
        call.error = error_message(document, exchange.status)
        call.response_model = (
            document.get("model") if isinstance(document.get("model"), str) else None
        )
        call.usage = usage_from_anthropic(document.get("usage"), "response")
        if "content" in document:
            call.output = {"role": "assistant", "content": _text(document["content"])}
        stop = document.get("stop_reason")
        call.finish_reason = stop if isinstance(stop, str) else None
        return call

    @staticmethod
    def _stream(call: LLMCall, events: list[Any]) -> None:
        start_usage: dict[str, Any] = {}
        final_usage: dict[str, Any] = {}
        parts: list[str] = []
        for event in events:
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "message_start" and isinstance(event.get("message"), dict):
                message = event["message"]
                call.response_model = message.get("model") or call.response_model
                start_usage = message.get("usage") or {}
            elif kind == "content_block_delta":
                delta = event.get("delta") or {}
                if isinstance(delta.get("text"), str):
                    parts.append(delta["text"])
            elif kind == "message_delta":
                final_usage = event.get("usage") or final_usage
                call.finish_reason = (event.get("delta") or {}).get("stop_reason") or (
                    call.finish_reason
                )
            elif kind == "error":
                call.error = error_message(event)
        merged = {**start_usage, **{k: v for k, v in final_usage.items() if v is not None}}
        call.usage = usage_from_anthropic(merged, "stream")
        call.output = {"role": "assistant", "content": "".join(parts)}
