"""Kong log records around Kong Gateway's own test data (tests/fixtures/kong-upstream/).

Pure functions: a :class:`Case` says which upstream call a record stands for (the provider's
URL, status, the bodies from Kong's fixtures or, where Kong has none, one we wrote) and
:func:`kong_record` returns the record Kong's log serializer (``kong/pdk/log.lua``
``serialize()``) would publish for it, with the bodies either captured the way our Kong config
captures them (``request.body`` / ``response.body`` strings, binary bodies base64-encoded) or in
Kong AI Gateway's ``ai`` block of the Kong version a stats table comes from.

Nothing here calls the pipeline: the facts a test checks are read from the fixtures, not
computed by our code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

UPSTREAM = Path(__file__).resolve().parent / "fixtures" / "kong-upstream"
GATEWAY = "kong.example.com"
STARTED_AT = 1764400000000  # epoch ms, as Kong writes started_at
# Kong service names for the upstream hosts (host suffix → name), as an operator names them.
SERVICES = (
    ("openai.azure.com", "azure-openai"),
    ("openai.com", "openai"),
    ("anthropic.com", "anthropic"),
    ("cohere.com", "cohere"),
    ("googleapis.com", "gemini"),
    ("mistral.ai", "mistral"),
    ("huggingface.co", "huggingface"),
    ("amazonaws.com", "bedrock"),
    ("ollama.internal", "ollama"),
)


def read(path: str) -> bytes:
    """A fixture's bytes; ``path`` is relative to tests/fixtures/kong-upstream/."""
    return (UPSTREAM / path).read_bytes()


def read_json(path: str) -> Any:
    return json.loads(read(path))


@dataclass(frozen=True)
class Body:
    """A body from Kong's fixtures (files joined in order), or one we wrote.

    ``model`` and ``set`` change a JSON request fixture the way a client or Kong would have
    (Kong's request fixtures carry no model: ai-proxy injects its configured one). The changed
    document is encoded again, ``compact`` as lua-cjson writes it (Kong 3.9+ logs the body it
    sent upstream, re-encoded).
    """

    files: tuple[str, ...] = ()
    written: str | None = None
    model: str | None = None
    set: dict[str, Any] = field(default_factory=dict)
    compact: bool = False
    binary: bool = False
    """Bytes no JSON string holds (AWS event stream): captured base64-encoded."""

    def text(self) -> str:
        if self.written is not None:
            return self.written
        raw = b"".join(read(path) for path in self.files)
        if self.binary:
            return base64.b64encode(raw).decode()
        text = raw.decode()
        if self.model is None and not self.set and not self.compact:
            return text  # verbatim
        document = json.loads(text)
        if self.model is not None:
            document = {"model": self.model, **document}
        document.update(self.set)
        return json.dumps(document, separators=(",", ":") if self.compact else None)


def fixture(*files: str, **changes: Any) -> Body:
    return Body(files=files, **changes)


def written(text: str) -> Body:
    return Body(written=text)


@dataclass(frozen=True)
class AI:
    """Kong AI Gateway's ``ai`` block: the stats table of one Kong version, and payloads."""

    layout: Literal["3.6", "3.7", "3.8", "3.9+"]
    stats: str | None = None
    """A kong-spec-stats/ file (its ``meta``/``usage``/``cache``), as the spec expects them."""
    usage: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    """Stats given here instead of a file (Kong 3.6, whose spec has no stats table)."""
    request: Body | None = None
    response: Body | None = None

    def block(self) -> dict[str, Any]:
        stats: dict[str, Any] = {"meta": dict(self.meta), "usage": dict(self.usage)}
        if self.stats is not None:
            table = read_json(self.stats)
            if len(table) == 1 and isinstance(next(iter(table.values())), dict):
                table = next(iter(table.values()))  # keyed by the plugin ("ai-proxy")
            stats = dict(table)
        payload = {
            key: body.text()
            for key, body in (("request", self.request), ("response", self.response))
            if body is not None
        }
        if payload:
            stats["payload"] = payload
        if self.layout == "3.6":
            return stats  # flat: ai.usage, ai.meta, ai.payload
        return {"ai-proxy" if self.layout in ("3.7", "3.8") else "proxy": stats}


@dataclass(frozen=True)
class Case:
    """One upstream call as Kong proxied it."""

    upstream: str
    """The provider's URL (scheme, host, path, query): what Kong's service and upstream_uri
    say, and the path the client called unless ``client_path`` says otherwise."""
    status: int
    request: Body | None
    response: Body | None
    content_type: str = "application/json"
    ai: AI | None = None
    kong: str = "3.10.0"
    """The Kong version: the ``via`` header and which serializer fields exist."""
    client_path: str | None = None
    """The path the client called on Kong (ai-proxy routes speak OpenAI's format)."""
    service: str | None = None

    def files(self) -> set[str]:
        """Every fixture file this case reads."""
        bodies = [self.request, self.response]
        if self.ai is not None:
            bodies += [self.ai.request, self.ai.response]
        found = {path for body in bodies if body is not None for path in body.files}
        if self.ai is not None and self.ai.stats is not None:
            found.add(self.ai.stats)
        return found


def _version(kong: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", kong)[:3])


def _service_name(host: str) -> str:
    return next((name for suffix, name in SERVICES if host.endswith(suffix)), "llm")


def request_id(name: str) -> str:
    """Kong's request id (32 hex digits), stable per case."""
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def kong_record(name: str, case: Case) -> dict[str, Any]:
    """The record Kong's log serializer publishes for ``case`` (one JSON object)."""
    url = urlsplit(case.upstream)
    upstream_uri = url.path + (f"?{url.query}" if url.query else "")
    uri = case.client_path or upstream_uri
    version = _version(case.kong)
    rid = request_id(name)
    request_body = case.request.text() if case.request is not None else None
    response_body = case.response.text() if case.response is not None else None
    request: dict[str, Any] = {
        "id": rid,
        "method": "POST",
        "uri": uri,
        "url": f"https://{GATEWAY}:443{uri}",
        "size": 420 + len(request_body or ""),
        "querystring": dict(parse_qsl(urlsplit(uri).query)) or {},
        "headers": {
            "host": GATEWAY,
            "content-type": "application/json",
            "accept": "application/json",
            "user-agent": "kong-upstream-fixtures/1.0",
            "authorization": "REDACTED",
        },
    }
    if request_body is not None:
        request["body"] = request_body
    response: dict[str, Any] = {
        "status": case.status,
        "size": 380 + len(response_body or ""),
        "headers": {
            "content-type": case.content_type,
            "x-kong-request-id": rid,
            "x-kong-upstream-latency": "800",
            "x-kong-proxy-latency": "3",
            "via": f"1.1 kong/{case.kong}",
        },
    }
    if response_body is not None:
        response["body"] = response_body
    latencies: dict[str, Any] = {"kong": 3, "proxy": 800, "request": 804}
    record: dict[str, Any] = {
        "request": request,
        "upstream_uri": upstream_uri,
        "upstream_status": str(case.status),
        "response": response,
        "latencies": latencies,
        "tries": [
            {
                "ip": "203.0.113.7",
                "port": 443,
                "balancer_start": STARTED_AT + 1,
                "balancer_latency": 0,
            }
        ],
        "client_ip": "10.12.0.9",
        "started_at": STARTED_AT,
        "workspace": "0f1a6c5e-3c5d-4b52-9c1e-2a0f1f0f2b10",
        "service": {
            "id": request_id(f"service:{url.hostname}")[:32],
            "name": case.service or _service_name(url.hostname or ""),
            "host": url.hostname,
            "port": url.port or 443,
            "protocol": url.scheme,
            "path": "/",
            "retries": 5,
            "connect_timeout": 60000,
            "read_timeout": 60000,
            "write_timeout": 60000,
            "enabled": True,
            "tags": {},
        },
        "route": {
            "id": request_id(f"route:{name}")[:32],
            "name": "llm-route",
            "paths": ["/"],
            "protocols": ["https"],
            "strip_path": False,
            "preserve_host": False,
            "tags": {},
        },
    }
    if version >= (3, 6):
        record["source"] = "upstream"
    if version >= (3, 7):
        latencies["receive"] = 1
        record["workspace_name"] = "default"
    if case.ai is not None:
        record["ai"] = case.ai.block()
    return record


# --- what Kong itself writes into payloads (read from Kong's drivers) -------------------------


def sse_text(path: str) -> str:
    """The text of an OpenAI chat SSE stream, joined as Kong's stream filter buffers it."""
    parts: list[str] = []
    for line in read(path).decode().splitlines():
        if line.startswith("data:") and line[5:].strip() != "[DONE]":
            for choice in json.loads(line[5:]).get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str):
                    parts.append(content)
    return "".join(parts)


def kong_stream_composite(path: str, finish_reason: str, usage: dict[str, int]) -> Body:
    """Kong 3.9+'s logged response for a stream: the composite chat.completion its
    ``normalize-sse-chunk`` filter encodes once the stream is finished (``model`` left nil)."""
    text = sse_text(path)
    composite = {
        "choices": [
            {
                "finish_reason": finish_reason,
                "index": 0,
                "logprobs": None,
                "message": {"role": "assistant", "content": text},
            }
        ],
        "object": "chat.completion",
        "response": text,
        "usage": usage,
    }
    return written(json.dumps(composite, separators=(",", ":")))


def kong_openai_to_gemini(path: str, options: dict[str, Any]) -> Body:
    """The body Kong 3.9's gemini driver (``to_gemini_chat_openai``) sends for an OpenAI chat
    request fixture, with the plugin's ``max_tokens``/``temperature`` options merged."""
    request = read_json(path)
    contents: list[dict[str, Any]] = []
    system: list[str] = []
    for message in request["messages"]:
        if message["role"] == "system":
            system.append(message["content"])
        else:
            role = "model" if message["role"] == "assistant" else "user"
            contents.append({"role": role, "parts": [{"text": message["content"]}]})
    body: dict[str, Any] = {
        "contents": contents,
        "generationConfig": {
            "maxOutputTokens": options["max_tokens"],
            "temperature": options["temperature"],
        },
    }
    if system:
        body["systemInstruction"] = {"parts": [{"text": "".join(system)}]}
    return written(json.dumps(body, separators=(",", ":")))


def kong_gemini_to_openai(path: str, model: str) -> Body:
    """Kong 3.9's gemini driver (``from_gemini_chat_openai``) on a Gemini response fixture:
    the OpenAI-format body ai-proxy returns and logs as ``payload.response``."""
    response = read_json(path)
    candidate = response["candidates"][0]
    usage = response["usageMetadata"]
    body = {
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": candidate["content"]["parts"][0]["text"],
                },
                "finish_reason": candidate["finishReason"].lower(),
            }
        ],
        "object": "chat.completion",
        "model": model,
        "usage": {
            "prompt_tokens": usage["promptTokenCount"],
            "completion_tokens": usage["candidatesTokenCount"],
            "total_tokens": usage["totalTokenCount"],
        },
    }
    return written(json.dumps(body, separators=(",", ":")))
