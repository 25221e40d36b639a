"""Process-wide interpreter settings of a worker and of its enrich helpers.

Both run the same hot loop (a helper is a worker's second core), so both get the same settings:
glibc's malloc tuned (:mod:`pipeline.allocator`), a longer GIL switch interval, and a garbage
collector that neither runs every few records nor walks the startup heap.

Why the collector: a Kong record parses into a few hundred containers (dicts and lists of the
record and its bodies, then of the trace), so with Python's young-generation threshold of 700
allocations it collected every few records, and every ~100th collection was a full one that
walked every object the worker built at startup (faust, pydantic schemas, price tables).
Counted in one worker over a 30,000-record ``bench e2e`` run: 1.2 s of collections, 0.9 s of
them in 11 full ones; after :func:`freeze_startup_heap` and a threshold of 10,000, 0.3 s at the
same peak RSS. A threshold of 50,000 cost 70 MB more RSS.

Both are fixed, not settings: each moved the records/s of ``bench e2e`` by less than 10 %
(the switch interval a median +6.5 %, the collector ~6 % of the CPU), too little to tune.
"""

from __future__ import annotations

import gc
import sys

from pipeline.settings import Settings

SWITCH_INTERVAL_S = 0.05
GC_THRESHOLD = 10_000


def tune_interpreter(settings: Settings) -> None:
    """Apply the settings; early, before any thread starts (malloc arenas are per thread)."""
    if settings.worker_tune_malloc:
        from pipeline.allocator import tune_allocator

        tune_allocator()
    # The main thread runs the agents; the Kafka client threads mostly wait in C. Python's
    # 5 ms switch interval made the main thread hand over the GIL every few milliseconds.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, older, oldest)


def freeze_startup_heap() -> int:
    """Move every object alive now out of the collector's sight; how many there are.

    For the end of start-up: what is built by then (modules, the app, the enrichment options)
    lives as long as the process, so full collections need not walk it again and again.
    Garbage cycles are collected first, so none is kept for good.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
