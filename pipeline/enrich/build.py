"""Kong record → Trace: the composition of the pure enrichment steps.

bodies → provider (registry) → ids → sampling → parse → usage (Kong's ``ai`` block first, then
the bodies, then a flagged estimate) → timings → cost → context → privacy → Trace.
No I/O, no Faust: the agents, the CLI and the benchmarks call this same function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgspec

from pipeline.enrich.caller import (
    INVALID,
    Attributes,
    Found,
    Link,
    read_attributes,
    read_link,
    scan,
)
from pipeline.enrich.context import (
    Context,
    header,
    kong_consumer,
    read_context,
    request_environment,
)
from pipeline.enrich.cost import PROVIDER_IDS, compute_cost
from pipeline.enrich.ids import span_id, trace_id
from pipeline.enrich.kong_ai import KongAI, read_kong_ai
from pipeline.enrich.options import EnrichOptions
from pipeline.enrich.privacy import (
    all_clean,
    limit_payload,
    mask,
    redact_text,
    scrub,
    scrub_present,
)
from pipeline.enrich.providers import Exchange, LLMCall, detect, is_non_ai_path, sniff
from pipeline.enrich.providers.base import Provider
from pipeline.enrich.sampling import follows_caller, sampled
from pipeline.enrich.tokens import estimate_usage
from pipeline.kong.bodies import Body, decode_body
from pipeline.kong.record import KongRecord, RecordError
from pipeline.trace import SCALARS, Cost, Generation, SourceRef, Trace, Usage, checked, counts

NOT_AI = "not an AI request"
SAMPLED_OUT = "sampled out"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record that is not an AI call (health checks, model lists, other APIs) or sampled out.

    ``reason`` is a metric label: keep it to a few fixed values.
    """

    reason: str
    trace_context: str | None = field(default=None, compare=False)
    """For an AI call sampled out: how its trace context was read (a metric label)."""


def request_path(record: KongRecord) -> str:
    """The path without query string or path parameters (``;name=value``, which may hold a
    key): what providers are detected by and what names the trace."""
    uri = record.request.uri or (urlsplit(record.request.url).path if record.request.url else "")
    return (uri or "/").split("?", 1)[0].split(";", 1)[0] or "/"


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
    exchange = Exchange(record, path, request, response, kong_ai.provider if kong_ai else None)
    found = detect(exchange, options.providers)
    provider: Provider
    if found is not None:
        provider, operation = found
    elif kong_ai is not None and kong_ai.provider and not is_non_ai_path(path):
        # Kong's ai block vouches for the call, whatever the method (realtime is a GET upgrade).
        provider, operation = sniff(exchange, kong_ai.operation)
    else:
        return Skipped(reason=NOT_AI)
    own = trace_id(
        record.request.id,
        topic=source.topic,
        partition=source.partition,
        offset=source.offset,
        index=source.index,
        content=content,
    )
    request_body = request.json_object()
    environment = options.environment
    if options.environment_from_request:
        environment = request_environment(record, request_body) or environment
    caller = scan(record.request.headers, request_body)
    link: Link | None = None
    context_result: str | None = None
    if options.trace_context == "join":
        link, context_result = read_link(record.request.headers, caller)
    rate = options.rate_for(environment)
    if link is None:
        keep = sampled(own, rate)
    elif link.sampled is None:
        keep = sampled(link.trace_id, rate)
    else:
        keep = follows_caller(link.sampled, rate)
    if not keep:
        return Skipped(reason=SAMPLED_OUT, trace_context=context_result)
    call = provider.parse(operation, exchange)
    if found is None and kong_ai is not None and kong_ai.provider:
        call.provider = kong_ai.provider
    ids = _Ids(own, link, context_result == INVALID)
    return _build_trace(
        record, options, source, ids, environment, exchange, call, kong_ai, request_body, caller
    )


@dataclass(frozen=True, slots=True)
class _Ids:
    own: str
    """The trace id of the Kong request itself: its spans' ids derive from it."""
    link: Link | None
    """The caller's trace it joins."""
    invalid: bool
    """A trace context was given but could not be used."""


# Bounds of values a real Kong record can hold; outside them a record is rejected with the
# reason, instead of a trace no sink can write (a 1970 or year-10^20 timestamp, 10^300 tokens).
_EARLIEST_MS = 946_684_800_000.0  # 2000-01-01
_LATEST_MS = 4_102_444_800_000.0  # 2100-01-01
_LONGEST_MS = 7 * 24 * 3600 * 1000.0  # a week
MAX_TOKENS = 10**12


def _times(record: KongRecord) -> tuple[datetime, datetime, datetime, datetime]:
    """Trace start/end and generation start/end from Kong's latencies."""
    if record.started_at is None:
        raise RecordError("AI request without started_at")
    if not _EARLIEST_MS <= record.started_at < _LATEST_MS:  # NaN fails too
        raise RecordError(
            f"implausible started_at: {record.started_at!r} epoch ms is not between 2000 and 2100"
        )
    latencies = record.latencies
    for name in ("request", "proxy", "kong"):
        value = getattr(latencies, name)
        if value is not None and not value <= _LONGEST_MS:
            raise RecordError(f"implausible latencies.{name}: {value!r} ms")
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


def _kong_assembled(
    kong_ai: KongAI | None, request: dict[str, Any] | None, held_stream: bool
) -> bool:
    """Whether Kong's counts for an OpenAI-format stream are its estimate: Kong 3.9+ logs the
    chat.completion it assembled from the stream, and OpenAI's streams carry usage only when
    the request asked for it (``stream_options.include_usage``)."""
    if kong_ai is None or held_stream or not request or request.get("stream") is not True:
        return False
    if (kong_ai.provider or "") not in ("openai", "azure"):
        return False
    options = request.get("stream_options")
    return not (isinstance(options, dict) and options.get("include_usage") is True)


def _usage(
    call: LLMCall,
    kong_ai: KongAI | None,
    model: str | None,
    options: EnrichOptions,
    ok: bool,
    held_stream: bool,
    request: dict[str, Any] | None = None,
) -> Usage | None:
    """Kong's normalised usage, else the bodies', else (successful calls only) an estimate.

    A failed call that reports no usage used none: providers bill no failed request, and
    Kong's own answers (rate limits, auth) never reached one. It says so with zero counts,
    because Litefuse counts and prices the input itself for a generation sent without usage.
    """
    kong_usage = kong_ai.usage if kong_ai is not None else None
    usage = kong_usage or call.usage
    if kong_usage is not None and (
        (held_stream and call.usage is None) or _kong_assembled(kong_ai, request, held_stream)
    ):
        # The stream carried no usage, so Kong's counts are its own estimate.
        usage = msgspec.structs.replace(kong_usage, estimated=True)
    if not ok:
        return usage or _NO_USAGE
    if not options.estimate_tokens:
        return usage
    embedding = call.observation_type == "embedding"
    missing_input = usage is None or usage.input is None
    missing_output = not embedding and (usage is None or usage.output is None)
    if (missing_input and call.input is not None) or (missing_output and call.output is not None):
        return estimate_usage(model, call.input, call.output, usage, embedding=embedding) or usage
    return usage


_NO_USAGE = Usage(input=0, output=0, total=0, source="failed call")


def _model(call: LLMCall, kong_ai: KongAI | None, record: KongRecord) -> str | None:
    """The provider's response model first: it names the snapshot that actually ran."""
    model = (
        call.response_model
        or (kong_ai.response_model if kong_ai else None)
        or call.request_model
        or (kong_ai.request_model if kong_ai else None)
    )
    if model:
        return model
    kong_model = header(record.response.headers, "x-kong-llm-model")  # provider/model
    if kong_model and "/" in kong_model:
        prefix, _, rest = kong_model.partition("/")
        return rest if prefix.lower() in PROVIDER_IDS or prefix == call.provider else kong_model
    return kong_model


def _short_circuited(record: KongRecord) -> bool:
    """Kong answered itself (auth, rate limiting, ai-proxy validation): no upstream call."""
    if record.source == "kong":
        return True
    return (record.latencies.proxy is not None and record.latencies.proxy < 0) or (
        record.upstream_status == "" and record.response.status is not None
    )


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
_EXCERPT_CHARS = 200


def _page_text(response: Body) -> str | None:
    """What a failed call's non-JSON body says: an HTML page's title, else its text (tags
    removed, whitespace collapsed), cut to a few words; None for JSON, streams and no body."""
    if response.kind != "text":
        return None
    found = _TITLE.search(response.text)
    text = " ".join((found[1] if found else _TAG.sub(" ", response.text)).split())
    if len(text) > _EXCERPT_CHARS:
        text = text[: _EXCERPT_CHARS - 1] + "…"
    return text or None


def _error(call: LLMCall, record: KongRecord, response: Body) -> str | None:
    status = record.response.status
    failed = status is not None and status >= 400
    if call.error:
        if failed and _short_circuited(record):
            return f"Kong answered {status}: {call.error}"
        return call.error
    if not failed:
        return None
    page = _page_text(response)
    if _short_circuited(record):
        if page:
            return f"Kong answered {status}: {page}"
        return f"Kong answered {status} without calling the provider"
    return f"HTTP {status}: {page}" if page else f"HTTP {status}"


def _timings(
    record: KongRecord, kong_ai: KongAI | None, call: LLMCall, usage: Usage | None
) -> dict[str, float | None]:
    latencies = record.latencies
    total_ms = _ms(latencies.request)
    kong_ms = _ms(latencies.kong)
    llm_ms = (kong_ai.llm_latency_ms if kong_ai else None) or _ms(latencies.proxy)
    ttft = (kong_ai.time_to_first_token_ms if kong_ai else None) or call.time_to_first_token_ms
    kong_per_token = kong_ai.time_per_token_ms if kong_ai else None
    output = usage.output if usage else None
    per_token: float | None = None
    throughput: float | None = None
    if llm_ms is not None and output:
        if ttft is not None and output > 1 and llm_ms > ttft:
            per_token = (llm_ms - ttft) / (output - 1)  # decode time per token after the first
        else:
            per_token = llm_ms / output
        throughput = output / (llm_ms / 1000) if llm_ms > 0 else None
    # rounded to the µs
    return {
        "total_duration_ms": None if total_ms is None else round(total_ms, 3),
        "llm_latency_ms": None if llm_ms is None else round(llm_ms, 3),
        "kong_latency_ms": None if kong_ms is None else round(kong_ms, 3),
        "time_to_first_token_ms": None if ttft is None else round(ttft, 3),
        "time_per_token_ms": None if per_token is None else round(per_token, 3),
        "throughput_tokens_per_second": None if throughput is None else round(throughput, 3),
        "kong_time_per_token_ms": None if kong_per_token is None else round(kong_per_token, 3),
    }


def _metadata(
    record: KongRecord,
    context: Context,
    call: LLMCall,
    model: str | None,
    environment: str,
    usage: Usage | None,
    timings: dict[str, float | None],
    kong_ai: KongAI | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "provider": call.provider,
        "model": model,
        "operation": call.operation,
        "status_code": record.response.status,
        "environment": environment,
        "request_id": record.request.id,
        "method": record.request.method,
        "stream": call.stream,
        **timings,
        "finish_reason": call.finish_reason,
        "upstream_status": record.upstream_status or None,
        "kong_source": record.source,
        "kong_service": record.service.name if record.service else None,
        "kong_route": record.route.name if record.route else None,
        "kong_consumer": kong_consumer(record),
        "kong_workspace": record.workspace_name or record.workspace,
        "client_ip": record.client_ip,
        "user_agent": header(record.request.headers, "user-agent"),
        **context.ids(),
        **call.metadata,
    }
    if context.metadata:
        values["request_metadata"] = context.metadata
    if kong_ai is not None:
        values["kong_provider"] = kong_ai.provider
        values["kong_ai_plugin"] = kong_ai.plugin
        values["request_mode"] = kong_ai.request_mode
        if kong_ai.meta:
            values["kong_ai_meta"] = kong_ai.meta
        if kong_ai.extra:
            values["kong_ai"] = kong_ai.extra
    return {key: value for key, value in values.items() if value is not None}


# The metadata keys _metadata writes itself (only call.metadata's are the provider's).
_METADATA_KEYS = frozenset(
    {
        "provider",
        "model",
        "operation",
        "status_code",
        "environment",
        "request_id",
        "method",
        "stream",
        "total_duration_ms",
        "llm_latency_ms",
        "kong_latency_ms",
        "time_to_first_token_ms",
        "time_per_token_ms",
        "throughput_tokens_per_second",
        "kong_time_per_token_ms",
        "finish_reason",
        "upstream_status",
        "kong_source",
        "kong_service",
        "kong_route",
        "kong_consumer",
        "kong_workspace",
        "client_ip",
        "user_agent",
        "chat_id",
        "message_id",
        "organization_id",
        "project_id",
        "request_metadata",
        "kong_provider",
        "kong_ai_plugin",
        "request_mode",
        "kong_ai_meta",
        "kong_ai",
    }
)


def _generation_metadata(call: LLMCall, usage: Usage | None) -> dict[str, Any]:
    """What qualifies the generation itself: its finish reason and where its usage came from
    (``usage_estimated`` on the observation whose counts it qualifies)."""
    metadata: dict[str, Any] = {}
    if call.finish_reason:
        metadata["finish_reason"] = call.finish_reason
    if usage is not None:
        metadata["usage_estimated"] = usage.estimated
        if usage.source:
            metadata["usage_source"] = usage.source
    return metadata


def _content(value: Any, options: EnrichOptions, clean: bool) -> Any:
    """Message content as exported: credentials scrubbed (unless ``clean`` says there are none),
    masks applied, payload mode."""
    if value is None:
        return None
    if not clean:
        value = scrub(value)
    if not options.masks and options.payload_mode == "full":
        return value  # what mask and limit_payload leave as it is
    return limit_payload(
        mask(value, options.masks), options.payload_mode, options.payload_max_chars
    )


def _build_trace(
    record: KongRecord,
    options: EnrichOptions,
    source: SourceRef,
    ids: _Ids,
    environment: str,
    exchange: Exchange,
    call: LLMCall,
    kong_ai: KongAI | None,
    request_body: dict[str, Any] | None,
    caller: Found | None,
) -> Trace:
    start, end, generation_start, generation_end = _times(record)
    said = read_attributes(record.request.headers, caller)
    link = ids.link
    promoted = (link.keys if link else frozenset()) | (said.keys if said else frozenset())
    context = read_context(record, request_body, promoted)
    status = record.response.status
    error = _error(call, record, exchange.response)
    model = _model(call, kong_ai, record)
    if model:
        model = options.prices.alias(model)
    ok = error is None and (status is None or status < 400)
    usage = _usage(call, kong_ai, model, options, ok, exchange.response.is_stream, request_body)
    if usage is not None:
        if not counts(
            usage.input,
            usage.output,
            usage.total,
            usage.input_cached,
            usage.input_cache_write,
            usage.output_reasoning,
        ):
            usage = checked(usage)  # a plugin's own Usage(...): construction checks nothing
        for field in ("input", "output", "total", "input_cached", "input_cache_write"):
            count = getattr(usage, field)
            if count is not None and count > MAX_TOKENS:
                raise RecordError(f"implausible token count: {field} = {count:.3g}")
    cost = compute_cost(
        model, call.provider, usage, kong_ai.cost if kong_ai else None, options.prices
    )
    timings = _timings(record, kong_ai, call, usage)
    metadata = _metadata(record, context, call, model, environment, usage, timings, kong_ai)
    if cost is not None and cost.source:
        metadata["cost_source"] = cost.source
    ttft = timings["time_to_first_token_ms"]
    completion_start = (
        min(generation_start + timedelta(milliseconds=ttft), generation_end)
        if ttft is not None
        else None
    )
    tags = [t for t in (call.provider, model, metadata.get("kong_service")) if t]
    joined = None
    if link is not None:
        joined = "observation" if link.existing else options.trace_join_mode
    release = options.release
    generation_metadata = _generation_metadata(call, usage)
    trace_name = _trace_name(record, options, exchange.path)
    operation = call.operation
    if said is not None or link is not None or ids.invalid:
        release, trace_name, operation = _said(
            said,
            link,
            ids.invalid,
            joined,
            tags,
            metadata,
            generation_metadata,
            release,
            trace_name,
            operation,
        )
    # No prompt where the parser looks (a malformed request, Kong 3.9+ logging the body it sent
    # upstream in the provider's format): the request body itself, rather than no input.
    prompt = call.input if call.input is not None else request_body
    parameters, user_id, session_id = call.model_parameters, context.user_id, context.session_id
    # Credentials: one look at all the text the trace exports. A trace exports a dozen values,
    # and gating each on its own cost more than the searches themselves; nearly every trace has
    # none, and the few that may are scrubbed value by value.
    exported = (prompt, call.output, parameters, error, user_id, session_id, trace_name, tags)
    clean = all_clean((*exported, generation_metadata), metadata, _METADATA_KEYS)
    if not clean:
        parameters, error = scrub(parameters), scrub(error)
        user_id, session_id = scrub(user_id), scrub(session_id)
        trace_name, tags = redact_text(trace_name), scrub(tags)
        metadata = scrub_present(metadata, _METADATA_KEYS)
        generation_metadata = scrub(generation_metadata)
    payload_in = _content(prompt, options, clean)
    payload_out = _content(call.output, options, clean)
    generation = _generation(
        {
            "id": span_id(ids.own, "generation"),
            "name": operation,
            "type": call.observation_type,
            "model": model,
            "model_parameters": parameters,
            "input": payload_in,
            "output": payload_out,
            "usage": usage,
            "cost": cost,
            "start_time": generation_start,
            "end_time": generation_end,
            "completion_start_time": completion_start,
            "finish_reason": call.finish_reason,
            "level": "ERROR" if error else "DEFAULT",
            "status_message": error or None,
            "metadata": generation_metadata,
            "prompt_name": said.prompt_name if said else None,
            "prompt_version": said.prompt_version if said else None,
        }
    )
    return _trace(
        {
            "id": link.trace_id if link else ids.own,
            "span_id": span_id(ids.own, "request"),
            "parent_span_id": link.parent_id if link else None,
            "joined": joined,
            "given_trace_id": _differs(link.given_trace_id, link.trace_id) if link else None,
            "given_parent_id": _differs(link.given_parent_id, link.parent_id) if link else None,
            "trace_state": link.trace_state if link else None,
            "name": trace_name,
            "timestamp": start,
            "end_time": end,
            "user_id": user_id,
            "session_id": session_id,
            "environment": environment,
            "release": release,
            "version": said.version if said else None,
            "tags": list(dict.fromkeys(tags)),
            "metadata": metadata,
            "input": payload_in,
            "output": payload_out,
            "generation": generation,
            "source": source,
        },
        call,
    )


def _differs(given: str | None, used: str | None) -> str | None:
    return given if given != used else None


def _said(
    said: Attributes | None,
    link: Link | None,
    invalid: bool,
    joined: str | None,
    tags: list[str],
    metadata: dict[str, Any],
    generation_metadata: dict[str, Any],
    release: str | None,
    trace_name: str,
    operation: str,
) -> tuple[str | None, str, str]:
    """Apply what the caller said (the rare path): tags, metadata, names, release.

    The caller's metadata keys never replace the gateway's own (ours are facts about the call).
    In observation mode only the release the app itself gave is sent: the gateway's own would
    overwrite the app's trace's release where Langfuse merges trace updates.
    """
    if joined == "observation":
        release = None
    if invalid:
        metadata["trace_context"] = INVALID
    if link is not None:
        if link.given_trace_id != link.trace_id:
            metadata["caller_trace_id"] = link.given_trace_id
        if link.given_parent_id is not None and link.given_parent_id != link.parent_id:
            metadata["caller_parent_observation_id"] = link.given_parent_id
    if said is None:
        return release, trace_name, operation
    tags.extend(said.tags)
    for key, value in said.trace_metadata.items():
        metadata.setdefault(key, value)
    for key, value in said.observation_metadata.items():
        generation_metadata.setdefault(key, value)
    return (
        said.release or release,
        said.trace_name or trace_name,
        said.observation_name or operation,
    )


_OBSERVATION_TYPES = frozenset({"generation", "embedding"})
_STR = frozenset({str})


def _text_or_none(value: Any) -> bool:
    return value is None or type(value) is str


def _generation(values: dict[str, Any]) -> Generation:
    """``Generation(**values)``, checked (:func:`checked`) unless every value is already of its
    field's type (what providers and custom plugins hand us is checked; the rest is ours)."""
    generation = Generation(**values)
    parameters = values["model_parameters"]
    usage, cost = values["usage"], values["cost"]
    if (
        type(values["name"]) is str
        and type(values["type"]) is str
        and values["type"] in _OBSERVATION_TYPES
        and _text_or_none(values["model"])
        and _text_or_none(values["finish_reason"])
        and _text_or_none(values["status_message"])
        and _text_or_none(values["prompt_name"])
        and (usage is None or isinstance(usage, Usage))
        and (cost is None or isinstance(cost, Cost))
        and type(parameters) is dict
        and _STR.issuperset(map(type, parameters))
        and SCALARS.issuperset(map(type, parameters.values()))
    ):
        return generation
    return checked(generation)


def _trace(values: dict[str, Any], call: LLMCall) -> Trace:
    """``Trace(**values)``, checked unless the values are of the field types (as
    ``_generation``; metadata keys are ours but for the provider's ``call.metadata``)."""
    trace = Trace(**values)
    if (
        type(values["environment"]) is str
        and _text_or_none(values["release"])
        and _text_or_none(values["user_id"])
        and _text_or_none(values["session_id"])
        and _text_or_none(values["version"])
        and _STR.issuperset(map(type, values["tags"]))
        and _STR.issuperset(map(type, call.metadata))
        and isinstance(values["generation"], Generation)
        and isinstance(values["source"], SourceRef)
    ):
        return trace
    return checked(trace)


def _trace_name(record: KongRecord, options: EnrichOptions, path: str) -> str:
    if options.trace_name == "route" and record.route and record.route.name:
        return record.route.name
    if options.trace_name == "service" and record.service and record.service.name:
        return record.service.name
    return path  # scrubbed with the rest: a path may carry a key (/key/sk-…)
