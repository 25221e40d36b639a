"""The enrich stage over a run of Kafka values: parse, enrich, encode, route.

What the enrich agent does with each record batch, minus Kafka, metrics and logging: those stay
with the agent, which turns the :data:`Outcome` list into records to produce. The outcomes are
small and picklable, so the same function runs in the worker or in helper processes
(:mod:`pipeline.enrich.pool`), with the same results.
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.enrich.build import Skipped, enrich
from pipeline.enrich.caller import ABSENT, INVALID, JOINED
from pipeline.enrich.options import EnrichOptions
from pipeline.kong import RecordError, parse_records
from pipeline.settings import Settings
from pipeline.sinks.batching import fit_trace
from pipeline.sinks.routing import LitefuseRoute, route_for, route_topic
from pipeline.trace import SourceRef, Trace

KAFKA_FRAMING_BYTES = 16_384
"""Room left under the broker's record limit for the key, headers and batch framing."""
_DEFAULT_MESSAGE_BYTES: int = Settings.model_fields["kafka_max_message_bytes"].default


def enrich_options(settings: Settings) -> EnrichOptions:
    """Build the enrichment options once per process (reads the price file, loads plugins)."""
    from pipeline.enrich.options import build_options

    return build_options(
        environment=settings.langfuse_environment,
        release=settings.langfuse_release,
        trace_name=settings.trace_name,
        payload_mode=settings.payload_mode,
        payload_max_chars=settings.payload_max_chars,
        mask_patterns=settings.mask_patterns,
        sample_rate=settings.sample_rate,
        sample_rates=settings.sample_rates,
        price_override_file=settings.price_override_file,
        model_aliases=settings.model_aliases,
        custom_providers=settings.custom_providers,
        vllm_services=settings.vllm_services,
        provider_plugins=settings.provider_plugins,
        estimate_tokens=settings.estimate_tokens,
        environment_from_request=settings.environment_from_request,
        trace_context=settings.trace_context,
        trace_join_mode=settings.trace_join_mode,
    )


@dataclass(frozen=True, slots=True)
class StageConfig:
    """Everything the stage needs, built once per process."""

    options: EnrichOptions
    traces_topic: str
    routes: list[LitefuseRoute] = field(default_factory=list)
    max_trace_bytes: int = _DEFAULT_MESSAGE_BYTES - KAFKA_FRAMING_BYTES

    @classmethod
    def from_settings(cls, settings: Settings) -> StageConfig:
        return cls(
            options=enrich_options(settings),
            traces_topic=settings.traces_topic,
            routes=list(settings.langfuse_routes),
            max_trace_bytes=settings.kafka_max_message_bytes - KAFKA_FRAMING_BYTES,
        )


@dataclass(frozen=True, slots=True)
class KafkaValue:
    """What the stage needs of a Kafka message."""

    value: bytes | None
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Traced:
    """A trace to produce, and what the agent counts of it."""

    topic: str
    key: bytes
    value: bytes
    provider: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    truncated: bool = False
    """Its largest fields were cut to fit a Kafka record."""
    trace_context: str | None = None
    """How the caller's trace context was read: joined, invalid, absent (None: not read)."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """Not an AI call, or sampled out (``reason`` is a metric label)."""

    reason: str
    trace_context: str | None = None
    """As :attr:`Traced.trace_context`, for an AI call sampled out."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A dead letter: ``message`` is the value's position in the batch, ``index`` the record's
    in a JSON-array value (None: the value itself did not parse)."""

    message: int
    index: int | None
    reason: str
    error: str | None = None
    """The traceback of an internal error (a bug), for the worker's log."""


Outcome = Traced | Dropped | Rejected


def trace_context_result(trace: Trace, options: EnrichOptions) -> str | None:
    """The trace-context metric's label for a trace (None when TRACE_CONTEXT=ignore)."""
    if options.trace_context != "join":
        return None
    if trace.joined is not None:
        return JOINED
    return INVALID if trace.metadata.get("trace_context") == INVALID else ABSENT


def run_stage(values: Sequence[KafkaValue], config: StageConfig) -> list[Outcome]:
    """The outcomes of a run of values, in order (a value may hold several records)."""
    outcomes: list[Outcome] = []
    for position, message in enumerate(values):
        raw = message.value or b""
        try:
            records = parse_records(raw)
        except RecordError as exc:
            outcomes.append(Rejected(position, None, str(exc)))
            continue
        except Exception as exc:  # a bug must cost one record, not the pipeline
            reason = f"internal error: {type(exc).__name__}: {exc}"
            outcomes.append(Rejected(position, None, reason, traceback.format_exc()))
            continue
        for index, record in enumerate(records):
            source = SourceRef(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                index=index,
            )
            try:
                outcomes.append(_outcome(enrich(record, config.options, source), config))
            except RecordError as exc:
                outcomes.append(Rejected(position, index, str(exc)))
            except Exception as exc:  # a bug must cost one record, not the pipeline
                reason = f"internal error: {type(exc).__name__}: {exc}"
                outcomes.append(Rejected(position, index, reason, traceback.format_exc()))
    return outcomes


def _outcome(result: Trace | Skipped, config: StageConfig) -> Outcome:
    if isinstance(result, Skipped):
        return Dropped(result.reason, result.trace_context)
    trace = result
    trace_context = trace_context_result(trace, config.options)
    value = trace.to_json()
    truncated = len(value) > config.max_trace_bytes
    if truncated:
        trace = fit_trace(trace, lambda t: len(t.to_json()), config.max_trace_bytes)
        value = trace.to_json()
        if len(value) > config.max_trace_bytes:
            raise RecordError(f"trace too large for Kafka even truncated: {len(value)} bytes")
    generation = trace.generation
    usage, cost = generation.usage, generation.cost
    return Traced(
        topic=route_topic(config.traces_topic, route_for(trace, config.routes)),
        key=trace.id.encode(),
        value=value,
        provider=trace.metadata.get("provider"),
        model=generation.model,
        input_tokens=usage.input if usage else None,
        output_tokens=usage.output if usage else None,
        cost_usd=cost.total if cost else None,
        truncated=truncated,
        trace_context=trace_context,
    )
