"""What a provider module supplies: recognise its calls and read their bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pipeline.kong.bodies import Body
from pipeline.kong.record import KongRecord
from pipeline.trace import ObservationType, Scalar, Usage


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
    metadata: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """One provider family. ``detect`` must be cheap: it runs for every record."""

    name: str

    def detect(self, record: KongRecord, path: str, request: Body) -> str | None:
        """The operation name (``chat_completion`` …) if this is one of our calls, else None."""
        ...

    def parse(self, operation: str, request: Body, response: Body) -> LLMCall:
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
)


def model_parameters(request: dict[str, Any]) -> dict[str, Scalar]:
    """Sampling parameters as scalars (Litefuse wants a flat map)."""
    params: dict[str, Scalar] = {}
    for key in PARAMETER_KEYS:
        if key not in request:
            continue
        value = request[key]
        if isinstance(value, (str, int, float, bool)) or value is None:
            params[key] = value
        elif isinstance(value, dict) and isinstance(value.get("type"), str):
            params[key] = value["type"]
        elif isinstance(value, list):
            params[key] = ",".join(str(v) for v in value)
    return params


def non_negative_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) and value >= 0:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def error_message(document: Any) -> str | None:
    """The provider's error message from an error body (OpenAI, Anthropic, Kong shapes)."""
    if not isinstance(document, dict):
        return None
    error = document.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("type")
        return str(message) if message else None
    if isinstance(error, str):
        return error
    message = document.get("message")
    if isinstance(message, str) and set(document) <= {"message", "request_id", "status"}:
        return message
    return None
