"""Trace → Langfuse batch-ingestion events (``/api/public/ingestion``, Langfuse v2/v3).

One ``trace-create`` and one ``generation-create`` per trace. Envelope ids are deterministic,
so a resent event is merged by Langfuse v3 rather than duplicated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pipeline.trace import Trace


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _compact(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value not in (None, {}, [])}


def encode_events(trace: Trace) -> list[dict[str, Any]]:
    generation = trace.generation
    timestamp = _iso(trace.timestamp)  # each formatted once: it is most of this function's time
    start_time = _iso(generation.start_time)
    trace_body = _compact(
        {
            "id": trace.id,
            "timestamp": timestamp,
            "name": trace.name[:1000],
            "userId": trace.user_id,
            "sessionId": trace.session_id,
            "release": trace.release,
            "metadata": trace.metadata,
            "tags": trace.tags,
            "environment": trace.environment,
            "input": trace.input,
            "output": trace.output,
        }
    )
    generation_body = _compact(
        {
            "id": generation.id,
            "traceId": trace.id,
            "name": generation.name,
            "startTime": start_time,
            "endTime": _iso(generation.end_time),
            "completionStartTime": _iso(generation.completion_start_time)
            if generation.completion_start_time
            else None,
            "model": generation.model,
            "modelParameters": generation.model_parameters,
            "input": generation.input,
            "output": generation.output,
            # the same exclusive buckets as OTLP: Langfuse's UI sums input*/output* keys too
            "usageDetails": generation.usage.details(generation.model)
            if generation.usage
            else None,
            "costDetails": generation.cost.details(generation.model) if generation.cost else None,
            "level": generation.level,
            "statusMessage": generation.status_message,
            "metadata": generation.metadata,
            "environment": trace.environment,
        }
    )
    return [
        {
            "id": f"{trace.id}-trace",
            "timestamp": timestamp,
            "type": "trace-create",
            "body": trace_body,
        },
        {
            "id": f"{trace.id}-{generation.id}",
            "timestamp": start_time,
            "type": "generation-create",
            "body": generation_body,
        },
    ]


def encode_batch(
    traces: Sequence[Trace],
    events_of: Callable[[Trace], list[dict[str, Any]]] = encode_events,
) -> dict[str, Any]:
    """The request body; ``events_of`` lets a caller reuse events it already encoded."""
    return {
        "batch": [event for trace in traces for event in events_of(trace)],
        "metadata": {"sdk_name": "kong-litefuse", "batch_size": len(traces)},
    }
