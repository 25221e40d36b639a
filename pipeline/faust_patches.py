"""One deliberate change to faust's consumer: a gap in offsets is never acknowledged.

faust treats a jump in a partition's offsets (offset 100, then 105) as records compaction or
transaction markers removed, and marks the missing offsets acknowledged so commits move on. Our
source topics are neither compacted nor transactional, so on them a jump means records were
skipped by the fetcher (seen after a crash-restart on the embedded broker) — and acknowledging
them would lose them silently. Instead we count and log the gap and leave the offsets
unacknowledged: the committed offset stays before the gap, and the stall watchdog
(``pipeline.delivery.stalls``) re-reads the partition from there; traces already delivered are
skipped by the de-duplication window.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.transport.consumer import Consumer

from pipeline import metrics

log = logging.getLogger(__name__)
_installed = False


async def _report_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
    metrics.fetch_gaps.labels(tp.topic).inc()
    log.warning(
        "%s[%d]: offsets %d..%d were skipped by the fetcher; not acknowledging them, so the "
        "partition is re-read from its committed offset",
        tp.topic,
        tp.partition,
        offset_from,
        offset_to - 1,
        extra={"topic": tp.topic, "partition": tp.partition},
    )


def install() -> None:
    global _installed
    if not _installed:
        Consumer._add_gap = _report_gap  # type: ignore[method-assign]
        _installed = True
