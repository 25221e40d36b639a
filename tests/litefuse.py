"""A Litefuse stand-in: the rows Litefuse would store for what our sinks send.

Our receiver proves only what we think Litefuse does; this module applies Litefuse's own
mapping rules, written here from reading its server code (``litefuse/litefuse`` at
``d00092b93b8f``), so tests can assert on what a user sees:

* OTLP (``/api/public/otel/v1/traces`` with ``x-langfuse-ingestion-version: 4``):
  ``OtelIngestionProcessor.processToEvent`` (packages/shared/src/server/otel/) turns each span
  into an event, ``IngestionService.createEventRecord`` (worker/src/services/IngestionService/)
  into one ``spans`` row, and ``toTraceScalarRecord`` turns the root span's row (no parent) into
  the trace's row. Usage and cost are kept only when the observation names a model
  (``getGenerationUsage`` runs only then); the UI's input/output figures are
  ``reduceUsageOrCostDetails``: the sums of every key starting with ``input`` / ``output``.
  Tool definitions and calls are extracted as ``extractToolsFromObservation`` does.
* Legacy batch ingestion (Langfuse v2/v3): ``trace-create`` gives the trace row (its own
  input/output), ``generation-create`` an observation row; trace events merge by ``body.id``
  as ``IngestionService.mergeTraceRecords`` does (``overwriteObject``, worker/src/services/
  IngestionService/utils.ts): a field sent replaces the stored one, one left out is kept,
  metadata merges by key, tags are united, timestamp and environment stay the first's.
* What a non-root span would change of its trace where Langfuse turns spans into trace
  updates (``processToIngestionEvents``: ``hasTraceUpdates`` → ``createTraceEvent``), the
  path Langfuse uses for OTLP outside direct writes: ``ObservationRow.trace_update``.
  Litefuse's spans path takes the trace's row from the root span alone.

Only the branches our spans can take are written out: a span carrying another framework's
input/output attributes (Vercel AI SDK, OpenInference, …) raises ``NotImplementedError`` rather
than being mapped by a guess. Litefuse's own model price table and tokenizer are not here: an
observation that would be priced or tokenized by Litefuse itself says so
(``litefuse_prices`` / ``litefuse_tokenizes``) instead.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

# --- OTLP attribute values, as Litefuse reads them (convertValueToPlainJavascript) ------------


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    if kind == "int_value":
        return _as_long_read(value.int_value)
    if kind == "kvlist_value":
        raise NotImplementedError("kvlist values (Litefuse keeps their protobuf JSON)")
    return None


def _as_long_read(number: int) -> int:
    """An int64 attribute as Litefuse reads it back: protobufjs gives a Long, JSON'd through
    S3 as ``{low, high}`` (both signed 32-bit), then convertValueToPlainJavascript returns
    ``low`` when ``high`` is 0, -1 for (-1, -1), else ``high * 2**32 + low``. Only 0 … 2**31-1
    come back as sent."""
    bits = number & (2**64 - 1)
    low, high = bits & 0xFFFFFFFF, bits >> 32
    low = low - 2**32 if low >= 2**31 else low
    high = high - 2**32 if high >= 2**31 else high
    if high == 0:
        return low
    if high == -1 and low == -1:
        return -1
    return high * 2**32 + low


def _stringify(value: Any) -> str:
    """``JSON.stringify``: compact, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _coalesce(*values: Any) -> Any:
    """JavaScript's ``a ?? b ?? c``: the first that is not null/undefined."""
    return next((value for value in values if value is not None), None)


def _parse_int(text: str) -> int | None:
    """JavaScript's ``parseInt(text, 10)``: leading digits after blanks and a sign."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else None


def _truthy(value: Any) -> bool:
    """JavaScript truthiness (``||`` and ``if (x)``)."""
    if value is None or value is False or value == "":
        return False
    return not (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def _js_string(value: Any) -> str:
    """``typeof v === "string" ? v : JSON.stringify(v)``."""
    return value if isinstance(value, str) else _stringify(value)


def _as_shown(value: Any) -> Any:
    """An input/output as the UI shows it: parsed JSON, else the text as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _parse_json(value: Any) -> Any:
    """``JSON.parse`` of a string, else the value as it is; None when it does not parse."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


# Attributes other frameworks use for input/output (extractInputAndOutput's later branches).
_FOREIGN_IO = (
    "ai.prompt.messages",
    "ai.prompt",
    "ai.response.text",
    "gcp.vertex.agent.llm_request",
    "mlflow.spanInputs",
    "traceloop.entity.input",
    "input.value",
    "output.value",
    "input",
    "output",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
)


def _input_output(attributes: dict[str, Any], domain: str) -> tuple[Any, Any]:
    """extractInputAndOutput, Langfuse branch: observation input/output (the trace's only for
    the legacy trace domain, which the events path never uses)."""
    observation_input = attributes.get("langfuse.observation.input")
    observation_output = attributes.get("langfuse.observation.output")
    trace_input = attributes.get("langfuse.trace.input")
    trace_output = attributes.get("langfuse.trace.output")
    found_input = trace_input if domain == "trace" and _truthy(trace_input) else observation_input
    found_output = (
        trace_output if domain == "trace" and _truthy(trace_output) else observation_output
    )
    if found_input is not None or found_output is not None:
        return found_input, found_output
    foreign = [key for key in _FOREIGN_IO if key in attributes]
    if foreign or any(k.startswith(("gen_ai.prompt", "llm.input_messages")) for k in attributes):
        raise NotImplementedError(f"another framework's input/output attributes: {foreign}")
    return None, None


def _metadata(attributes: dict[str, Any], domain: str) -> dict[str, Any]:
    """extractMetadata: the JSON blob attribute, then every ``<prefix>.<key>`` attribute."""
    prefix = (
        "langfuse.observation.metadata" if domain == "observation" else "langfuse.trace.metadata"
    )
    found: dict[str, Any] = {}
    blob = attributes.get(prefix) or attributes.get("langfuse.metadata")
    if _truthy(blob):
        parsed = _parse_json(blob)
        if isinstance(parsed, dict):
            found.update(parsed)
    skip = {
        "ai.telemetry.metadata.userId",
        "ai.telemetry.metadata.sessionId",
        "ai.telemetry.metadata.tags",
        "ai.telemetry.metadata.langfusePrompt",
    }
    for key, value in attributes.items():
        for candidate in (prefix, "langfuse.metadata", "ai.telemetry.metadata"):
            if key.startswith(f"{candidate}.") and key not in skip:
                found[key.replace(f"{candidate}.", "", 1)] = value
    return found


_TYPES = {
    "span": "SPAN",
    "generation": "GENERATION",
    "event": "EVENT",
    "embedding": "EMBEDDING",
    "agent": "AGENT",
    "tool": "TOOL",
    "chain": "CHAIN",
    "retriever": "RETRIEVER",
    "guardrail": "GUARDRAIL",
    "evaluator": "EVALUATOR",
}
_OPENINFERENCE = {
    "CHAIN": "CHAIN",
    "RETRIEVER": "RETRIEVER",
    "LLM": "GENERATION",
    "EMBEDDING": "EMBEDDING",
    "AGENT": "AGENT",
    "TOOL": "TOOL",
    "GUARDRAIL": "GUARDRAIL",
    "EVALUATOR": "EVALUATOR",
}
_GEN_AI_OPERATIONS = {
    "chat": "GENERATION",
    "completion": "GENERATION",
    "text_completion": "GENERATION",
    "generate_content": "GENERATION",
    "generate": "GENERATION",
    "embeddings": "EMBEDDING",
    "invoke_agent": "AGENT",
    "create_agent": "AGENT",
    "execute_tool": "TOOL",
}
_MODEL_KEYS_FOR_TYPE = (
    "langfuse.observation.model.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "model",
)


def _meaningful(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, (list, dict)):
        return bool(value)
    return True


def observation_type(attributes: dict[str, Any]) -> str:
    """ObservationTypeMapper: the mappers our spans can meet, in priority order."""
    for key, table in (
        ("langfuse.observation.type", _TYPES),
        ("openinference.span.kind", _OPENINFERENCE),
        ("gen_ai.operation.name", _GEN_AI_OPERATIONS),
    ):
        value = attributes.get(key)
        if _meaningful(value) and isinstance(value, str) and value in table:
            return table[value]
    if _meaningful(attributes.get("gen_ai.tool.name")) or _meaningful(
        attributes.get("gen_ai.tool.call.id")
    ):
        return "TOOL"
    if any(_meaningful(attributes.get(key)) for key in _MODEL_KEYS_FOR_TYPE):
        return "GENERATION"
    return "SPAN"


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = attributes.get(key)
        if _truthy(value):
            return _js_string(value)
    return None


_MODEL_KEYS = (
    "langfuse.observation.model.name",
    "gen_ai.response.model",
    "ai.model.id",
    "gen_ai.request.model",
    "llm.response.model",
    "llm.model_name",
    "model",
    "openclaw.model",
)
_USER_KEYS = (
    "langfuse.user.id",
    "user.id",
    "openclaw.userId",
    "langfuse.observation.metadata.langfuse_user_id",
    "langfuse.trace.metadata.langfuse_user_id",
    "ai.telemetry.metadata.userId",
)
_SESSION_KEYS = (
    "langfuse.session.id",
    "session.id",
    "gen_ai.conversation.id",
    "openclaw.sessionId",
    "openclaw.sessionKey",
    "langfuse.observation.metadata.langfuse_session_id",
    "langfuse.trace.metadata.langfuse_session_id",
    "ai.telemetry.metadata.sessionId",
)


def _tags(attributes: dict[str, Any]) -> list[str]:
    value = None
    for key in (
        "langfuse.trace.tags",
        "langfuse.tags",
        "langfuse.observation.metadata.langfuse_tags",
        "langfuse.trace.metadata.langfuse_tags",
        "ai.telemetry.metadata.tags",
        "tag.tags",
    ):
        value = attributes.get(key)
        if _truthy(value):
            break
    if value is None or value is False or value == "":
        return []
    if isinstance(value, list):
        return [str(tag) for tag in value]
    if isinstance(value, str) and value.strip().startswith("["):
        parsed = _parse_json(value)
        if isinstance(parsed, list):
            return [str(tag) for tag in parsed]
    if isinstance(value, str) and "," in value:
        return [tag.strip() for tag in value.split(",")]
    return [value] if isinstance(value, str) else []


def _environment(attributes: dict[str, Any], resource: dict[str, Any]) -> str:
    for key in ("langfuse.environment", "deployment.environment.name", "deployment.environment"):
        if _truthy(attributes.get(key)):
            return str(attributes[key])
        if _truthy(resource.get(key)):
            return str(resource[key])
    return "default"


def _valid_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _completion_start(attributes: dict[str, Any]) -> str | None:
    value = attributes.get("langfuse.observation.completion_start_time")
    if _valid_date(value):
        return str(value)
    if isinstance(value, str) and value:
        parsed = _parse_json(value)
        if _valid_date(parsed):
            return str(parsed)
    return None


def _usage_details(attributes: dict[str, Any]) -> dict[str, int] | None:
    """extractUsageDetails (usage_details JSON, else the generic gen_ai.usage.* path), then
    the ``UsageDetails`` schema: only non-negative integers survive; empty → undefined."""
    raw: Any = None
    blob = attributes.get("langfuse.observation.usage_details")
    if _truthy(blob):
        raw = _parse_json(blob)
    if raw is None:
        raw = _generic_usage(attributes)
    if not isinstance(raw, dict):
        return None
    for names in (
        ("prompt_tokens", "completion_tokens", "total_tokens"),
        ("input_tokens", "output_tokens", "total_tokens"),
    ):
        converted = _openai_usage(raw, names)
        if converted is not None:
            return converted
    kept: dict[str, int] = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)) and float(value).is_integer() and value >= 0:
            kept[key] = int(value)
        elif isinstance(value, str):
            number = _parse_int(value)
            if number is not None and number >= 0:
                kept[key] = number
    return kept or None


def _openai_usage(raw: dict[str, Any], names: tuple[str, str, str]) -> dict[str, int] | None:
    """The UsageDetails schemas for OpenAI's own usage shapes (strict: only these keys):
    ``input``/``output`` minus each detail, every detail as ``input_<k>`` / ``output_<k>``."""
    input_key, output_key, total_key = names
    details = (
        input_key.replace("_tokens", "_tokens_details"),
        output_key.replace("_tokens", "_tokens_details"),
    )
    if not set(names) <= set(raw) or not set(raw) <= {*names, *details}:
        return None
    if not all(
        isinstance(raw[k], int) and not isinstance(raw[k], bool) and raw[k] >= 0 for k in names
    ):
        return None
    result = {"input": raw[input_key], "output": raw[output_key], "total": raw[total_key]}
    for side, detail in zip(("input", "output"), details, strict=True):
        for key, value in (raw.get(detail) or {}).items():
            if value is not None:
                result[f"{side}_{key}"] = value
                result[side] = max(result[side] - value, 0)
    return result


def _generic_usage(attributes: dict[str, Any]) -> dict[str, Any]:
    """extractGenericGenAiUsageDetails, for spans without usage_details."""
    raw: dict[str, float] = {}
    for key, value in attributes.items():
        if (key.startswith("gen_ai.usage.") and key != "gen_ai.usage.cost") or key.startswith(
            "llm.token_count."
        ):
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            if not math.isnan(number):
                raw[key.replace("gen_ai.usage.", "").replace("llm.token_count.", "")] = number
    if not raw:
        return {}

    def first(*names: str) -> float | None:
        return next((raw[n] for n in names if n in raw), None)

    input_tokens = first("prompt_tokens", "input_tokens", "prompt")
    output_tokens = first("completion_tokens", "output_tokens", "completion")
    total = first("total_tokens", "total")
    cache_read = first(
        "cache_read.input_tokens",
        "cache_read_tokens",
        "details.cache_read_tokens",
        "details.cache_read_input_tokens",
        "prompt_details.cache_read",
    )
    cache_write = first(
        "cache_creation.input_tokens",
        "cache_write_tokens",
        "details.cache_write_tokens",
        "details.cache_creation_input_tokens",
        "prompt_details.cache_write",
    )
    consumed = {
        "prompt_tokens",
        "input_tokens",
        "prompt",
        "completion_tokens",
        "output_tokens",
        "completion",
        "total_tokens",
        "total",
        "cache_read.input_tokens",
        "cache_read_tokens",
        "details.cache_read_tokens",
        "details.cache_read_input_tokens",
        "prompt_details.cache_read",
        "cache_creation.input_tokens",
        "cache_write_tokens",
        "details.cache_write_tokens",
        "details.cache_creation_input_tokens",
        "prompt_details.cache_write",
    }
    out: dict[str, Any] = {
        key.removeprefix("details."): value for key, value in raw.items() if key not in consumed
    }
    if input_tokens is not None:
        out["input"] = max(input_tokens - (cache_read or 0) - (cache_write or 0), 0)
    if output_tokens is not None:
        out["output"] = output_tokens
    if total is not None:
        out["total"] = total
    if cache_read is not None:
        out["input_cached_tokens"] = cache_read
    if cache_write is not None:
        out["input_cache_creation"] = cache_write
    return out


def _cost_details(attributes: dict[str, Any]) -> dict[str, Any]:
    blob = attributes.get("langfuse.observation.cost_details")
    if _truthy(blob):
        parsed = _parse_json(blob)
        if isinstance(parsed, dict):
            return parsed
    if _truthy(attributes.get("gen_ai.usage.cost")):
        return {"total": attributes["gen_ai.usage.cost"]}
    return {}


# --- tools (extractToolsBackend.ts) ------------------------------------------------------------


def _flatten_call(call: dict[str, Any]) -> dict[str, Any]:
    """flattenToolCall + addToolArgument: as stored (``index`` 0 and ``type`` "" when absent)."""
    function = call.get("function") if isinstance(call.get("function"), dict) else None
    function = function or {}
    raw = _coalesce(function.get("arguments"), call.get("arguments"), call.get("args"))
    arguments = raw if isinstance(raw, str) else _stringify(_coalesce(raw, {}))
    return {
        "id": _coalesce(call.get("id"), call.get("toolCallId"), call.get("call_id"), ""),
        "name": _coalesce(function.get("name"), call.get("name"), call.get("toolName")),
        "arguments": arguments,
        "type": _coalesce(call.get("type"), "function" if "function" in call else None, ""),
        "index": _coalesce(call.get("index"), 0),
    }


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _tool_calls_of(message: dict[str, Any], found: list[dict[str, Any]]) -> None:
    for call in _list(message.get("tool_calls")):
        if isinstance(call, dict):
            flat = _flatten_call(call)
            if flat["name"]:
                found.append(flat)
    if isinstance(message.get("content"), list):
        for part in message["content"]:
            if isinstance(part, dict) and part.get("type") == "tool_use" and part.get("name"):
                found.append(
                    {
                        "id": _coalesce(part.get("id"), ""),
                        "name": part["name"],
                        "arguments": _stringify(_coalesce(part.get("input"), {})),
                        "type": "tool_use",
                        "index": 0,
                    }
                )


def extract_tools(
    raw_input: Any, raw_output: Any
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(tool definitions by name, tool calls) as Litefuse stores them for an observation."""
    parsed_input = _as_shown(raw_input)  # parseIfString: the text itself when not JSON
    parsed_output = _as_shown(raw_output)
    definitions: dict[str, dict[str, Any]] = {}

    def define(tool: Any) -> None:
        if not isinstance(tool, dict):
            return
        data = _coalesce(tool.get("function"), tool)
        if not isinstance(data, dict):
            return
        name = data.get("name")
        if name and name not in definitions:
            parameters = _coalesce(
                data.get("parameters"), data.get("parameters_json_schema"), data.get("inputSchema")
            )
            definitions[name] = {
                "description": _coalesce(data.get("description"), data.get("desc"), ""),
                "parameters": parameters,
            }

    if isinstance(parsed_input, (dict, list)):
        holder = {"messages": parsed_input} if isinstance(parsed_input, list) else parsed_input
        for tool in _list(holder.get("tools")):
            define(tool)
        for message in _list(holder.get("messages")):
            if isinstance(message, dict) and isinstance(message.get("tools"), list):
                for tool in message["tools"]:
                    define(tool)
    calls: list[dict[str, Any]] = []
    if isinstance(parsed_output, list):
        for message in parsed_output:
            if isinstance(message, dict):
                _tool_calls_of(message, calls)
    elif isinstance(parsed_output, dict):
        _tool_calls_of(parsed_output, calls)
        for choice in _list(parsed_output.get("choices")):
            if isinstance(choice, dict) and isinstance(choice.get("message"), dict):
                _tool_calls_of({"tool_calls": choice["message"].get("tool_calls")}, calls)
    seen: set[str] = set()
    unique = []
    for call in calls:
        key = call["id"] or f"{call['name']}-{call['arguments']}"
        if key not in seen:
            seen.add(key)
            unique.append(call)
    return definitions, unique


# --- rows ----------------------------------------------------------------------------------------


def reduce_details(details: dict[str, Any]) -> tuple[float | None, float | None, float]:
    """reduceUsageOrCostDetails: (sum of input* keys, sum of output* keys, total or 0)."""
    numbers = {k: v for k, v in details.items() if isinstance(v, (int, float))}
    inputs = [v for k, v in numbers.items() if k.startswith("input")]
    outputs = [v for k, v in numbers.items() if k.startswith("output")]
    return (
        sum(inputs) if inputs else None,
        sum(outputs) if outputs else None,
        numbers.get("total", 0),
    )


@dataclass
class ObservationRow:
    """One row of Litefuse's ``spans`` table, with the figures its UI shows."""

    id: str
    trace_id: str
    parent_span_id: str
    name: str
    type: str
    environment: str
    start_time: datetime
    end_time: datetime
    level: str = "DEFAULT"
    status_message: str | None = None
    completion_start_time: str | None = None
    model: str | None = None
    model_parameters: dict[str, Any] = field(default_factory=dict)
    trace_name: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    release: str | None = None
    version: str | None = None
    tags: list[str] = field(default_factory=list)
    prompt_name: str | None = None
    prompt_version: int | None = None
    provided_usage_details: dict[str, int] = field(default_factory=dict)
    usage_details: dict[str, int] = field(default_factory=dict)
    provided_cost_details: dict[str, Any] = field(default_factory=dict)
    cost_details: dict[str, Any] = field(default_factory=dict)
    total_cost: float | None = None
    input: str | None = None
    output: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tool_definitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    litefuse_tokenizes: bool = False
    """No usage was sent: Litefuse counts tokens itself if it knows the model."""
    litefuse_prices: bool = False
    """Usage but no cost was sent: Litefuse prices it if its price table knows the model."""
    trace_update: dict[str, Any] | None = None
    """For a non-root span with trace attributes: the trace-create Langfuse's
    ``processToIngestionEvents`` would merge into its trace (the fields it sets)."""

    @property
    def is_root(self) -> bool:
        return self.parent_span_id == ""

    @property
    def input_tokens(self) -> float | None:
        """What the UI shows as input tokens (``input_tokens_calculated``)."""
        return reduce_details(self.usage_details)[0]

    @property
    def output_tokens(self) -> float | None:
        return reduce_details(self.usage_details)[1]

    @property
    def total_tokens(self) -> float:
        return reduce_details(self.usage_details)[2]

    @property
    def input_cost(self) -> float | None:
        return reduce_details(self.cost_details)[0]

    @property
    def output_cost(self) -> float | None:
        return reduce_details(self.cost_details)[1]

    @property
    def input_json(self) -> Any:
        return _as_shown(self.input)

    @property
    def output_json(self) -> Any:
        return _as_shown(self.output)

    @property
    def tool_call_names(self) -> list[str]:
        return [call["name"] for call in self.tool_calls]


@dataclass
class TraceRow:
    """A trace as the trace list and the trace view show it (the root span's row)."""

    id: str
    name: str | None
    user_id: str | None
    session_id: str | None
    release: str | None
    version: str | None
    environment: str
    tags: list[str]
    metadata: dict[str, Any]
    input: str | None
    output: str | None
    start_time: datetime
    end_time: datetime | None

    @property
    def input_json(self) -> Any:
        return _as_shown(self.input)

    @property
    def output_json(self) -> Any:
        return _as_shown(self.output)


def _usage_and_cost(
    row: ObservationRow, provided_usage: dict[str, int] | None, provided_cost: dict[str, Any]
) -> None:
    """getGenerationUsage (only called when the observation names a model)."""
    row.provided_usage_details = dict(provided_usage or {})
    row.provided_cost_details = dict(provided_cost)
    if not row.model:
        return  # usage_details / cost_details stay {}: no model, no figures
    usage = {k: v for k, v in (provided_usage or {}).items() if v is not None and v >= 0}
    if not usage:
        # the OTLP path passes no level to getUsageUnits: errors are tokenized too
        row.litefuse_tokenizes = True
    elif "total" not in usage:
        usage["total"] = sum(usage.values())
    row.usage_details = usage
    cost_keys = [k for k, v in provided_cost.items() if v is not None]
    if cost_keys:
        cost = dict(provided_cost)
        total = provided_cost.get("total")
        if total is None and all(k in ("input", "output") for k in cost_keys):
            total = (provided_cost.get("input") or 0) + (provided_cost.get("output") or 0)
        if "total" not in cost and total is not None:
            cost["total"] = total
        row.cost_details = cost
        row.total_cost = total
    else:
        row.litefuse_prices = bool(usage)


# hasTraceUpdates: any of these attributes (truthy), or any key starting with
# langfuse.trace.metadata, makes a span carry a trace update
_TRACE_UPDATE_KEYS = (
    "langfuse.trace.name",
    "langfuse.trace.input",
    "langfuse.trace.output",
    "langfuse.trace.metadata",
    "user.id",
    "session.id",
    "langfuse.trace.public",
    "langfuse.trace.tags",
    "langfuse.user.id",
    "langfuse.session.id",
    "langfuse.observation.metadata.langfuse_user_id",
    "langfuse.observation.metadata.langfuse_session_id",
    "langfuse.observation.metadata.langfuse_tags",
    "langfuse.trace.metadata.langfuse_session_id",
    "langfuse.trace.metadata.langfuse_user_id",
    "langfuse.trace.metadata.langfuse_tags",
    "ai.telemetry.metadata.sessionId",
    "ai.telemetry.metadata.userId",
    "ai.telemetry.metadata.tags",
    "tag.tags",
)


def _has_trace_updates(attributes: dict[str, Any]) -> bool:
    """OtelIngestionProcessor.hasTraceUpdates."""
    return any(_truthy(attributes.get(key)) for key in _TRACE_UPDATE_KEYS) or any(
        key.startswith("langfuse.trace.metadata") for key in attributes
    )


def _trace_update(attributes: dict[str, Any], resource: dict[str, Any]) -> dict[str, Any]:
    """createTraceEvent's ``hasTraceUpdates && !isRootSpan`` branch: the fields it sets that
    are not undefined (undefined ones leave the trace's as they are when merged). Its metadata
    always adds ``resourceAttributes`` and ``scope`` too; only the span's trace metadata is
    listed here."""
    update = {
        "name": attributes.get("langfuse.trace.name"),
        "input": attributes.get("langfuse.trace.input"),
        "output": attributes.get("langfuse.trace.output"),
        "version": attributes.get("langfuse.version", resource.get("service.version")),
        "release": attributes.get("langfuse.release", resource.get("langfuse.release")),
        "user_id": _first(attributes, _USER_KEYS),
        "session_id": _first(attributes, _SESSION_KEYS),
        "tags": _tags(attributes) or None,
        "metadata": _metadata(attributes, "trace") or None,
    }
    return {key: value for key, value in update.items() if value is not None}


def _nanos_to_time(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos // 1_000_000 / 1000, tz=UTC)


class LitefuseView:
    """The rows Litefuse stores, fed with the requests our sinks send."""

    def __init__(self) -> None:
        self.observations: list[ObservationRow] = []
        self._legacy_traces: dict[str, TraceRow] = {}
        self._legacy_observations: dict[str, ObservationRow] = {}

    # --- feeding -------------------------------------------------------------------------------
    def add_otlp(self, request: ExportTraceServiceRequest | bytes) -> list[ObservationRow]:
        """processToEvent + createEventRecord for every span of an OTLP request."""
        if isinstance(request, bytes):
            request = ExportTraceServiceRequest.FromString(request)
        added: list[ObservationRow] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: plain(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                scope = scope_spans.scope
                scope_attributes = {a.key: plain(a.value) for a in scope.attributes}
                for span in scope_spans.spans:
                    added.append(self._span_row(span, resource, scope.name, scope_attributes))
        self.observations.extend(added)
        return added

    @staticmethod
    def _span_row(
        span: Any, resource: dict[str, Any], scope_name: str, scope_attributes: dict[str, Any]
    ) -> ObservationRow:
        attributes = {a.key: plain(a.value) for a in span.attributes}
        if scope_name == "ai" or scope_name.startswith("langfuse-sdk"):
            raise NotImplementedError(f"scope {scope_name!r} has rules of its own")
        start = _nanos_to_time(span.start_time_unix_nano or span.end_time_unix_nano)
        end = _nanos_to_time(span.end_time_unix_nano or span.start_time_unix_nano)
        raw_input, raw_output = _input_output(attributes, "observation")
        level = attributes.get("langfuse.observation.level")
        if level is None:
            level = "ERROR" if span.status.code == 2 else "DEFAULT"
        status_message = attributes.get("langfuse.observation.status_message")
        if status_message is None and span.status.message:
            status_message = span.status.message
        prompt_version = attributes.get(
            "langfuse.observation.prompt.version", attributes.get("langfuse.prompt.version")
        )
        if isinstance(prompt_version, str):
            prompt_version = int(prompt_version) if prompt_version.strip().isdigit() else None
        parameters = _parse_json(attributes.get("langfuse.observation.model.parameters"))
        if not isinstance(parameters, dict):
            parameters = {
                key.removeprefix("gen_ai.request."): value
                for key, value in attributes.items()
                if key.startswith("gen_ai.request.") and key != "gen_ai.request.model"
            }
        parameters = {
            k: v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else _stringify(v)
            for k, v in parameters.items()
        }
        name = span.name
        if _truthy(attributes.get("gen_ai.tool.name")):
            name = _js_string(attributes["gen_ai.tool.name"])
        row = ObservationRow(
            id=span.span_id.hex(),
            trace_id=span.trace_id.hex(),
            parent_span_id=span.parent_span_id.hex(),
            name=name,
            type=observation_type(attributes),
            environment=_environment(attributes, resource),
            start_time=start,
            end_time=end,
            level=str(level),
            status_message=None if status_message is None else str(status_message),
            completion_start_time=_completion_start(attributes),
            model=_first(attributes, _MODEL_KEYS),
            model_parameters=parameters,
            trace_name=attributes.get("langfuse.trace.name"),
            user_id=_first(attributes, _USER_KEYS),
            session_id=_first(attributes, _SESSION_KEYS),
            release=attributes.get("langfuse.release", resource.get("langfuse.release")),
            version=attributes.get("langfuse.version", resource.get("service.version")),
            tags=_tags(attributes),
            prompt_name=attributes.get(
                "langfuse.observation.prompt.name", attributes.get("langfuse.prompt.name")
            ),
            prompt_version=prompt_version,
            input=raw_input,
            output=raw_output,
            metadata={
                "resourceAttributes": resource,
                "scopeAttributes": scope_attributes,
                **_metadata(attributes, "observation"),
                **_metadata(attributes, "trace"),
            },
        )
        _usage_and_cost(row, _usage_details(attributes), _cost_details(attributes))
        row.tool_definitions, row.tool_calls = extract_tools(raw_input, raw_output)
        if span.parent_span_id and _has_trace_updates(attributes):
            row.trace_update = _trace_update(attributes, resource)
        return row

    def add_legacy(self, events: list[dict[str, Any]]) -> None:
        """Langfuse v2/v3 batch events, merged by body id (later events update earlier ones)."""
        for event in events:
            body = event.get("body") or {}
            kind = event.get("type")
            if kind == "trace-create":
                self._legacy_trace(body)
            elif kind in ("generation-create", "span-create", "event-create"):
                self._legacy_observation(body, kind.split("-")[0].upper())
            else:
                raise NotImplementedError(f"legacy event type {kind!r}")

    def _legacy_trace(self, body: dict[str, Any]) -> None:
        """mapTraceEventsToRecords, then mergeTraceRecords into the stored row (overwriteObject:
        a value sent replaces the stored one, undefined keeps it; metadata merged by key; tags
        united and sorted; timestamp and environment immutable)."""

        def text(value: Any) -> str | None:
            return None if value is None else _js_string(value)

        new = TraceRow(
            id=body["id"],
            name=body.get("name"),
            user_id=body.get("userId"),
            session_id=body.get("sessionId"),
            release=body.get("release"),
            version=body.get("version"),
            environment=body.get("environment") or "default",
            tags=list(body.get("tags") or []),
            metadata=dict(body.get("metadata") or {}),
            input=text(body.get("input")),
            output=text(body.get("output")),
            start_time=datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00")),
            end_time=None,
        )
        old = self._legacy_traces.get(new.id)
        if old is None:
            self._legacy_traces[new.id] = new
            return
        for name in ("name", "user_id", "session_id", "release", "version", "input", "output"):
            if getattr(new, name) is not None:
                setattr(old, name, getattr(new, name))
        old.metadata = {**old.metadata, **new.metadata}
        old.tags = sorted({*old.tags, *new.tags})

    def _legacy_observation(self, body: dict[str, Any], kind: str) -> None:
        def text(value: Any) -> str | None:
            return None if value is None else _js_string(value)

        def time(name: str) -> datetime:
            value = body.get(name) or body["startTime"]
            return datetime.fromisoformat(value.replace("Z", "+00:00"))

        usage = {
            k: int(v)
            for k, v in (body.get("usageDetails") or {}).items()
            if isinstance(v, int) and not isinstance(v, bool) and v >= 0
        }
        cost = {
            k: v
            for k, v in (body.get("costDetails") or {}).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
        }
        row = ObservationRow(
            id=body["id"],
            trace_id=body["traceId"],
            parent_span_id=body.get("parentObservationId") or "",
            name=body.get("name") or "",
            type=kind,
            environment=body.get("environment") or "default",
            start_time=time("startTime"),
            end_time=time("endTime"),
            level=body.get("level") or "DEFAULT",
            status_message=body.get("statusMessage"),
            completion_start_time=body.get("completionStartTime"),
            model=body.get("model"),
            model_parameters=dict(body.get("modelParameters") or {}),
            version=body.get("version"),
            prompt_name=body.get("promptName"),
            prompt_version=body.get("promptVersion"),
            input=text(body.get("input")),
            output=text(body.get("output")),
            metadata=dict(body.get("metadata") or {}),
        )
        # Langfuse v3 keeps the usage of an observation with or without a model name
        row.provided_usage_details = dict(usage)
        row.provided_cost_details = dict(cost)
        if usage and "total" not in usage:
            usage["total"] = sum(usage.values())
        row.usage_details = usage
        if cost:
            row.cost_details = cost
            row.total_cost = cost.get("total")
        row.litefuse_prices = bool(usage) and not cost
        row.litefuse_tokenizes = not usage and row.level != "ERROR"
        row.tool_definitions, row.tool_calls = extract_tools(row.input, row.output)
        self._legacy_observations[row.id] = row

    # --- reading -------------------------------------------------------------------------------
    @property
    def all_observations(self) -> list[ObservationRow]:
        return [*self.observations, *self._legacy_observations.values()]

    def traces(self) -> list[TraceRow]:
        """toTraceScalarRecord over the root rows (every duplicate root span is one more row),
        then the legacy traces."""
        rows = [
            TraceRow(
                id=row.trace_id,
                name=row.trace_name or None,
                user_id=row.user_id or None,
                session_id=row.session_id or None,
                release=row.release or None,
                version=row.version or None,
                environment=row.environment or "default",
                tags=row.tags,
                metadata=row.metadata,
                input=row.input,
                output=row.output,
                start_time=row.start_time,
                end_time=row.end_time,
            )
            for row in self.observations
            if row.is_root
        ]
        return [*rows, *self._legacy_traces.values()]

    def trace(self, trace_id: str) -> TraceRow:
        found = [row for row in self.traces() if row.id == trace_id]
        assert len(found) == 1, f"{len(found)} trace rows for {trace_id}"
        return found[0]

    def observations_of(self, trace_id: str) -> list[ObservationRow]:
        return [row for row in self.all_observations if row.trace_id == trace_id]

    def generation(self, trace_id: str) -> ObservationRow:
        """The trace's one generation or embedding observation."""
        found = [
            row for row in self.observations_of(trace_id) if row.type in ("GENERATION", "EMBEDDING")
        ]
        assert len(found) == 1, f"{len(found)} generations for {trace_id}"
        return found[0]


def rows_for(traces: list[Any], mode: str = "otel") -> LitefuseView:
    """The rows Litefuse would store for these pipeline traces, encoded as the sink sends them."""
    from pipeline.sinks.legacy import encode_batch
    from pipeline.sinks.otlp import encode_request_bytes

    view = LitefuseView()
    if mode == "otel":
        view.add_otlp(encode_request_bytes(traces))
    else:
        view.add_legacy(orjson.loads(orjson.dumps(encode_batch(traces)))["batch"])
    return view


def shown(view: LitefuseView, trace_id: str) -> dict[str, Any]:
    """What a user sees of one trace: its row and its generation's, the UI's figures included.

    A request that joined a caller's trace in observation mode writes no trace row of its own
    over OTLP (the app's root span does): its trace is None here.
    """
    rows = [row for row in view.traces() if row.id == trace_id]
    assert len(rows) <= 1, f"{len(rows)} trace rows for {trace_id}"
    trace = rows[0] if rows else None
    generation = view.generation(trace_id)
    return {
        "trace": None
        if trace is None
        else {
            "name": trace.name,
            "user_id": trace.user_id,
            "session_id": trace.session_id,
            "environment": trace.environment,
            "release": trace.release,
            "version": trace.version,
            "tags": trace.tags,
            "input": trace.input_json,
            "output": trace.output_json,
        },
        "generation": {
            "type": generation.type,
            "name": generation.name,
            "model": generation.model,
            "level": generation.level,
            "status_message": generation.status_message,
            "completion_start_time": generation.completion_start_time,
            "usage_details": generation.usage_details,
            "input_tokens": generation.input_tokens,
            "output_tokens": generation.output_tokens,
            "total_tokens": generation.total_tokens,
            "cost_details": generation.cost_details,
            "total_cost": generation.total_cost,
            "tool_calls": generation.tool_calls,
            "tool_definitions": sorted(generation.tool_definitions),
            "prompt": [generation.prompt_name, generation.prompt_version],
            "metadata": {
                k: v
                for k, v in generation.metadata.items()
                if k in ("usage_estimated", "usage_source", "finish_reason")
            },
        },
    }
