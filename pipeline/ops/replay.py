"""``kong-litefuse replay``: re-run a range of a topic through enrichment onto the traces topic.

Replay never talks to Litefuse: it publishes traces (deterministic ids) to the traces topic and
the live sink delivers them, so a replay is rate-limited and de-duplicated like live traffic and
re-running a range adds nothing. It reads with ``assign()`` at explicit offsets and never joins
a consumer group nor commits, so the live workers' offsets are untouched. It stops at the end
offsets snapshot at start (a live topic cannot keep it running) and every wait is bounded.

Dead-letter topics replay too: their values are the original Kong bytes and their headers say
where the record first was, so a record replayed from ``kong-logs.dlq`` gets the trace id the live
pipeline would have given it. Sink dead letters (trace JSON) are re-published as they are.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from confluent_kafka import Consumer, KafkaError, TopicPartition

from pipeline.delivery.deadletter import read_headers
from pipeline.enrich import EnrichOptions, Skipped, enrich
from pipeline.kafka import publish_to, quiet
from pipeline.kong import KongRecord, RecordError, parse_records
from pipeline.ops.offsets import (
    KafkaPartitionReader,
    Lookup,
    find_end,
    lookup,
    native_offsets,
    partitions_of,
    reader_consumer,
    watermarks,
)
from pipeline.sinks.routing import LitefuseRoute, route_for, route_topic
from pipeline.trace import SourceRef, Trace

if TYPE_CHECKING:
    import threading

    from pipeline.terminal import Interruption

log = logging.getLogger(__name__)

MAX_FAILURES_KEPT = 100
MAX_BURST = 1000.0

# --- parsing the command line ---------------------------------------------------------------

_RELATIVE = re.compile(r"^-(?:\d+(?:\.\d+)?[smhdw])+$")
_RELATIVE_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """``now``, relative (``-2h``, ``-30m``, ``-1d``, ``-1h30m``) or ISO-8601 (naive = UTC)."""
    now = now or datetime.now(UTC)
    text = value.strip()
    if text.lower() == "now":
        return now
    if _RELATIVE.match(text):
        seconds = sum(float(amount) * _UNITS[unit] for amount, unit in _RELATIVE_PART.findall(text))
        return now - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a time: use now, -30m/-2h/-1d, or ISO-8601 (2025-05-01T12:00Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True, slots=True)
class OffsetSpec:
    """``--from-offset``/``--to-offset``: one offset for every partition, or per partition."""

    every: int | None = None
    per_partition: Mapping[int, int] = field(default_factory=dict)

    def get(self, partition: int) -> int | None:
        return self.per_partition.get(partition, self.every)

    def __bool__(self) -> bool:
        return self.every is not None or bool(self.per_partition)


def parse_offsets(values: Sequence[str]) -> OffsetSpec:
    """``100`` (all partitions) or ``0:100,1:250`` (per partition); options may repeat."""
    every: int | None = None
    per: dict[int, int] = {}
    for value in values:
        for part in (p.strip() for p in value.split(",") if p.strip()):
            try:
                if ":" in part:
                    partition, offset = (int(x) for x in part.split(":", 1))
                    if partition < 0 or offset < 0:
                        raise ValueError
                    per[partition] = offset
                else:
                    every = int(part)
                    if every < 0:
                        raise ValueError
            except ValueError:
                raise ValueError(
                    f"{part!r} is not an offset: use N (all partitions) or PARTITION:N"
                ) from None
    return OffsetSpec(every, per)


def check_offset_range(first: OffsetSpec, last: OffsetSpec) -> None:
    """ValueError when a partition's --from-offset is not below its --to-offset (nothing to
    read: a mistake, not a replay of nothing)."""
    partitions = {*first.per_partition, *last.per_partition}
    pairs: list[tuple[int | None, int | None, int | None]] = [
        (p, first.get(p), last.get(p)) for p in sorted(partitions)
    ]
    if first.every is not None and last.every is not None:
        pairs.append((None, first.every, last.every))
    for partition, start, stop in pairs:
        if start is not None and stop is not None and start >= stop:
            where = "every partition" if partition is None else f"partition {partition}"
            raise ValueError(
                f"--from-offset {start} is not below --to-offset {stop} for {where}: the range "
                "is empty"
            )


def parse_status(value: str) -> Callable[[int | None], bool]:
    """``200``, ``429``, ``5xx``, ``4xx`` → a predicate on the response status."""
    text = value.strip().lower()
    if re.fullmatch(r"[1-5]xx", text):
        hundred = int(text[0])
        return lambda status: status is not None and status // 100 == hundred
    if re.fullmatch(r"\d{3}", text):
        code = int(text)
        return lambda status: status == code
    raise ValueError(f"{value!r} is not a status: use e.g. 200, 429, 5xx")


# --- filters --------------------------------------------------------------------------------


def _entity_names(entity: Any, *fields: str) -> set[str]:
    return {v for v in (getattr(entity, f, None) for f in fields) if v} if entity else set()


@dataclass(frozen=True, slots=True)
class ReplayFilter:
    """Each option may repeat (any of its values matches); different options must all match."""

    services: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for status in self.statuses:
            parse_status(status)  # fail early on a typo

    def matches_record(self, record: KongRecord) -> bool:
        """What can be decided on the Kong record, before enrichment."""
        if self.services and not _entity_names(record.service, "name", "id") & set(self.services):
            return False
        if self.routes and not _entity_names(record.route, "name", "id") & set(self.routes):
            return False
        if self.consumers and not _entity_names(
            record.consumer, "username", "custom_id", "id"
        ) & set(self.consumers):
            return False
        status = record.response.status
        return not self.statuses or any(parse_status(s)(status) for s in self.statuses)

    def matches_trace(self, trace: Trace) -> bool:
        """The provider is only known after enrichment (path, body, Kong's ai block)."""
        if not self.providers:
            return True
        found = {trace.metadata.get("provider"), trace.metadata.get("kong_provider")}
        return bool({p.lower() for p in self.providers} & {str(f).lower() for f in found if f})


# --- rate limit -----------------------------------------------------------------------------


@dataclass(slots=True)
class TokenBucket:
    """At most ``rate`` acquisitions per second on average, bursts up to ``capacity``."""

    rate: float
    capacity: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    tokens: float = 0.0
    updated: float = -1.0

    @classmethod
    def per_second(cls, rate: float) -> TokenBucket:
        if rate <= 0:
            raise ValueError("--rate must be positive")
        # One second's worth of burst, bounded, so a long pause cannot release a flood.
        return cls(rate=rate, capacity=min(max(rate, 1.0), MAX_BURST))

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds slept."""
        now = self.clock()
        if self.updated < 0:
            self.updated, self.tokens = now, self.capacity
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        waited = 0.0
        if self.tokens < 1.0:
            waited = (1.0 - self.tokens) / self.rate
            self.sleep(waited)
            self.tokens, self.updated = 1.0, self.updated + waited
        self.tokens -= 1.0
        return waited


# --- one Kafka message ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    topic: str
    partition: int
    offset: int
    index: int | None
    reason: str


@dataclass(slots=True)
class MessageResult:
    traces: list[Trace] = field(default_factory=list)
    records: int = 0
    skipped: int = 0
    filtered: int = 0
    failures: list[Failure] = field(default_factory=list)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def process_message(
    value: bytes,
    headers: list[tuple[str, bytes]] | None,
    topic: str,
    partition: int,
    offset: int,
    options: EnrichOptions,
    selection: ReplayFilter,
) -> MessageResult:
    """The traces one Kafka message gives, like the live enrich agent; never raises on bad data.

    A dead letter (our headers) is enriched under its original position, so records without
    Kong's request id get the same trace id as live; only the record index that failed is redone.
    """
    result = MessageResult()
    letter = read_headers(headers)
    if letter.get("stage") == "sink":  # a trace Litefuse refused: re-publish it as it is
        result.records = 1
        try:
            trace = Trace.from_json(value)
        except ValueError as exc:
            reason = f"invalid trace: {str(exc).splitlines()[0]}"
            result.failures.append(Failure(topic, partition, offset, None, reason))
            return result
        if selection.matches_trace(trace):
            result.traces.append(trace)
        else:
            result.filtered = 1
        return result
    source_topic = letter.get("source-topic") or topic
    source_partition = _int(letter.get("source-partition"))
    source_offset = _int(letter.get("source-offset"))
    if source_partition is None or source_offset is None:
        source_topic, source_partition, source_offset = topic, partition, offset
    only_index = _int(letter.get("source-index"))
    try:
        records = parse_records(value)
    except RecordError as exc:
        result.records = 1
        result.failures.append(Failure(topic, partition, offset, None, f"unreadable: {exc}"))
        return result
    for index, record in enumerate(records):
        if only_index is not None and index != only_index:
            continue
        result.records += 1
        if not selection.matches_record(record):
            result.filtered += 1
            continue
        source = SourceRef(
            topic=source_topic, partition=source_partition, offset=source_offset, index=index
        )
        try:
            enriched = enrich(record, options, source)
        except Exception as exc:  # RecordError or a bug: one record, never the replay
            reason = str(exc) if isinstance(exc, RecordError) else f"{type(exc).__name__}: {exc}"
            result.failures.append(Failure(topic, partition, offset, index, reason))
            continue
        if isinstance(enriched, Skipped):
            result.skipped += 1
        elif selection.matches_trace(enriched):
            result.traces.append(enriched)
        else:
            result.filtered += 1
    return result


def dry_run_line(trace: Trace) -> str:
    """time, trace id, name, provider, model, tokens — tab separated."""
    usage = trace.generation.usage if trace.generation else None
    tokens = "-"
    if usage is not None:
        total = usage.total
        if total is None and (usage.input is not None or usage.output is not None):
            total = (usage.input or 0) + (usage.output or 0)
        tokens = "-" if total is None else str(total)
    model = (trace.generation.model if trace.generation else None) or "-"
    stamp = trace.timestamp.astimezone(UTC).isoformat(timespec="milliseconds")
    provider = str(trace.metadata.get("provider") or "-")
    return "\t".join([stamp.replace("+00:00", "Z"), trace.id, trace.name, provider, model, tokens])


# --- the plan -------------------------------------------------------------------------------


@dataclass(slots=True)
class PartitionPlan:
    """One partition's range ``[start, stop)`` and how each bound was found."""

    partition: int
    low: int
    end: int  # the real end at start (found by reading), the snapshot
    reported_high: int  # what the broker said the high watermark was
    start: int
    stop: int
    start_method: str  # native | search | empty | offset | beginning
    stop_method: str  # native | search | empty | offset | end
    fetches: int = 0
    next_offset: int = -1  # the consumption position
    done: bool = False

    @property
    def total(self) -> int:
        return max(self.stop - self.start, 0)


@dataclass(frozen=True, slots=True)
class ReplayRequest:
    bootstrap: str
    topic: str
    traces_topic: str
    options: EnrichOptions
    routes: Sequence[LitefuseRoute] = ()  # traces go to their destination's topic, as live
    start_time: datetime | None = None
    end_time: datetime | None = None
    from_offsets: OffsetSpec = OffsetSpec()
    to_offsets: OffsetSpec = OffsetSpec()
    selection: ReplayFilter = ReplayFilter()
    dry_run: bool = False
    rate: float | None = None
    client_config: Mapping[str, str] = field(default_factory=dict)
    """Kafka security settings (``pipeline.kafka.client_config``): every consumer and the
    publisher use them."""
    consumer_config: Mapping[str, Any] = field(default_factory=dict)
    probe_timeout: float = 2.0  # one fetch of the offset search
    idle_timeout: float = 10.0  # no message for this long: the rest of the range is not there
    max_seconds: float | None = None  # the whole consumption, when bounded by the caller
    group_id: str = ""


@dataclass(slots=True)
class ReplaySummary:
    topic: str
    traces_topic: str
    dry_run: bool
    group_id: str
    plans: list[PartitionPlan] = field(default_factory=list)
    messages: int = 0
    records: int = 0
    outside_window: int = 0
    filtered: int = 0
    skipped: int = 0
    traces: int = 0
    published: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    plan_seconds: float = 0.0
    seconds: float = 0.0
    rate_waited_seconds: float = 0.0
    interrupted: bool = False
    """Stopped by SIGINT/SIGTERM before the end of the range (what was read was published)."""

    @property
    def total(self) -> int:
        return sum(p.total for p in self.plans)

    @property
    def complete(self) -> bool:
        return all(p.done or p.total == 0 for p in self.plans)

    @property
    def methods(self) -> dict[int, tuple[str, str]]:
        """Per partition: how the start and the stop offsets were found."""
        return {p.partition: (p.start_method, p.stop_method) for p in self.plans}

    @property
    def search_fetches(self) -> int:
        return sum(p.fetches for p in self.plans)

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def default_group_id() -> str:
    return f"kong-litefuse-replay-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def _consumer_config(request: ReplayRequest, group_id: str) -> dict[str, Any]:
    return {"client.id": group_id, **request.client_config, **request.consumer_config}


def plan_replay(request: ReplayRequest, group_id: str) -> list[PartitionPlan]:
    """Snapshot the real end of every partition and resolve the times/offsets into ranges."""
    consumer = reader_consumer(request.bootstrap, group_id, **_consumer_config(request, group_id))
    try:
        partitions = partitions_of(consumer, request.topic)
        if request.from_offsets.per_partition and request.from_offsets.every is None:
            partitions = [p for p in partitions if p in request.from_offsets.per_partition]
        marks = watermarks(consumer, request.topic, partitions)
        readers = {
            p: KafkaPartitionReader(consumer, request.topic, p, timeout=request.probe_timeout)
            for p in partitions
        }
        ends = {p: find_end(readers[p], marks[p][0], marks[p][1]) for p in partitions}
        plans = {
            p: PartitionPlan(p, marks[p][0], ends[p], marks[p][1], marks[p][0], ends[p], "", "")
            for p in partitions
        }

        def by_time(moment: datetime | None) -> dict[int, Lookup]:
            if moment is None:
                return {}
            target = to_ms(moment)
            native = native_offsets(
                consumer, request.topic, dict.fromkeys(partitions, target), ends
            )
            return {
                p: lookup(readers[p], target, marks[p][0], ends[p], native[p]) for p in partitions
            }

        starts, stops = by_time(request.start_time), by_time(request.end_time)
        for p, plan in plans.items():
            plan.fetches = readers[p].reads
            first, last = request.from_offsets.get(p), request.to_offsets.get(p)
            if first is not None:
                plan.start, plan.start_method = max(first, plan.low), "offset"
            elif p in starts:
                plan.start, plan.start_method = starts[p].offset, starts[p].method
            else:
                plan.start_method = "beginning"
            if last is not None:
                plan.stop, plan.stop_method = min(last, plan.end), "offset"
            elif p in stops:
                plan.stop, plan.stop_method = stops[p].offset, stops[p].method
            else:
                plan.stop_method = "end"
            plan.stop = max(plan.stop, plan.start)
            plan.next_offset = plan.start
            plan.done = plan.total == 0
        return [plans[p] for p in partitions]
    finally:
        consumer.close()


# --- the run --------------------------------------------------------------------------------


class _Progress:
    """rich.progress with an ETA on stderr, or nothing."""

    def __init__(self, total: int, enabled: bool, console: Any = None) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled and total > 0:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("replay"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("offsets"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("replay", total=total)

    def advance(self, amount: int) -> None:
        if self._bar is not None and amount > 0:
            self._bar.advance(self._task, amount)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _consume(
    request: ReplayRequest,
    summary: ReplaySummary,
    group_id: str,
    out: TextIO | None,
    progress: _Progress,
    stop: threading.Event | None = None,
) -> Iterator[tuple[str, bytes, bytes]]:
    """The (topic, key, value) of every trace in the planned ranges, in partition order; ends
    early (``summary.interrupted``) once ``stop`` is set."""
    plans = {p.partition: p for p in summary.plans if not p.done}
    if not plans:
        return
    consumer = Consumer(
        quiet(
            {
                "bootstrap.servers": request.bootstrap,
                "group.id": group_id,  # required by librdkafka; never joined (assign only)
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",  # a start removed by retention: the new start
                "fetch.wait.max.ms": 100,
                **_consumer_config(request, group_id),
            }
        )
    )
    bucket = TokenBucket.per_second(request.rate) if request.rate else None
    if bucket is not None and stop is not None:
        event = stop

        def wait(seconds: float) -> None:  # a pause for the rate limit ends at Ctrl-C
            event.wait(seconds)

        bucket.sleep = wait
    start_ms = to_ms(request.start_time) if request.start_time else None
    end_ms = to_ms(request.end_time) if request.end_time else None
    started = time.monotonic()
    last_message = started
    try:
        consumer.assign(
            [TopicPartition(request.topic, p.partition, p.start) for p in plans.values()]
        )
        while plans and time.monotonic() - last_message < request.idle_timeout:
            if request.max_seconds is not None and time.monotonic() - started > request.max_seconds:
                log.warning("replay stopped after --timeout %.0fs", request.max_seconds)
                break
            if stop is not None and stop.is_set():
                summary.interrupted = True
                return
            for message in consumer.consume(num_messages=500, timeout=0.2):
                if stop is not None and stop.is_set():
                    summary.interrupted = True
                    return
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        log.warning("replay: %s", error.str())
                    continue
                partition, offset = message.partition(), message.offset()
                plan = plans.get(partition) if partition is not None else None
                if plan is None or offset is None or offset < plan.next_offset:
                    continue
                last_message = time.monotonic()
                if offset >= plan.stop:
                    progress.advance(plan.stop - plan.next_offset)
                    plan.next_offset, plan.done = plan.stop, True
                    consumer.pause([TopicPartition(request.topic, plan.partition)])
                    del plans[plan.partition]
                    continue
                if bucket is not None:
                    summary.rate_waited_seconds += bucket.acquire()
                progress.advance(offset + 1 - plan.next_offset)
                plan.next_offset = offset + 1
                summary.messages += 1
                yield from _handle(request, summary, message, start_ms, end_ms, out)
                if plan.next_offset >= plan.stop:
                    plan.done = True
                    consumer.pause([TopicPartition(request.topic, plan.partition)])
                    del plans[plan.partition]
        for plan in plans.values():
            log.warning(
                "replay: partition %d stopped at %d of %d (nothing more came)",
                plan.partition,
                plan.next_offset,
                plan.stop,
            )
    finally:
        consumer.close()


def _handle(
    request: ReplayRequest,
    summary: ReplaySummary,
    message: Any,
    start_ms: int | None,
    end_ms: int | None,
    out: TextIO | None,
) -> Iterator[tuple[str, bytes, bytes]]:
    _kind, timestamp = message.timestamp()
    if (start_ms is not None and timestamp < start_ms) or (
        end_ms is not None and timestamp >= end_ms
    ):
        summary.outside_window += 1  # producer timestamps out of order near a boundary
        return
    result = process_message(
        message.value() or b"",
        message.headers(),
        message.topic(),
        message.partition(),
        message.offset(),
        request.options,
        request.selection,
    )
    summary.records += result.records
    summary.skipped += result.skipped
    summary.filtered += result.filtered
    for failure in result.failures:
        summary.failed += 1
        summary.failure_reasons[failure.reason.split(":", 1)[0][:80]] += 1
        if len(summary.failures) < MAX_FAILURES_KEPT:
            summary.failures.append(failure)
        log.warning(
            "replay: %s[%d]@%d record %s still fails: %s",
            failure.topic,
            failure.partition,
            failure.offset,
            "-" if failure.index is None else failure.index,
            failure.reason,
        )
    for trace in result.traces:
        summary.traces += 1
        if out is not None:
            out.write(dry_run_line(trace) + "\n")
        if not request.dry_run:
            topic = route_topic(request.traces_topic, route_for(trace, list(request.routes)))
            yield topic, trace.id.encode(), trace.to_json()


def run_replay(
    request: ReplayRequest,
    out: TextIO | None = None,
    show_progress: bool = False,
    console: Any = None,
    interruption: Interruption | None = None,
    on_plan: Callable[[list[PartitionPlan]], None] | None = None,
) -> ReplaySummary:
    """Plan, then read the ranges and publish their traces (or, dry run, print them to ``out``).

    With an ``interruption``, a signal while planning raises KeyboardInterrupt (nothing was
    published yet); one while reading ends the reading, publishes what was read and returns
    with ``interrupted`` set. ``on_plan`` is told the ranges before they are read.
    """
    group_id = request.group_id or default_group_id()
    summary = ReplaySummary(request.topic, request.traces_topic, request.dry_run, group_id)
    began = time.monotonic()
    summary.plans = plan_replay(request, group_id)
    summary.plan_seconds = time.monotonic() - began
    # from here a signal ends the reading and the summary is returned (no KeyboardInterrupt)
    polled = interruption.polled() if interruption is not None else contextlib.nullcontext()
    with polled as stop:
        if on_plan is not None:
            on_plan(summary.plans)
        progress = _Progress(summary.total, show_progress, console)
        began = time.monotonic()
        try:
            pairs = _consume(
                request, summary, group_id, out if request.dry_run else None, progress, stop
            )
            if request.dry_run:
                for _ in pairs:
                    pass
            else:
                summary.published = publish_to(
                    request.bootstrap, pairs, 30.0, **request.client_config
                )
        finally:
            progress.stop()
            summary.seconds = time.monotonic() - began
        if stop is not None and stop.is_set():
            summary.interrupted = True
    return summary
