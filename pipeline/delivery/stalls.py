"""Self-healing for partitions whose committed offset stops moving.

faust/aiokafka can start fetching a newly assigned partition past its committed offset (a race
around recovery and seeking, known upstream). The records in between are never processed, so
the committed offset never moves again and the partition's lag stays above zero forever, while
the worker looks healthy. The transport now re-fetches such jumps itself
(``pipeline.transport``); this is the backstop. We watch for a partition with lag above zero
whose committed offset has not moved for ``stall_seconds`` since the sink last held a batch
for an outage (an outage stops commits and, by back-pressure, fetches), and either every
record was fetched or nothing more was fetched in that time either (a replacement worker once
sat idle on its assignment, in a stress run) — and re-read it from its committed offset.
Re-reading is safe: records already traced produce the same trace ids, which the
de-duplication window skips.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Seen:
    committed: int | None
    since: float
    fetched: int | None
    fetched_since: float


@dataclass(frozen=True, slots=True)
class PartitionState:
    key: tuple[str, int]
    committed: int | None
    fetched: int | None
    """Offset of the last record fetched (None when unknown)."""
    highwater: int


class StallDetector:
    def __init__(self, stall_seconds: float) -> None:
        self.stall_seconds = stall_seconds
        self._seen: dict[tuple[str, int], _Seen] = {}

    def stalled(
        self, partitions: list[PartitionState], now: float, sink_holding: bool
    ) -> list[PartitionState]:
        """The partitions to re-read now; each is reported once per stall period."""
        current = {p.key for p in partitions}
        for key in list(self._seen):
            if key not in current:
                del self._seen[key]
        if sink_holding:
            # An outage stops commits and, by back-pressure, fetches: the stall clock starts
            # again once it is over (a re-read the moment it ended raced the recovery).
            for state in partitions:
                self._seen[state.key] = _Seen(state.committed, now, state.fetched, now)
            return []
        found = []
        for state in partitions:
            seen = self._seen.get(state.key)
            if seen is None or seen.committed != state.committed:
                self._seen[state.key] = _Seen(state.committed, now, state.fetched, now)
                continue
            if seen.fetched != state.fetched:
                seen.fetched, seen.fetched_since = state.fetched, now
            lag = state.highwater - (state.committed or 0)
            all_fetched = state.fetched is not None and state.fetched + 1 >= state.highwater
            idle = now - seen.fetched_since >= self.stall_seconds
            if (
                self.stall_seconds > 0
                and ((all_fetched and state.committed is not None) or idle)
                and lag > 0
                and now - seen.since >= self.stall_seconds
            ):
                found.append(state)
                # give the re-read a full period before judging again
                seen.since = seen.fetched_since = now
        return found
