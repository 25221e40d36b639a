"""The enriched Trace: the one model between the enrich agent and the sinks.

It is what the traces topic carries (JSON, schema in ``schemas/trace.schema.json``) and all a
sink needs; sinks know nothing about Kong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

Level = Literal["DEBUG", "DEFAULT", "WARNING", "ERROR"]
ObservationType = Literal["generation", "embedding"]
JoinMode = Literal["observation", "full"]
Scalar = str | int | float | bool | None


def usage_keys(model: str | None) -> tuple[str, str, str]:
    """(cache read, cache write, reasoning) usage keys for a model's family.

    The keys Langfuse's own integrations send for that family, which are the keys Litefuse's
    model price table prices: Anthropic's ``input_cache_read`` / ``input_cache_creation``,
    OpenAI's ``input_cached_tokens`` / ``output_reasoning_tokens``, Gemini's
    ``input_cached_tokens`` / ``output_reasoning``.
    """
    name = (model or "").lower()
    if "claude" in name:
        return "input_cache_read", "input_cache_creation", "output_reasoning"
    if "gemini" in name:
        return "input_cached_tokens", "input_cache_creation", "output_reasoning"
    return "input_cached_tokens", "input_cache_creation", "output_reasoning_tokens"


class Usage(BaseModel):
    """Token counts as the provider reports them. Only non-negative integers.

    ``input`` counts every input token, cached reads and cache writes included; ``output``
    every output token, reasoning included. What Litefuse is sent is :meth:`details`: exclusive
    buckets, because its UI sums every key that starts with ``input`` (and ``output``).
    """

    model_config = ConfigDict(extra="forbid")

    input: int | None = Field(
        default=None, ge=0, description="All input tokens, cache reads and writes included."
    )
    output: int | None = Field(
        default=None, ge=0, description="All output tokens, reasoning included."
    )
    total: int | None = Field(default=None, ge=0, description="As the provider reported it.")
    input_cached: int | None = Field(default=None, ge=0, description="Cache-read input tokens.")
    input_cache_write: int | None = Field(
        default=None, ge=0, description="Input tokens written to the provider's prompt cache."
    )
    output_reasoning: int | None = Field(
        default=None, ge=0, description="Output tokens spent on reasoning."
    )
    estimated: bool = Field(
        default=False, description="Counted with a tokenizer because the provider reported none."
    )
    source: str | None = Field(
        default=None, description="Where the counts came from: kong-ai, response, stream, …"
    )

    def details(self, model: str | None = None) -> dict[str, int]:
        """Litefuse's ``usage_details``: each token in exactly one bucket.

        ``input`` is the uncached remainder, ``output`` the non-reasoning remainder, the cache
        and reasoning buckets (named for ``model``'s family, see :func:`usage_keys`) stand
        apart, and ``total`` is the sum of the buckets, so the UI's input/output/total equal
        the provider's counts.
        """
        read_key, write_key, reasoning_key = usage_keys(model)
        cached = self.input_cached or 0
        written = self.input_cache_write or 0
        reasoning = self.output_reasoning or 0
        buckets: dict[str, int] = {}
        if self.input is not None:
            buckets["input"] = max(self.input - cached - written, 0)
        if cached:
            buckets[read_key] = cached
        if written:
            buckets[write_key] = written
        if self.output is not None:
            buckets["output"] = max(self.output - reasoning, 0)
        if reasoning:
            buckets[reasoning_key] = reasoning
        if buckets:
            buckets["total"] = sum(buckets.values())
        elif self.total is not None:
            buckets["total"] = self.total
        return buckets


class Cost(BaseModel):
    """USD, in the same exclusive buckets as :meth:`Usage.details`. Absent (None) when the
    model's price is unknown: never a wrong $0."""

    model_config = ConfigDict(extra="forbid")

    input: float | None = Field(default=None, ge=0, description="Uncached input tokens.")
    input_cached: float | None = Field(default=None, ge=0, description="Cache reads.")
    input_cache_write: float | None = Field(default=None, ge=0, description="Cache writes.")
    output: float | None = Field(default=None, ge=0, description="Non-reasoning output.")
    output_reasoning: float | None = Field(default=None, ge=0, description="Reasoning output.")
    total: float = Field(ge=0)
    source: str | None = Field(default=None, description="kong | genai-prices | override")

    def details(self, model: str | None = None) -> dict[str, float]:
        """Litefuse's ``cost_details``: the usage buckets' keys, each priced once."""
        read_key, write_key, reasoning_key = usage_keys(model)
        keys = {
            "input": self.input,
            read_key: self.input_cached,
            write_key: self.input_cache_write,
            "output": self.output,
            reasoning_key: self.output_reasoning,
            "total": self.total,
        }
        return {key: value for key, value in keys.items() if value is not None}


class Generation(BaseModel):
    """The LLM call: Litefuse's generation observation."""

    id: str = Field(description="16 hex chars, deterministic (the OTLP span id).")
    name: str = Field(description="chat_completion, completion, embedding, messages, …")
    type: ObservationType = "generation"
    model: str | None = None
    model_parameters: dict[str, Scalar] = Field(default_factory=dict)
    input: Any = None
    output: Any = None
    usage: Usage | None = None
    cost: Cost | None = None
    start_time: datetime
    end_time: datetime
    completion_start_time: datetime | None = None
    finish_reason: str | None = None
    level: Level = "DEFAULT"
    status_message: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    prompt_name: str | None = Field(
        default=None, description="Litefuse prompt this generation used (with prompt_version)."
    )
    prompt_version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class SourceRef(BaseModel):
    """Where the trace came from, for dead letters, de-duplication and debugging."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    index: int = Field(default=0, description="Position inside a JSON-array Kafka value.")


class Trace(BaseModel):
    """One AI request through Kong."""

    id: str = Field(
        description="32 hex chars (the OTLP trace id): deterministic from Kong's request, or "
        "the caller's trace when the request joined one."
    )
    span_id: str = Field(
        description="16 hex chars: the Kong request's span, deterministic from Kong's request."
    )
    parent_span_id: str | None = Field(
        default=None,
        description="16 hex chars: the caller's span the Kong request's span is a child of. "
        "None: the request span is the trace's root, or (joined in observation mode) a trace "
        "id came without a parent.",
    )
    joined: JoinMode | None = Field(
        default=None,
        description="How the request joined a caller's trace: observation (observation-level "
        "data only: the trace's name, input, output and metadata stay the app's) or full. "
        "None: the trace is the gateway's own.",
    )
    given_trace_id: str | None = Field(
        default=None,
        description="The caller's trace id as given, when it is not the id itself "
        "(Langfuse's legacy ingestion takes any id: the legacy sink sends this one).",
    )
    given_parent_id: str | None = Field(
        default=None,
        description="The caller's parent observation id as given, when it is not "
        "parent_span_id itself (for the legacy sink).",
    )
    trace_state: str | None = Field(
        default=None, description="The caller's W3C tracestate, passed on with our spans."
    )
    name: str
    timestamp: datetime = Field(description="When Kong received the request.")
    end_time: datetime
    user_id: str | None = None
    session_id: str | None = None
    environment: str = "production"
    release: str | None = None
    version: str | None = Field(
        default=None, description="The calling application's version, as it said it."
    )
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    input: Any = None
    output: Any = None
    generation: Generation
    source: SourceRef = Field(default_factory=SourceRef)

    @property
    def key(self) -> str:
        """What identifies this Kong request's trace data, for de-duplication and delivery.

        The trace id for a trace of its own (one per Kong request); trace id and request span
        id for a request that joined a caller's trace, which other requests join too.
        """
        return self.id if self.joined is None else f"{self.id}:{self.span_id}"

    def to_json(self) -> bytes:
        # pydantic-core's own JSON writer: the same bytes as orjson over model_dump(mode="json")
        # (checked on the bench mix), without building the dict first (~40 -> ~22 µs a trace)
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)

    @classmethod
    def from_json(cls, data: bytes | str) -> Trace:
        """The trace a sink reads from the topic (``ValueError`` if it is not one).

        orjson, then validation: ~28 against ~33 µs a trace for pydantic's own JSON parser on
        the bench mix. Enrichment writes the trace's input and output again in its generation;
        equal, they become one object here, so a trace held in a sink batch takes ~13 instead
        of ~18 KB and the OTLP encoder writes the JSON of each once.
        """
        trace: Trace = cls.__pydantic_validator__.validate_python(orjson.loads(data))
        generation = trace.generation
        for name in ("input", "output"):
            shared = getattr(trace, name)
            if shared is not None and generation.__dict__[name] == shared:
                generation.__dict__[name] = shared  # what validation stores, not a new value
        return trace
