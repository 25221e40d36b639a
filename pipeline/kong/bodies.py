"""Decode captured bodies: JSON documents, SSE streams and NDJSON streams.

Bodies arrive as Kong captured them: whatever the client sent or received, possibly a
streamed response (``data: {...}`` lines ending in ``data: [DONE]``) or Ollama's NDJSON.
"""

from __future__ import annotations

import base64
import gzip
import zlib
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

BodyKind = Literal["empty", "json", "sse", "ndjson", "text"]


@dataclass(frozen=True, slots=True)
class Body:
    kind: BodyKind
    document: Any = None
    events: list[Any] = field(default_factory=list)
    """SSE ``data:`` payloads or NDJSON lines, decoded where they are JSON."""
    event_names: list[str | None] = field(default_factory=list)
    text: str = ""

    @property
    def is_stream(self) -> bool:
        return self.kind in ("sse", "ndjson")

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
