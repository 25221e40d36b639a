"""The chat shapes every provider produces: OpenAI's messages, tool calls, tools, media.

Litefuse renders chat input and output in OpenAI's message shape, takes tool definitions from
the input's top-level ``tools`` and tool calls from the output's ``tool_calls``. Each provider
converts its own format with these helpers, so a tool call, a reasoning block or an image looks
the same whoever answered. Pure functions; nothing here raises on odd values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

Message = dict[str, Any]

_MAX_DEPTH = 64
"""How deep the media walk goes: request bodies are hostile, the stack is not theirs."""


# --- tool calls and reasoning -----------------------------------------------------------------


def arguments_text(value: Any) -> str:
    """Tool-call arguments as a JSON string: a provider's string as it is (even cut short by a
    truncated stream), anything else dumped."""
    if isinstance(value, str):
        return value
    if value is None:
        return "{}"
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):  # too deep, or not JSON at all
        return "{}"


def json_text(value: Any) -> str:
    """A value as text for a tool message: strings as they are, the rest JSON-dumped."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return ""


def tool_call(call_id: Any, name: Any, arguments: Any, index: int) -> Message:
    """OpenAI's tool call; ``call_<index>`` when the provider gave no id (Gemini, Ollama)."""
    if isinstance(call_id, int) and not isinstance(call_id, bool):
        call_id = str(call_id)
    return {
        "id": call_id if isinstance(call_id, str) and call_id else f"call_{index}",
        "type": "function",
        "function": {
            "name": name if isinstance(name, str) else "",
            "arguments": arguments_text(arguments),
        },
    }


def thinking(content: Any, signature: Any = None, summary: Any = None) -> Message | None:
    """A reasoning block, or None when there is nothing in it.

    Reasoning is kept apart from the answer; a summary alone stands in for the content.
    """
    text = content if isinstance(content, str) else ""
    brief = summary if isinstance(summary, str) and summary else None
    if not text and brief is not None:
        text, brief = brief, None
    has_signature = isinstance(signature, str) and signature
    if not text and not has_signature:
        return None
    block: Message = {"type": "thinking", "content": text}
    if has_signature:
        block["signature"] = signature
    if brief is not None:
        block["summary"] = brief
    return block


def redacted_thinking(data: Any) -> Message | None:
    """Reasoning the provider returns encrypted (opaque, passed back as it is)."""
    if isinstance(data, str) and data:
        return {"type": "redacted_thinking", "data": data}
    return None


def assistant_message(
    text: str | None,
    tool_calls: list[Message] | None = None,
    thoughts: list[Message] | None = None,
    redacted: list[Message] | None = None,
) -> Message:
    """OpenAI's assistant message; ``content`` is None only when tool calls stand in for text."""
    return chat_message("assistant", text, tool_calls, thoughts, redacted)


def chat_message(
    role: Any,
    content: Any,
    tool_calls: list[Message] | None = None,
    thoughts: list[Message] | None = None,
    redacted: list[Message] | None = None,
) -> Message:
    """One OpenAI chat message of any role (as the request gave it), with the reasoning kept
    apart from the content."""
    message: Message = {"role": role, "content": content or (None if tool_calls else "")}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thoughts:
        message["thinking"] = thoughts
    if redacted:
        message["redacted_thinking"] = redacted
    return message


def tool_message(call_id: Any, content: Any, name: Any = None) -> Message:
    """A tool's answer as OpenAI's ``tool`` message (content as text)."""
    message: Message = {"role": "tool", "content": json_text(content)}
    if isinstance(call_id, str) and call_id:
        message["tool_call_id"] = call_id
    if isinstance(name, str) and name:
        message["name"] = name
    return message


def text_part(text: str) -> Message:
    return {"type": "text", "text": text}


def joined(parts: list[Any]) -> Any:
    """Content parts as OpenAI content: the joined string when all are text, else the list."""
    texts: list[str] = []
    for part in parts:
        if not (isinstance(part, dict) and part.get("type") == "text"):
            return parts
        text = part.get("text")
        texts.append(text if isinstance(text, str) else "")
    return "".join(texts)


def blocks_text(content: Any) -> str:
    """A tool result's content as text: text blocks joined, other blocks JSON-dumped."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else json_text(content)
    texts: list[str] = []
    for block in content:
        if (
            isinstance(block, dict)
            and isinstance(block.get("text"), str)
            and (block.get("type") in (None, "text"))
        ):
            texts.append(block["text"])
        elif isinstance(block, str):
            texts.append(block)
        else:
            texts.append(json_text(block))
    return "".join(texts)


def chat_input(messages: Any, tools: list[Message]) -> Any:
    """The input Langfuse's own integrations send when a request defines tools."""
    return {"messages": messages, "tools": tools} if tools else messages


# --- OpenAI-like histories (OpenAI chat, Cohere v2, Ollama) -----------------------------------

_HISTORY_KEYS = frozenset({"tool_calls", "reasoning_content", "reasoning", "thinking", "tool_plan"})
_REASONING_KEYS = ("reasoning_content", "reasoning", "thinking", "tool_plan")
"""Reasoning in OpenAI-compatible histories: DeepSeek/vLLM, OpenRouter, Ollama, Cohere v2."""


def openai_messages(messages: Any) -> Any:
    """OpenAI-like messages with tool calls and reasoning in our shapes; the same list when no
    message has either (a look at each message's keys, no walk)."""
    if not isinstance(messages, list):
        return messages
    converted: list[Any] | None = None
    for position, message in enumerate(messages):
        if type(message) is not dict or _HISTORY_KEYS.isdisjoint(message):
            continue
        new = _openai_message(message)
        if new is not message:
            if converted is None:
                converted = list(messages)
            converted[position] = new
    return messages if converted is None else converted


def _openai_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    calls = message.get("tool_calls")
    reasoning = [key for key in _REASONING_KEYS if isinstance(message.get(key), str)]
    if not isinstance(calls, list) and not reasoning:
        return message
    new = dict(message)
    if isinstance(calls, list):
        new["tool_calls"] = openai_tool_calls(calls)
    if reasoning:
        thoughts = [thinking(new.pop(key)) for key in reasoning]
        kept = [block for block in thoughts if block is not None]
        if kept:
            new["thinking"] = kept
    return new


def openai_tool_calls(calls: Iterable[Any], start: int = 0) -> list[Message]:
    """OpenAI-shaped tool calls (``function.arguments`` an object in Ollama's) in our shape;
    ``start``: how many calls of the same output came before (for synthesized ids)."""
    found: list[Message] = []
    for call in calls:
        if not isinstance(call, dict):
            continue
        function = call.get("function")
        function = function if isinstance(function, dict) else {}
        found.append(
            tool_call(
                call.get("id"),
                function.get("name"),
                function.get("arguments"),
                start + len(found),
            )
        )
    return found


class ToolCallSlots:
    """Streamed OpenAI-shaped tool-call fragments merged by ``index`` (by id when a provider
    sends no index), keeping the id, name and the arguments' pieces in order."""

    __slots__ = ("by_id", "last", "slots")

    def __init__(self) -> None:
        self.slots: dict[int, dict[str, Any]] = {}
        self.by_id: dict[str, int] = {}
        self.last: int | None = None

    def add(self, call: dict[str, Any]) -> None:
        index = call.get("index")
        call_id = call.get("id")
        if type(index) is not int:
            if isinstance(call_id, str) and call_id:
                index = self.by_id.get(call_id)
                if index is None:
                    index = max(self.slots, default=-1) + 1
            else:
                index = self.last if self.last is not None else 0
        self.last = index
        slot = self.slots.get(index)
        if slot is None:
            slot = self.slots[index] = {"id": None, "name": None, "arguments": []}
        if isinstance(call_id, str) and call_id:
            slot["id"] = call_id
            self.by_id[call_id] = index
        function = call.get("function")
        if isinstance(function, dict):
            if isinstance(function.get("name"), str) and function["name"]:
                slot["name"] = function["name"]
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                slot["arguments"].append(arguments)
            elif arguments is not None:  # an object in one piece
                slot["arguments"] = [arguments_text(arguments)]

    def calls(self) -> list[Message]:
        return [
            tool_call(slot["id"], slot["name"], "".join(slot["arguments"]), position)
            for position, (_, slot) in enumerate(sorted(self.slots.items()))
        ]


def reasoning_of(message: dict[str, Any]) -> tuple[list[Message], list[Message]]:
    """Thinking and redacted thinking of an OpenAI-compatible message or stream delta:
    OpenRouter's ``reasoning_details``, else ``reasoning_content`` (DeepSeek, vLLM) or
    ``reasoning`` (OpenRouter, vLLM, Groq)."""
    thoughts: list[Message] = []
    redacted: list[Message] = []
    details = message.get("reasoning_details")
    if isinstance(details, list):
        for detail in details:
            if not isinstance(detail, dict):
                continue
            kind = detail.get("type")
            if kind == "reasoning.encrypted":
                block = redacted_thinking(detail.get("data"))
                if block is not None:
                    redacted.append(block)
                continue
            block = (
                thinking(detail.get("text"), detail.get("signature"))
                if kind == "reasoning.text"
                else thinking(None, summary=detail.get("summary"))
            )
            if block is not None:
                thoughts.append(block)
    if not thoughts and not redacted:
        for key in ("reasoning_content", "reasoning"):
            block = thinking(message.get(key))
            if block is not None:
                thoughts.append(block)
                break
    return thoughts, redacted


# --- tools ------------------------------------------------------------------------------------


def _function(name: Any, description: Any, parameters: Any) -> Message:
    function: Message = {"name": name if isinstance(name, str) else ""}
    if isinstance(description, str) and description:
        function["description"] = description
    if parameters is not None:
        function["parameters"] = parameters
    return {"type": "function", "function": function}


def _cohere_parameters(definitions: Any) -> Any:
    """Cohere v1's ``parameter_definitions`` as the JSON schema every other provider sends."""
    if not isinstance(definitions, dict):
        return None
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in definitions.items():
        if not isinstance(spec, dict):
            continue
        properties[name] = {k: v for k, v in spec.items() if k in ("type", "description")}
        if spec.get("required") is True:
            required.append(name)
    schema: Message = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _setting(value: Any) -> bool:
    """A tool setting worth keeping: a scalar or a short list of short strings, no blob."""
    if isinstance(value, str):
        return len(value) <= 256
    if isinstance(value, (bool, int, float)):
        return True
    return (
        isinstance(value, list)
        and len(value) <= 32
        and all(isinstance(item, str) and len(item) <= 256 for item in value)
    )


def _other_tool(kind: str, tool: dict[str, Any]) -> Message:
    """A provider-side tool (web search, code execution…): its type and settings, no blobs."""
    kept: Message = {"type": kind}
    for key, value in tool.items():
        if key != "type" and _setting(value):
            kept[key] = value
    return kept


def normalise_tools(tools: Any) -> list[Message]:
    """Tool definitions of any provider in OpenAI's chat shape, in order.

    OpenAI chat, Cohere v2 and Ollama send ``{type: function, function}``; the Responses API
    ``{type: function, name, parameters}``; Anthropic ``{name, input_schema}``; Gemini
    ``{functionDeclarations: [...]}``; Bedrock ``{toolSpec: {name, inputSchema: {json}}}``;
    Cohere v1 ``{name, parameter_definitions}``. Other tools keep their type and settings.
    """
    if not isinstance(tools, list):
        return []
    found: list[Message] = []
    for tool in tools:
        if not isinstance(tool, dict):
            continue
        kind = tool.get("type")
        function = tool.get("function")
        if isinstance(function, dict):
            found.append(
                _function(
                    function.get("name"), function.get("description"), function.get("parameters")
                )
            )
        elif kind == "function" or (isinstance(tool.get("name"), str) and kind in (None, "custom")):
            if "input_schema" in tool:  # Anthropic
                parameters = tool["input_schema"]
            elif "parameter_definitions" in tool:  # Cohere v1
                parameters = _cohere_parameters(tool["parameter_definitions"])
            else:
                parameters = tool.get("parameters")
            found.append(_function(tool.get("name"), tool.get("description"), parameters))
        elif isinstance(tool.get("toolSpec"), dict):  # Bedrock Converse
            spec = tool["toolSpec"]
            schema = spec.get("inputSchema")
            found.append(
                _function(
                    spec.get("name"),
                    spec.get("description"),
                    schema.get("json") if isinstance(schema, dict) else None,
                )
            )
        elif "functionDeclarations" in tool or "function_declarations" in tool:  # Gemini
            declarations = tool.get("functionDeclarations", tool.get("function_declarations"))
            for declaration in declarations if isinstance(declarations, list) else []:
                if isinstance(declaration, dict):
                    parameters = declaration.get("parameters")
                    if parameters is None:
                        parameters = declaration.get("parametersJsonSchema")
                    found.append(
                        _function(
                            declaration.get("name"), declaration.get("description"), parameters
                        )
                    )
        elif isinstance(kind, str) and kind:
            found.append(_other_tool(kind, tool))
        elif len(tool) == 1:  # Gemini's {"googleSearch": {}}, {"codeExecution": {}}
            name = next(iter(tool))
            if name != "cachePoint":  # Bedrock's cache marker is no tool
                found.append({"type": name})
    return found


# --- media ------------------------------------------------------------------------------------

MEDIA_HINTS = ("base64", '"data"', '"images"', '"bytes"')
"""What a body holding a media blob contains (data URLs and Anthropic sources say ``base64``;
OpenAI audio and Gemini's ``inlineData`` have a ``data`` key; Ollama ``images``; Bedrock
``bytes``); without one, no walk. Each provider checks only the hints its format can hold:
every hint is a pass over the body's text."""
DATA_URL_HINTS = ("base64", '"data"')
"""OpenAI-like bodies: data URLs (images, files) and ``input_audio.data``."""

_SIGNATURES = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("JVBERi0", "application/pdf"),
)
_DOCUMENT_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv",
    "txt": "text/plain",
    "html": "text/html",
    "md": "text/markdown",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def has_media(text: str, hints: tuple[str, ...] = MEDIA_HINTS) -> bool:
    """Whether a raw body may hold a base64 blob (a cheap check before any walk)."""
    for hint in hints:  # noqa: SIM110 - a loop costs less than any() over a generator
        if hint in text:
            return True
    return False


def plain_messages(messages: Any) -> bool:
    """Every message a dict whose content is a string and that carries no ``images``: no blob
    can hide in it, whatever the body's text says (a look at each message, no text search)."""
    if type(messages) is not list:
        return False
    for message in messages:
        if type(message) is not dict or type(message.get("content")) is not str:
            return False
        if "images" in message:
            return False
    return True


def decoded_size(data: str) -> int:
    """Bytes a base64 string decodes to, without decoding it."""
    data = data.strip()
    padding = len(data) - len(data.rstrip("="))
    chars = len(data) - padding - data.count("\n") - data.count("\r")
    return max(chars * 3 // 4, 0)


def placeholder(media_type: Any, data: str) -> str:
    """``[image/png, 48213 bytes]``: what stands in for a blob."""
    if not (isinstance(media_type, str) and media_type):
        media_type = next((kind for prefix, kind in _SIGNATURES if data.startswith(prefix)), None)
    return f"[{media_type or 'media'}, {decoded_size(data)} bytes]"


def _data_url(value: str) -> str | None:
    """A ``data:<type>;base64,...`` URL's placeholder, or None for any other string."""
    head = value[:256]
    marker = head.find(";base64,")
    if marker < 0:
        return None
    return placeholder(head[5:marker].split(";", 1)[0], value[marker + 8 :])


def _media_type(kind: Any, format_: Any) -> str | None:
    if not isinstance(format_, str) or not format_:
        return None
    if kind == "document":
        return _DOCUMENT_TYPES.get(format_.lower(), f"application/{format_.lower()}")
    if kind in ("image", "video", "audio"):
        return f"{kind}/{format_.lower()}"
    return None


def strip_media(value: Any) -> Any:
    """``value`` with every base64 blob replaced by its placeholder; unchanged parts are the same
    objects (the request document is never modified). http(s) URLs stay as they are."""
    return _walk(value, None, 0)


def _walk(value: Any, key: Any, depth: int) -> Any:
    if isinstance(value, str):
        found = _data_url(value) if value.startswith("data:") else None
        return value if found is None else found
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, list):
        if key == "images":  # Ollama: bare base64 strings
            return [
                placeholder(None, v)
                if isinstance(v, str) and not v.startswith(("http://", "https://"))
                else v
                for v in value
            ]
        changed: list[Any] | None = None
        for position, item in enumerate(value):
            new = _walk(item, None, depth + 1)
            if new is not item:
                if changed is None:
                    changed = list(value)
                changed[position] = new
        return value if changed is None else changed
    if isinstance(value, dict):
        replaced: dict[str, Any] | None = None
        for name, item in value.items():
            new = _blob(value, key, name, item)
            if new is None:
                new = _walk(item, name, depth + 1)
            if new is not item:
                if replaced is None:
                    replaced = dict(value)
                replaced[name] = new
        return value if replaced is None else replaced
    return value


def _blob(container: dict[str, Any], key: Any, name: Any, item: Any) -> Any:
    """The replacement of a known blob field, or None when ``item`` is not one."""
    if name == "data" and isinstance(item, str):
        if key in ("inlineData", "inline_data"):  # Gemini
            return placeholder(container.get("mimeType", container.get("mime_type")), item)
        if key == "input_audio":  # OpenAI
            return placeholder(_media_type("audio", container.get("format")), item)
        if key == "source" and container.get("type") == "base64":  # Anthropic
            return placeholder(container.get("media_type"), item)
        return None
    if name == "bytes" and key == "source" and isinstance(item, str):  # Bedrock
        return placeholder(None, item)
    if name == "source" and isinstance(item, dict) and isinstance(item.get("bytes"), str):
        source = dict(item)  # Bedrock's {image|document|video: {format, source: {bytes}}}
        source["bytes"] = placeholder(_media_type(key, container.get("format")), item["bytes"])
        return source
    if name == "file_data" and isinstance(item, str):  # Responses input_file, chat file parts
        return _data_url(item) or placeholder(None, item.partition(",")[2] or item)
    return None
