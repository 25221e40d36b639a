"""Prometheus metrics. Label values come from closed sets (providers, reason codes, stages,
statuses) or a bounded top-K (models): never ids, free text or names taken as they come."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import lru_cache

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
trace_context = Counter(
    "kong_litefuse_trace_context",
    "AI records by how the caller's trace context was read: joined (a traceparent, "
    "x-langfuse-trace-id or body metadata id put the call in the caller's trace), invalid "
    "(given but unusable: malformed, all-zero or credential-like; the call got a trace of its "
    "own or the next source's), absent. Not counted with TRACE_CONTEXT=ignore.",
    ["result"],
    registry=REGISTRY,
)
TRACE_CONTEXT_RESULTS = frozenset({"joined", "invalid", "absent"})


def count_trace_context(result: str | None) -> None:
    """Count one AI record's trace-context result (None: not read)."""
    if result is not None:
        trace_context.labels(result if result in TRACE_CONTEXT_RESULTS else "invalid").inc()


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
worker_live = Gauge(
    "kong_litefuse_worker_live",
    "1 while /healthz says the worker makes progress, 0 once it says it stalled.",
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

# --- label values from closed sets ---------------------------------------------------------
#
# Every label value below comes from a set fixed in code, or from a bounded top-K of what was
# seen: never free text or names taken as they come, so /metrics stays small whatever records
# arrive (2,000 made-up provider names once made 2,003 series of one metric).

OTHER = "other"
UNKNOWN = "unknown"


@lru_cache(maxsize=1)
def known_providers() -> frozenset[str]:
    """The providers enrichment names (the built-in detectors, the OpenAI-compatible upstream
    hosts it recognises) and the ids of the price database (``cost.PROVIDER_IDS``). Custom
    providers from the config file or a plugin are counted as ``other`` here."""
    from pipeline.enrich.cost import PROVIDER_IDS
    from pipeline.enrich.providers import builtin_providers
    from pipeline.enrich.providers.openai import HOST_PROVIDERS

    names = {provider.name for provider in builtin_providers()}
    names.update(name for _, name in HOST_PROVIDERS)
    names.update(PROVIDER_IDS)
    names.update(PROVIDER_IDS.values())
    return frozenset(name.lower() for name in names)


def provider_label(provider: object) -> str:
    """A known provider's name (lower-case), ``unknown`` when none, else ``other``."""
    if not provider:
        return UNKNOWN
    name = str(provider).lower()
    return name if name in known_providers() else OTHER


#: Dead-letter reason → its label: the first prefix that matches. The full reason stays in the
#: dead letter's ``kong-litefuse-reason`` header and in the log line; only the code is a label.
REASON_CODES: tuple[tuple[str, str], ...] = (
    ("not json", "not_json"),
    ("empty json array", "not_kong_record"),
    ("item ", "not_kong_record"),  # "item 3 is a JSON int, not a Kong log object"
    ("value is a json", "not_kong_record"),
    ("not a kong log record", "not_kong_record"),
    ("invalid kong record", "invalid_record"),
    ("ai request without", "invalid_record"),
    ("trace too large", "too_large"),
    ("internal error", "enrich_failed"),
    ("invalid trace", "invalid_trace"),
    ("rejected by litefuse", "rejected_by_litefuse"),
)
REASONS: frozenset[str] = frozenset({code for _, code in REASON_CODES} | {OTHER})


def reason_label(reason: str) -> str:
    """A dead-letter reason as one of :data:`REASONS` (``other`` for any reason not listed)."""
    text = reason.lstrip().lower()
    for prefix, code in REASON_CODES:
        if text.startswith(prefix):
            return code
    return OTHER


# --- models: a bounded top-K ------------------------------------------------------------------

MAX_MODEL_LABELS = 50
"""Model names with a label of their own; the rest are ``other``."""
_CANDIDATES = 4 * MAX_MODEL_LABELS
"""Names whose counts the table follows (the most frequent, as far as the sketch can tell)."""
_MIN_SEEN = 2
"""A name gets a label only once counted this often: a name seen once (a made-up one) is
``other`` and never creates a series."""
_MODEL_METRICS: tuple[tuple[Counter, tuple[str, ...]], ...] = (
    (tokens, ("provider", "model", "kind")),
    (cost_usd, ("provider", "model")),
)


class TopModels:
    """The most frequent model names in bounded memory, and the labels they may have.

    A count-min sketch (``depth`` rows of ``width`` counters) estimates how often any name was
    seen; a table follows the ``capacity`` names with the highest counts (Space-Saving's table,
    with TinyLFU's admission: a name takes the least counted entry's place only when the sketch
    says it was seen more often). Made-up names, each seen once, are estimated at about one, so
    a burst of them neither enters the table nor pushes a frequent model such as gpt-4o out.
    Every ``10 * width`` names, the sketch and the table halve their counts, so yesterday's
    models make room for today's. A name keeps its own label while it is in the table and
    among the ``labels`` highest counts; when it loses it, ``on_drop`` is told (the series with
    that label are removed), so the number of model series stays bounded. A label needs
    ``min_seen`` sightings while the name is followed, never the sketch's estimate alone, and
    takes another's only with a quarter more counts (two close names do not trade it back and
    forth, each time resetting their series).
    """

    def __init__(
        self,
        labels: int = MAX_MODEL_LABELS,
        capacity: int = _CANDIDATES,
        min_seen: int = _MIN_SEEN,
        on_drop: Callable[[str], None] | None = None,
        width: int = 4096,
        depth: int = 4,
    ) -> None:
        self.labels = labels
        self.capacity = max(capacity, labels)
        self.min_seen = min_seen
        self.on_drop = on_drop
        self._mask = (1 << max(4, (width - 1).bit_length())) - 1
        self._sketch = [[0] * (self._mask + 1) for _ in range(depth)]
        self._seen = 0
        self._age_every = 10 * (self._mask + 1)
        self._counts: dict[str, int] = {}  # followed name → its count (for ranking)
        self._hits: dict[str, int] = {}  # followed name → times seen since it is followed
        self._floor = 0  # at most the table's smallest count (counts only grow between ageings)
        self._labelled: set[str] = set()

    def __len__(self) -> int:
        return len(self._labelled)

    def count(self, name: str) -> int:
        """The table's count of ``name`` (0 when it is not followed)."""
        return self._counts.get(name, 0)

    def _estimate(self, name: str) -> int:
        """Count ``name`` in the sketch; how often it was seen at most (collisions add)."""
        estimate = None
        for row, counters in enumerate(self._sketch):
            cell = hash((row, name)) & self._mask
            counters[cell] += 1
            estimate = counters[cell] if estimate is None else min(estimate, counters[cell])
        return estimate or 0

    def _age(self) -> None:
        for counters in self._sketch:
            counters[:] = [value >> 1 for value in counters]
        for name in self._counts:
            self._counts[name] >>= 1
        self._floor = min(self._counts.values(), default=0)
        self._seen = 0

    def label(self, name: str) -> str:
        """Count one more ``name``; its label now (the name itself, or ``other``)."""
        self._seen += 1
        if self._seen >= self._age_every:
            self._age()
        estimate = self._estimate(name)
        if name in self._counts:
            self._counts[name] += 1
            self._hits[name] += 1
        elif len(self._counts) < self.capacity:
            self._counts[name] = estimate
            self._hits[name] = 1
            self._floor = min(self._floor, estimate) if len(self._counts) > 1 else estimate
        elif estimate <= self._floor:
            return OTHER  # no better than the least followed name: not admitted
        else:
            weakest = min(self._counts, key=self._counts.__getitem__)
            self._floor = self._counts[weakest]
            if estimate <= self._floor:
                return OTHER
            del self._counts[weakest], self._hits[weakest]
            self._drop(weakest)
            self._counts[name] = estimate
            self._hits[name] = 1
            self._floor = min(self._counts.values())
        if name in self._labelled:
            return name
        if self._hits[name] < self.min_seen:  # the sketch's estimate may be collisions: wait
            return OTHER
        count = self._counts[name]
        if len(self._labelled) < self.labels:
            self._labelled.add(name)
            return name
        weakest_label = min(self._labelled, key=self.count)
        if count > self.count(weakest_label) * 5 // 4:
            self._drop(weakest_label)
            self._labelled.add(name)
            return name
        return OTHER

    def _drop(self, name: str) -> None:
        if name in self._labelled:
            self._labelled.discard(name)
            if self.on_drop is not None:
                self.on_drop(name)


def remove_model_series(model: str) -> None:
    """Remove every series of the model metrics that carries ``model`` as its label."""
    for metric, names in _MODEL_METRICS:
        stale = {
            tuple(sample.labels[name] for name in names)
            for family in metric.collect()
            for sample in family.samples
            if sample.labels.get("model") == model
        }
        for labels in stale:
            with contextlib.suppress(KeyError):
                metric.remove(*labels)


_top_models = TopModels(on_drop=remove_model_series)


def model_label(model: str | None) -> str:
    """The model as a label: its name while it is among the most frequent
    (:data:`MAX_MODEL_LABELS`), ``other`` otherwise, ``unknown`` when none."""
    if not model:
        return UNKNOWN
    return _top_models.label(model)
