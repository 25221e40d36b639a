"""OpenAI-compatible APIs: chat completions, completions, embeddings and the Responses API.

The de-facto standard: OpenAI itself, and Mistral, Groq, Together, DeepSeek, OpenRouter,
LiteLLM, vLLM and Ollama's ``/v1`` routes all speak it. The provider *name* comes from the
upstream host or Kong's ``provider_name``; the parsing is shared.
"""

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
from pipeline.kong.bodies import Body
from pipeline.trace import Usage

OPERATIONS = (
    ("/chat/completions", "chat_completion"),
    ("/completions", "completion"),
    ("/embeddings", "embedding"),
    ("/responses", "responses"),
)

# Upstream hosts of OpenAI-compatible APIs → the provider name shown in Litefuse.
HOST_PROVIDERS = (
    ("api.openai.com", "openai"),
    ("api.mistral.ai", "mistral"),
    ("api.groq.com", "groq"),
    ("api.together.xyz", "together"),
    ("api.together.ai", "together"),
    ("api.deepseek.com", "deepseek"),
    ("openrouter.ai", "openrouter"),
    ("api.fireworks.ai", "fireworks"),
    ("api.x.ai", "x-ai"),
    ("api.perplexity.ai", "perplexity"),
    ("generativelanguage.googleapis.com", "google"),
)


def operation_for_path(path: str) -> str | None:
    for suffix, operation in OPERATIONS:
        if path.endswith(suffix):
            return operation
    return None


def usage_from_openai(usage: Any, source: str) -> Usage | None:
    """OpenAI ``usage`` (chat, completions, embeddings, Responses) with cache/reasoning details."""
    if not isinstance(usage, dict):
        return None
    prompt = non_negative_int(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = non_negative_int(usage.get("completion_tokens", usage.get("output_tokens")))
    prompt_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    completion_details = usage.get("completion_tokens_details") or usage.get(
        "output_tokens_details"
    )
    return usage_of(
        prompt,
        completion,
        source,
        total=non_negative_int(usage.get("total_tokens")),
        cached=non_negative_int(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, dict)
        else None,
        reasoning=non_negative_int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None,
    )


def _chat_output(response: dict[str, Any]) -> tuple[Any, str | None]:
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return None, None
    first = choices[0] if isinstance(choices[0], dict) else {}
    finish = first.get("finish_reason")
    finish = finish if isinstance(finish, str) else None
    if "message" in first:
        return first["message"], finish
    return first.get("text"), finish


def _from_stream(events: list[Any]) -> tuple[Any, str | None, Usage | None, str | None]:
    """Reassemble a streamed chat/completion: output, finish reason, final usage, model."""
    parts: list[str] = []
    finish: str | None = None
    usage: Usage | None = None
    model: str | None = None
    role = "assistant"
    tool_calls: dict[int, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        model = event.get("model") or model
        found = usage_from_openai(event.get("usage"), "stream")
        if found is not None:
            usage = found
        for choice in event.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            finish = choice.get("finish_reason") or finish
            delta = choice.get("delta")
            if isinstance(delta, dict):
                role = delta.get("role") or role
                if isinstance(delta.get("content"), str):
                    parts.append(delta["content"])
                for call in delta.get("tool_calls") or []:
                    if not isinstance(call, dict):
                        continue
                    slot = tool_calls.setdefault(int(call.get("index") or 0), {"arguments": ""})
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot["name"] = function["name"]
                    slot["arguments"] += function.get("arguments") or ""
            elif isinstance(choice.get("text"), str):
                parts.append(choice["text"])
    output: Any = {"role": role, "content": "".join(parts)}
    if tool_calls:
        output["tool_calls"] = [tool_calls[i] for i in sorted(tool_calls)]
    return output, finish, usage, model if isinstance(model, str) else None


def _responses_output(items: Any) -> Any:
    """The Responses API ``output`` items as one assistant message (text + tool calls)."""
    if not isinstance(items, list):
        return None
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
        elif item.get("type") == "function_call":
            calls.append({"name": item.get("name"), "arguments": item.get("arguments")})
    output: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if calls:
        output["tool_calls"] = calls
    return output


def _responses_finish(document: dict[str, Any]) -> str | None:
    details = document.get("incomplete_details")
    if isinstance(details, dict) and isinstance(details.get("reason"), str):
        return str(details["reason"])
    status = document.get("status")
    return status if isinstance(status, str) else None


class OpenAICompatible:
    """Chat completions, completions, embeddings and Responses, JSON or SSE."""

    name = "openai"

    def detect(self, exchange: Exchange) -> str | None:
        return operation_for_path(exchange.path)

    def provider_name(self, exchange: Exchange) -> str:
        """Who really answered: Kong's provider_name, else the upstream host, else openai."""
        if exchange.kong_provider:
            return exchange.kong_provider
        host = exchange.upstream_host
        for suffix, name in HOST_PROVIDERS:
            if host.endswith(suffix):
                return name
        service = exchange.record.service
        port = service.model_extra.get("port") if service and service.model_extra else None
        if "ollama" in host or "ollama" in (exchange.service_name or "").lower() or port == 11434:
            return "ollama"  # Ollama's OpenAI-compatible /v1 routes
        return self.name

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        call = parse_openai(operation, exchange.request, exchange.response, exchange.status)
        call.provider = self.provider_name(exchange)
        return call


def parse_openai(operation: str, request: Body, response: Body, status: int | None) -> LLMCall:
    """Read an OpenAI-format call; ``operation`` picks the API."""
    if operation == "responses":
        return _parse_responses(request, response, status)
    body = request.json_object() or {}
    model = body.get("model")
    call = LLMCall(
        provider="openai",
        operation=operation,
        observation_type="embedding" if operation == "embedding" else "generation",
        request_model=model if isinstance(model, str) else None,
        model_parameters=model_parameters(body),
        stream=bool(body.get("stream")) or response.is_stream,
    )
    if operation == "chat_completion":
        call.input = body.get("messages")
    elif operation == "completion":
        call.input = body.get("prompt")
    else:
        call.input = body.get("input")
    if response.is_stream:
        output, finish, usage, response_model = _from_stream(response.events)
        call.output = output if operation == "chat_completion" else output["content"]
        call.finish_reason, call.usage, call.response_model = finish, usage, response_model
        for event in response.events:
            call.error = call.error or error_message(event)
        return call
    document = response.json_object()
    if document is None:
        return call
    call.error = error_message(document, status)
    response_model = document.get("model")
    call.response_model = response_model if isinstance(response_model, str) else None
    call.usage = usage_from_openai(document.get("usage"), "response")
    if operation == "embedding":
        data = document.get("data")
        if isinstance(data, list):
            dimensions = next(
                (
                    len(item["embedding"])
                    for item in data
                    if isinstance(item, dict) and isinstance(item.get("embedding"), list)
                ),
                None,
            )
            call.output = {"embeddings": len(data), "dimensions": dimensions}
    else:
        call.output, call.finish_reason = _chat_output(document)
    return call


def _parse_responses(request: Body, response: Body, status: int | None) -> LLMCall:
    body = request.json_object() or {}
    model = body.get("model")
    params = model_parameters(body)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        params["reasoning_effort"] = reasoning["effort"]
    instructions = body.get("instructions")
    user_input = body.get("input")
    call = LLMCall(
        provider="openai",
        operation="responses",
        request_model=model if isinstance(model, str) else None,
        model_parameters=params,
        input=[{"role": "system", "content": instructions}, *_as_items(user_input)]
        if isinstance(instructions, str) and instructions
        else user_input,
        stream=bool(body.get("stream")) or response.is_stream,
    )
    document: dict[str, Any] | None = None
    if response.is_stream:
        deltas: list[str] = []
        for event in response.events:
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
                deltas.append(event["delta"])
            elif kind in ("response.completed", "response.incomplete", "response.failed"):
                if isinstance(event.get("response"), dict):
                    document = event["response"]
            elif kind == "error":
                call.error = error_message(event) or call.error
        if document is None:
            call.output = {"role": "assistant", "content": "".join(deltas)}
    else:
        document = response.json_object()
    if document is None:
        return call
    call.error = error_message(document, status) or call.error
    response_model = document.get("model")
    call.response_model = response_model if isinstance(response_model, str) else None
    call.usage = usage_from_openai(document.get("usage"), "stream" if call.stream else "response")
    call.output = _responses_output(document.get("output")) or call.output
    call.finish_reason = _responses_finish(document)
    return call


def _as_items(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if value is None:
        return []
    return [{"role": "user", "content": value}]
