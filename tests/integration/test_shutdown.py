"""Stopping a worker: promptly in every state, a Litefuse outage included, and losing nothing.

Kubernetes sends SIGTERM on every rollout and waits out its grace period: a worker that only
stops once Litefuse answers again turns each rollout during an outage into a SIGKILL.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest

from pipeline.bench.e2e import descendants
from pipeline.broker import free_port
from pipeline.kafka import publish
from tests.conftest import Names, acknowledged_but_not_delivered, wait_until
from tests.factories import kong_values
from tests.receiver import LitefuseReceiver

pytestmark = pytest.mark.integration

# how long a stop may take: the drain bound, one HTTP timeout, the consumer's leaving
STOP_SECONDS = 15


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_during_a_litefuse_outage_is_prompt_and_the_next_owner_delivers_everything(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
    sig: signal.Signals,
) -> None:
    env = {**worker_env, "SINK_MAX_RETRIES": "1", "SINK_TIMEOUT_SECONDS": "2"}
    worker = start_worker(env)
    worker.wait_ready()
    publish(kafka_bootstrap, names.kong, kong_values(200))
    assert wait_until(lambda: len(receiver.trace_ids()) >= 200, 60), worker.log()[-3000:]
    receiver.stop()  # Litefuse down
    publish(kafka_bootstrap, names.kong, kong_values(300, start=200))
    # the worker holds what it cannot deliver
    assert wait_until(lambda: "holding" in worker.log(), 60), worker.log()[-3000:]
    started = time.monotonic()
    code = worker.stop(sig, timeout=60)
    took = time.monotonic() - started
    log = worker.log()
    print(f"FIGURES stop during an outage: {sig.name} exit {code} after {took:.1f} s")
    assert code == 0 and took <= STOP_SECONDS, f"exit {code} after {took:.1f} s\n{log[-3000:]}"
    assert "Traceback" not in log
    assert "left for the next owner" in log  # and how many: the operator knows
    # nothing held was acknowledged
    delivered = set(receiver.trace_ids())
    assert (
        acknowledged_but_not_delivered(kafka_bootstrap, names.group, names.traces, delivered) == []
    )

    # Litefuse back, a new worker: every record exactly once
    receiver.start()
    time.sleep(2)  # the broker's group quirk: members leaving and joining within ~1 s
    second = start_worker({**env, "WORKER_WEB_PORT": str(free_port())}, name="next")
    ids = receiver.wait_quiet(500, timeout=180)
    assert sorted(set(ids)) == sorted(ids) and len(ids) == 500, second.log()[-3000:]


def test_a_stop_while_idle_is_prompt(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    worker = start_worker(worker_env)
    worker.wait_ready()
    publish(kafka_bootstrap, names.kong, kong_values(50))
    assert wait_until(lambda: len(receiver.trace_ids()) >= 50, 60)
    started = time.monotonic()
    assert worker.stop(signal.SIGTERM, timeout=60) == 0
    assert time.monotonic() - started <= STOP_SECONDS
    assert "Traceback" not in worker.log()


def _healthz(worker: Any) -> int:
    return int(httpx.get(f"http://127.0.0.1:{worker.port}/healthz", timeout=5).status_code)


def test_a_wedged_worker_turns_healthz_to_503(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    """A helper process that hangs (SIGSTOP: alive, never answering) wedges the enrich agent
    with records left to read: the worker still answers HTTP, but /healthz says 503, so
    Kubernetes restarts it. Litefuse is up: this is no outage."""
    env = {**worker_env, "ENRICH_PROCESSES": "1", "LIVENESS_STALL_SECONDS": "20"}
    worker = start_worker(env)
    worker.wait_ready()
    publish(kafka_bootstrap, names.kong, kong_values(50))
    assert wait_until(lambda: len(receiver.trace_ids()) >= 50, 60), worker.log()[-3000:]
    assert _healthz(worker) == 200
    helpers = descendants(worker.pid)
    assert helpers
    for pid in helpers:
        os.kill(pid, signal.SIGSTOP)
    try:
        publish(kafka_bootstrap, names.kong, kong_values(50, start=50))
        assert wait_until(lambda: _healthz(worker) == 503, 90), worker.log()[-3000:]
        assert "liveness: no committed offset moved" in worker.log()
        assert "kong_litefuse_worker_live 0.0" in worker.metrics()
    finally:
        for pid in helpers:
            os.kill(pid, signal.SIGCONT)
