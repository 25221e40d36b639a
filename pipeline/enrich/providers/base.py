"""What every provider family shares: the call it reads, the exchange it reads it from.

A provider answers two questions about one Kong record: *is this one of my calls?* (``detect``,
cheap, runs for every record) and *what did it say?* (``parse``). Both receive an
:class:`Exchange`, a stable, read-only view custom providers can rely on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from pipeline.kong.bodies import Body
from pipeline.kong.record import HeaderValue, KongRecord
from pipeline.trace import ObservationType, Scalar, Usage, checked, counts


@dataclass(slots=True)
class LLMCall:
    """A provider-neutral reading of one LLM call's request and response."""

    provider: str
    operation: str
    observation_type: ObservationType = "generation"
    request_model: str | None = None
    response_model: str | None = None
    model_parameters: dict[str, Scalar] = field(default_factory=dict)
    input: Any = None
    output: Any = None
    usage: Usage | None = None
    finish_reason: str | None = None
    error: str | None = None
    stream: bool = False
    time_to_first_token_ms: float | None = None
    """Only when the provider reports it (Ollama's load + prompt-eval durations)."""
    metadata: dict[str, Any] = field(default_factory=dict)


def header_value(headers: dict[str, HeaderValue], name: str) -> str | None:
    """A header's first non-empty value (Kong turns repeated headers into lists)."""
    value = headers.get(name)
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if value is None:
        return None
    value = value.strip()
    return value or None


@dataclass(frozen=True, slots=True)
class Exchange:
    """One Kong record as providers see it: path, decoded bodies, Kong's provider hint."""

    record: KongRecord
    path: str
    request: Body
    response: Body
    kong_provider: str | None = None
    """``provider_name`` from Kong's ``ai`` block, when ai-proxy handled the call."""

    @property
    def method(self) -> str:
        return (self.record.request.method or "POST").upper()

    @property
    def status(self) -> int | None:
        return self.record.response.status

    def request_header(self, name: str) -> str | None:
        return header_value(self.record.request.headers, name)

    def response_header(self, name: str) -> str | None:
        return header_value(self.record.response.headers, name)

    @property
    def upstream_host(self) -> str:
        """The upstream's host (Kong service), lower-cased; "" when unknown."""
        service = self.record.service
        if service is not None and service.host:
            return service.host.lower()
        return ""

    @property
    def request_host(self) -> str:
        if self.record.request.url:
            return (urlsplit(self.record.request.url).hostname or "").lower()
        return (self.request_header("host") or "").lower()

    @property
    def service_name(self) -> str | None:
        return self.record.service.name if self.record.service else None

    @property
    def route_name(self) -> str | None:
        return self.record.route.name if self.record.route else None

    def query(self, name: str) -> str | None:
        value = self.record.request.querystring.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        return value if isinstance(value, str) else None


@runtime_checkable
class Provider(Protocol):
    """One provider. ``detect`` must be cheap: it runs for every record."""

    @property
    def name(self) -> str:
        """The provider name shown in Litefuse (tags, metadata, cost look-up)."""
        ...

    def detect(self, exchange: Exchange) -> str | None:
        """The operation name (``chat_completion`` …) if this is one of our calls, else None."""
        ...

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        """Read model, parameters, input, output, usage and errors from the bodies."""
        ...


PARAMETER_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stream",
    "reasoning_effort",
    "response_format",
    "tool_choice",
    "stop",
    "logprobs",
    "top_logprobs",
    "service_tier",
    "parallel_tool_calls",
    "dimensions",
    "encoding_format",
)


def scalar(value: Any) -> tuple[bool, Scalar]:
    """(ok, value): a parameter flattened to a scalar (Litefuse wants a flat map)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return True, value
    if isinstance(value, dict):
        for key in ("type", "effort"):
            if isinstance(value.get(key), str):
                return True, str(value[key])
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return True, ",".join(str(v) for v in value)
    return False, None


def model_parameters(
    request: dict[str, Any],
    keys: tuple[str, ...] = PARAMETER_KEYS,
    renames: dict[str, str] | None = None,
) -> dict[str, Scalar]:
    """Sampling parameters as scalars; ``renames`` maps provider names to ours."""
    params: dict[str, Scalar] = {}
    if not renames:  # the common case, without building the mapping
        for key in keys:
            if key in request:
                ok, value = scalar(request[key])
                if ok:
                    params[key] = value
        return params
    wanted = {key: key for key in keys}
    wanted.update(renames)
    for key, ours in wanted.items():
        if key in request:
            ok, value = scalar(request[key])
            if ok:
                params[ours] = value
    return params


def non_negative_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def text_field(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    return value if isinstance(value, str) and value else None


def error_message(document: Any, status: int | None = None) -> str | None:
    """The provider's error message from an error body (OpenAI, Anthropic, Gemini, Kong…).

    A bare ``message`` counts only for failed calls (Kong's and Cohere's error shape), so a
    successful body with a ``message`` field is never mistaken for an error.
    """
    if not isinstance(document, dict):
        return None
    error = document.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("type") or error.get("code")
        return str(message) if message else None
    if isinstance(error, str) and error:
        return error
    message = document.get("message")
    if isinstance(message, str) and message:
        if status is not None and status >= 400:
            return message
        if set(document) <= {"message", "request_id", "status"}:
            return message
    return None


def usage_of(
    input_tokens: int | None,
    output_tokens: int | None,
    source: str,
    *,
    total: int | None = None,
    cached: int | None = None,
    cache_write: int | None = None,
    reasoning: int | None = None,
) -> Usage | None:
    """A Usage, or None when the provider reported no counts at all."""
    if input_tokens is None and output_tokens is None and total is None:
        return None
    if total is None:
        total = (input_tokens or 0) + (output_tokens or 0)
    usage = Usage(
        input=input_tokens,
        output=output_tokens,
        total=total,
        input_cached=cached,
        input_cache_write=cache_write,
        output_reasoning=reasoning,
        source=source,
    )
    if type(source) is str and counts(
        input_tokens, output_tokens, total, cached, cache_write, reasoning
    ):
        return usage
    return checked(usage)  # 3.0 becomes 3, -1 raises: as the topic's reader would take them


_NOT_TEXT = frozenset({"role", "type", "id", "tool_call_id", "signature", "data"})
"""Keys whose values are labels, ids or opaque blobs (a tool call's id, a thinking block's
signature, redacted thinking's ``data``), not text the model reads or writes."""


def strings(value: Any, skip: frozenset[str] = _NOT_TEXT) -> list[str]:
    """Every text leaf of a message structure (for token estimates), in order."""
    found: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in reversed(item.items()) if k not in skip)
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return found
