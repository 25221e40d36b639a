"""Anthropic Messages API (``/v1/messages``), JSON and SSE."""

from __future__ import annotations

from typing import Any

from pipeline.enrich.messages import (
    Message,
    assistant_message,
    blocks_text,
    chat_input,
    chat_message,
    has_media,
    joined,
    normalise_tools,
    plain_messages,
    redacted_thinking,
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
)
from pipeline.trace import Usage, checked


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
    built = Usage(
        input=total_input,
        output=output,
        total=total,
        input_cached=cache_read,
        input_cache_write=cache_write,
        source=source,
    )
    return built if type(source) is str else checked(built)  # the counts: non_negative_int's


_CALLS = ("tool_use", "server_tool_use", "mcp_tool_use")  # a tuple: types may be unhashable


def _anthropic_message(message: Any) -> list[Any]:
    """One Anthropic message as OpenAI messages: ``tool_result`` blocks become ``tool``
    messages (before the rest of the turn, where Anthropic requires them)."""
    if not isinstance(message, dict):
        return [message]
    role = message.get("role")
    content = message.get("content")
    if not isinstance(content, list):
        return [{"role": role, "content": content}]
    texts: list[str] = []
    for block in content:  # the common case first: text blocks only
        if type(block) is not dict or block.get("type") != "text":
            break
        text = block.get("text")
        if type(text) is not str:
            break
        texts.append(text)
    else:
        return [{"role": role, "content": "".join(texts)}]
    parts: list[Any] = []
    results: list[Message] = []
    calls: list[Message] = []
    thoughts: list[Message] = []
    redacted: list[Message] = []
    for block in content:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            parts.append(text_part(block["text"]))
        elif kind in _CALLS:
            calls.append(
                tool_call(block.get("id"), block.get("name"), block.get("input"), len(calls))
            )
        elif kind == "tool_result":
            results.append(
                tool_message(block.get("tool_use_id"), blocks_text(block.get("content")))
            )
        elif kind == "thinking":
            found = thinking(block.get("thinking"), block.get("signature"))
            if found is not None:
                thoughts.append(found)
        elif kind == "redacted_thinking":
            found = redacted_thinking(block.get("data"))
            if found is not None:
                redacted.append(found)
        elif (
            kind == "image"
            and isinstance(block.get("source"), dict)
            and (
                block["source"].get("type") == "url" and isinstance(block["source"].get("url"), str)
            )
        ):
            parts.append({"type": "image_url", "image_url": {"url": block["source"]["url"]}})
        else:  # documents, base64 images (blob replaced), server tool results…
            parts.append(block)
    converted: list[Any] = list(results)
    if parts or calls or thoughts or redacted or not results:
        converted.append(chat_message(role, joined(parts), calls, thoughts, redacted))
    return converted


def anthropic_input(body: dict[str, Any], text: str) -> Any:
    """The system prompt and messages as OpenAI messages, with the request's tools."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return messages
    if not plain_messages(messages) and has_media(text, ("base64",)):  # base64 sources say so
        messages = strip_media(messages)
    converted: list[Any] = []
    system = body.get("system")
    if system:
        converted.append({"role": "system", "content": _system(system)})
    for message in messages:
        if type(message) is dict and type(message.get("content")) is str:
            converted.append(message)  # already OpenAI's shape
        else:
            converted.extend(_anthropic_message(message))
    return chat_input(converted, normalise_tools(body.get("tools")))


def _system(system: Any) -> Any:
    if not isinstance(system, list):
        return system
    parts = [
        text_part(block["text"])
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
        else block
        for block in system
    ]
    return joined(parts)


def anthropic_output(content: Any) -> Message:
    """A Messages response's content blocks as one assistant message."""
    texts: list[str] = []
    calls: list[Message] = []
    thoughts: list[Message] = []
    redacted: list[Message] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in _CALLS:
            calls.append(
                tool_call(block.get("id"), block.get("name"), block.get("input"), len(calls))
            )
        elif kind == "thinking":
            found = thinking(block.get("thinking"), block.get("signature"))
            if found is not None:
                thoughts.append(found)
        elif kind == "redacted_thinking":
            found = redacted_thinking(block.get("data"))
            if found is not None:
                redacted.append(found)
        elif isinstance(block.get("text"), str):
            texts.append(block["text"])
    if isinstance(content, str):
        texts.append(content)
    return assistant_message("".join(texts), calls, thoughts, redacted)


def read_anthropic(
    call: LLMCall,
    body: dict[str, Any],
    text: str,
    document: dict[str, Any] | None,
    events: list[Any] | None,
    status: int | None,
) -> None:
    """Fill ``call`` from a Messages API exchange: the request ``body`` (and its raw ``text``),
    then the response ``document`` or its stream ``events``. Shared by Anthropic's API and
    Bedrock's InvokeModel, which carries the same bodies."""
    call.model_parameters = model_parameters(body, renames={"stop_sequences": "stop"})
    call.input = anthropic_input(body, text)
    if events is not None:
        anthropic_stream(call, events)
        return
    if document is None:
        return
    call.error = error_message(document, status)
    call.response_model = document.get("model") if isinstance(document.get("model"), str) else None
    call.usage = usage_from_anthropic(document.get("usage"), "response")
    if "content" in document:
        call.output = anthropic_output(document["content"])
    stop = document.get("stop_reason")
    call.finish_reason = stop if isinstance(stop, str) else None


class AnthropicMessages:
    name = "anthropic"

    def detect(self, exchange: Exchange) -> str | None:
        path = exchange.path
        if path.endswith("/v1/complete"):  # the legacy Text Completions API
            return "completion"
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
        call = LLMCall(
            provider=self.name,
            operation=operation,
            request_model=body.get("model") if isinstance(body.get("model"), str) else None,
            stream=bool(body.get("stream")) or response.is_stream,
        )
        if operation == "completion":
            _read_completion(call, body, response.json_object(), response.events, exchange.status)
            return call
        read_anthropic(
            call,
            body,
            request.text,
            response.json_object(),
            response.events if response.is_stream else None,
            exchange.status,
        )
        return call


def _read_completion(
    call: LLMCall,
    body: dict[str, Any],
    document: dict[str, Any] | None,
    events: list[Any],
    status: int | None,
) -> None:
    """The legacy Text Completions API (``/v1/complete``): a prompt in, a completion out
    (streamed as ``completion`` events); it reports no usage."""
    call.model_parameters = model_parameters(
        body, renames={"max_tokens_to_sample": "max_tokens", "stop_sequences": "stop"}
    )
    prompt = body.get("prompt")
    call.input = prompt if isinstance(prompt, str) else None
    chunks = [event for event in events if isinstance(event, dict)] or (
        [document] if document is not None else []
    )
    parts: list[str] = []
    for chunk in chunks:
        call.error = call.error or error_message(chunk, status)
        if isinstance(chunk.get("completion"), str):
            parts.append(chunk["completion"])
        if isinstance(chunk.get("stop_reason"), str):
            call.finish_reason = chunk["stop_reason"]
        if isinstance(chunk.get("model"), str):
            call.response_model = chunk["model"]
    if parts and call.error is None:
        call.output = "".join(parts)


def anthropic_stream(call: LLMCall, events: list[Any]) -> None:
    """A Messages SSE stream: content blocks rebuilt from their deltas (text, tool input JSON,
    thinking and its signature), usage from ``message_start`` + ``message_delta``."""
    start_usage: dict[str, Any] = {}
    final_usage: dict[str, Any] = {}
    blocks: dict[int, dict[str, Any]] = {}
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("type")
        if kind == "content_block_delta":  # most events
            delta = event.get("delta")
            if type(delta) is not dict:
                continue
            index = event.get("index")
            state = blocks.get(index) if type(index) is int else blocks.get(0)
            if state is None:
                state = blocks[index if type(index) is int else 0] = _state({})
            text = delta.get("text")
            if type(text) is str:
                state["text"].append(text)
                continue
            for key, field in _DELTAS:
                value = delta.get(key)
                if isinstance(value, str):
                    state[field].append(value)
                    break
        elif kind == "message_start" and isinstance(event.get("message"), dict):
            message = event["message"]
            call.response_model = message.get("model") or call.response_model
            found = message.get("usage")
            start_usage = found if isinstance(found, dict) else {}
        elif kind == "content_block_start":
            block = event.get("content_block")
            index = event.get("index")
            blocks[index if type(index) is int else 0] = _state(
                block if isinstance(block, dict) else {}
            )
        elif kind == "message_delta":
            found = event.get("usage")
            final_usage = found if isinstance(found, dict) else final_usage
            delta = event.get("delta")
            stop = delta.get("stop_reason") if isinstance(delta, dict) else None
            call.finish_reason = stop if isinstance(stop, str) else call.finish_reason
        elif kind == "error":
            call.error = error_message(event)
    merged = {**start_usage, **{k: v for k, v in final_usage.items() if v is not None}}
    call.usage = usage_from_anthropic(merged, "stream")
    call.output = _stream_output(blocks)


def _state(block: dict[str, Any]) -> dict[str, Any]:
    """A content block while its deltas arrive."""
    return {"block": block, "text": [], "json": [], "thinking": [], "signature": []}


_DELTAS = (
    ("partial_json", "json"),
    ("thinking", "thinking"),
    ("signature", "signature"),
)


def _stream_output(blocks: dict[int, dict[str, Any]]) -> Message:
    texts: list[str] = []
    calls: list[Message] = []
    thoughts: list[Message] = []
    redacted: list[Message] = []
    for _, state in sorted(blocks.items()):
        block = state["block"]
        kind = block.get("type")
        if kind in _CALLS:
            fragments = "".join(state["json"])
            arguments = fragments or block.get("input")
            calls.append(tool_call(block.get("id"), block.get("name"), arguments, len(calls)))
        elif kind == "thinking" or (kind is None and state["thinking"]):
            signature = "".join(state["signature"]) or block.get("signature")
            content = "".join(state["thinking"]) or block.get("thinking")
            found = thinking(content, signature)
            if found is not None:
                thoughts.append(found)
        elif kind == "redacted_thinking":
            found = redacted_thinking(block.get("data"))
            if found is not None:
                redacted.append(found)
        else:
            if isinstance(block.get("text"), str):
                texts.append(block["text"])
            texts.extend(state["text"])
    return assistant_message("".join(texts), calls, thoughts, redacted)
