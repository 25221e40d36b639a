"""Ollama's native API: ``/api/chat``, ``/api/generate``, ``/api/embed(dings)``, JSON or NDJSON.

Ollama streams by default (NDJSON, the last line carries the counts) and reports its own
durations in nanoseconds, which give a real time to first token.
"""

from __future__ import annotations

from typing import Any

from pipeline.enrich.messages import (
    Message,
    assistant_message,
    openai_tool_calls,
    thinking,
)
from pipeline.enrich.providers.base import (
    Exchange,
    LLMCall,
    error_message,
    model_parameters,
    non_negative_int,
    usage_of,
)
from pipeline.enrich.providers.openai import openai_chat_input

_PATHS = (
    ("/api/chat", "chat_completion"),
    ("/api/generate", "generate"),
    ("/api/embed", "embedding"),
    ("/api/embeddings", "embedding"),
)
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "num_predict": "max_tokens",
    "seed": "seed",
    "num_ctx": "num_ctx",
    "stop": "stop",
    "repeat_penalty": "repeat_penalty",
}


_MEDIA = ('"images"', "base64")  # bare base64 images; data URLs on OpenAI-style parts


def _ms(nanoseconds: Any) -> float | None:
    value = non_negative_int(nanoseconds)
    return None if value is None else value / 1e6


class OllamaAPI:
    name = "ollama"

    def detect(self, exchange: Exchange) -> str | None:
        for suffix, operation in _PATHS:
            if exchange.path.endswith(suffix):
                return operation
        return None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        body = exchange.request.json_object() or {}
        model = body.get("model")
        found = body.get("options")
        options: dict[str, Any] = found if isinstance(found, dict) else {}
        params = model_parameters(options, keys=(), renames=_OPTIONS)
        stream = body.get("stream", operation != "embedding") is not False
        params["stream"] = stream
        if isinstance(body.get("format"), str):
            params["response_format"] = body["format"]
        call = LLMCall(
            provider=self.name,
            operation=operation,
            observation_type="embedding" if operation == "embedding" else "generation",
            request_model=model if isinstance(model, str) else None,
            model_parameters=params,
            stream=stream or exchange.response.is_stream,
        )
        if operation == "chat_completion":
            call.input = openai_chat_input(body, exchange.request.text, _MEDIA)
        elif operation == "generate":
            system = body.get("system")
            prompt = body.get("prompt")
            call.input = (
                [{"role": "system", "content": system}, {"role": "user", "content": prompt}]
                if isinstance(system, str)
                else prompt
            )
        else:
            call.input = body.get("input", body.get("prompt"))
        response = exchange.response
        lines: list[Any]
        if response.is_stream:
            lines = response.events
        elif isinstance(response.document, dict):
            lines = [response.document]
        else:
            return call
        parts: list[str] = []
        thoughts: list[str] = []
        calls: list[Message] = []
        final: dict[str, Any] = {}
        for line in lines:
            if not isinstance(line, dict):
                continue
            call.error = call.error or error_message(line, exchange.status)
            message = line.get("message")
            if isinstance(message, dict):
                if isinstance(message.get("content"), str):
                    parts.append(message["content"])
                if isinstance(message.get("thinking"), str):
                    thoughts.append(message["thinking"])
                found = message.get("tool_calls")
                if isinstance(found, list):  # whole calls, arguments as objects
                    calls.extend(openai_tool_calls(found, start=len(calls)))
            elif isinstance(line.get("response"), str):
                parts.append(line["response"])
            if line.get("done") or "prompt_eval_count" in line or "eval_count" in line:
                final = line
            if isinstance(line.get("model"), str):
                call.response_model = line["model"]
        if operation == "embedding":
            embeddings = final.get("embeddings") or lines[-1].get("embeddings")
            single = lines[-1].get("embedding") if isinstance(lines[-1], dict) else None
            call.output = {
                "embeddings": len(embeddings) if isinstance(embeddings, list) else int(bool(single))
            }
            final = final or (lines[-1] if isinstance(lines[-1], dict) else {})
        elif call.error is None:
            text = "".join(parts)
            if operation == "chat_completion":
                thought = thinking("".join(thoughts)) if thoughts else None
                call.output = assistant_message(text, calls, [thought] if thought else None)
            else:
                call.output = text
        done = final.get("done_reason")
        call.finish_reason = done if isinstance(done, str) else None
        call.usage = usage_of(
            non_negative_int(final.get("prompt_eval_count")),
            non_negative_int(final.get("eval_count")),
            "stream" if response.is_stream else "response",
        )
        load, prompt_eval = _ms(final.get("load_duration")), _ms(final.get("prompt_eval_duration"))
        if prompt_eval is not None and call.stream:
            call.time_to_first_token_ms = (load or 0.0) + prompt_eval
        decode = _ms(final.get("eval_duration"))
        if decode is not None:
            call.metadata["provider_decode_ms"] = round(decode, 3)
        total = _ms(final.get("total_duration"))
        if total is not None:
            call.metadata["provider_duration_ms"] = round(total, 3)
        return call
