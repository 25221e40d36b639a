"""Cohere: chat (v1 and v2), generate (v1) and embed, JSON, SSE (v2) and NDJSON (v1) streams."""

from __future__ import annotations

from typing import Any

from pipeline.enrich.providers.base import (
    Exchange,
    LLMCall,
    error_message,
    model_parameters,
    non_negative_int,
    usage_of,
)
from pipeline.trace import Usage

_RENAMES = {"p": "top_p", "k": "top_k", "stop_sequences": "stop", "max_tokens": "max_tokens"}
_KEYS = ("temperature", "seed", "frequency_penalty", "presence_penalty", "stream")


def usage_from_cohere(meta: Any, source: str) -> Usage | None:
    """``meta``/``usage``: ``billed_units`` (what is paid, so cost is right) over ``tokens``
    (which include Cohere's own unbilled system prompt)."""
    if not isinstance(meta, dict):
        return None
    counts = meta.get("billed_units") if isinstance(meta.get("billed_units"), dict) else None
    counts = counts or (meta.get("tokens") if isinstance(meta.get("tokens"), dict) else None)
    if counts is None:
        return None
    return usage_of(
        non_negative_int(counts.get("input_tokens")),
        non_negative_int(counts.get("output_tokens")),
        source,
    )


def _is_cohere(exchange: Exchange) -> bool:
    return (
        "cohere" in exchange.upstream_host
        or (exchange.kong_provider or "") == "cohere"
        or "cohere" in (exchange.service_name or "").lower()
    )


def _is_v1_chat(exchange: Exchange) -> bool:
    """``/v1/chat`` is also how gateways route OpenAI-style chat (``/llm/v1/chat``): Cohere's
    v1 chat is the one whose request has a ``message`` string, not a ``messages`` list."""
    if _is_cohere(exchange):
        return True
    body = exchange.request.json_object()
    return isinstance(body, dict) and isinstance(body.get("message"), str)


def _v2_text(message: Any) -> str | None:
    if not isinstance(message, dict):
        return None
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return None


class CohereAPI:
    name = "cohere"

    def detect(self, exchange: Exchange) -> str | None:
        path = exchange.path
        if path.endswith("/v2/chat") or (path.endswith("/v1/chat") and _is_v1_chat(exchange)):
            return "chat_completion"
        if path.endswith(("/v1/embed", "/v2/embed")):
            return "embedding"
        if path.endswith("/v1/generate") and _is_cohere(exchange):
            return "completion"
        return None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        body = exchange.request.json_object() or {}
        model = body.get("model")
        call = LLMCall(
            provider=self.name,
            operation=operation,
            observation_type="embedding" if operation == "embedding" else "generation",
            request_model=model if isinstance(model, str) else None,
            model_parameters=model_parameters(body, keys=_KEYS, renames=_RENAMES),
            stream=bool(body.get("stream")) or exchange.response.is_stream,
        )
        if operation == "embedding":
            call.input = body.get("texts") or body.get("inputs")
        elif operation == "completion":
            call.input = body.get("prompt")
        elif isinstance(body.get("messages"), list):
            call.input = body["messages"]
        else:  # v1 chat: one message, history and preamble apart
            found = body.get("chat_history")
            history: list[Any] = found if isinstance(found, list) else []
            preamble = body.get("preamble")
            call.input = [
                *([{"role": "system", "content": preamble}] if isinstance(preamble, str) else []),
                *history,
                {"role": "user", "content": body.get("message")},
            ]
        response = exchange.response
        if response.is_stream:
            self._stream(call, response.events)
            return call
        document = response.json_object()
        if document is None:
            return call
        call.error = error_message(document, exchange.status)
        call.usage = usage_from_cohere(document.get("usage") or document.get("meta"), "response")
        finish = document.get("finish_reason")
        call.finish_reason = finish if isinstance(finish, str) else None
        if operation == "embedding":
            embeddings = document.get("embeddings")
            if isinstance(embeddings, dict):  # v2: by type
                embeddings = next(iter(embeddings.values()), None)
            call.output = {"embeddings": len(embeddings) if isinstance(embeddings, list) else None}
        elif operation == "completion":
            generations = document.get("generations")
            if isinstance(generations, list) and generations and isinstance(generations[0], dict):
                call.output = generations[0].get("text")
                call.finish_reason = generations[0].get("finish_reason") or call.finish_reason
        elif isinstance(document.get("message"), dict):
            call.output = {"role": "assistant", "content": _v2_text(document["message"])}
        elif isinstance(document.get("text"), str):
            call.output = {"role": "assistant", "content": document["text"]}
        return call

    @staticmethod
    def _stream(call: LLMCall, events: list[Any]) -> None:
        parts: list[str] = []
        for event in events:
            if not isinstance(event, dict):
                continue
            kind = event.get("type") or event.get("event_type")
            if kind == "content-delta":  # v2 SSE
                text = (((event.get("delta") or {}).get("message") or {}).get("content") or {}).get(
                    "text"
                )
                if isinstance(text, str):
                    parts.append(text)
            elif kind == "message-end":
                delta = event.get("delta") or {}
                call.finish_reason = delta.get("finish_reason") or call.finish_reason
                call.usage = usage_from_cohere(delta.get("usage"), "stream") or call.usage
                call.error = error_message(delta) or call.error
            elif kind == "text-generation" and isinstance(event.get("text"), str):  # v1 NDJSON
                parts.append(event["text"])
            elif kind == "stream-end":
                call.finish_reason = event.get("finish_reason") or call.finish_reason
                final = event.get("response") or {}
                call.usage = usage_from_cohere(final.get("meta"), "stream") or call.usage
        call.output = {"role": "assistant", "content": "".join(parts)}
