"""The enrich stage on its own: pure functions, no Kafka, no HTTP.

For the same generated records (:mod:`pipeline.bench.mix`), in one process:

- **ceiling**: ``orjson.loads`` of each record, the least any consumer of the topic must do;
- **floor**: the JSON work of any enricher that turns whole records into Python objects, done
  with orjson alone: parse each record, parse each body it captured (JSON, each event of a
  stream) and write each trace it publishes (``orjson.dumps`` of the trace, built untimed).
  What the target leaves for everything else (provider, usage, cost, context, credentials) is
  the µs per record the target allows (the ceiling's ÷ ``RATIO_TARGET``) less this. (A
  compiled core reading only the fields it needs with a lazy parser could go under it.);
- **enrich**: the worker's enrich stage, :func:`pipeline.enrich.stage.run_stage`, over the
  records as Kafka values, with the options the worker builds from its settings: parse,
  enrich, the trace JSON it would publish, fitted to a Kafka record and routed (the dead
  letters' scrubbing, the metrics and the Kafka calls are not measured);
- **OTLP encoding**, the sink side: the serialized OTLP export request of each batch of 200
  traces, as the sink builds it (``encode_request_bytes``).

After one warm-up pass of each, ``rounds`` rounds alternate ceiling, floor and enrich passes
(so drift on a noisy machine hits them all) and the medians are reported. Every loop is
bounded by the input.

The target (issue 18: this 2-core machine, the bench mix, one thread, the ratio from one run)
is relative: enrichment at least ``RATIO_TARGET`` (0.12) times the ceiling's records/s, the
``ratio``. There is no absolute records/s target: the ceiling moves with the machine and the
record size, and the ratio moves with it.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import orjson

from pipeline.bench.mix import CATEGORIES, generate_labelled
from pipeline.enrich import EnrichOptions
from pipeline.enrich.stage import (
    Dropped,
    KafkaValue,
    Outcome,
    StageConfig,
    Traced,
    run_stage,
)
from pipeline.sinks import otlp
from pipeline.trace import Trace

TOPIC = "kong-logs"
TRACES_TOPIC = "ai-traces"
SINK_BATCH = 200
RATIO_TARGET = 0.12
"""The enrich stage's records/s should be at least this share of the ceiling's (issue 18)."""

OUTCOMES = ("traced", "skipped", "dead_letter", "internal_error")


@dataclass(frozen=True, slots=True)
class EnrichBenchResult:
    """Figures of one run (one record size). Seconds are medians of one pass over all records."""

    records: int
    rounds: int
    seed: int
    size_scale: float
    mean_record_bytes: float
    ceiling_seconds: float
    floor_seconds: float
    floor_documents: int
    """JSON documents the floor parses and writes: records, bodies and stream events, traces."""
    enrich_seconds: float
    otlp_seconds: float
    traced: int
    skipped: int
    dead_lettered: int
    internal_errors: int
    trace_json_bytes: float
    """Mean size of a published trace (``Trace.to_json()``)."""
    otlp_bytes_per_trace: float
    otlp_batches: int
    otlp_encoder: str
    composition: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    """category → outcome → records."""
    ceiling_samples: tuple[float, ...] = ()
    floor_samples: tuple[float, ...] = ()
    enrich_samples: tuple[float, ...] = ()
    otlp_samples: tuple[float, ...] = ()

    @property
    def ceiling_records_per_s(self) -> float:
        return self.records / self.ceiling_seconds if self.ceiling_seconds else 0.0

    @property
    def ceiling_us_per_record(self) -> float:
        return self.ceiling_seconds / self.records * 1e6 if self.records else 0.0

    @property
    def floor_us_per_record(self) -> float:
        return self.floor_seconds / self.records * 1e6 if self.records else 0.0

    @property
    def target_records_per_s(self) -> float:
        """The least records/s the target allows the enrich stage: ``RATIO_TARGET`` times the
        ceiling's."""
        return self.ceiling_records_per_s * RATIO_TARGET

    @property
    def target_us_per_record(self) -> float:
        """The most µs a record the target allows the enrich stage: the ceiling's ÷
        ``RATIO_TARGET``."""
        return self.ceiling_us_per_record / RATIO_TARGET

    @property
    def ratio_logic_budget_us(self) -> float:
        """µs a record the target leaves above the floor for all else (negative: none at all)."""
        return self.target_us_per_record - self.floor_us_per_record

    @property
    def enrich_records_per_s(self) -> float:
        return self.records / self.enrich_seconds if self.enrich_seconds else 0.0

    @property
    def enrich_us_per_record(self) -> float:
        return self.enrich_seconds / self.records * 1e6 if self.records else 0.0

    @property
    def ratio(self) -> float:
        """Enrich throughput as a share of the ceiling's (ceiling time / enrich time)."""
        return self.ceiling_seconds / self.enrich_seconds if self.enrich_seconds else 0.0

    @property
    def otlp_us_per_trace(self) -> float:
        return self.otlp_seconds / self.traced * 1e6 if self.traced else 0.0

    @property
    def meets_ratio_target(self) -> bool:
        return self.ratio >= RATIO_TARGET

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ceiling_records_per_s=self.ceiling_records_per_s,
            ceiling_us_per_record=self.ceiling_us_per_record,
            floor_us_per_record=self.floor_us_per_record,
            target_records_per_s=self.target_records_per_s,
            target_us_per_record=self.target_us_per_record,
            ratio_logic_budget_us=self.ratio_logic_budget_us,
            enrich_records_per_s=self.enrich_records_per_s,
            enrich_us_per_record=self.enrich_us_per_record,
            ratio=self.ratio,
            otlp_us_per_trace=self.otlp_us_per_trace,
            meets_ratio_target=self.meets_ratio_target,
        )
        for key in _SAMPLES:
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnrichBenchResult:
        """A result read back from ``to_dict``'s JSON (the derived figures are recomputed, so
        those of retired targets in older files are ignored)."""
        known = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for key in _SAMPLES:
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


_SAMPLES = ("ceiling_samples", "floor_samples", "enrich_samples", "otlp_samples")


def worker_options() -> EnrichOptions:
    """The options the worker builds from its settings (environment and config file)."""
    from pipeline.enrich.stage import enrich_options
    from pipeline.settings import load_settings

    return enrich_options(load_settings())


def _ceiling(values: Sequence[bytes]) -> None:
    loads = orjson.loads
    for value in values:
        try:  # noqa: SIM105 - contextlib.suppress would cost more than some loads
            loads(value)
        except orjson.JSONDecodeError:
            pass


def _parse_body(text: str) -> int:
    """Parse a captured body as cheaply as possible: one document, or one per stream event
    (base64-gzipped captures are not inflated: the floor stays a lower bound)."""
    text = text.strip()
    if text[:1] in ("{", "["):
        try:
            orjson.loads(text)
            return 1
        except orjson.JSONDecodeError:
            pass
    parsed = 0
    for line in text.split("\n"):
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload[:1] in ("{", "["):
                try:
                    orjson.loads(payload)
                    parsed += 1
                except orjson.JSONDecodeError:
                    pass
    return parsed


def _record_bodies(record: dict[str, Any]) -> int:
    """Parse a record's captured bodies, else the payloads Kong's ``ai`` block logged."""
    parsed = 0
    captured = False
    for side in ("request", "response"):
        part = record.get(side)
        body = part.get("body") if type(part) is dict else None
        if type(body) is str and body:
            parsed += _parse_body(body)
            captured = True
    ai = record.get("ai")
    if captured or type(ai) is not dict:
        return parsed
    for block in ai.values():
        payload = block.get("payload") if type(block) is dict else None
        if type(payload) is dict:
            for text in payload.values():
                if type(text) is str and text:
                    parsed += _parse_body(text)
    return parsed


def floor_pass(values: Sequence[bytes], traces: Sequence[dict[str, Any]]) -> int:
    """The orjson work of enriching ``values`` into ``traces``; the documents it handled."""
    loads, dumps = orjson.loads, orjson.dumps
    documents = 0
    for value in values:
        try:
            document = loads(value)
        except orjson.JSONDecodeError:
            continue
        documents += 1
        for record in document if type(document) is list else (document,):
            if type(record) is dict:
                documents += _record_bodies(record)
    for trace in traces:
        dumps(trace)
    return documents + len(traces)


def kafka_values(values: Sequence[bytes]) -> list[KafkaValue]:
    """Values as the stage sees Kafka messages: one partition of the Kong topic, in order."""
    return [KafkaValue(value, TOPIC, 0, offset) for offset, value in enumerate(values)]


def _outcome_name(outcome: Outcome) -> str:
    if isinstance(outcome, Traced):
        return "traced"
    if isinstance(outcome, Dropped):
        return "skipped"
    return "internal_error" if outcome.error else "dead_letter"


@dataclass(slots=True)
class _Analysis:
    """What the stage did with each value, from the warm-up pass (untimed)."""

    counts: Counter[str] = field(default_factory=Counter)
    by_value: list[str] = field(default_factory=list)
    """The outcome of each value: its first record's (dead letter if it held none)."""
    traces: list[Trace] = field(default_factory=list)
    """The published traces, read back as the sink reads them (for the OTLP encoding)."""
    json_bytes: int = 0
    documents: list[dict[str, Any]] = field(default_factory=list)
    """The published traces as JSON objects (what the floor writes)."""


def _analyse(values: Sequence[KafkaValue], config: StageConfig) -> _Analysis:
    done = _Analysis()
    for value in values:
        outcomes = run_stage([value], config)
        names = [_outcome_name(outcome) for outcome in outcomes]
        done.counts.update(names)
        done.by_value.append(names[0] if names else "dead_letter")
        for outcome in outcomes:
            if isinstance(outcome, Traced):
                done.traces.append(Trace.from_json(outcome.value))
                done.documents.append(orjson.loads(outcome.value))
                done.json_bytes += len(outcome.value)
    return done


def _encode_otlp(encode: Callable[[Sequence[Trace]], bytes], traces: Sequence[Trace]) -> int:
    size = 0
    for start in range(0, len(traces), SINK_BATCH):
        size += len(encode(traces[start : start + SINK_BATCH]))
    return size


def _timed(fn: Callable[[], object]) -> float:
    gc.collect()
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_enrich_bench(
    records: int = 20_000,
    *,
    rounds: int = 5,
    seed: int = 7,
    size_scale: float = 1.0,
    weights: Mapping[str, float] | None = None,
    options: EnrichOptions | None = None,
) -> EnrichBenchResult:
    """Generate the mix, then measure ceiling, enrich and OTLP encoding on it."""
    if records < 1:
        raise ValueError("records must be >= 1")
    if rounds < 1:
        raise ValueError("rounds must be >= 1")
    options = options if options is not None else worker_options()
    config = StageConfig(options=options, traces_topic=TRACES_TOPIC)
    labelled = generate_labelled(records, seed, size_scale=size_scale, weights=weights)
    values = [value for _, value in labelled]
    messages = kafka_values(values)

    # Warm-up: caches (prices, tokenizers, regexes) and the outcome of every record.
    _ceiling(values)
    warm = _analyse(messages, config)
    encode = otlp.encode_request_bytes  # what the sink sends, cached spans aside
    _encode_otlp(encode, warm.traces)

    floor_documents = floor_pass(values, warm.documents)

    ceiling_samples: list[float] = []
    floor_samples: list[float] = []
    enrich_samples: list[float] = []
    for _ in range(rounds):
        ceiling_samples.append(_timed(lambda: _ceiling(values)))
        floor_samples.append(_timed(lambda: floor_pass(values, warm.documents)))
        enrich_samples.append(_timed(lambda: run_stage(messages, config)))
    otlp_samples = [_timed(lambda: _encode_otlp(encode, warm.traces)) for _ in range(rounds)]
    otlp_size = _encode_otlp(encode, warm.traces)

    outcomes: dict[str, dict[str, int]] = {}
    for (category, _), outcome in zip(labelled, warm.by_value, strict=True):
        row = outcomes.setdefault(category, dict.fromkeys(OUTCOMES, 0))
        row[outcome] += 1
    counted = Counter(category for category, _ in labelled)
    traced = warm.counts["traced"]
    return EnrichBenchResult(
        records=records,
        rounds=rounds,
        seed=seed,
        size_scale=size_scale,
        mean_record_bytes=sum(map(len, values)) / len(values),
        ceiling_seconds=statistics.median(ceiling_samples),
        floor_seconds=statistics.median(floor_samples),
        floor_documents=floor_documents,
        enrich_seconds=statistics.median(enrich_samples),
        otlp_seconds=statistics.median(otlp_samples) if traced else 0.0,
        traced=traced,
        skipped=warm.counts["skipped"],
        dead_lettered=warm.counts["dead_letter"],
        internal_errors=warm.counts["internal_error"],
        trace_json_bytes=warm.json_bytes / traced if traced else 0.0,
        otlp_bytes_per_trace=otlp_size / traced if traced else 0.0,
        otlp_batches=-(-traced // SINK_BATCH),
        otlp_encoder="encode_request_bytes",
        composition={c.name: counted.get(c.name, 0) for c in CATEGORIES},
        outcomes={c.name: outcomes[c.name] for c in CATEGORIES if c.name in outcomes},
        ceiling_samples=tuple(ceiling_samples),
        floor_samples=tuple(floor_samples),
        enrich_samples=tuple(enrich_samples),
        otlp_samples=tuple(otlp_samples),
    )


def run_sweep(
    sizes: Sequence[float],
    records: int = 20_000,
    *,
    rounds: int = 5,
    seed: int = 7,
    weights: Mapping[str, float] | None = None,
    options: EnrichOptions | None = None,
) -> list[EnrichBenchResult]:
    """One run per ``size_scale``, same seed and options: how cost grows with record size."""
    options = options if options is not None else worker_options()
    return [
        run_enrich_bench(
            records, rounds=rounds, seed=seed, size_scale=size, weights=weights, options=options
        )
        for size in sizes
    ]
