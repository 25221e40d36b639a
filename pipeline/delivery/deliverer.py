"""Deliver one batch to its sink until it is done: accepted, rejected for good, or skipped.

This is where the delivery guarantees live, free of Faust so they are tested directly:

- traces Litefuse accepted within the de-duplication window are skipped (exactly-once as
  Litefuse sees it, across crashes, rebalances and replays);
- while the sink cannot deliver, ``deliver`` keeps the batch and backs off instead of returning,
  so the agent acknowledges nothing, commits nothing and stops consuming: memory stays bounded
  for an outage of any length;
- what the sink accepted before a failure is remembered at once, so a retry resends only the
  rest.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from pipeline import metrics
from pipeline.delivery.dedup import DedupWindow
from pipeline.sinks.base import Rejected, Sink, SinkAuthError, SinkError, WriteResult
from pipeline.trace import Trace

log = logging.getLogger(__name__)

HOLDING_AFTER_S = 5.0
"""A batch in delivery this long means the sink is struggling: the stall watchdog, which would
otherwise re-read the partitions of a batch held for an outage, stands down."""


@dataclass(slots=True)
class DeliveryReport:
    accepted: list[Trace] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    duplicates: int = 0
    attempts: int = 0


class Deliverer:
    def __init__(
        self,
        sink: Sink,
        window: DedupWindow | None = None,
        *,
        backoff_start: float = 1.0,
        backoff_cap: float = 30.0,
        auth_backoff: float = 30.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """``clock`` stamps the de-duplication window (wall time: entries outlive restarts);
        ``monotonic`` and ``sleep`` time the holding and the backoff (injected in tests)."""
        self.sink = sink
        self.window = window
        self.backoff_start = backoff_start
        self.backoff_cap = backoff_cap
        self.auth_backoff = auth_backoff
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self._busy_since: float | None = None

    @property
    def holding(self) -> bool:
        """True while one batch has been in delivery for over 5 s: the sink is struggling."""
        return (
            self._busy_since is not None and self.monotonic() - self._busy_since > HOLDING_AFTER_S
        )

    def _fresh(
        self, items: Sequence[tuple[Trace, int | None]], report: DeliveryReport
    ) -> list[tuple[Trace, int | None]]:
        now = self.clock()
        fresh: list[tuple[Trace, int | None]] = []
        keys: set[str] = set()
        for trace, partition in items:
            # per Kong request: requests that joined the same caller's trace are not duplicates
            key = trace.key
            if key in keys or (self.window is not None and self.window.seen(key, now)):
                report.duplicates += 1
                continue
            keys.add(key)
            fresh.append((trace, partition))
        if report.duplicates:
            metrics.duplicates_skipped.inc(report.duplicates)
        return fresh

    async def _settle(
        self,
        pending: list[tuple[Trace, int | None]],
        result: WriteResult,
        report: DeliveryReport,
    ) -> list[tuple[Trace, int | None]]:
        """Record what the sink settled (durably); return what is still to send."""
        # a sink names what it accepted by Trace.key; one that names trace ids accepted every
        # trace of that id
        accepted = set(result.accepted_ids)
        rejected = {r.trace.key for r in result.rejected}
        done = [(t, p) for t, p in pending if t.key in accepted or t.id in accepted]
        if self.window is not None and done:
            writes = self.window.mark(((t.key, p) for t, p in done), self.clock())
            await asyncio.gather(*(w for w in writes if inspect.isawaitable(w)))
        report.accepted.extend(t for t, _ in done)
        report.rejected.extend(result.rejected)
        return [
            (t, p)
            for t, p in pending
            if t.key not in accepted and t.id not in accepted and t.key not in rejected
        ]

    async def deliver(self, items: Sequence[tuple[Trace, int | None]]) -> DeliveryReport:
        """Deliver (trace, traces-topic partition) pairs; returns only once all are settled."""
        report = DeliveryReport()
        self._busy_since = self.monotonic()
        try:
            await self._deliver(self._fresh(items, report), report)
        finally:
            self._busy_since = None
        return report

    async def _deliver(
        self, pending: list[tuple[Trace, int | None]], report: DeliveryReport
    ) -> None:
        delay = self.backoff_start
        while pending:
            report.attempts += 1
            try:
                result = await self.sink.write([trace for trace, _ in pending])
            except SinkAuthError as exc:
                pending = await self._settle(pending, exc.result, report)
                log.error(
                    "%s — holding %d traces, nothing is acknowledged; retrying in %.0fs",
                    exc,
                    len(pending),
                    self.auth_backoff,
                )
                await self.sleep(self.auth_backoff)
                continue
            except SinkError as exc:
                pending = await self._settle(pending, exc.result, report)
                log.error(
                    "%s — holding %d traces, nothing is acknowledged; retrying in %.1fs",
                    exc,
                    len(pending),
                    delay,
                )
                await self.sleep(delay)
                delay = min(delay * 2, self.backoff_cap)
                continue
            except Exception as exc:
                # Not the sink being down: something about the traces (one the sink cannot
                # encode, a bug). Halve until the one trace is found; it is dead-lettered, the
                # rest is delivered. Sinks encode a whole batch before sending any of it.
                if len(pending) == 1:
                    log.exception(
                        "the sink failed on trace %s; dead-lettering it", pending[0][0].id
                    )
                    reason = f"the sink could not send this trace: {type(exc).__name__}: {exc}"
                    report.rejected.append(Rejected(pending[0][0], 0, reason))
                    return
                middle = len(pending) // 2
                await self._deliver(pending[:middle], report)
                await self._deliver(pending[middle:], report)
                return
            pending = await self._settle(pending, result, report)
