"""The de-duplication window: trace keys Litefuse already accepted, remembered for a while.

A key is ``Trace.key``: one per Kong request. For a trace of its own that is the trace id (so
entries written before keys existed still match); for a request that joined a caller's trace,
which other requests join too, it is the trace id and the request span's id (``<trace>:<span>``).
Below, "trace id" means that key.

Litefuse's OTLP path does not de-duplicate, so a trace re-sent after a crash, a rebalance or a
replay would appear twice. The window is kept in a faust table whose changelog topic is
co-partitioned with the traces topic (traces are keyed by trace id), so it survives restarts
and moves with its partition on rebalance.

One table entry per settled delivery and traces-topic partition, not per trace: at 10,000
traces/s a changelog record per trace cost as much as the rest of the sink. An entry is
``[accepted_at, partition, [trace ids]]``, written to the changelog partition of its traces'
own partition. Lookups go through an in-memory index (trace id → accepted_at) rebuilt
whenever the table changed behind our back (recovery after a restart or rebalance).

The window is bounded twice: by age (``window_seconds``) and by size (``max_traces``), oldest
entries first, so a worker at full load keeps its memory flat (~200 bytes per id held).
Entries written by earlier versions (one per trace: key = trace id, value
``[accepted_at, partition]``) are still honoured.

``kong_litefuse_dedup_window_entries`` follows every change: marks, sweeps, evictions and
rebuilds after a recovery set it to the ids the process's windows hold (one window per
destination), not only the worker's minutely sweep.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, MutableMapping
from typing import Any, Protocol

from pipeline import metrics

_WINDOWS: weakref.WeakSet[DedupWindow] = weakref.WeakSet()


class ChangelogTable(Protocol):
    """What we need of a faust Table: its local store and its changelog."""

    @property
    def data(self) -> MutableMapping[Any, Any]: ...

    def send_changelog(self, partition: int | None, key: Any, value: Any) -> Any: ...


class DedupWindow:
    def __init__(
        self, table: ChangelogTable, window_seconds: float, max_traces: int = 200_000
    ) -> None:
        self.table = table
        self.window_seconds = window_seconds
        self.max_traces = max_traces
        self._index: dict[str, float] = {}
        self._indexed_entries = -1  # table size the index was built for; -1: never built
        self._reported = 0  # ids this window last counted in the gauge
        _WINDOWS.add(self)

    def _report(self) -> None:
        """Set the gauge to the ids every window of the process holds, if ours changed."""
        held = len(self._index)
        if held != self._reported:
            self._reported = held
            metrics.dedup_entries.set(sum(window._reported for window in list(_WINDOWS)))

    # --- lookups -----------------------------------------------------------------------------
    def seen(self, trace_id: str, now: float) -> bool:
        """True when Litefuse accepted this trace (``Trace.key``) within the window."""
        if self.window_seconds <= 0:
            return False
        accepted = self._current_index().get(trace_id)
        return accepted is not None and now - accepted < self.window_seconds

    def _current_index(self) -> dict[str, float]:
        if len(self.table.data) != self._indexed_entries:
            self._rebuild()
        return self._index

    def _rebuild(self) -> None:
        index: dict[str, float] = {}
        for key, value in self.table.data.items():
            at = _accepted_at(value)
            if at is None:
                continue
            for trace_id in _ids(key, value):
                index[trace_id] = at
        self._index = index
        self._indexed_entries = len(self.table.data)
        self._report()

    # --- writes ------------------------------------------------------------------------------
    def mark(self, accepted: Iterable[tuple[str, int | None]], now: float) -> list[Any]:
        """Remember traces Litefuse accepted: (trace id, partition of its traces-topic record).

        Returns the changelog writes (futures, one per partition) so the caller can wait until
        they are durable before acknowledging the records: an entry lost in a crash means a
        duplicate.
        """
        if self.window_seconds <= 0:
            return []
        by_partition: dict[int | None, list[str]] = {}
        for trace_id, partition in accepted:
            by_partition.setdefault(partition, []).append(trace_id)
        index = self._current_index()
        writes = []
        for partition, ids in by_partition.items():
            key = f"batch:{ids[0]}:{len(ids)}"
            value = [now, partition, ids]
            self.table.data[key] = value
            for trace_id in ids:
                index[trace_id] = now
            writes.append(self.table.send_changelog(partition, key, value))
        self._indexed_entries = len(self.table.data)
        if len(index) > self.max_traces:
            self._evict(len(index) - self.max_traces)
        self._report()
        return writes

    def sweep(self, now: float, limit: int = 1000) -> int:
        """Forget up to ``limit`` expired entries; returns how many were removed."""
        if self.window_seconds <= 0:
            return 0
        expired = [
            key
            for key, value in list(self.table.data.items())
            if (at := _accepted_at(value)) is None or now - at >= self.window_seconds
        ]
        return self._remove(expired[:limit])

    def _evict(self, excess: int) -> None:
        """Drop the oldest entries until ``excess`` ids are gone (the size bound)."""
        entries = sorted(self.table.data.items(), key=lambda item: _accepted_at(item[1]) or 0.0)
        doomed = []
        for key, value in entries:
            if excess <= 0:
                break
            doomed.append(key)
            excess -= len(_ids(key, value))
        self._remove(doomed)

    def _remove(self, keys: list[Any]) -> int:
        index = self._current_index()
        removed = 0
        for key in keys:
            value = self.table.data.pop(key, None)
            if value is None:
                continue
            removed += 1
            at = _accepted_at(value)
            for trace_id in _ids(key, value):
                if index.get(trace_id) == at:
                    del index[trace_id]
            self.table.send_changelog(_partition(value), key, None)
        self._indexed_entries = len(self.table.data)
        self._report()
        return removed

    def __len__(self) -> int:
        """Trace ids held."""
        return len(self._current_index())


def _accepted_at(entry: Any) -> float | None:
    if isinstance(entry, (list, tuple)) and entry and isinstance(entry[0], (int, float)):
        return float(entry[0])
    return None


def _partition(entry: Any) -> int | None:
    if isinstance(entry, (list, tuple)) and len(entry) > 1 and isinstance(entry[1], int):
        return entry[1]
    return None


def _ids(key: Any, entry: Any) -> list[str]:
    if isinstance(entry, (list, tuple)) and len(entry) > 2 and isinstance(entry[2], list):
        return [i for i in entry[2] if isinstance(i, str)]
    return [key] if isinstance(key, str) else []  # an entry from before batch entries
