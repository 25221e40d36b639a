"""The enriched Trace: the one model between the enrich agent and the sinks.

It is what the traces topic carries (JSON, schema in ``schemas/trace.schema.json``) and all a
sink needs; sinks know nothing about Kong.

The models are msgspec Structs: on the bench mix, writing a trace costs ~5 µs (pydantic: ~15)
and reading it back with every type and constraint checked ~12 µs (pydantic: ~21). A Struct
does not validate on construction: code that builds one from values it has not checked passes
it through :func:`checked`, which checks them as the topic's reader does.

The topic's JSON is what pydantic's ``exclude_none`` wrote: a None field is left out, any other
value is written, defaults included (``"estimated":false``, ``"tags":[]``, ``"index":0``).
msgspec's ``omit_defaults`` leaves out a value that *is* its field's default (or an empty
list/dict from a ``list``/``dict`` factory), so fields whose default is not None take it from a
factory msgspec cannot compare (:func:`_written`): they are always written, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from msgspec import Meta

Level = Literal["DEBUG", "DEFAULT", "WARNING", "ERROR"]
ObservationType = Literal["generation", "embedding"]
JoinMode = Literal["observation", "full"]
Scalar = str | int | float | bool | None
Count = Annotated[int, Meta(ge=0)]
Amount = Annotated[float, Meta(ge=0)]
PromptVersion = Annotated[int, Meta(ge=1, le=2**31 - 1)]
Moment = Annotated[datetime, Meta(extra_json_schema={"format": "date-time"})]
"""RFC 3339 text. As with pydantic, one without an offset reads as a naive datetime, so the
schema's date-time format is stated here (msgspec states it only for ``tz=True``, which would
refuse those)."""

S = TypeVar("S", bound=msgspec.Struct)
SCALARS = frozenset({str, int, float, bool, type(None)})
"""Types kept as they are in ``Scalar`` (``model_parameters``' values)."""


def _written(factory: Callable[[], Any]) -> Any:
    """A default msgspec writes even when the value equals it (see the module's docstring)."""
    return msgspec.field(default_factory=factory)


def _doc(text: str | None, default: Any = ...) -> Meta:
    """A field's description (and, for a factory default, the default the schema shows)."""
    schema = None if default is ... else {"default": default}
    return Meta(description=text, extra_json_schema=schema)


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


class Usage(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """Token counts as the provider reports them. Only non-negative integers.

    ``input`` counts every input token, cached reads and cache writes included; ``output``
    every output token, reasoning included. What Litefuse is sent is :meth:`details`: exclusive
    buckets, because its UI sums every key that starts with ``input`` (and ``output``).
    """

    input: Annotated[Count | None, _doc("All input tokens, cache reads and writes included.")] = (
        None
    )
    output: Annotated[Count | None, _doc("All output tokens, reasoning included.")] = None
    total: Annotated[Count | None, _doc("As the provider reported it.")] = None
    input_cached: Annotated[Count | None, _doc("Cache-read input tokens.")] = None
    input_cache_write: Annotated[
        Count | None, _doc("Input tokens written to the provider's prompt cache.")
    ] = None
    output_reasoning: Annotated[Count | None, _doc("Output tokens spent on reasoning.")] = None
    estimated: Annotated[
        bool, _doc("Counted with a tokenizer because the provider reported none.", False)
    ] = _written(lambda: False)
    source: Annotated[
        str | None, _doc("Where the counts came from: kong-ai, response, stream, …")
    ] = None

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


class Cost(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True):
    """USD, in the same exclusive buckets as :meth:`Usage.details`. Absent (None) when the
    model's price is unknown: never a wrong $0."""

    input: Annotated[Amount | None, _doc("Uncached input tokens.")] = None
    input_cached: Annotated[Amount | None, _doc("Cache reads.")] = None
    input_cache_write: Annotated[Amount | None, _doc("Cache writes.")] = None
    output: Annotated[Amount | None, _doc("Non-reasoning output.")] = None
    output_reasoning: Annotated[Amount | None, _doc("Reasoning output.")] = None
    total: Amount
    source: Annotated[str | None, _doc("kong | genai-prices | override")] = None

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


class Generation(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The LLM call: Litefuse's generation observation."""

    id: Annotated[str, _doc("16 hex chars, deterministic (the OTLP span id).")]
    name: Annotated[str, _doc("chat_completion, completion, embedding, messages, …")]
    type: Annotated[ObservationType, _doc(None, "generation")] = _written(lambda: "generation")
    model: str | None = None
    model_parameters: Annotated[dict[str, Scalar], _doc(None, {})] = _written(lambda: {})
    input: Any = None
    output: Any = None
    usage: Usage | None = None
    cost: Cost | None = None
    start_time: Moment
    end_time: Moment
    completion_start_time: Moment | None = None
    finish_reason: str | None = None
    level: Annotated[Level, _doc(None, "DEFAULT")] = _written(lambda: "DEFAULT")
    status_message: str | None = None
    metadata: Annotated[dict[str, Any], _doc(None, {})] = _written(lambda: {})
    prompt_name: Annotated[
        str | None, _doc("Litefuse prompt this generation used (with prompt_version).")
    ] = None
    prompt_version: PromptVersion | None = None


class SourceRef(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Where the trace came from, for dead letters, de-duplication and debugging."""

    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    index: Annotated[int, _doc("Position inside a JSON-array Kafka value.", 0)] = _written(
        lambda: 0
    )


class Trace(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One AI request through Kong."""

    id: Annotated[
        str,
        _doc(
            "32 hex chars (the OTLP trace id): deterministic from Kong's request, or the "
            "caller's trace when the request joined one."
        ),
    ]
    span_id: Annotated[
        str, _doc("16 hex chars: the Kong request's span, deterministic from Kong's request.")
    ]
    parent_span_id: Annotated[
        str | None,
        _doc(
            "16 hex chars: the caller's span the Kong request's span is a child of. None: the "
            "request span is the trace's root, or (joined in observation mode) a trace id came "
            "without a parent."
        ),
    ] = None
    joined: Annotated[
        JoinMode | None,
        _doc(
            "How the request joined a caller's trace: observation (observation-level data "
            "only: the trace's name, input, output and metadata stay the app's) or full. None: "
            "the trace is the gateway's own."
        ),
    ] = None
    given_trace_id: Annotated[
        str | None,
        _doc(
            "The caller's trace id as given, when it is not the id itself (Langfuse's legacy "
            "ingestion takes any id: the legacy sink sends this one)."
        ),
    ] = None
    given_parent_id: Annotated[
        str | None,
        _doc(
            "The caller's parent observation id as given, when it is not parent_span_id "
            "itself (for the legacy sink)."
        ),
    ] = None
    trace_state: Annotated[
        str | None, _doc("The caller's W3C tracestate, passed on with our spans.")
    ] = None
    name: str
    timestamp: Annotated[Moment, _doc("When Kong received the request.")]
    end_time: Moment
    user_id: str | None = None
    session_id: str | None = None
    environment: Annotated[str, _doc(None, "production")] = _written(lambda: "production")
    release: str | None = None
    version: Annotated[str | None, _doc("The calling application's version, as it said it.")] = None
    tags: Annotated[list[str], _doc(None, [])] = _written(lambda: [])
    metadata: Annotated[dict[str, Any], _doc(None, {})] = _written(lambda: {})
    input: Any = None
    output: Any = None
    generation: Generation
    source: SourceRef = msgspec.field(default_factory=SourceRef)

    @property
    def key(self) -> str:
        """What identifies this Kong request's trace data, for de-duplication and delivery.

        The trace id for a trace of its own (one per Kong request); trace id and request span
        id for a request that joined a caller's trace, which other requests join too.
        """
        return self.id if self.joined is None else f"{self.id}:{self.span_id}"

    def to_json(self) -> bytes:
        return _encode(self)

    @classmethod
    def from_json(cls, data: bytes | str) -> Trace:
        """The trace a sink reads from the topic (``ValueError`` if it is not one).

        Decoded and checked in one pass (msgspec). Enrichment writes the trace's input and
        output again in its generation; equal, they become one object here: a trace held in a
        sink batch takes ~9 instead of ~14 KB, and the OTLP encoder writes the JSON of each
        once (the comparison costs ~1 µs, about what the encoder saves).
        """
        trace = _decode(data)
        generation = trace.generation
        shared = trace.input
        if shared is not None and generation.input == shared:
            generation.input = shared
        shared = trace.output
        if shared is not None and generation.output == shared:
            generation.output = shared
        return trace


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Trace).decode


def checked(value: S) -> S:
    """A model built from values nobody checked, as validation takes it: ``ValueError``
    (msgspec's ``ValidationError``) for a value the topic's reader would refuse.

    Lax as the pydantic constructor it replaces: ``"12"`` and ``3.0`` become 12 and 3 where an
    int is wanted. A model in a field is taken as it is (as pydantic did): check it first.
    """
    return msgspec.convert(msgspec.structs.asdict(value), type(value), strict=False)


def counts(*values: Any) -> bool:
    """Every value a non-negative int or None: what ``Usage`` takes as it is."""
    for value in values:
        if value is not None and (type(value) is not int or value < 0):
            return False
    return True


def amounts(*values: Any) -> bool:
    """Every value a non-negative float or None: what ``Cost`` takes as it is."""
    for value in values:
        if value is not None and (type(value) is not float or not value >= 0):
            return False
    return True
