"""The enrich agent: Kong records → traces, dead letters and skips, produced to Kafka.

Each event is a record batch. Its traces are produced while the next batch is being enriched
(at most ``MAX_IN_FLIGHT`` batches in flight); a batch is acknowledged once Kafka has
all its records (at-least-once: a crash before that re-enriches it, and the sink's window drops
the repeats). Enrichment runs in the worker, or in helper processes (``ENRICH_PROCESSES``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import faust
from faust.types import EventT, StreamT

from pipeline import metrics
from pipeline.delivery.deadletter import DeadLetter
from pipeline.enrich.pool import EnrichPool, Pending
from pipeline.enrich.stage import Dropped, Outcome, StageConfig, Traced, run_stage
from pipeline.kafka import Outgoing
from pipeline.settings import Settings
from pipeline.transport import RecordBatch
from pipeline.worker.deadletters import DeadLetters
from pipeline.worker.events import batch_of, consumed
from pipeline.worker.producer import LazyProducer

log = logging.getLogger("pipeline")

PUBLISH_RETRY_S = 1.0
MAX_IN_FLIGHT = 4
"""Enriched batches being produced to the traces topic while the next is enriched; each holds
its traces until Kafka acknowledges them (8 held more memory for no records/s)."""
"""Pause before producing a batch's records again: Kafka said no, and will again for a while."""


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


class EnrichAgent:
    def __init__(
        self, settings: Settings, producer: LazyProducer, dead_letters: DeadLetters
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.dead_letters = dead_letters
        # here, or in helper processes that build their own configuration
        self.pool = (
            EnrichPool(settings, settings.enrich_processes) if settings.enrich_processes else None
        )
        self.stage = None if self.pool else StageConfig.from_settings(settings)

    def attach(self, app: faust.App, topic: Any) -> None:
        app.agent(topic, name="enrich")(self.run)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    # --- what a batch's outcomes become ----------------------------------------------------

    def outgoing(self, batch: RecordBatch, outcomes: list[Outcome]) -> list[Outgoing]:
        """The records to produce for a batch's outcomes: traces and dead letters, counted.

        Each outcome under its own guard: whatever fails while handling one record
        dead-letters that record, never the batch or the partition.
        """
        out: list[Outgoing] = []
        for outcome in outcomes:
            try:
                record = self._outgoing(batch, outcome)
            except Exception as exc:
                log.exception("handling an enrichment outcome failed; dead-lettering its record")
                position = getattr(outcome, "message", None)
                if not isinstance(position, int):
                    continue
                reason = f"internal error while handling the record: {type(exc).__name__}"
                letter = DeadLetter.from_message("enrich", reason, batch.records[position])
                record = self.dead_letters.record(self.settings.dead_letter_topic, letter)
            if record is not None:
                out.append(record)
        return out

    def _outgoing(self, batch: RecordBatch, outcome: Outcome) -> Outgoing | None:
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
        return self.dead_letters.record(self.settings.dead_letter_topic, letter)

    # --- the agent ---------------------------------------------------------------------------

    async def run(self, stream: StreamT[bytes]) -> AsyncIterator[None]:
        events = stream.noack()  # type: ignore[attr-defined]  # missing from StreamT
        in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        publishing: set[asyncio.Future[None]] = set()

        async def publish(event: EventT[bytes], records: list[Outgoing]) -> None:
            try:
                while True:
                    try:
                        await self.producer().send(records)
                        break
                    except Exception:
                        log.exception(
                            "producing %d records failed; retrying in %.0f s",
                            len(records),
                            PUBLISH_RETRY_S,
                        )
                        await asyncio.sleep(PUBLISH_RETRY_S)
                await events.ack(event)
            finally:
                in_flight.release()

        async def settle(event: EventT[bytes], batch: RecordBatch, done: list[Outcome]) -> None:
            records = self.outgoing(batch, done)
            await in_flight.acquire()
            task = asyncio.ensure_future(publish(event, records))
            publishing.add(task)
            task.add_done_callback(publishing.discard)

        pool = self.pool
        if pool is None:
            assert self.stage is not None
            async for event in events.events():
                batch = batch_of(event)
                await settle(event, batch, run_stage(consumed(batch), self.stage))
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
                batch = batch_of(event)
                await submitted.acquire()
                if settler.done():  # a bug in settling: stop here, not silently
                    settler.result()
                queue.put_nowait((event, batch, pool.submit(consumed(batch))))
                yield None
        finally:
            settler.cancel()
