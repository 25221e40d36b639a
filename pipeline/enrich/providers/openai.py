"""OpenAI-compatible APIs: chat completions, completions, embeddings and the Responses API.

The de-facto standard: OpenAI itself, and Mistral, Groq, Together, DeepSeek, OpenRouter,
LiteLLM, vLLM and Ollama's ``/v1`` routes all speak it. The provider *name* comes from the
upstream host or Kong's ``provider_name``; the parsing is shared.
"""

from __future__ import annotations

from typing import Any

from pipeline.enrich.messages import (
    DATA_URL_HINTS,
    Message,
    ToolCallSlots,
    assistant_message,
    blocks_text,
    chat_input,
    has_media,
    joined,
    normalise_tools,
    openai_messages,
    openai_tool_calls,
    plain_messages,
    reasoning_of,
    strip_media,
    text_part,
    thinking,
    tool_call,
    tool_message,
)
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
    ("api.cohere.com", "cohere"),  # Cohere's OpenAI-compatible API (and Kong's translation)
    ("api.cohere.ai", "cohere"),
    ("huggingface.co", "huggingface"),  # router. and api-inference.huggingface.co
    ("endpoints.huggingface.cloud", "huggingface"),
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


def _content_parts(content: Any) -> tuple[str, list[Message]]:
    """Text and thinking of a message's ``content`` (a string, or parts: Mistral's magistral
    sends ``{type: thinking, thinking: [...]}`` parts next to its text)."""
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        return "", []
    texts: list[str] = []
    thoughts: list[Message] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "thinking":
            block = thinking(blocks_text(part.get("thinking")), part.get("signature"))
            if block is not None:
                thoughts.append(block)
        elif isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "".join(texts), thoughts


_PLAIN = frozenset({"role", "content", "refusal", "annotations"})


def openai_message(message: Any) -> Any:
    """A chat completion's ``message`` in our assistant shape (tool calls, reasoning apart)."""
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if type(content) is str and content and _PLAIN.issuperset(message):
        return {"role": "assistant", "content": content}  # the common answer, nothing else
    text, thoughts = _content_parts(content)
    if not text:
        for key in ("refusal", "audio"):
            value = message.get(key)
            if isinstance(value, dict):  # audio answers: the transcript, never the blob
                value = value.get("transcript")
            if isinstance(value, str) and value:
                text = value
                break
    calls = message.get("tool_calls")
    tool_calls = openai_tool_calls(calls) if isinstance(calls, list) else []
    legacy = message.get("function_call")
    if not tool_calls and isinstance(legacy, dict):
        tool_calls = [tool_call(None, legacy.get("name"), legacy.get("arguments"), 0)]
    reasoning, redacted = reasoning_of(message)
    return assistant_message(text, tool_calls, [*thoughts, *reasoning], redacted)


def _chat_output(response: dict[str, Any], chat: bool) -> tuple[Any, str | None]:
    choices = response.get("choices")
    if not isinstance(choices, list) or not choices:
        return None, None
    first = choices[0] if isinstance(choices[0], dict) else {}
    finish = first.get("finish_reason")
    finish = finish if isinstance(finish, str) else None
    if "message" in first:
        return (openai_message(first["message"]) if chat else first["message"]), finish
    return first.get("text"), finish


def _from_stream(events: list[Any]) -> tuple[Any, str | None, Usage | None, str | None]:
    """Reassemble a streamed chat/completion: output, finish reason, final usage, model."""
    parts: list[str] = []
    reasoning: list[str] = []
    finish: str | None = None
    usage: Usage | None = None
    model: str | None = None
    slots: ToolCallSlots | None = None
    for event in events:
        if not isinstance(event, dict):
            continue
        model = event.get("model") or model
        found = usage_from_openai(event.get("usage"), "stream")
        if found is not None:
            usage = found
        choices = event.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if not isinstance(choice, dict):
                continue
            finish = choice.get("finish_reason") or finish
            delta = choice.get("delta")
            if isinstance(delta, dict):
                content = delta.get("content")
                if type(content) is str:
                    parts.append(content)
                    if len(delta) == 1:  # most chunks: a piece of the answer, nothing else
                        continue
                for key in ("reasoning_content", "reasoning"):
                    if isinstance(delta.get(key), str):
                        reasoning.append(delta[key])
                        break
                calls = delta.get("tool_calls")
                for call in calls if isinstance(calls, list) else ():
                    if isinstance(call, dict):
                        slots = slots or ToolCallSlots()
                        slots.add(call)
            elif isinstance(choice.get("text"), str):
                parts.append(choice["text"])
    thought = thinking("".join(reasoning)) if reasoning else None
    output = assistant_message(
        "".join(parts), slots.calls() if slots else None, [thought] if thought else None
    )
    return (
        output,
        finish if isinstance(finish, str) else None,
        usage,
        model if isinstance(model, str) else None,
    )


def _responses_message(item: dict[str, Any]) -> Message | None:
    """A Responses API input message item as an OpenAI chat message."""
    role = item.get("role")
    role = "system" if role == "developer" else role if isinstance(role, str) else "user"
    content = item.get("content")
    if isinstance(content, list):
        parts: list[Any] = []
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in ("input_text", "output_text", "text", "summary_text", "reasoning_text"):
                parts.append(text_part(part["text"] if isinstance(part.get("text"), str) else ""))
            elif kind == "refusal" and isinstance(part.get("refusal"), str):
                parts.append(text_part(part["refusal"]))
            elif kind == "input_image" and isinstance(part.get("image_url"), str):
                parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
            elif kind == "input_audio" and isinstance(part.get("input_audio"), dict):
                parts.append({"type": "input_audio", "input_audio": part["input_audio"]})
            else:
                parts.append(part)
        content = joined(parts)
    return {"role": role, "content": content}


def _reasoning_block(item: dict[str, Any]) -> Message | None:
    """A Responses ``reasoning`` item: its content texts, its summary texts."""
    summary = item.get("summary")
    content = item.get("content")
    return thinking(
        "\n\n".join(_texts(content)) if isinstance(content, list) else None,
        summary="\n\n".join(_texts(summary)) if isinstance(summary, list) else None,
    )


def _texts(parts: list[Any]) -> list[str]:
    return [
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]


def responses_input(body: dict[str, Any], text: str) -> Any:
    """Instructions and input items as OpenAI chat messages (tool calls, tool results and
    reasoning in our shapes); a bare string input is one user message."""
    instructions = body.get("instructions")
    items = body.get("input")
    if has_media(text, DATA_URL_HINTS):
        items = strip_media(items)
    messages: list[Any] = []
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        messages.append({"role": "user", "content": items})
    elif isinstance(items, list):
        _responses_items(items, messages)
    elif items is not None:
        messages.append({"role": "user", "content": items})
    if not messages and items is None:
        return None
    return chat_input(messages, normalise_tools(body.get("tools")))


def _responses_items(items: list[Any], messages: list[Any]) -> None:
    # Reasoning, function calls and assistant text of one turn make one assistant message.
    turn: Message | None = None
    turns: list[Message] = []
    for item in items:
        if not isinstance(item, dict):
            messages.append(item)
            turn = None
            continue
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call", "reasoning") or (
            kind in (None, "message") and item.get("role") == "assistant"
        ):
            if turn is None:
                turn = {"role": "assistant", "content": ""}
                messages.append(turn)
                turns.append(turn)
            if kind == "reasoning":
                block = _reasoning_block(item)
                if block is not None:
                    turn.setdefault("thinking", []).append(block)
            elif kind in ("function_call", "custom_tool_call"):
                calls = turn.setdefault("tool_calls", [])
                arguments = item.get("arguments", item.get("input"))
                calls.append(
                    tool_call(item.get("call_id"), item.get("name"), arguments, len(calls))
                )
                if not turn["content"]:
                    turn["content"] = None
            else:
                message = _responses_message(item)
                content = message["content"] if message else None
                if turn["content"]:
                    turn = {"role": "assistant", "content": content}
                    messages.append(turn)
                    turns.append(turn)
                else:
                    turn["content"] = content
            continue
        turn = None
        if kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output")
            messages.append(tool_message(item.get("call_id"), blocks_text(output)))
        elif kind in (None, "message"):
            messages.append(_responses_message(item))
        else:  # web search, file search, MCP… calls: kept as they are
            messages.append(item)
    for made in turns:  # key order: role, content, tool_calls, thinking
        thoughts = made.pop("thinking", None)
        if thoughts:
            made["thinking"] = thoughts


def responses_output(items: Any) -> Any:
    """The Responses API ``output`` items as one assistant message."""
    if not isinstance(items, list):
        return None
    texts: list[str] = []
    calls: list[Message] = []
    thoughts: list[Message] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            content = item.get("content")
            for part in content if isinstance(content, list) else ():
                if isinstance(part, dict):
                    if isinstance(part.get("text"), str):
                        texts.append(part["text"])
                    elif isinstance(part.get("refusal"), str):
                        texts.append(part["refusal"])
        elif kind in ("function_call", "custom_tool_call"):
            arguments = item.get("arguments", item.get("input"))
            calls.append(tool_call(item.get("call_id"), item.get("name"), arguments, len(calls)))
        elif kind == "reasoning":
            block = _reasoning_block(item)
            if block is not None:
                thoughts.append(block)
    return assistant_message("".join(texts), calls, thoughts)


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
        port = service.port if service else None
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
    chat = operation == "chat_completion"
    call = LLMCall(
        provider="openai",
        operation=operation,
        observation_type="embedding" if operation == "embedding" else "generation",
        request_model=model if isinstance(model, str) else None,
        model_parameters=model_parameters(body),
        stream=bool(body.get("stream")) or response.is_stream,
    )
    if chat:
        call.input = openai_chat_input(body, request.text)
    elif operation == "completion":
        call.input = body.get("prompt")
    else:
        call.input = body.get("input")
    if response.is_stream:
        output, finish, usage, response_model = _from_stream(response.events)
        call.output = output if chat else output["content"]
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
        call.output, call.finish_reason = _chat_output(document, chat)
    return call


def openai_chat_input(
    body: dict[str, Any], text: str, hints: tuple[str, ...] = DATA_URL_HINTS
) -> Any:
    """OpenAI-like chat messages (OpenAI, Cohere v2, Ollama): media blobs replaced (when the
    body's ``text`` holds one of the format's ``hints``), tool-call arguments as strings,
    reasoning as thinking, with the request's tools."""
    messages = body.get("messages")
    if not plain_messages(messages) and has_media(text, hints):
        messages = strip_media(messages)
    messages = openai_messages(messages)
    tools = body.get("tools")
    if tools is None:
        tools = body.get("functions")  # the legacy function-calling request
    return chat_input(messages, normalise_tools(tools))


def _parse_responses(request: Body, response: Body, status: int | None) -> LLMCall:
    body = request.json_object() or {}
    model = body.get("model")
    params = model_parameters(body)
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        params["reasoning_effort"] = reasoning["effort"]
    call = LLMCall(
        provider="openai",
        operation="responses",
        request_model=model if isinstance(model, str) else None,
        model_parameters=params,
        input=responses_input(body, request.text),
        stream=bool(body.get("stream")) or response.is_stream,
    )
    document: dict[str, Any] | None = None
    if response.is_stream:
        document, items, call.error, started = _responses_stream(response.events)
        if document is None:
            call.output = responses_output(items)
            call.response_model = started
    else:
        document = response.json_object()
    if document is None:
        return call
    call.error = error_message(document, status) or call.error
    response_model = document.get("model")
    call.response_model = response_model if isinstance(response_model, str) else None
    call.usage = usage_from_openai(document.get("usage"), "stream" if call.stream else "response")
    call.output = responses_output(document.get("output")) or call.output
    call.finish_reason = _responses_finish(document)
    return call


_DONE = ("response.completed", "response.incomplete", "response.failed")


def _responses_stream(
    events: list[Any],
) -> tuple[dict[str, Any] | None, list[Any], str | None, str | None]:
    """A Responses stream: the final response when it came (``response.completed`` carries it
    whole), else the output items rebuilt from the item and delta events; the error; the model
    ``response.created`` named."""
    document: dict[str, Any] | None = None
    error: str | None = None
    model: str | None = None
    added: dict[int, Any] = {}
    done: dict[int, Any] = {}
    texts: dict[int, list[str]] = {}
    arguments: dict[int, list[str]] = {}
    summaries: dict[int, dict[int, list[str]]] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if not isinstance(kind, str):
            continue
        index = event.get("output_index")
        index = index if type(index) is int else 0
        delta = event.get("delta")
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            if isinstance(delta, str):
                texts.setdefault(index, []).append(delta)
        elif kind in (
            "response.function_call_arguments.delta",
            "response.custom_tool_call_input.delta",
        ):
            if isinstance(delta, str):
                arguments.setdefault(index, []).append(delta)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            if isinstance(delta, str):
                part = event.get("summary_index", event.get("content_index"))
                part = part if type(part) is int else 0
                slot = -1 - part if kind == "response.reasoning_text.delta" else part
                summaries.setdefault(index, {}).setdefault(slot, []).append(delta)
        elif kind == "response.output_item.added" and isinstance(event.get("item"), dict):
            added[index] = event["item"]
        elif kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            done[index] = event["item"]
        elif kind in _DONE and isinstance(event.get("response"), dict):
            document = event["response"]
        elif kind == "response.created" and isinstance(event.get("response"), dict):
            found = event["response"].get("model")
            model = found if isinstance(found, str) else model
        elif kind == "error":
            error = error_message(event) or error
    if document is not None:
        return document, [], error, model
    items: list[Any] = []
    for index in sorted({*added, *done, *texts, *arguments, *summaries}):
        if index in done:
            items.append(done[index])
            continue
        item = dict(added.get(index) or {})
        kind = item.get("type")
        if kind in ("function_call", "custom_tool_call") or (kind is None and index in arguments):
            item.setdefault("type", "function_call")
            item["arguments"] = "".join(arguments.get(index, ()))
        elif kind == "reasoning" or (kind is None and index in summaries):
            parts = summaries.get(index, {})
            item["type"] = "reasoning"
            item["summary"] = [
                {"type": "summary_text", "text": "".join(parts[k])} for k in sorted(parts) if k >= 0
            ]
            item["content"] = [
                {"type": "reasoning_text", "text": "".join(parts[k])}
                for k in sorted(parts, reverse=True)
                if k < 0
            ]
        elif kind in (None, "message"):
            item["type"] = "message"
            item["content"] = [{"type": "output_text", "text": "".join(texts.get(index, ()))}]
        items.append(item)
    return None, items, error, model
