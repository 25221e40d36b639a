"""Liveness: whether the worker makes progress, for ``/healthz`` (Kubernetes restarts on 503).

A process that answers HTTP is not necessarily working: a consumer can sit on its partitions
without fetching, an enrich helper can hang, a task can wedge. The worker is *stalled* when it
owns partitions with records left to read whose committed offsets have not moved for
``stall_seconds``, while no sink holds a batch for a Litefuse outage (an outage stops commits by
design: restarting would not help, and the batch would be re-read from the start), or when the
partition watch that feeds this has not run for a while (a wedged event loop cannot answer at
all, but a dead watch task can).

The partition watch re-reads a stuck partition after PARTITION_STALL_SECONDS first; liveness is
the last resort, so its threshold is longer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.delivery.stalls import PartitionState


@dataclass(frozen=True, slots=True)
class Health:
    alive: bool
    reason: str


class Liveness:
    def __init__(self, stall_seconds: float, watch_interval: float) -> None:
        self.stall_seconds = stall_seconds
        #: the watch counts as dead after missing this long (three ticks and a margin)
        self.watch_deadline = 3 * watch_interval + 10.0
        self._committed: dict[tuple[str, int], int | None] = {}
        self._progress: float | None = None
        self._watched: float | None = None

    def observe(self, partitions: Sequence[PartitionState], holding: bool, now: float) -> None:
        """One tick of the partition watch: the owned partitions and whether a sink holds."""
        committed = {state.key: state.committed for state in partitions}
        lagging = any(state.highwater > (state.committed or 0) for state in partitions)
        if self._progress is None or holding or not lagging or committed != self._committed:
            self._progress = now  # moving, caught up, or waiting for Litefuse: not stalled
        self._committed = committed
        self._watched = now

    def health(self, now: float) -> Health:
        if self._watched is None:
            return Health(True, "starting")
        if now - self._watched > self.watch_deadline:
            return Health(False, f"the partition watch has not run for {now - self._watched:.0f} s")
        assert self._progress is not None
        stalled = now - self._progress
        if self.stall_seconds > 0 and stalled >= self.stall_seconds:
            return Health(
                False,
                f"no committed offset moved for {stalled:.0f} s with records left to read "
                f"(LIVENESS_STALL_SECONDS={self.stall_seconds:g})",
            )
        return Health(True, "ok")
