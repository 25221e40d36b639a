"""Enrichment in helper processes: a worker's second core.

A worker is one Python process, so its agents share one core. Enrichment is pure CPU work and
most of a busy worker's time, so the enrich agent can hand each record batch to a helper
process and keep fetching, producing and delivering meanwhile (``ENRICH_PROCESSES``; 0 enriches
in the worker itself). Helpers are started with ``spawn``: the worker has Kafka client threads
by then, and a fork would copy their locks.

A helper that dies (killed, out of memory) is replaced and its batch retried once in a new
one; a batch that kills two is enriched in the worker, so a record can never stall its
partition by crashing helpers.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from pipeline.enrich.stage import KafkaValue, Outcome, StageConfig, run_stage
from pipeline.runtime import freeze_startup_heap, tune_interpreter
from pipeline.settings import Settings

log = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 1.0
"""How often a helper checks that its worker is still there."""

_config: StageConfig | None = None
"""The helper process's stage configuration (set by :func:`_start`)."""


def _start(settings: Settings) -> None:
    global _config
    tune_interpreter(settings)  # a helper is a process of its own: same settings
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    _config = StageConfig.from_settings(settings)
    freeze_startup_heap()


def _exit_with(worker: int) -> None:
    """End this helper once its worker is gone.

    A killed worker never closes the helper's task queue (the helper holds a write end of it
    too), so without this a helper, and multiprocessing's resource tracker with it, would
    outlive a SIGKILLed worker.
    """
    while os.getppid() == worker:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _run(values: Sequence[KafkaValue]) -> list[Outcome]:
    if _config is None:  # pragma: no cover - the initializer always runs first
        raise RuntimeError("enrich helper started without its configuration")
    return run_stage(values, _config)


@dataclass(frozen=True, slots=True)
class Pending:
    """A batch handed to the helpers."""

    values: list[KafkaValue]
    executor: ProcessPoolExecutor
    future: Future[list[Outcome]]


class EnrichPool:
    """``processes`` helper processes running :func:`run_stage` with the worker's settings."""

    def __init__(self, settings: Settings, processes: int) -> None:
        if processes < 1:
            raise ValueError("an EnrichPool needs at least one process")
        self._settings = settings
        self._processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._local: StageConfig | None = None
        self.replaced = 0
        """Helpers replaced after dying (a metric and a test hook)."""

    def start(self) -> None:
        """Start the helpers now (else on the first batch) and wait until they are ready."""
        self.submit([]).future.result(timeout=120)

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            log.info("enriching in %d helper process(es)", self._processes)
            self._executor = ProcessPoolExecutor(
                max_workers=self._processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start,
                initargs=(self._settings,),
            )
        return self._executor

    @property
    def depth(self) -> int:
        """Batches to keep submitted: one running in each helper and one queued behind them,
        so a helper never waits for the worker's event loop to hand it the next."""
        return self._processes + 1

    def submit(self, values: Sequence[KafkaValue]) -> Pending:
        """Start enriching ``values``; :meth:`result` waits for the outcomes."""
        values = list(values)
        executor = self._pool()
        try:
            return Pending(values, executor, executor.submit(_run, values))
        except BrokenProcessPool:  # a helper died between batches
            log.error("an enrich helper process died")
            self._replace()
            executor = self._pool()
            return Pending(values, executor, executor.submit(_run, values))

    async def result(self, pending: Pending) -> list[Outcome]:
        """The outcomes of a submitted batch (see the module's docstring for dead helpers)."""
        attempt = pending
        for tries in (1, 2):
            try:
                return await asyncio.wrap_future(attempt.future)
            except BrokenProcessPool:
                log.error(
                    "an enrich helper process died (try %d of 2 for a batch of %d values)",
                    tries,
                    len(pending.values),
                )
                if attempt.executor is self._executor:  # the batches queued with it fail too
                    self._replace()
                if tries == 1:
                    attempt = self.submit(pending.values)
        log.error(
            "a batch of %d values killed two enrich helpers; enriching it here",
            len(pending.values),
        )
        if self._local is None:
            self._local = StageConfig.from_settings(self._settings)
        return run_stage(pending.values, self._local)

    async def run(self, values: Sequence[KafkaValue]) -> list[Outcome]:
        """``result(submit(values))``."""
        return await self.result(self.submit(values))

    def _replace(self) -> None:
        broken, self._executor = self._executor, None
        self.replaced += 1
        log.error("starting a new enrich helper")
        if broken is not None:
            broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the helpers (waits for the batch in hand)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
