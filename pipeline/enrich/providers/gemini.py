"""Google Gemini (``generativelanguage`` and Vertex AI): generateContent, streams, embeddings.

The model is in the path (``models/gemini-2.0-flash:generateContent``); streams arrive as SSE
(``alt=sse``) or as one JSON array of chunks.
"""

from __future__ import annotations

import re
from typing import Any

from pipeline.enrich.messages import (
    Message,
    assistant_message,
    chat_input,
    has_media,
    joined,
    normalise_tools,
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
    prompt = non_negative_int(usage.get("promptTokenCount"))
    total = non_negative_int(usage.get("totalTokenCount"))
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    if output is None and prompt is not None and total is not None:
        # Gemini leaves the output counts out when it produced none (a blocked answer)
        output = max(total - prompt, 0)
    return usage_of(
        prompt,
        output,
        source,
        total=total,
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


def _function_call(part: dict[str, Any], index: int) -> Message | None:
    found = part.get("functionCall", part.get("function_call"))
    if not isinstance(found, dict):
        return None
    return tool_call(found.get("id"), found.get("name"), found.get("args"), index)


def _answered(response: dict[str, Any], asked: list[Message], used: set[int]) -> str:
    """The id a function response answers: its own, else the earlier call of the same name not
    answered yet (the last model turn's ``asked``), else ``call_<n>`` by position."""
    call_id = response.get("id")
    if isinstance(call_id, str) and call_id:
        return call_id
    name = response.get("name")
    position = next(
        (i for i, c in enumerate(asked) if i not in used and c["function"]["name"] == name),
        len(used),
    )
    used.add(position)
    return str(asked[position]["id"]) if position < len(asked) else f"call_{position}"


def _content_messages(content: Any, asked: list[Message]) -> list[Any]:
    """One Gemini ``content`` as OpenAI messages: ``model`` → assistant, function calls →
    ``tool_calls``, function responses → ``tool`` messages (answering ``asked``, the last model
    turn's calls), thought parts → thinking."""
    if not isinstance(content, dict):
        return [content]
    role = content.get("role", "user")
    role = "assistant" if role == "model" else role
    parts = content.get("parts")
    if not isinstance(parts, list):
        return [{"role": role, "content": ""}]
    kept: list[Any] = []
    calls: list[Message] = []
    results: list[Message] = []
    thoughts: list[Message] = []
    used: set[int] = set()
    for part in parts:
        if not isinstance(part, dict):
            continue
        call = _function_call(part, len(calls))
        if call is not None:
            calls.append(call)
            continue
        response = part.get("functionResponse", part.get("function_response"))
        if isinstance(response, dict):
            call_id = _answered(response, asked, used)
            results.append(tool_message(call_id, response.get("response"), response.get("name")))
        elif isinstance(part.get("text"), str):
            if part.get("thought"):
                block = thinking(part["text"], part.get("thoughtSignature"))
                if block is not None:
                    thoughts.append(block)
            else:
                kept.append(text_part(part["text"]))
        else:  # inline data (blob replaced), file data, executable code…
            kept.append(part)
    converted: list[Any] = list(results)
    if kept or calls or thoughts or not results:
        message: Message = {"role": role, "content": joined(kept) if kept else ""}
        if calls:
            message["content"] = message["content"] or None
            message["tool_calls"] = calls
        if thoughts:
            message["thinking"] = thoughts
        converted.append(message)
    return converted


def _messages(body: dict[str, Any], text: str) -> Any:
    messages: list[Any] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        messages.append({"role": "system", "content": _text(system.get("parts"))})
    contents = body.get("contents")
    if has_media(text, ('"data"',)):  # inlineData / inline_data: {mimeType, data}
        contents = strip_media(contents)
    asked: list[Message] = []  # the last model turn's calls, which function responses answer
    for content in contents if isinstance(contents, list) else ():
        if isinstance(content, dict):
            converted = _content_messages(content, asked)
            calls = converted[-1].get("tool_calls") if converted else None
            if isinstance(calls, list):
                asked = calls
            messages.extend(converted)
    return chat_input(messages, normalise_tools(body.get("tools")))


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
        call.input = _messages(body, exchange.request.text)
        response = exchange.response
        chunks: list[Any] = []
        if response.is_stream:
            chunks = response.events
        elif isinstance(response.document, list):
            chunks = response.document  # a non-SSE stream: one JSON array of chunks
        elif isinstance(response.document, dict):
            chunks = [response.document]
        texts: list[str] = []
        calls: list[Message] = []
        thoughts: list[str] = []
        signature: Any = None
        for chunk in chunks:
            if not isinstance(chunk, dict):
                continue
            call.error = call.error or error_message(chunk, exchange.status)
            candidates = chunk.get("candidates")
            if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
                first = candidates[0]
                content = first.get("content")
                parts = content.get("parts") if isinstance(content, dict) else None
                for part in parts if isinstance(parts, list) else ():
                    if not isinstance(part, dict):
                        continue
                    found = _function_call(part, len(calls))
                    if found is not None:
                        calls.append(found)
                    elif isinstance(part.get("text"), str):
                        if part.get("thought"):
                            thoughts.append(part["text"])
                            signature = part.get("thoughtSignature") or signature
                        else:
                            texts.append(part["text"])
                if isinstance(first.get("finishReason"), str):
                    call.finish_reason = first["finishReason"]
            found_usage = usage_from_gemini(
                chunk.get("usageMetadata"), "stream" if call.stream else "response"
            )
            call.usage = found_usage or call.usage
            if isinstance(chunk.get("modelVersion"), str):
                call.response_model = chunk["modelVersion"]
        if chunks and call.error is None:
            thought = thinking("".join(thoughts), signature) if thoughts else None
            call.output = assistant_message("".join(texts), calls, [thought] if thought else None)
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
