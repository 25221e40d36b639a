"""Prometheus metrics. Label sets are bounded: reasons, stages, status classes, never ids."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

records_consumed = Counter(
    "kong_litefuse_records_consumed", "Kong records read from the Kong topic.", registry=REGISTRY
)
traces_published = Counter(
    "kong_litefuse_traces_published",
    "Enriched traces published to the traces topic.",
    ["provider"],
    registry=REGISTRY,
)
records_skipped = Counter(
    "kong_litefuse_records_skipped",
    "Kong records that are not AI calls.",
    ["reason"],
    registry=REGISTRY,
)
dead_letters = Counter(
    "kong_litefuse_dead_letters",
    "Records or traces sent to a dead-letter topic.",
    ["stage", "reason"],
    registry=REGISTRY,
)
sink_batches = Counter(
    "kong_litefuse_sink_batches", "Batches delivered by the sink.", ["sink"], registry=REGISTRY
)
sink_events = Counter(
    "kong_litefuse_sink_traces", "Traces accepted by the sink.", ["sink"], registry=REGISTRY
)
sink_bytes = Counter(
    "kong_litefuse_sink_bytes", "Encoded bytes sent by the sink.", ["sink"], registry=REGISTRY
)
sink_responses = Counter(
    "kong_litefuse_sink_responses",
    "HTTP responses from Litefuse by status.",
    ["status"],
    registry=REGISTRY,
)
sink_retries = Counter(
    "kong_litefuse_sink_retries", "Batch send retries.", ["reason"], registry=REGISTRY
)
sink_latency = Histogram(
    "kong_litefuse_sink_request_seconds",
    "Latency of one request to Litefuse.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
duplicates_skipped = Counter(
    "kong_litefuse_duplicates_skipped",
    "Traces not re-sent because Litefuse accepted them within the de-duplication window.",
    registry=REGISTRY,
)
traces_truncated = Counter(
    "kong_litefuse_traces_truncated",
    "Traces whose largest fields were truncated to fit a Kafka record.",
    registry=REGISTRY,
)
dedup_entries = Gauge(
    "kong_litefuse_dedup_window_entries",
    "Trace ids held in this worker's de-duplication window.",
    registry=REGISTRY,
)
sink_up = Gauge("kong_litefuse_sink_up", "1 while the last delivery succeeded.", registry=REGISTRY)


consumer_lag = Gauge(
    "kong_litefuse_consumer_lag",
    "Records behind the partition's end, per assigned partition (committed offset).",
    ["topic", "partition"],
    registry=REGISTRY,
)
partition_rereads = Counter(
    "kong_litefuse_partition_rereads",
    "Partitions re-read from their committed offset after a stall (a fetch gap).",
    ["topic"],
    registry=REGISTRY,
)
fetch_gaps = Counter(
    "kong_litefuse_fetch_gaps",
    "Jumps in a partition's offsets seen by the consumer (records skipped by the fetcher).",
    ["topic"],
    registry=REGISTRY,
)
tokens = Counter(
    "kong_litefuse_tokens",
    "Tokens of traced AI requests.",
    ["provider", "model", "kind"],
    registry=REGISTRY,
)
cost_usd = Counter(
    "kong_litefuse_cost_usd",
    "Cost of traced AI requests in USD (where the price is known).",
    ["provider", "model"],
    registry=REGISTRY,
)

MAX_MODEL_LABELS = 50
_models_seen: set[str] = set()


def model_label(model: str | None) -> str:
    """The model as a label, capped at MAX_MODEL_LABELS distinct values (then ``other``)."""
    if not model:
        return "unknown"
    if model in _models_seen:
        return model
    if len(_models_seen) < MAX_MODEL_LABELS:
        _models_seen.add(model)
        return model
    return "other"


def provider_label(provider: object) -> str:
    text = str(provider or "unknown")
    return text if len(text) <= 40 else "other"


def reason_label(reason: str) -> str:
    """Collapse a free-text reason to a bounded label (its first words)."""
    head = reason.split(":", 1)[0].strip().lower()
    return head[:40] or "unknown"
