"""OpenAI-compatible APIs: chat completions, completions, embeddings (OpenAI, vLLM, LiteLLM, …)."""

from __future__ import annotations

from typing import Any

from pipeline.enrich.providers.base import (
    LLMCall,
    error_message,
    model_parameters,
    non_negative_int,
)
from pipeline.kong.bodies import Body
from pipeline.kong.record import KongRecord
from pipeline.trace import Usage

OPERATIONS = (
    ("/chat/completions", "chat_completion"),
    ("/completions", "completion"),
    ("/embeddings", "embedding"),
)


def usage_from_openai(usage: Any, source: str) -> Usage | None:
    """OpenAI ``usage`` (chat/completions/embeddings) with cached and reasoning details."""
    if not isinstance(usage, dict):
        return None
    prompt = non_negative_int(usage.get("prompt_tokens", usage.get("input_tokens")))
    completion = non_negative_int(usage.get("completion_tokens", usage.get("output_tokens")))
    total = non_negative_int(usage.get("total_tokens"))
    if prompt is None and completion is None and total is None:
        return None
    prompt_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    completion_details = (
        usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    )
    if total is None and (prompt is not None or completion is not None):
        total = (prompt or 0) + (completion or 0)
    return Usage(
        input=prompt,
        output=completion,
        total=total,
        input_cached=non_negative_int(prompt_details.get("cached_tokens"))
        if isinstance(prompt_details, dict)
        else None,
        output_reasoning=non_negative_int(completion_details.get("reasoning_tokens"))
        if isinstance(completion_details, dict)
        else None,
        source=source,
    )


def _chat_output(response: dict[str, Any]) -> tuple[Any, str | None]:
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return None, None
    first = choices[0] if isinstance(choices[0], dict) else {}
    finish = first.get("finish_reason")
    if "message" in first:
        return first["message"], finish
    return first.get("text"), finish


def _from_stream(events: list[Any]) -> tuple[Any, str | None, Usage | None, str | None, str]:
    """Reassemble a streamed chat/completion: text, finish reason, final usage, model, role."""
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
                    slot = tool_calls.setdefault(int(call.get("index", 0)), {"arguments": ""})
                    function = call.get("function") or {}
                    if function.get("name"):
                        slot["name"] = function["name"]
                    slot["arguments"] += function.get("arguments") or ""
            elif isinstance(choice.get("text"), str):
                parts.append(choice["text"])
    text = "".join(parts)
    output: Any = {"role": role, "content": text}
    if tool_calls:
        output["tool_calls"] = [tool_calls[i] for i in sorted(tool_calls)]
    return output, finish, usage, model, text


class OpenAICompatible:
    """The de-facto standard most gateways and self-hosted servers speak."""

    name = "openai"

    def detect(self, record: KongRecord, path: str, request: Body) -> str | None:
        for suffix, operation in OPERATIONS:
            if path.endswith(suffix) or f"{suffix}/" in path:
                return operation
        return None

    def parse(self, operation: str, request: Body, response: Body) -> LLMCall:
        body = request.json_object() or {}
        call = LLMCall(
            provider=self.name,
            operation=operation,
            observation_type="embedding" if operation == "embedding" else "generation",
            request_model=body.get("model") if isinstance(body.get("model"), str) else None,
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
            output, finish, usage, model, _ = _from_stream(response.events)
            call.output = output if operation == "chat_completion" else output["content"]
            call.finish_reason, call.usage, call.response_model = finish, usage, model
            return call
        document = response.json_object()
        if document is None:
            return call
        call.error = error_message(document)
        model = document.get("model")
        call.response_model = model if isinstance(model, str) else None
        call.usage = usage_from_openai(document.get("usage"), "response")
        if operation == "embedding":
            data = document.get("data")
            call.output = {"embeddings": len(data)} if isinstance(data, list) else None
        else:
            call.output, call.finish_reason = _chat_output(document)
        return call
