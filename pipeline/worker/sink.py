"""A sink agent: one traces topic → its Litefuse (or the console), one per destination.

Manual acknowledgement (``pipeline.worker.acks``): an event is acknowledged only once every
trace it brought is settled, so committed offsets follow Litefuse's answers. Traces are batched
by count, bytes and time (``Batcher``); the deliverer holds a batch through an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import faust
from faust.types import StreamT

from pipeline.delivery.batcher import Batcher
from pipeline.delivery.deadletter import DeadLetter
from pipeline.delivery.dedup import DedupWindow
from pipeline.delivery.deliverer import Deliverer, DeliveryReport
from pipeline.kafka import Outgoing
from pipeline.settings import Settings
from pipeline.sinks import Sink
from pipeline.sinks.routing import LitefuseRoute
from pipeline.trace import Trace
from pipeline.transport import RecordBatch
from pipeline.worker.acks import Pending, PendingAcks
from pipeline.worker.deadletters import DeadLetters
from pipeline.worker.events import single
from pipeline.worker.producer import LazyProducer

DEDUP_TABLE = "delivered"

Item = tuple[Pending, Trace, int]


class SinkAgent:
    def __init__(
        self,
        settings: Settings,
        route: LitefuseRoute | None,
        sink: Sink,
        producer: LazyProducer,
        dead_letters: DeadLetters,
        on_delivered: Callable[[DeliveryReport], None] | None = None,
    ) -> None:
        self.settings = settings
        self.route = route
        self.name = "default" if route is None else route.name
        self.sink = sink
        self.producer = producer
        self.dead_letters = dead_letters
        self.on_delivered = on_delivered
        self.window: DedupWindow | None = None
        self.deliverer: Deliverer | None = None

    @property
    def holding(self) -> bool:
        return self.deliverer is not None and self.deliverer.holding

    def attach(self, app: faust.App, topic: Any) -> None:
        settings = self.settings
        table = app.Table(
            DEDUP_TABLE if self.route is None else f"{DEDUP_TABLE}-{self.name}",
            default=None,
            partitions=settings.topic_partitions,
            # json keys come back as str after recovery (raw would give bytes)
            schema=faust.Schema(key_serializer="json", value_serializer="json"),
        )
        self.window = DedupWindow(
            table, settings.dedup_window_seconds, settings.dedup_window_max_traces
        )
        self.deliverer = Deliverer(
            self.sink,
            self.window,
            backoff_cap=settings.sink_backoff_cap_seconds,
            auth_backoff=settings.sink_backoff_cap_seconds,
        )
        name = "sink" if self.route is None else f"sink-{self.name}"
        app.agent(topic, name=name)(self.run)

    async def run(self, stream: StreamT[bytes]) -> AsyncIterator[None]:
        assert self.deliverer is not None
        deliverer = self.deliverer
        events = stream.noack()  # type: ignore[attr-defined]  # missing from StreamT
        acks = PendingAcks()
        dlq = self.settings.traces_dead_letter_topic

        async def settle(batch: list[Item]) -> None:
            report = await deliverer.deliver([(trace, p) for _, trace, p in batch])
            if report.rejected:
                await self.producer().send(
                    [
                        self.dead_letters.record(
                            dlq, DeadLetter.for_trace(r.trace, r.status, r.reason)
                        )
                        for r in report.rejected
                    ]
                )
            for event in acks.settle(handle for handle, _, _ in batch):
                await events.ack(event)
            if self.on_delivered is not None:
                self.on_delivered(report)

        batcher: Batcher[Item] = Batcher(
            settle, self.settings.sink_batch_size, self.settings.sink_flush_interval_seconds
        )
        ticker = asyncio.ensure_future(batcher.run_ticker())
        try:
            async for event in events.events():
                message = event.message
                if not isinstance(message, RecordBatch):  # only if the transport is not ours
                    message = single(message)
                traces: list[Trace] = []
                letters: list[Outgoing] = []
                for record in message.records:
                    try:
                        traces.append(Trace.from_json(record.value or b""))
                    except Exception as exc:  # whatever it is, it costs one record
                        first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
                        letter = DeadLetter.from_message(
                            "sink", f"invalid trace: {first_line}", record
                        )
                        letters.append(self.dead_letters.record(dlq, letter))
                await self.producer().send(letters)
                if not traces:
                    await events.ack(event)
                    continue
                handle = acks.add(event, len(traces))
                for trace in traces:
                    await batcher.add((handle, trace, message.partition))
                yield None
        finally:
            ticker.cancel()
