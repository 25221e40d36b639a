"""Traces routed to two Litefuse projects; one project's outage does not stall the other."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from pipeline.kafka import publish
from tests.conftest import Names
from tests.factories import kong_record
from tests.receiver import LitefuseReceiver

pytestmark = pytest.mark.integration


def test_one_project_down_does_not_stall_the_other(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
    tmp_path: Path,
) -> None:
    team_b = LitefuseReceiver(public_key="pk-lf-team-b", secret_key="sk-lf-team-b-secret").start()
    try:
        config = tmp_path / "kong-litefuse.yaml"
        config.write_text(
            "langfuse_routes:\n"
            "  - name: team-b\n"
            "    match: {service: [team-b, team-b-canary]}\n"
            f"    base_url: {team_b.base_url}\n"
            "    public_key_env: TEAM_B_PUBLIC_KEY\n"
            "    secret_key_env: TEAM_B_SECRET_KEY\n"
        )
        env = {
            **worker_env,
            "KONG_LITEFUSE_CONFIG": str(config),
            "TEAM_B_PUBLIC_KEY": "pk-lf-team-b",
            "TEAM_B_SECRET_KEY": "sk-lf-team-b-secret",
            "SINK_MAX_RETRIES": "1",
            "SINK_BACKOFF_CAP_SECONDS": "1",
        }
        worker = start_worker(env)
        worker.wait_ready()
        team_b.stop()  # team B's project is down from the start

        def record(i: int) -> bytes:
            service = {"name": "team-b" if i % 2 else "team-a", "id": f"svc-{i % 2}"}
            return json.dumps(kong_record(i, service=service)).encode()

        publish(kafka_bootstrap, names.kong, [record(i) for i in range(200)])
        team_a_ids = {kong_record(i)["request"]["id"] for i in range(0, 200, 2)}
        team_b_ids = {kong_record(i)["request"]["id"] for i in range(1, 200, 2)}

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(receiver.trace_ids()) != team_a_ids:
            time.sleep(0.1)
        assert set(receiver.trace_ids()) == team_a_ids, worker.log()[-2000:]

        team_b.start()
        got_b = team_b.wait_for_traces(len(team_b_ids), timeout=60)
        assert set(got_b) == team_b_ids
        assert len(got_b) == len(team_b_ids)
        assert len(receiver.trace_ids()) == len(team_a_ids), "team A got a trace twice"
        assert "sk-lf-team-b-secret" not in worker.log()
    finally:
        team_b.stop()
