"""The faust app: its topics and the two agents. Wiring only; the logic lives elsewhere.

    kong-logs ──enrich agent──► ai-traces ──sink agent──► Litefuse
         └──► kong-logs.dlq                    └──► ai-traces.dlq

``faust -A pipeline.app worker`` works (``app`` is built from the environment on first use);
``kong-litefuse worker`` does the same with our defaults.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import faust
from faust.types import TP, EventT, StreamT

from pipeline import metrics, transport
from pipeline.delivery.batcher import Batcher
from pipeline.delivery.deadletter import (
    DeadLetter,
    dead_letter_headers,
    letter_value,
    scrubbed_reason,
)
from pipeline.delivery.dedup import DedupWindow
from pipeline.delivery.deliverer import Deliverer, DeliveryReport
from pipeline.delivery.liveness import Liveness
from pipeline.delivery.stalls import PartitionState, StallDetector
from pipeline.enrich.pool import EnrichPool, Pending
from pipeline.enrich.stage import (
    KAFKA_FRAMING_BYTES,
    Dropped,
    KafkaValue,
    Outcome,
    StageConfig,
    Traced,
    run_stage,
)
from pipeline.kafka import BatchProducer, Outgoing, client_config, faust_credentials
from pipeline.logs import logging_config
from pipeline.settings import Settings, load_settings
from pipeline.sinks import Sink, build_sink
from pipeline.sinks.routing import LitefuseRoute, route_topic
from pipeline.trace import Trace
from pipeline.transport import PipelineApp, RecordBatch

log = logging.getLogger("pipeline")

DEDUP_TABLE = "delivered"
PARTITION_WATCH_INTERVAL_S = 5.0
"""How often lag is measured, stalled partitions re-read and liveness fed."""


def faust_broker_url(bootstrap_servers: str) -> str:
    """The broker URL of our batching transport (``pipeline.transport``)."""
    hosts = ";".join(s.strip() for s in bootstrap_servers.split(","))
    return f"{transport.SCHEME}://{hosts}"


def count_trace(traced: Traced) -> None:
    """Traces, tokens and cost by provider and model (bounded label sets)."""
    provider = metrics.provider_label(traced.provider)
    model = metrics.model_label(traced.model)
    metrics.traces_published.labels(provider).inc()
    metrics.count_trace_context(traced.trace_context)
    for kind, value in (("input", traced.input_tokens), ("output", traced.output_tokens)):
        if value:
            metrics.tokens.labels(provider, model, kind).inc(value)
    if traced.cost_usd:
        metrics.cost_usd.labels(provider, model).inc(traced.cost_usd)


def create_app(
    settings: Settings,
    sink: Sink | None = None,
    on_delivered: Callable[[DeliveryReport], None] | None = None,
) -> faust.App:
    """Build the app. ``sink`` and ``on_delivered`` let the demo watch what is delivered."""
    if not settings.kafka_bootstrap_servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is not set")
    transport.register()
    batch_records = settings.kafka_batch_max_records
    app = PipelineApp(
        settings.consumer_group,
        broker=faust_broker_url(settings.kafka_bootstrap_servers),
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_seconds,
        broker_commit_interval=1.0,
        broker_max_poll_records=batch_records * 4,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=False,  # topics are created explicitly (`kong-litefuse topics`)
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        stream_wait_empty=False,  # PipelineApp waits for the batches in hand, bounded
        web_enabled=True,
        web_bind=settings.worker_web_host,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        worker_redirect_stdouts=False,
        broker_credentials=faust_credentials(settings),
        # events are record batches now: the setting counts records
        stream_buffer_maxsize=max(2, settings.stream_buffer_maxsize // batch_records),
        consumer_max_fetch_size=settings.kafka_max_partition_fetch_bytes,
        logging_config=logging_config(settings.log_level, settings.log_format),
    )
    if settings.kafka_producer_max_batch_bytes:
        app.conf.producer_max_batch_size = settings.kafka_producer_max_batch_bytes
    # faust's own pages (/router/, /table/…, its index, statistics, graph) are off: see
    # _serve_only_our_pages. Set on the conf, after faust read its APP_WEB_* variables, which
    # would otherwise win over the App's arguments.
    for flag in FAUST_WEB_FLAGS:
        setattr(app.conf, flag, False)
    kong_topic = app.topic(settings.kong_log_topic, value_type=bytes, key_type=bytes)
    # Enrichment runs here, or in helper processes that build their own configuration.
    pool = EnrichPool(settings, settings.enrich_processes) if settings.enrich_processes else None
    stage = None if pool else StageConfig.from_settings(settings)
    routes = settings.langfuse_routes
    # One traces topic per destination: the default one, then one per route.
    traces_topics = {
        route_topic(settings.traces_topic, route): app.topic(
            route_topic(settings.traces_topic, route), value_type=bytes, key_type=bytes
        )
        for route in [None, *routes]
    }
    app.batch_topics = frozenset({settings.kong_log_topic, *traces_topics})
    app.batch_max_records = batch_records
    app.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms

    producers: list[BatchProducer] = []

    def producer() -> BatchProducer:
        """One librdkafka producer per worker, made on first use (not when the app is built)."""
        if not producers:
            producers.append(
                BatchProducer(
                    settings.kafka_bootstrap_servers or "",
                    **client_config(settings),
                    **{"message.max.bytes": settings.kafka_max_message_bytes},
                )
            )
        return producers[0]

    @app.on_before_shutdown.connect
    async def close_producer(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        if pool is not None:
            pool.close()
        for each in producers:
            left = each.close()
            if left:
                log.error("%d records were still unacknowledged by Kafka at shutdown", left)

    letter_limit = settings.kafka_max_message_bytes - KAFKA_FRAMING_BYTES

    def dead_letter_record(topic: str, letter: DeadLetter) -> Outgoing:
        """Count, log and encode a dead letter (the value is scrubbed of credentials and fits a
        Kafka record). Never raises: see ``letter_value``."""
        metrics.dead_letters.labels(letter.stage, metrics.reason_label(letter.reason)).inc()
        log.warning(
            "dead letter (%s) %s[%s]@%s: %s",
            letter.stage,
            letter.source_topic,
            letter.source_partition,
            letter.source_offset,
            scrubbed_reason(letter.reason),
            extra={
                "stage": letter.stage,
                "source_topic": letter.source_topic,
                "source_partition": letter.source_partition,
                "source_offset": letter.source_offset,
                **(
                    {"trace_id": letter.key.decode()}
                    if letter.stage == "sink" and letter.key
                    else {}
                ),
            },
        )
        headers: list[tuple[str, str | bytes | None]] = [*dead_letter_headers(letter)]
        return (topic, letter.key, letter_value(letter.value, letter_limit), headers)

    def outgoing(batch: RecordBatch, outcomes: list[Outcome]) -> list[Outgoing]:
        """The records to produce for a batch's outcomes: traces and dead letters, counted.

        Each outcome under its own guard: whatever fails while handling one record
        dead-letters that record, never the batch or the partition.
        """
        out: list[Outgoing | None] = []
        for outcome in outcomes:
            try:
                out.append(_outgoing(batch, outcome))
            except Exception as exc:
                log.exception("handling an enrichment outcome failed; dead-lettering its record")
                position = getattr(outcome, "message", None)
                message = batch.records[position] if isinstance(position, int) else None
                reason = f"internal error while handling the record: {type(exc).__name__}"
                if message is not None:
                    letter = DeadLetter.from_message("enrich", reason, message)
                    out.append(dead_letter_record(settings.dead_letter_topic, letter))
        return [record for record in out if record is not None]

    def _outgoing(batch: RecordBatch, outcome: Outcome) -> Outgoing | None:
        if isinstance(outcome, Traced):
            if outcome.truncated:
                log.warning(
                    "trace %s is larger than a Kafka record may be; its largest fields "
                    "were truncated",
                    outcome.key.decode(),
                    extra={"trace_id": outcome.key.decode()},
                )
                metrics.traces_truncated.inc()
            count_trace(outcome)
            return (outcome.topic, outcome.key, outcome.value, None)
        if isinstance(outcome, Dropped):
            metrics.records_skipped.labels(outcome.reason).inc()
            metrics.count_trace_context(outcome.trace_context)
            return None
        message = batch.records[outcome.message]
        if outcome.error:
            log.error(
                "enrichment failed at %s@%s:\n%s", message.partition, message.offset, outcome.error
            )
        letter = DeadLetter.from_message("enrich", outcome.reason, message, outcome.index)
        return dead_letter_record(settings.dead_letter_topic, letter)

    @app.agent(kong_topic, name="enrich")
    async def enrich_agent(stream: StreamT[bytes]) -> AsyncIterator[None]:
        # Each event is a RecordBatch. Its traces are produced while the next batch is being
        # enriched; the batch is acknowledged once Kafka has them all (at-least-once: a crash
        # before that re-enriches it, and the sink's window drops the repeats).
        events = stream.noack()  # type: ignore[attr-defined]  # missing from StreamT
        in_flight = asyncio.Semaphore(settings.enrich_max_in_flight)
        publishing: set[asyncio.Future[None]] = set()

        async def publish(event: EventT[bytes], records: list[Outgoing]) -> None:
            try:
                while True:
                    try:
                        await producer().send(records)
                        break
                    except Exception:
                        log.exception("producing %d records failed; retrying in 1 s", len(records))
                        await asyncio.sleep(1.0)
                await events.ack(event)
            finally:
                in_flight.release()

        async def settle(event: EventT[bytes], batch: RecordBatch, done: list[Outcome]) -> None:
            records = outgoing(batch, done)
            await in_flight.acquire()
            task = asyncio.ensure_future(publish(event, records))
            publishing.add(task)
            task.add_done_callback(publishing.discard)

        if pool is None:
            assert stage is not None
            async for event in events.events():
                batch = _batch_of(event)
                await settle(event, batch, run_stage(_consumed(batch), stage))
                yield None
            return

        # In helper processes: the next batches are enriched while this one is settled.
        submitted = asyncio.Semaphore(pool.depth)
        queue: asyncio.Queue[tuple[EventT[bytes], RecordBatch, Pending]] = asyncio.Queue()

        async def settle_in_order() -> None:
            while True:
                event, batch, pending = await queue.get()
                try:
                    done = await pool.result(pending)
                finally:
                    submitted.release()
                await settle(event, batch, done)

        settler = asyncio.ensure_future(settle_in_order())
        # if settling fails, wake the loop below so it raises instead of waiting forever
        settler.add_done_callback(lambda _: submitted.release())
        try:
            async for event in events.events():
                batch = _batch_of(event)
                await submitted.acquire()
                if settler.done():  # a bug in settling: stop here, not silently
                    settler.result()
                queue.put_nowait((event, batch, pool.submit(_consumed(batch))))
                yield None
        finally:
            settler.cancel()

    windows: list[DedupWindow] = []
    deliverers: list[Deliverer] = []

    def add_sink_agent(route: LitefuseRoute | None, the_sink: Sink) -> None:
        """A sink agent, de-duplication window and dead-letter path for one destination."""
        name = "default" if route is None else route.name
        table = app.Table(
            DEDUP_TABLE if route is None else f"{DEDUP_TABLE}-{name}",
            default=None,
            partitions=settings.topic_partitions,
            # json keys come back as str after recovery (raw would give bytes)
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
        )
        window = DedupWindow(table, settings.dedup_window_seconds, settings.dedup_window_max_traces)
        windows.append(window)
        deliverer = Deliverer(
            the_sink,
            window,
            backoff_cap=settings.sink_backoff_cap_seconds,
            auth_backoff=settings.sink_backoff_cap_seconds,
        )
        deliverers.append(deliverer)
        sink_dlq = settings.traces_dead_letter_topic

        async def sink_agent(stream: StreamT[bytes]) -> AsyncIterator[None]:
            # Manual acks: a batch event is acknowledged only once every trace in it is settled
            # (accepted, dead-lettered or skipped as a duplicate), so offsets follow Litefuse's
            # answers. A sink batch can span events and an event can span sink batches.
            events = stream.noack()  # type: ignore[attr-defined]  # missing from StreamT

            async def settle(batch: list[tuple[_Unsettled, Trace, int]]) -> None:
                report = await deliverer.deliver([(t, p) for _, t, p in batch])
                if report.rejected:
                    await producer().send(
                        [
                            dead_letter_record(
                                sink_dlq, DeadLetter.for_trace(r.trace, r.status, r.reason)
                            )
                            for r in report.rejected
                        ]
                    )
                for unsettled, _, _ in batch:
                    unsettled.remaining -= 1
                    if unsettled.remaining == 0:
                        await events.ack(unsettled.event)
                if on_delivered is not None:
                    on_delivered(report)

            batcher: Batcher[tuple[_Unsettled, Trace, int]] = Batcher(
                settle, settings.sink_batch_size, settings.sink_flush_interval_seconds
            )
            ticker = asyncio.ensure_future(batcher.run_ticker())
            try:
                async for event in events.events():
                    message = event.message
                    if not isinstance(message, RecordBatch):  # only if the transport is not ours
                        message = _single(message)
                    traces: list[Trace] = []
                    letters: list[Outgoing] = []
                    for record in message.records:
                        try:
                            traces.append(Trace.from_json(record.value or b""))
                        except Exception as exc:  # whatever it is, it costs one record
                            first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
                            reason = f"invalid trace: {first_line}"
                            letter = DeadLetter.from_message("sink", reason, record)
                            letters.append(dead_letter_record(sink_dlq, letter))
                    await producer().send(letters)
                    if not traces:
                        await events.ack(event)
                        continue
                    unsettled = _Unsettled(event, len(traces))
                    for trace in traces:
                        await batcher.add((unsettled, trace, message.partition))
                    yield None
            finally:
                ticker.cancel()

        topic = traces_topics[route_topic(settings.traces_topic, route)]
        app.agent(topic, name="sink" if route is None else f"sink-{name}")(sink_agent)

    app.sink_holding = lambda: any(d.holding for d in deliverers)
    add_sink_agent(None, sink or build_sink(settings))
    for route in routes:
        add_sink_agent(route, build_sink(settings, route))

    @app.timer(interval=60.0)  # type: ignore[untyped-decorator]
    async def sweep_dedup_windows() -> None:
        now = time.time()
        try:
            for window in windows:
                window.sweep(now)
        except Exception:  # a sweep must never crash the worker (faust would)
            log.exception("sweeping the de-duplication window failed; trying again in 60 s")
        metrics.dedup_entries.set(sum(len(w) for w in windows))

    stalls = StallDetector(settings.partition_stall_seconds)
    liveness = Liveness(settings.liveness_stall_seconds, PARTITION_WATCH_INTERVAL_S)
    watched = {settings.kong_log_topic, *traces_topics}

    @app.timer(interval=PARTITION_WATCH_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def watch_partitions() -> None:
        """Consumer lag per partition, and re-reading partitions stuck behind a fetch gap."""
        # faust crashes the whole worker when a timer raises: a watchdog must never do that.
        try:
            await _watch_partitions()
        except Exception:
            log.exception("partition watch failed; trying again in 5 s")

    async def _watch_partitions() -> None:
        consumer = app.consumer
        # faust keeps these privately; read defensively so an upgrade degrades to "unknown".
        committed = getattr(consumer, "_committed_offset", {})
        fetched = getattr(consumer, "_read_offset", {})
        metrics.consumer_lag.clear()
        states = []
        highwaters: dict[TP, int | None] = {
            tp: consumer.highwater(tp) for tp in consumer.assignment() if tp.topic in watched
        }
        unfetched = [tp for tp, highwater in highwaters.items() if highwater is None]
        if unfetched:
            # nothing fetched yet: ask the broker, so a partition that never fetches is seen too
            end_offsets: Mapping[TP, int] = {}
            with contextlib.suppress(Exception):
                end_offsets = await asyncio.wait_for(consumer.highwaters(*unfetched), 5.0)
            highwaters.update((tp, end_offsets.get(tp)) for tp in unfetched)
        for tp, highwater in highwaters.items():
            position = committed.get(tp)
            if highwater is None:  # not known yet (e.g. during a rebalance)
                continue
            lag = max(highwater - (position or 0), 0)
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)
            key = (tp.topic, tp.partition)
            states.append(PartitionState(key, position, fetched.get(tp), highwater))
        holding = any(d.holding for d in deliverers)
        liveness.observe(states, holding, time.monotonic())
        for state in stalls.stalled(states, time.monotonic(), holding):
            topic, partition = state.key
            tp = TP(topic, partition)
            # what faust thinks of the partition, for whoever reads this line
            flags = {
                "active": tp in (getattr(consumer, "_active_partitions", None) or ()),
                "paused": tp in getattr(consumer, "_paused_partitions", ()),
                "buffer_full": tp in getattr(consumer, "_buffered_partitions", ()),
            }
            log.warning(
                "%s[%d] stalled at offset %s with %d records uncommitted (last fetched: %s; "
                "%s); re-reading from the committed offset (already delivered traces are "
                "skipped by the de-duplication window)",
                topic,
                partition,
                state.committed,
                state.highwater - (state.committed or 0),
                state.fetched,
                ", ".join(f"{name}={value}" for name, value in flags.items()),
                extra={"topic": topic, "partition": partition},
            )
            metrics.partition_rereads.labels(topic).inc()
            # a partition faust took out of fetching while its stream buffer was full must
            # be fetched again: its buffer is empty if nothing moved for this long
            if flags["buffer_full"]:
                consumer.on_buffer_drop(tp)
            await consumer.seek(tp, state.committed or 0)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        from prometheus_client import generate_latest

        # aiohttp refuses a charset in content_type; the exposition format is UTF-8 anyway.
        return web.bytes(
            generate_latest(metrics.REGISTRY), content_type="text/plain; version=0.0.4"
        )

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        """Liveness: 503 (restart me) when the worker stopped making progress."""
        health = liveness.health(time.monotonic())
        metrics.worker_live.set(int(health.alive))
        if health.alive:
            return web.json({"status": "ok"})
        log.error("liveness: %s; answering /healthz with 503", health.reason)
        return web.json({"status": "stalled", "reason": health.reason}, status=503)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = app.consumer is not None and bool(app.consumer.assignment())
        return web.json({"ready": ready}, status=200 if ready else 503)

    _serve_only_our_pages(app)
    return app


FAUST_WEB_FLAGS = (
    "web_router_enabled",
    "web_tables_enabled",
    "web_stats_enabled",
    "web_graph_enabled",
    "web_metrics_enabled",
)


def _serve_only_our_pages(app: faust.App) -> None:
    """The web port serves /metrics, /healthz and /readyz only.

    faust mounts its own blueprints on the same port, unauthenticated: ``/router/`` (every
    worker's URL and who owns which key), ``/table/…`` (table contents: the de-duplication
    window's trace ids), and an index at ``/``. The flags above turn most off; the index has no
    flag, so every blueprint faust itself provides is dropped before the server starts.
    """
    blueprints = app.web.blueprints
    enabled = getattr(blueprints, "_enabled", None)
    if not isinstance(enabled, list):  # a faust that manages blueprints otherwise: be loud
        raise RuntimeError("cannot turn off faust's own web pages with this faust version")
    enabled[:] = [
        (prefix, blueprint)
        for prefix, blueprint in enabled
        if not (isinstance(blueprint, str) and blueprint.startswith("faust."))
    ]


class _Unsettled:
    """A record-batch event and how many of its traces are not settled yet."""

    __slots__ = ("event", "remaining")

    def __init__(self, event: EventT[bytes], remaining: int) -> None:
        self.event = event
        self.remaining = remaining


def _batch_of(event: EventT[bytes]) -> RecordBatch:
    message = event.message
    if isinstance(message, RecordBatch):
        return message
    return _single(message)  # only if the transport is not ours


def _consumed(batch: RecordBatch) -> list[KafkaValue]:
    """Count a batch as consumed; the stage's view of its messages."""
    metrics.records_consumed.inc(len(batch.records))
    return [KafkaValue(m.value, m.topic, m.partition, m.offset) for m in batch.records]


def _single(message: Any) -> RecordBatch:
    """A plain faust message as a one-record batch (when another transport is configured)."""
    return RecordBatch.of(message.tp, [message], message.timestamp, message.generation_id)


_app: faust.App | None = None


def __getattr__(name: str) -> Any:
    # `faust -A pipeline.app worker` looks up `app` here; build it only then.
    global _app
    if name == "app":
        if _app is None:
            _app = create_app(load_settings())
        return _app
    raise AttributeError(name)
