"""Decode captured bodies: JSON documents, SSE, NDJSON and AWS event streams.

Bodies arrive as Kong captured them: whatever the client sent or received, possibly a
streamed response (``data: {...}`` lines ending in ``data: [DONE]``), Ollama's NDJSON, or
Bedrock's binary event stream (base64-encoded by our Kong config, as gzip bodies are).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

BodyKind = Literal["empty", "json", "sse", "ndjson", "eventstream", "text"]


@dataclass(frozen=True, slots=True)
class Body:
    kind: BodyKind
    document: Any = None
    events: list[Any] = field(default_factory=list)
    """SSE ``data:`` payloads, NDJSON lines or event-stream payloads, decoded where JSON."""
    event_names: list[str | None] = field(default_factory=list)
    """SSE ``event:`` names; an event stream's ``:event-type`` (or exception type)."""
    text: str = ""

    @property
    def is_stream(self) -> bool:
        return self.kind in ("sse", "ndjson", "eventstream")

    def json_object(self) -> dict[str, Any] | None:
        return self.document if isinstance(self.document, dict) else None


EMPTY = Body(kind="empty")

# Body's slots, filled directly: the instance Body(...) makes, without the cost of a frozen
# dataclass's keyword __init__ (two bodies per record).
_new = object.__new__
_set_kind = Body.__dict__["kind"].__set__
_set_document = Body.__dict__["document"].__set__
_set_events = Body.__dict__["events"].__set__
_set_event_names = Body.__dict__["event_names"].__set__
_set_text = Body.__dict__["text"].__set__


def _body(
    kind: BodyKind,
    text: str,
    document: Any = None,
    events: list[Any] | None = None,
    event_names: list[str | None] | None = None,
) -> Body:
    body: Body = _new(Body)
    _set_kind(body, kind)
    _set_document(body, document)
    _set_events(body, [] if events is None else events)
    _set_event_names(body, [] if event_names is None else event_names)
    _set_text(body, text)
    return body


def _maybe_gzip(text: str) -> str:
    # A gzip body captured as base64 (our Kong config's convention for binary bodies).
    if text.startswith("H4sI"):
        try:
            return gzip.decompress(base64.b64decode(text)).decode("utf-8", "replace")
        except (ValueError, OSError, EOFError, zlib.error):  # truncated or corrupt capture
            return text
    return text


def decode_body(raw: str | None) -> Body:
    """Classify and decode a body; never raises (a body we cannot read is kept as text)."""
    if raw is None:
        return EMPTY
    if raw[:1] == "A" and raw[1:2] in _EVENTSTREAM_SECOND:  # a frame's length: 0x00 …
        stream = _maybe_eventstream(raw)
        if stream is not None:
            return stream
    text = (_maybe_gzip(raw) if raw.startswith("H4sI") else raw).strip()  # base64 gzip: H4sI
    if "\0" in text:  # vLLM's /generate stream separates its JSON chunks with NUL bytes
        text = text.replace("\0", "\n").strip()
    if not text:
        return EMPTY
    if text[0] in "{[":
        try:
            return _body("json", text, document=orjson.loads(text))
        except orjson.JSONDecodeError:
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) > 1:
                ndjson = _decode_ndjson(lines)
                if ndjson is not None:
                    return _body("ndjson", text, events=ndjson)
    if text.startswith(("data:", "event:", ":", "id:")):
        return _decode_sse(text)
    return _body("text", text)


def _decode_ndjson(lines: list[str]) -> list[Any] | None:
    events = []
    for line in lines:
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            return None
    return events


def _decode_sse(text: str) -> Body:
    events: list[Any] = []
    names: list[str | None] = []
    name: str | None = None
    data: list[str] = []

    def flush() -> None:
        nonlocal name, data
        if data:
            payload = "\n".join(data)
            if payload.strip() != "[DONE]":
                try:
                    events.append(orjson.loads(payload))
                    names.append(name)
                except orjson.JSONDecodeError:
                    # Captures that lost the blank lines between events: one JSON per line.
                    for line in data:
                        if line.strip() == "[DONE]":
                            continue
                        try:
                            events.append(orjson.loads(line))
                        except orjson.JSONDecodeError:
                            events.append(line)
                        names.append(name)
        name, data = None, []

    for line in text.splitlines():
        if not line.strip():
            flush()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
        elif line.startswith("event:"):
            name = line[6:].strip()
    flush()
    return _body("sse", text, events=events, event_names=names)


# --- AWS event stream (application/vnd.amazon.eventstream) ---------------------------------
# Frames: total length (u32), headers length (u32), prelude CRC32, headers, payload, CRC32.
# Headers: name length (u8), name, value type (u8), value (7 = string: u16 length + bytes).

_EVENTSTREAM_SECOND = frozenset("ABCDEFGHIJKLMNOP")
"""Base64's second character when a frame is under 16 MiB (its first byte is 0)."""
MAX_FRAMES = 100_000
_PRELUDE = struct.Struct(">II")
_HEADER_SIZES = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


def _maybe_eventstream(raw: str) -> Body | None:
    """A base64 capture of a valid event stream as a stream Body, else None (cheap: the first
    frame's prelude CRC is checked before anything else is decoded)."""
    try:
        prelude = base64.b64decode(raw[:16], validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(prelude) < 12 or zlib.crc32(prelude[:8]) != int.from_bytes(prelude[8:12], "big"):
        return None
    text = raw.strip()
    text = text[: len(text) // 4 * 4]  # a capture cut mid-quad
    try:
        data = base64.b64decode(text)
    except (binascii.Error, ValueError):
        return None
    events, names = decode_eventstream(data)
    if not events:
        return None
    return _body("eventstream", raw, events=events, event_names=names)


def decode_eventstream(data: bytes) -> tuple[list[Any], list[str | None]]:
    """The payloads (JSON where they are) and event names of the complete, valid frames; stops
    at the first damaged or cut frame."""
    events: list[Any] = []
    names: list[str | None] = []
    offset, size = 0, len(data)
    while offset + 16 <= size and len(events) < MAX_FRAMES:
        total, header_length = _PRELUDE.unpack_from(data, offset)
        end = offset + total
        if (
            total < 16
            or header_length > total - 16
            or end > size
            or zlib.crc32(data[offset : offset + 8])
            != int.from_bytes(data[offset + 8 : offset + 12])
            or zlib.crc32(data[offset : end - 4]) != int.from_bytes(data[end - 4 : end])
        ):
            break
        headers = _headers(data, offset + 12, offset + 12 + header_length)
        payload = data[offset + 12 + header_length : end - 4]
        offset = end
        kind = headers.get(":message-type", "event")
        if kind == "error":  # no payload: the error is in the headers
            names.append(headers.get(":error-code") or "error")
            events.append({"message": headers.get(":error-message") or "error"})
            continue
        try:
            event: Any = orjson.loads(payload)
        except orjson.JSONDecodeError:
            event = payload.decode("utf-8", "replace")
        names.append(
            headers.get(":exception-type") if kind == "exception" else headers.get(":event-type")
        )
        events.append(event)
    return events, names


def _headers(data: bytes, start: int, end: int) -> dict[str, str]:
    """A frame's string headers (the others are skipped)."""
    found: dict[str, str] = {}
    position = start
    while position < end:
        name_length = data[position]
        name = data[position + 1 : position + 1 + name_length].decode("utf-8", "replace")
        position += 1 + name_length
        if position >= end:
            break
        kind = data[position]
        position += 1
        if kind in (6, 7):
            length = int.from_bytes(data[position : position + 2])
            if kind == 7:
                value = data[position + 2 : position + 2 + length]
                found[name] = value.decode("utf-8", "replace")
            position += 2 + length
        elif kind in _HEADER_SIZES:
            position += _HEADER_SIZES[kind]
        else:
            break
    return found
