"""Google Gemini (``generativelanguage`` and Vertex AI): generateContent, streams, embeddings.

The model is in the path (``models/gemini-2.0-flash:generateContent``); streams arrive as SSE
(``alt=sse``) or as one JSON array of chunks.
"""

from __future__ import annotations

import re
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

_PATH = re.compile(
    r"/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent|"
    r"embedContent|batchEmbedContents)$"
)
_OPERATIONS = {
    "generateContent": "chat_completion",
    "streamGenerateContent": "chat_completion",
    "embedContent": "embedding",
    "batchEmbedContents": "embedding",
}
_PARAMETERS = {
    "temperature": "temperature",
    "topP": "top_p",
    "topK": "top_k",
    "maxOutputTokens": "max_tokens",
    "candidateCount": "n",
    "stopSequences": "stop",
    "seed": "seed",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
    "responseMimeType": "response_format",
}


def usage_from_gemini(usage: Any, source: str) -> Usage | None:
    """``usageMetadata``: output = candidates + thoughts (thoughts are billed as output)."""
    if not isinstance(usage, dict):
        return None
    candidates = non_negative_int(usage.get("candidatesTokenCount"))
    thoughts = non_negative_int(usage.get("thoughtsTokenCount"))
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    return usage_of(
        non_negative_int(usage.get("promptTokenCount")),
        output,
        source,
        total=non_negative_int(usage.get("totalTokenCount")),
        cached=non_negative_int(usage.get("cachedContentTokenCount")),
        reasoning=thoughts,
    )


def _text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "".join(
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")
    )


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        messages.append({"role": "system", "content": _text(system.get("parts"))})
    for content in body.get("contents") or []:
        if isinstance(content, dict):
            role = "assistant" if content.get("role") == "model" else content.get("role", "user")
            messages.append({"role": role, "content": _text(content.get("parts"))})
    return messages


class GeminiGenerateContent:
    name = "google"

    def detect(self, exchange: Exchange) -> str | None:
        path = exchange.path
        match = _PATH.search(path) if ":" in path else None  # the method follows a colon
        return _OPERATIONS[match["method"]] if match else None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        body = exchange.request.json_object() or {}
        match = _PATH.search(exchange.path)
        config = body.get("generationConfig") or body.get("generation_config") or {}
        call = LLMCall(
            provider="vertex-ai" if "/publishers/google/" in exchange.path else self.name,
            operation=operation,
            observation_type="embedding" if operation == "embedding" else "generation",
            request_model=match["model"] if match else None,
            model_parameters=model_parameters(config, keys=(), renames=_PARAMETERS)
            if isinstance(config, dict)
            else {},
            stream=exchange.response.is_stream
            or bool(match and match["method"] == "streamGenerateContent"),
        )
        if call.stream:
            call.model_parameters["stream"] = True
        if operation == "embedding":
            self._embedding(call, body, exchange)
            return call
        call.input = _messages(body)
        response = exchange.response
        chunks: list[Any] = []
        if response.is_stream:
            chunks = response.events
        elif isinstance(response.document, list):
            chunks = response.document  # a non-SSE stream: one JSON array of chunks
        elif isinstance(response.document, dict):
            chunks = [response.document]
        texts: list[str] = []
        for chunk in chunks:
            if not isinstance(chunk, dict):
                continue
            call.error = call.error or error_message(chunk, exchange.status)
            candidates = chunk.get("candidates")
            if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
                first = candidates[0]
                content = first.get("content")
                if isinstance(content, dict):
                    texts.append(_text(content.get("parts")))
                if isinstance(first.get("finishReason"), str):
                    call.finish_reason = first["finishReason"]
            found = usage_from_gemini(
                chunk.get("usageMetadata"), "stream" if call.stream else "response"
            )
            call.usage = found or call.usage
            if isinstance(chunk.get("modelVersion"), str):
                call.response_model = chunk["modelVersion"]
        if chunks and call.error is None:
            call.output = {"role": "assistant", "content": "".join(texts)}
        return call

    @staticmethod
    def _embedding(call: LLMCall, body: dict[str, Any], exchange: Exchange) -> None:
        requests = body.get("requests")
        if isinstance(requests, list):
            call.input = [
                _text((item.get("content") or {}).get("parts"))
                for item in requests
                if isinstance(item, dict)
            ]
        elif isinstance(body.get("content"), dict):
            call.input = _text(body["content"].get("parts"))
        document = exchange.response.json_object()
        if document is None:
            return
        call.error = error_message(document, exchange.status)
        embeddings = document.get("embeddings")
        if isinstance(embeddings, list):
            call.output = {"embeddings": len(embeddings)}
        elif isinstance(document.get("embedding"), dict):
            values = document["embedding"].get("values")
            call.output = {"embeddings": 1, "dimensions": len(values) if values else None}
