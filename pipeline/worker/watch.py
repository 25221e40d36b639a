"""The partition watch: consumer lag, re-reading stalled partitions, feeding liveness.

faust keeps what this reads privately (committed and read offsets, which partitions it paused
or took out for a full buffer): it is read defensively here, in one place, so a faust upgrade
degrades to "unknown" instead of breaking the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import faust
from faust.types import TP

from pipeline import metrics
from pipeline.delivery.liveness import Liveness
from pipeline.delivery.stalls import PartitionState, StallDetector

log = logging.getLogger("pipeline")

PARTITION_WATCH_INTERVAL_S = 5.0
"""How often lag is measured, stalled partitions re-read and liveness fed."""
HIGHWATER_TIMEOUT_S = 5.0
"""Longest the watch waits for the broker's end offsets of partitions not fetched yet."""


class PartitionWatch:
    def __init__(
        self,
        topics: Iterable[str],
        stall_seconds: float,
        liveness_stall_seconds: float,
        holding: Callable[[], bool],
    ) -> None:
        self.topics = frozenset(topics)
        self.stalls = StallDetector(stall_seconds)
        self.liveness = Liveness(liveness_stall_seconds, PARTITION_WATCH_INTERVAL_S)
        self.holding = holding
        self.app: faust.App | None = None

    def attach(self, app: faust.App) -> None:
        self.app = app
        app.timer(interval=PARTITION_WATCH_INTERVAL_S)(self.tick)

    async def tick(self) -> None:
        """One watch (a timer: faust stops the worker when a timer raises, so this never does)."""
        try:
            await self.watch()
        except Exception:
            log.exception("partition watch failed; trying again in 5 s")

    async def watch(self) -> None:
        assert self.app is not None
        consumer = self.app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        fetched = getattr(consumer, "_read_offset", {})
        metrics.consumer_lag.clear()
        highwaters: dict[TP, int | None] = {
            tp: consumer.highwater(tp) for tp in consumer.assignment() if tp.topic in self.topics
        }
        unfetched = [tp for tp, highwater in highwaters.items() if highwater is None]
        if unfetched:
            # nothing fetched yet: ask the broker, so a partition that never fetches is seen too
            end_offsets: Mapping[TP, int] = {}
            with contextlib.suppress(Exception):
                end_offsets = await asyncio.wait_for(
                    consumer.highwaters(*unfetched), HIGHWATER_TIMEOUT_S
                )
            highwaters.update((tp, end_offsets.get(tp)) for tp in unfetched)
        states = []
        for tp, highwater in highwaters.items():
            if highwater is None:  # not known yet (e.g. during a rebalance)
                continue
            position = committed.get(tp)
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(highwater - (position or 0), 0)
            )
            states.append(
                PartitionState((tp.topic, tp.partition), position, fetched.get(tp), highwater)
            )
        holding = self.holding()
        now = time.monotonic()
        self.liveness.observe(states, holding, now)
        for state in self.stalls.stalled(states, now, holding):
            await self._reread(consumer, state)

    async def _reread(self, consumer: Any, state: PartitionState) -> None:
        """Seek a stalled partition back to its committed offset (already delivered traces are
        skipped by the de-duplication window)."""
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
            "%s; %s); re-reading from the committed offset (already delivered traces are "
            "skipped by the de-duplication window)",
            topic,
            partition,
            state.committed,
            state.highwater - (state.committed or 0),
            state.fetched,
            ", ".join(f"{name}={value}" for name, value in flags.items()),
            consumer.pending(tp) if hasattr(consumer, "pending") else "-",
            extra={"topic": topic, "partition": partition},
        )
        metrics.partition_rereads.labels(topic).inc()
        # a partition faust took out of fetching while its stream buffer was full must be
        # fetched again: its buffer is empty if nothing moved for this long
        if flags["buffer_full"]:
            consumer.on_buffer_drop(tp)
        await consumer.seek(tp, state.committed or 0)
