"""The de-duplication window: trace ids Litefuse already accepted, remembered for a while.

Litefuse's OTLP path does not de-duplicate, so a trace re-sent after a crash, a rebalance or a
replay would appear twice. The window is kept in a faust table whose changelog topic is
co-partitioned with the traces topic (traces are keyed by trace id), so it survives restarts
and moves with its partition on rebalance.

Entries are written explicitly to the changelog partition of the trace's own partition (not
the partition of whatever event happens to be current in a batch), and expire after
``window_seconds``; expired entries are swept in small slices so a sweep never stalls the sink.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol


class ChangelogTable(Protocol):
    """What we need of a faust Table: its local store and its changelog."""

    @property
    def data(self) -> MutableMapping[Any, Any]: ...

    def send_changelog(self, partition: int | None, key: Any, value: Any) -> Any: ...


class DedupWindow:
    def __init__(self, table: ChangelogTable, window_seconds: float) -> None:
        self.table = table
        self.window_seconds = window_seconds
        self._sweep_cursor: list[tuple[str, int | None]] = []

    def seen(self, trace_id: str, now: float) -> bool:
        """True when Litefuse accepted this trace within the window."""
        if self.window_seconds <= 0:
            return False
        entry = self.table.data.get(trace_id)
        accepted = _accepted_at(entry)
        return accepted is not None and now - accepted < self.window_seconds

    def mark(self, accepted: Iterable[tuple[str, int | None]], now: float) -> list[Any]:
        """Remember traces Litefuse accepted: (trace id, partition of its traces-topic record).

        Returns the changelog writes (futures) so the caller can wait until they are durable
        before acknowledging the records: an entry lost in a crash means a duplicate.
        """
        if self.window_seconds <= 0:
            return []
        writes = []
        for trace_id, partition in accepted:
            value = [now, partition]
            self.table.data[trace_id] = value
            writes.append(self.table.send_changelog(partition, trace_id, value))
        return writes

    def sweep(self, now: float, limit: int = 1000) -> int:
        """Forget up to ``limit`` expired entries; returns how many were removed."""
        if self.window_seconds <= 0:
            return 0
        if not self._sweep_cursor:
            self._sweep_cursor = [
                (key, _partition(value))
                for key, value in list(self.table.data.items())
                if (at := _accepted_at(value)) is None or now - at >= self.window_seconds
            ]
        removed = 0
        while self._sweep_cursor and removed < limit:
            key, partition = self._sweep_cursor.pop()
            current = self.table.data.get(key)
            at = _accepted_at(current)
            if current is not None and (at is None or now - at >= self.window_seconds):
                del self.table.data[key]
                self.table.send_changelog(partition, key, None)
                removed += 1
        return removed

    def __len__(self) -> int:
        return len(self.table.data)


def _accepted_at(entry: Any) -> float | None:
    if isinstance(entry, (list, tuple)) and entry and isinstance(entry[0], (int, float)):
        return float(entry[0])
    return None


def _partition(entry: Any) -> int | None:
    if isinstance(entry, (list, tuple)) and len(entry) > 1 and isinstance(entry[1], int):
        return entry[1]
    return None
