"""AWS Bedrock runtime (behind Kong's AI Gateway): Converse, ConverseStream, InvokeModel.

The model is in the path (``/model/{modelId}/converse``), URL-encoded, possibly an inference
profile's ARN whose last segment names the model. Streams are AWS event streams (binary frames
our Kong config captures as base64; ``pipeline.kong.bodies`` decodes them). InvokeModel carries
the model family's own bodies: Anthropic's Messages API (parsed by the Anthropic provider's
code), Amazon Titan text and embeddings, Nova's Converse-like schema, prompt/completion models.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

import orjson

from pipeline.enrich.messages import (
    Message,
    assistant_message,
    chat_input,
    chat_message,
    has_media,
    joined,
    json_text,
    normalise_tools,
    redacted_thinking,
    strip_media,
    text_part,
    thinking,
    tool_call,
    tool_message,
)
from pipeline.enrich.providers.anthropic import read_anthropic
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

_ACTIONS = frozenset({"converse", "converse-stream", "invoke", "invoke-with-response-stream"})
_CONVERSE = {
    "maxTokens": "max_tokens",
    "max_new_tokens": "max_tokens",  # Nova's InvokeModel spelling
    "temperature": "temperature",
    "topP": "top_p",
    "top_p": "top_p",
    "topK": "top_k",
    "top_k": "top_k",
    "stopSequences": "stop",
}
_TITAN = {
    "maxTokenCount": "max_tokens",
    "temperature": "temperature",
    "topP": "top_p",
    "stopSequences": "stop",
}
_PROMPT_MODELS = {"max_gen_len": "max_tokens", "max_tokens_to_sample": "max_tokens"}
# ConverseStream's event types: anything else carrying a message is an exception frame.
_STREAM_EVENTS = frozenset(
    {
        "messageStart",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
        "chunk",
    }
)


def model_route(path: str) -> tuple[str, str] | None:
    """(model id, action) of a Bedrock runtime path, or None."""
    start = path.find("/model/")
    if start < 0:
        return None
    model, slash, action = path[start + 7 :].rpartition("/")
    if not slash or not model or action not in _ACTIONS:
        return None
    # An inference profile's (or a foundation model's) ARN: the model is the last segment.
    return unquote(model).rsplit("/", 1)[-1], action


def usage_from_bedrock(usage: Any, source: str) -> Usage | None:
    """Converse ``usage`` (also Kong's OpenAI-style counts and InvokeModel's metrics): input
    includes cache reads and writes, which Bedrock reports apart."""
    if not isinstance(usage, dict):
        return None
    uncached = _first(usage, "inputTokens", "prompt_tokens", "inputTokenCount")
    output = _first(usage, "outputTokens", "completion_tokens", "outputTokenCount")
    cache_read = _first(usage, "cacheReadInputTokens", "cacheReadInputTokenCount")
    cache_write = _first(usage, "cacheWriteInputTokens", "cacheWriteInputTokenCount")
    if uncached is None and output is None:
        return None
    total_input = (uncached or 0) + (cache_read or 0) + (cache_write or 0)
    return usage_of(
        total_input,
        output,
        source,
        total=total_input + (output or 0),
        cached=cache_read,
        cache_write=cache_write,
    )


def _first(document: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = non_negative_int(document.get(key))
        if value is not None:
            return value
    return None


# --- Converse ---------------------------------------------------------------------------------


def _tool_result_text(content: Any) -> str:
    """A ``toolResult``'s content as text: texts joined, JSON results and the rest dumped."""
    if not isinstance(content, list):
        return json_text(content) if content is not None else ""
    texts: list[str] = []
    for item in content:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            texts.append(item["text"])
        elif isinstance(item, dict) and "json" in item:
            texts.append(json_text(item["json"]))
        else:
            texts.append(json_text(item))
    return "".join(texts)


def _reasoning(block: Any, thoughts: list[Message], redacted: list[Message]) -> None:
    """A ``reasoningContent`` block: ``reasoningText{text, signature}`` or ``redactedContent``."""
    if not isinstance(block, dict):
        return
    found = block.get("reasoningText")
    if isinstance(found, dict):
        thought = thinking(found.get("text"), found.get("signature"))
        if thought is not None:
            thoughts.append(thought)
    hidden = redacted_thinking(block.get("redactedContent"))
    if hidden is not None:
        redacted.append(hidden)


def _converse_message(message: Any) -> list[Any]:
    """One Converse message as OpenAI messages; ``toolResult`` blocks become ``tool`` ones."""
    if not isinstance(message, dict):
        return [message]
    role = message.get("role")
    content = message.get("content")
    if not isinstance(content, list):
        return [{"role": role, "content": content if isinstance(content, str) else ""}]
    parts: list[Any] = []
    results: list[Message] = []
    calls: list[Message] = []
    thoughts: list[Message] = []
    redacted: list[Message] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            parts.append(text_part(block["text"]))
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            calls.append(
                tool_call(use.get("toolUseId"), use.get("name"), use.get("input"), len(calls))
            )
        elif isinstance(block.get("toolResult"), dict):
            result = block["toolResult"]
            results.append(
                tool_message(result.get("toolUseId"), _tool_result_text(result.get("content")))
            )
        elif "reasoningContent" in block:
            _reasoning(block["reasoningContent"], thoughts, redacted)
        elif "cachePoint" not in block:  # images, documents, videos (blobs replaced)…
            parts.append(block)
    converted: list[Any] = list(results)
    if parts or calls or thoughts or redacted or not results:
        converted.append(chat_message(role, joined(parts), calls, thoughts, redacted))
    return converted


def converse_input(body: dict[str, Any], text: str) -> Any:
    """``system``, ``messages`` and ``toolConfig.tools`` as OpenAI messages and tools."""
    messages = body.get("messages")
    if has_media(text, ('"bytes"',)):  # images, documents, videos: {source: {bytes}}
        messages = strip_media(messages)
    converted: list[Any] = []
    system = body.get("system")
    if isinstance(system, list):
        texts = [
            block["text"]
            for block in system
            if isinstance(block, dict) and isinstance(block.get("text"), str)
        ]
        if texts:
            converted.append({"role": "system", "content": "".join(texts)})
    elif isinstance(system, str) and system:
        converted.append({"role": "system", "content": system})
    for message in messages if isinstance(messages, list) else ():
        converted.extend(_converse_message(message))
    if not converted and messages is None:
        return None
    config = body.get("toolConfig")
    tools = normalise_tools(config.get("tools")) if isinstance(config, dict) else []
    return chat_input(converted, tools)


def converse_output(content: Any) -> Message:
    """``output.message.content`` blocks as one assistant message."""
    texts: list[str] = []
    calls: list[Message] = []
    thoughts: list[Message] = []
    redacted: list[Message] = []
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            calls.append(
                tool_call(use.get("toolUseId"), use.get("name"), use.get("input"), len(calls))
            )
        elif "reasoningContent" in block:
            _reasoning(block["reasoningContent"], thoughts, redacted)
    return assistant_message("".join(texts), calls, thoughts, redacted)


def _unwrapped(name: str | None, event: Any) -> tuple[str | None, Any]:
    """Events keyed by their type (``{"contentBlockDelta": {...}}``, as SDKs and Nova's
    InvokeModel stream write them) as the event stream's (name, payload)."""
    if isinstance(event, dict) and len(event) == 1:
        key = next(iter(event))
        if key in _STREAM_EVENTS and isinstance(event[key], dict):
            return key, event[key]
    return name, event


def _converse_stream(call: LLMCall, events: list[Any], names: list[str | None]) -> None:
    """ConverseStream: content blocks rebuilt from their deltas, by ``contentBlockIndex``."""
    blocks: dict[int, dict[str, Any]] = {}
    for position, raw in enumerate(events):
        name, event = _unwrapped(names[position] if position < len(names) else None, raw)
        if not isinstance(event, dict):
            continue
        if name not in _STREAM_EVENTS:
            if isinstance(event.get("message"), str) or isinstance(event.get("Message"), str):
                call.error = call.error or str(event.get("message") or event.get("Message"))
            continue
        index = event.get("contentBlockIndex")
        index = index if type(index) is int else 0
        if name == "contentBlockStart":
            state = blocks.setdefault(index, _block())
            start = event.get("start")
            use = start.get("toolUse") if isinstance(start, dict) else None
            if isinstance(use, dict):
                state["tool"] = use
        elif name == "contentBlockDelta":
            delta = event.get("delta")
            if not isinstance(delta, dict):
                continue
            state = blocks.setdefault(index, _block())
            use = delta.get("toolUse")
            reasoning = delta.get("reasoningContent")
            if isinstance(delta.get("text"), str):
                state["text"].append(delta["text"])
            elif isinstance(use, dict) and isinstance(use.get("input"), str):
                state["input"].append(use["input"])
            elif isinstance(reasoning, dict):
                for key, field in _REASONING_DELTAS:
                    if isinstance(reasoning.get(key), str):
                        state[field].append(reasoning[key])
        elif name == "messageStop":
            stop = event.get("stopReason")
            call.finish_reason = stop if isinstance(stop, str) else call.finish_reason
        elif name == "metadata":
            call.usage = usage_from_bedrock(event.get("usage"), "stream") or call.usage
            _metrics(call, event.get("metrics"))
    texts: list[str] = []
    calls: list[Message] = []
    thoughts: list[Message] = []
    redacted: list[Message] = []
    for _, state in sorted(blocks.items()):
        tool = state["tool"]
        if tool is not None:
            arguments = "".join(state["input"]) or tool.get("input")
            calls.append(tool_call(tool.get("toolUseId"), tool.get("name"), arguments, len(calls)))
            continue
        texts.extend(state["text"])
        thought = thinking("".join(state["reasoning"]), "".join(state["signature"]) or None)
        if thought is not None:
            thoughts.append(thought)
        hidden = redacted_thinking("".join(state["redacted"]))
        if hidden is not None:
            redacted.append(hidden)
    call.output = assistant_message("".join(texts), calls, thoughts, redacted)


_REASONING_DELTAS = (
    ("text", "reasoning"),
    ("signature", "signature"),
    ("redactedContent", "redacted"),
)


def _block() -> dict[str, Any]:
    """A content block's state while its deltas arrive."""
    return {"tool": None, "text": [], "input": [], "reasoning": [], "signature": [], "redacted": []}


def _metrics(call: LLMCall, metrics: Any) -> None:
    if isinstance(metrics, dict):
        latency = non_negative_int(metrics.get("latencyMs"))
        if latency is not None:
            call.metadata["provider_latency_ms"] = latency


# --- InvokeModel ------------------------------------------------------------------------------


def _is_anthropic(body: dict[str, Any], model: str | None) -> bool:
    return "anthropic_version" in body or ("anthropic." in (model or "") and "messages" in body)


def invoke_operation(body: dict[str, Any], model: str | None) -> str:
    """The operation an InvokeModel body is: the families' request shapes tell."""
    if _is_anthropic(body, model):
        return "messages"
    if "messages" in body:  # Nova's messages-v1 schema, Converse-shaped
        return "chat_completion"
    if "embed" in (model or "").lower() or ("texts" in body and "prompt" not in body):
        return "embedding"
    return "completion"


def _chunks(events: list[Any], names: list[str | None], call: LLMCall) -> list[Any]:
    """InvokeModelWithResponseStream: each ``chunk`` carries ``{"bytes": <base64 JSON>}``, a
    model-native stream event; exception frames become the call's error."""
    decoded: list[Any] = []
    for position, event in enumerate(events):
        name = names[position] if position < len(names) else None
        if not isinstance(event, dict):
            continue
        data = event.get("bytes")
        if name not in (None, "chunk") or not isinstance(data, str):
            message = event.get("message") or event.get("Message")
            if name not in _STREAM_EVENTS and isinstance(message, str):
                call.error = call.error or message
            continue
        try:
            decoded.append(orjson.loads(base64.b64decode(data)))
        except (binascii.Error, ValueError):  # orjson.JSONDecodeError is a ValueError
            continue
    return decoded


def _invocation_metrics(call: LLMCall, chunks: list[Any]) -> None:
    """Bedrock's own counts on the last chunk (``amazon-bedrock-invocationMetrics``)."""
    for chunk in reversed(chunks):
        metrics = chunk.get("amazon-bedrock-invocationMetrics") if isinstance(chunk, dict) else None
        if isinstance(metrics, dict):
            call.usage = call.usage or usage_from_bedrock(metrics, "stream")
            first = non_negative_int(metrics.get("firstByteLatency"))
            if first is not None:
                call.time_to_first_token_ms = float(first)
            latency = non_negative_int(metrics.get("invocationLatency"))
            if latency is not None:
                call.metadata["provider_latency_ms"] = latency
            return


class BedrockRuntime:
    """Bedrock's Converse and InvokeModel APIs, JSON or event stream."""

    name = "bedrock"

    def detect(self, exchange: Exchange) -> str | None:
        path = exchange.path
        if "/model/" not in path:
            return None
        route = model_route(path)
        if route is None:
            return None
        model, action = route
        if action.startswith("converse"):
            return "chat_completion"
        return invoke_operation(exchange.request.json_object() or {}, model)

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        route = model_route(exchange.path)
        model, action = route if route is not None else (None, "")
        request, response = exchange.request, exchange.response
        body = request.json_object() or {}
        call = LLMCall(
            provider=self.name,
            operation=operation,
            observation_type="embedding" if operation == "embedding" else "generation",
            request_model=model,
            stream=action.endswith("stream") or response.is_stream,
        )
        chunked = response.is_stream and "chunk" in response.event_names
        if action.startswith("converse") or (
            not action and operation == "chat_completion" and not chunked
        ):
            self._converse(call, body, request, response, exchange.status)
        elif operation == "messages" or _is_anthropic(body, model):
            events = _chunks(response.events, response.event_names, call) if chunked else None
            error = call.error
            read_anthropic(
                call, body, request.text, response.json_object(), events, exchange.status
            )
            call.error = call.error or error
            if events is not None:
                _invocation_metrics(call, events)
        elif operation == "chat_completion":  # Nova's InvokeModel: Converse-shaped bodies
            self._converse(call, body, request, response, exchange.status)
        else:
            self._invoke_other(call, body, response, exchange.status)
        if call.stream:
            call.model_parameters["stream"] = True
        if call.usage is None:  # InvokeModel's counts in response headers
            call.usage = usage_of(
                non_negative_int(exchange.response_header("x-amzn-bedrock-input-token-count")),
                non_negative_int(exchange.response_header("x-amzn-bedrock-output-token-count")),
                "response",
            )
        return call

    @staticmethod
    def _converse(
        call: LLMCall, body: dict[str, Any], request: Body, response: Body, status: int | None
    ) -> None:
        config = body.get("inferenceConfig")
        call.model_parameters = (
            model_parameters(config, keys=(), renames=_CONVERSE) if isinstance(config, dict) else {}
        )
        call.input = converse_input(body, request.text)
        if response.is_stream:
            if "chunk" in response.event_names:  # Nova's InvokeModel stream
                chunks = _chunks(response.events, response.event_names, call)
                _converse_stream(call, chunks, [None] * len(chunks))
                _invocation_metrics(call, chunks)
            else:
                _converse_stream(call, response.events, response.event_names)
            return
        document = response.json_object()
        if document is None:
            return
        call.error = error_message(document, status)
        output = document.get("output")
        message = output.get("message") if isinstance(output, dict) else None
        if isinstance(message, dict):
            call.output = converse_output(message.get("content"))
        call.usage = usage_from_bedrock(document.get("usage"), "response")
        stop = document.get("stopReason")
        call.finish_reason = stop if isinstance(stop, str) else None
        _metrics(call, document.get("metrics"))

    @staticmethod
    def _invoke_other(
        call: LLMCall, body: dict[str, Any], response: Body, status: int | None
    ) -> None:
        """Titan text and embeddings; prompt → completion models (Llama, Mistral, Claude v2)."""
        config = body.get("textGenerationConfig")
        if isinstance(config, dict):
            call.model_parameters = model_parameters(config, keys=(), renames=_TITAN)
        else:
            call.model_parameters = model_parameters(body, renames=_PROMPT_MODELS)
        if "inputText" in body:
            call.input = body["inputText"]
        elif "texts" in body:
            call.input = body["texts"]
        else:
            call.input = body.get("prompt")
        if response.is_stream:
            documents = _chunks(response.events, response.event_names, call)
            _invocation_metrics(call, documents)
        else:
            document = response.json_object()
            if document is None:
                return
            call.error = error_message(document, status)
            documents = [document]
        texts: list[str] = []
        input_tokens: int | None = None
        output_tokens: int | None = None
        for document in documents:
            if not isinstance(document, dict):
                continue
            if call.operation == "embedding":
                embedding = document.get("embedding")
                embeddings = document.get("embeddings")
                if isinstance(embedding, list):
                    call.output = {"embeddings": 1, "dimensions": len(embedding)}
                elif isinstance(embeddings, list):
                    call.output = {"embeddings": len(embeddings)}
                input_tokens = non_negative_int(document.get("inputTextTokenCount"))
                continue
            text, finish = _completion_text(document)
            texts.append(text)
            call.finish_reason = finish or call.finish_reason
            input_tokens = (
                _first(document, "inputTextTokenCount", "prompt_token_count") or input_tokens
            )
            output_tokens = _output_tokens(document) or output_tokens
        if call.operation != "embedding" and call.error is None:
            call.output = "".join(texts)
        source = "stream" if response.is_stream else "response"
        call.usage = call.usage or usage_of(input_tokens, output_tokens, source)


def _completion_text(document: dict[str, Any]) -> tuple[str, str | None]:
    """Text and finish reason of a Titan result, a Llama generation, Mistral's outputs or a
    Claude v2 completion (whole responses and stream chunks alike)."""
    results = document.get("results")
    if isinstance(results, list):
        texts, finish = [], None
        for result in results:
            if isinstance(result, dict):
                if isinstance(result.get("outputText"), str):
                    texts.append(result["outputText"])
                reason = result.get("completionReason")
                finish = reason if isinstance(reason, str) else finish
        return "".join(texts), finish
    outputs = document.get("outputs")
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], dict):
        first = outputs[0]
        reason = first.get("stop_reason")
        text = first.get("text")
        return (text if isinstance(text, str) else ""), (
            reason if isinstance(reason, str) else None
        )
    for key in ("outputText", "generation", "completion"):
        if isinstance(document.get(key), str):
            reason = document.get("completionReason") or document.get("stop_reason")
            return document[key], reason if isinstance(reason, str) else None
    return "", None


def _output_tokens(document: dict[str, Any]) -> int | None:
    results = document.get("results")
    if isinstance(results, list):
        counts = [non_negative_int(r.get("tokenCount")) for r in results if isinstance(r, dict)]
        known = [c for c in counts if c is not None]
        if known:
            return sum(known)
    return _first(document, "totalOutputTextTokenCount", "generation_token_count")
