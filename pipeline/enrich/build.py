"""Kong record → Trace: the composition of the pure enrichment steps.

provider → bodies → usage (Kong's ``ai`` block first) → timings → cost → context → Trace.
No I/O, no Faust: the agents, the CLI and the benchmarks call this same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pipeline.enrich.context import Context, header, read_context
from pipeline.enrich.cost import compute_cost
from pipeline.enrich.ids import span_id, trace_id
from pipeline.enrich.kong_ai import KongAI, read_kong_ai
from pipeline.enrich.options import EnrichOptions
from pipeline.enrich.providers import LLMCall, detect
from pipeline.kong.bodies import Body, decode_body
from pipeline.kong.record import KongRecord, RecordError
from pipeline.trace import Generation, SourceRef, Trace, Usage

# Kong's provider_name → our provider family, for ai-proxy records on routes we cannot tell.
_KONG_OPERATIONS = {
    "chat": "chat_completion",
    "completions": "completion",
    "embeddings": "embedding",
}


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that is not an AI call (health checks, model lists, other APIs)."""

    reason: str


def request_path(record: KongRecord) -> str:
    uri = record.request.uri or (urlsplit(record.request.url).path if record.request.url else "")
    return (uri or "/").split("?", 1)[0] or "/"


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _ms(value: float | None) -> float | None:
    return None if value is None or value < 0 else float(value)


def enrich(
    record: KongRecord,
    options: EnrichOptions,
    source: SourceRef | None = None,
    content: bytes | None = None,
) -> Trace | Skipped:
    """Build the trace of one Kong record, or say why it is skipped.

    ``content`` (the record's bytes) gives records without Kong's request id and without a Kafka
    position a stable id. Raises RecordError for records that claim to be AI calls but cannot be
    read (they become dead letters).
    """
    source = source or SourceRef()
    path = request_path(record)
    kong_ai = read_kong_ai(record.ai)
    request = decode_body(record.request.body)
    response = decode_body(record.response.body)
    if kong_ai is not None:
        # Kong's payloads stand in for bodies we did not capture ourselves.
        if request.kind == "empty" and kong_ai.request_payload:
            request = decode_body(kong_ai.request_payload)
        if response.kind == "empty" and kong_ai.response_payload:
            response = decode_body(kong_ai.response_payload)
    found = detect(record, path, request)
    if found is None:
        if kong_ai is None or kong_ai.provider is None:
            return Skipped(reason="not an AI request")
        from pipeline.enrich.providers.openai import OpenAICompatible

        operation = _KONG_OPERATIONS.get(kong_ai.operation or "chat", "chat_completion")
        call = OpenAICompatible().parse(operation, request, response)
    else:
        provider, operation = found
        call = provider.parse(operation, request, response)
    if kong_ai is not None and kong_ai.provider:
        call.provider = kong_ai.provider if found is None else call.provider
        call.metadata["kong_provider"] = kong_ai.provider
    return _build_trace(record, options, source, content, path, call, kong_ai, request)


def _times(record: KongRecord) -> tuple[datetime, datetime, datetime, datetime]:
    """Trace start/end and generation start/end from Kong's latencies."""
    if record.started_at is None:
        raise RecordError("AI request without started_at")
    start = datetime.fromtimestamp(record.started_at / 1000, tz=UTC)
    total = _ms(record.latencies.request) or 0.0
    proxy = _ms(record.latencies.proxy)
    kong = _ms(record.latencies.kong) or 0.0
    end = start + timedelta(milliseconds=total)
    if proxy is None:
        return start, end, start, end
    # Kong does not say how its own latency splits before/after the upstream call.
    before = min(kong, max(total - proxy, 0.0))
    generation_start = start + timedelta(milliseconds=before)
    return start, end, generation_start, generation_start + timedelta(milliseconds=proxy)


def _usage(call: LLMCall, kong_ai: KongAI | None) -> Usage | None:
    # Kong's normalised usage first, the bodies' otherwise.
    if kong_ai is not None and kong_ai.usage is not None:
        return kong_ai.usage
    return call.usage


def _trace_name(record: KongRecord, options: EnrichOptions, path: str) -> str:
    if options.trace_name == "route" and record.route and record.route.name:
        return record.route.name
    if options.trace_name == "service" and record.service and record.service.name:
        return record.service.name
    return path


def _metadata(
    record: KongRecord,
    context: Context,
    call: LLMCall,
    model: str | None,
    status: int | None,
    options: EnrichOptions,
    usage: Usage | None,
    total_ms: float | None,
    llm_ms: float | None,
) -> dict[str, Any]:
    output_tokens = usage.output if usage else None
    time_per_token = llm_ms / output_tokens if llm_ms is not None and output_tokens else None
    throughput = output_tokens / (llm_ms / 1000) if llm_ms and output_tokens is not None else None
    values: dict[str, Any] = {
        "provider": call.provider,
        "model": model,
        "operation": call.operation,
        "status_code": status,
        "environment": options.environment,
        "request_id": record.request.id,
        "method": record.request.method,
        "stream": call.stream,
        "total_duration_ms": _round(total_ms),
        "llm_latency_ms": _round(llm_ms),
        "kong_latency_ms": _round(_ms(record.latencies.kong)),
        "time_per_token_ms": _round(time_per_token),
        "throughput_tokens_per_second": _round(throughput),
        "usage_estimated": usage.estimated if usage else None,
        "upstream_status": record.upstream_status or None,
        "kong_service": record.service.name if record.service else None,
        "kong_route": record.route.name if record.route else None,
        "kong_consumer": (record.consumer.username or record.consumer.custom_id)
        if record.consumer
        else None,
        "kong_workspace": record.workspace_name or record.workspace,
        "client_ip": record.client_ip,
        **context.ids(),
        **call.metadata,
    }
    if context.metadata:
        values["request_metadata"] = context.metadata
    return {key: value for key, value in values.items() if value is not None}


def _build_trace(
    record: KongRecord,
    options: EnrichOptions,
    source: SourceRef,
    content: bytes | None,
    path: str,
    call: LLMCall,
    kong_ai: KongAI | None,
    request: Body,
) -> Trace:
    tid = trace_id(
        record.request.id,
        topic=source.topic,
        partition=source.partition,
        offset=source.offset,
        index=source.index,
        content=content,
    )
    start, end, generation_start, generation_end = _times(record)
    context = read_context(record, request.json_object())
    usage = _usage(call, kong_ai)
    model = (
        call.response_model
        or (kong_ai.response_model if kong_ai else None)
        or call.request_model
        or (kong_ai.request_model if kong_ai else None)
        or header(record.response.headers, "x-kong-llm-model")
    )
    cost = compute_cost(model, call.provider, usage, kong_ai.cost if kong_ai else None)
    status = record.response.status
    failed = status is not None and status >= 400
    error = call.error or (f"HTTP {status}" if failed else None)
    llm_ms = (kong_ai.llm_latency_ms if kong_ai else None) or _ms(record.latencies.proxy)
    ttft = kong_ai.time_to_first_token_ms if kong_ai else None
    metadata = _metadata(
        record, context, call, model, status, options, usage, _ms(record.latencies.request), llm_ms
    )
    if kong_ai is not None:
        if kong_ai.request_mode:
            metadata["request_mode"] = kong_ai.request_mode
        if kong_ai.extra:
            metadata["kong_ai"] = kong_ai.extra
    tags = [t for t in (call.provider, model, metadata.get("kong_service")) if t]
    generation = Generation(
        id=span_id(tid, "generation"),
        name=call.operation,
        type=call.observation_type,
        model=model,
        model_parameters=call.model_parameters,
        input=call.input,
        output=call.output,
        usage=usage,
        cost=cost,
        start_time=generation_start,
        end_time=generation_end,
        completion_start_time=generation_start + timedelta(milliseconds=ttft)
        if ttft is not None
        else None,
        finish_reason=call.finish_reason,
        level="ERROR" if failed or call.error else "DEFAULT",
        status_message=error,
        metadata={"finish_reason": call.finish_reason} if call.finish_reason else {},
    )
    return Trace(
        id=tid,
        span_id=span_id(tid, "request"),
        name=_trace_name(record, options, path),
        timestamp=start,
        end_time=end,
        user_id=context.user_id,
        session_id=context.session_id,
        environment=options.environment,
        release=options.release,
        tags=list(dict.fromkeys(tags)),
        metadata=metadata,
        input=call.input,
        output=call.output,
        generation=generation,
        source=source,
    )
