"""Soak: one of two workers killed and restarted, cycle after cycle, under continuous load.

A test loop plays Kubernetes: it restarts a killed worker, and any worker whose /healthz
answers 503. Whatever the group goes through, every record published must reach Litefuse.
Prints one FIGURES line: cycles, records, lost, duplicates, liveness restarts, re-reads.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from typing import Any

import httpx
import pytest

from pipeline.broker import free_port
from pipeline.kafka import publish
from tests.conftest import Names, wait_until
from tests.factories import kong_values
from tests.receiver import LitefuseReceiver

pytestmark = pytest.mark.integration

CYCLES = 10
RATE_PER_SECOND = 40


class Publisher(threading.Thread):
    """Publishes keyed records at a steady rate until stopped; counts what it sent."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.sent = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.5):
            values = kong_values(RATE_PER_SECOND // 2, start=self.sent)
            keyed = [(f"k{self.sent + i}".encode(), v) for i, v in enumerate(values)]
            publish(self.bootstrap, self.topic, keyed)
            self.sent += len(values)


def _healthy(worker: Any) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{worker.port}/healthz", timeout=3).status_code == 200
    except httpx.HTTPError:
        return True  # starting or stopping: not for liveness to judge


def _rereads(worker: Any) -> float:
    try:
        text = worker.metrics()
    except httpx.HTTPError:
        return 0.0
    return sum(
        float(v) for v in re.findall(r"kong_litefuse_partition_rereads_total\{[^}]*\} (\S+)", text)
    )


def test_kill_and_restart_cycles_under_load_lose_nothing(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker: Any,
) -> None:
    env = {
        **worker_env,
        "SINK_BATCH_SIZE": "100",
        "PARTITION_STALL_SECONDS": "10",
        "LIVENESS_STALL_SECONDS": "30",
    }
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        env["KAFKA_PRODUCER_MAX_BATCH_BYTES"] = "1"  # Tansu's table-recovery quirk

    def fresh(name: str) -> Any:
        return start_worker({**env, "WORKER_WEB_PORT": str(free_port())}, name=name)

    workers = {"a": fresh("a"), "b": fresh("b")}
    for worker in workers.values():
        worker.wait_ready()
    publisher = Publisher(kafka_bootstrap, names.kong)
    publisher.start()
    liveness_restarts = rereads = 0
    try:
        for cycle in range(CYCLES):
            victim = "b" if cycle % 2 else "a"
            rereads += _rereads(workers[victim])
            workers[victim].stop(signal.SIGKILL)
            # the embedded broker evicts a killed member after ~2x the session timeout and does
            # not rebalance members that joined meanwhile (a Kafka broker does): wait it out
            deadline = time.monotonic() + 13
            while time.monotonic() < deadline:
                for name, worker in workers.items():  # Kubernetes' liveness probe
                    if name != victim and not _healthy(worker):
                        liveness_restarts += 1
                        rereads += _rereads(worker)
                        worker.stop(signal.SIGKILL)
                        workers[name] = fresh(f"{name}-live{liveness_restarts}")
                time.sleep(1)
            workers[victim] = fresh(f"{victim}-{cycle}")
            assert wait_until(workers[victim].ready, 90), workers[victim].log()[-3000:]
            time.sleep(5)  # both working, under load, before the next kill
    finally:
        publisher.stop_event.set()
        publisher.join(30)
    sent = publisher.sent
    ids = receiver.wait_quiet(sent, timeout=300, quiet=5)
    for worker in workers.values():
        rereads += _rereads(worker)
    distinct = len(set(ids))
    lost, duplicates = sent - distinct, len(ids) - distinct
    print(
        f"FIGURES soak: cycles={CYCLES} sent={sent} lost={lost} duplicates={duplicates} "
        f"liveness_restarts={liveness_restarts} rereads={rereads:.0f}"
    )
    assert lost == 0, {name: w.log()[-2000:] for name, w in workers.items()}
