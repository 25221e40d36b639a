"""Cohere: chat (v1 and v2), generate (v1) and embed, JSON, SSE (v2) and NDJSON (v1) streams."""

from __future__ import annotations

from typing import Any

from pipeline.enrich.messages import (
    Message,
    ToolCallSlots,
    assistant_message,
    chat_input,
    normalise_tools,
    openai_tool_calls,
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
from pipeline.enrich.providers.openai import openai_chat_input
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


def _v2_output(message: dict[str, Any]) -> Message:
    """A v2 ``message``: text parts, thinking parts and the ``tool_plan`` (as thinking), calls."""
    content = message.get("content")
    texts: list[str] = []
    thoughts: list[Message] = []
    if isinstance(content, str):
        texts.append(content)
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "thinking":
            block = thinking(part.get("thinking"))
            if block is not None:
                thoughts.append(block)
    plan = thinking(message.get("tool_plan"))
    if plan is not None:
        thoughts.append(plan)
    calls = message.get("tool_calls")
    return assistant_message(
        "".join(texts), openai_tool_calls(calls) if isinstance(calls, list) else None, thoughts
    )


def _v1_calls(calls: Any) -> list[Message]:
    """v1 tool calls (``{name, parameters}``, no ids)."""
    found: list[Message] = []
    for call in calls if isinstance(calls, list) else ():
        if isinstance(call, dict):
            found.append(tool_call(None, call.get("name"), call.get("parameters"), len(found)))
    return found


def _v1_results(results: Any, calls: list[Message]) -> list[Message]:
    """v1 ``tool_results`` (``{call, outputs}``) as tool messages. v1 has no ids: a result
    answers the earlier call with the same name and arguments (``calls``, the last assistant
    turn's), else the call at its position."""
    found: list[Message] = []
    used: set[int] = set()
    for result in results if isinstance(results, list) else ():
        if not isinstance(result, dict):
            continue
        call = result.get("call")
        name = call.get("name") if isinstance(call, dict) else None
        asked = tool_call(None, name, call.get("parameters"), 0) if isinstance(call, dict) else None
        position = next(
            (
                index
                for index, earlier in enumerate(calls)
                if index not in used
                and asked is not None
                and earlier["function"] == asked["function"]
            ),
            len(found),
        )
        used.add(position)
        call_id = calls[position]["id"] if position < len(calls) else f"call_{position}"
        found.append(tool_message(call_id, result.get("outputs"), name))
    return found


_V1_ROLES = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


def _v1_input(body: dict[str, Any]) -> Any:
    """v1 chat: preamble, ``chat_history`` (USER/CHATBOT/SYSTEM/TOOL), the message and this
    turn's tool results, as OpenAI messages."""
    messages: list[Any] = []
    preamble = body.get("preamble")
    if isinstance(preamble, str):
        messages.append({"role": "system", "content": preamble})
    history = body.get("chat_history")
    last_calls: list[Message] = []
    for item in history if isinstance(history, list) else ():
        if not isinstance(item, dict):
            messages.append(item)
            continue
        role = item.get("role")
        ours = _V1_ROLES.get(role.upper(), role) if isinstance(role, str) else role
        if ours == "tool":
            messages.extend(_v1_results(item.get("tool_results"), last_calls))
            continue
        text = item.get("message", item.get("content"))
        message: Message = {"role": ours, "content": text if isinstance(text, str) else ""}
        calls = _v1_calls(item.get("tool_calls"))
        if calls:
            message["content"] = message["content"] or None
            message["tool_calls"] = calls
            last_calls = calls
        messages.append(message)
    results = _v1_results(body.get("tool_results"), last_calls)
    messages.extend(results)
    if not results or body.get("message"):
        messages.append({"role": "user", "content": body.get("message")})
    return chat_input(messages, normalise_tools(body.get("tools")))


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
        elif isinstance(body.get("messages"), list):  # v2: OpenAI-like
            call.input = openai_chat_input(body, exchange.request.text)
        else:  # v1 chat: one message, history and preamble apart
            call.input = _v1_input(body)
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
            call.output = _v2_output(document["message"])
        elif isinstance(document.get("text"), str) or isinstance(document.get("tool_calls"), list):
            text = document.get("text")
            call.output = assistant_message(
                text if isinstance(text, str) else "", _v1_calls(document.get("tool_calls"))
            )
        return call

    @staticmethod
    def _stream(call: LLMCall, events: list[Any]) -> None:
        parts: list[str] = []
        thoughts: list[str] = []
        plan: list[str] = []
        slots = ToolCallSlots()  # v2 tool-call-start / tool-call-delta
        v1_calls: list[Message] | None = None  # v1 tool-calls-generation / stream-end
        v1_chunks: dict[int, dict[str, Any]] = {}  # v1 tool-calls-chunk
        for event in events:
            if not isinstance(event, dict):
                continue
            kind = event.get("type") or event.get("event_type")
            if kind in ("content-delta", "content-start"):  # v2 SSE
                content = _path(event, "delta", "message", "content")
                if isinstance(content.get("text"), str):
                    parts.append(content["text"])
                elif isinstance(content.get("thinking"), str):
                    thoughts.append(content["thinking"])
            elif kind == "tool-plan-delta":
                found = _path(event, "delta", "message").get("tool_plan")
                if isinstance(found, str):
                    plan.append(found)
            elif kind in ("tool-call-start", "tool-call-delta"):
                fragment = _path(event, "delta", "message", "tool_calls")
                if fragment:
                    slots.add({**fragment, "index": event.get("index")})
            elif kind == "message-end":
                delta = _path(event, "delta")
                call.finish_reason = delta.get("finish_reason") or call.finish_reason
                call.usage = usage_from_cohere(delta.get("usage"), "stream") or call.usage
                call.error = error_message(delta) or call.error
            elif kind == "text-generation" and isinstance(event.get("text"), str):  # v1 NDJSON
                parts.append(event["text"])
            elif kind == "tool-calls-generation":
                v1_calls = _v1_calls(event.get("tool_calls")) or v1_calls
            elif kind == "tool-calls-chunk":
                delta = _path(event, "tool_call_delta")
                index = delta.get("index")
                slot = v1_chunks.setdefault(index if type(index) is int else 0, {"arguments": []})
                if isinstance(delta.get("name"), str):
                    slot["name"] = delta["name"]
                if isinstance(delta.get("parameters"), str):
                    slot["arguments"].append(delta["parameters"])
            elif kind == "stream-end":
                call.finish_reason = event.get("finish_reason") or call.finish_reason
                final = _path(event, "response")
                call.usage = usage_from_cohere(final.get("meta"), "stream") or call.usage
                v1_calls = _v1_calls(final.get("tool_calls")) or v1_calls
        calls = slots.calls()
        if not calls:
            calls = v1_calls or [
                tool_call(None, slot.get("name"), "".join(slot["arguments"]), position)
                for position, (_, slot) in enumerate(sorted(v1_chunks.items()))
            ]
        blocks = [thinking("".join(text)) for text in (thoughts, plan) if text]
        call.output = assistant_message(
            "".join(parts), calls, [block for block in blocks if block is not None]
        )


def _path(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``event[k1][k2]…`` when every step is an object, else {} (stream events are nested)."""
    value: Any = event
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}
