"""Trace → Langfuse batch-ingestion events (``/api/public/ingestion``, Langfuse v2/v3).

One ``trace-create`` and one ``generation-create`` per trace. Envelope ids are deterministic,
so a resent event is merged by Langfuse v3 rather than duplicated.

A request that joined a caller's trace (``Trace.joined``) sends the caller's ids as it gave them
(Langfuse v2/v3 ids are any string) and the generation under the caller's observation. In
observation mode its ``trace-create`` holds only what may update the app's trace: Langfuse v3
merges trace events by id (``IngestionService.mergeTraceRecords`` → ``overwriteObject``: a
field sent replaces the app's, one left out is kept, metadata merges by key, tags are united,
timestamp and environment stay the first's), so no name, input, output or metadata (the
gateway's metadata goes with the generation instead), and no release but the app's own.
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
    trace_id = trace.id if trace.given_trace_id is None else trace.given_trace_id
    observation_only = trace.joined == "observation"
    generation_metadata = generation.metadata
    if observation_only:
        trace_body = _compact(
            {
                "id": trace_id,
                "timestamp": timestamp,
                "userId": trace.user_id,
                "sessionId": trace.session_id,
                "release": trace.release,
                "tags": trace.tags,
                "environment": trace.environment,
            }
        )
        # as the OTLP sink and Litefuse's rows: observation metadata overlaid by the trace's
        generation_metadata = {**generation_metadata, **trace.metadata}
    else:
        trace_body = _compact(
            {
                "id": trace_id,
                "timestamp": timestamp,
                "name": trace.name[:1000],
                "userId": trace.user_id,
                "sessionId": trace.session_id,
                "release": trace.release,
                "version": trace.version,
                "metadata": trace.metadata,
                "tags": trace.tags,
                "environment": trace.environment,
                "input": trace.input,
                "output": trace.output,
            }
        )
    prompt = generation.prompt_name is not None and generation.prompt_version is not None
    generation_body = _compact(
        {
            "id": generation.id,
            "traceId": trace_id,
            "parentObservationId": trace.given_parent_id or trace.parent_span_id,
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
            "metadata": generation_metadata,
            "version": trace.version,
            # both or neither: Langfuse links a prompt only by name and version
            "promptName": generation.prompt_name if prompt else None,
            "promptVersion": generation.prompt_version if prompt else None,
            "environment": trace.environment,
        }
    )
    key = trace.key  # per Kong request: requests joining one trace send one trace-create each
    return [
        {
            "id": f"{key}-trace",
            "timestamp": timestamp,
            "type": "trace-create",
            "body": trace_body,
        },
        {
            "id": f"{key}-{generation.id}",
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
