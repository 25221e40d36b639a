"""A real worker with the console sink: it says where traces go, and reports like the Litefuse
sink (``kong_litefuse_sink_up``, traces per sink, the de-duplication window at once)."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from pipeline.kafka import publish
from tests.conftest import Names, wait_until
from tests.factories import kong_values

pytestmark = pytest.mark.integration


def _metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_console_worker_announces_its_sink_and_reports_deliveries_at_once(
    kafka_bootstrap: str, names: Names, worker_env: dict[str, str], start_worker: Any
) -> None:
    env = {k: v for k, v in worker_env.items() if not k.startswith("LANGFUSE_")}
    worker = start_worker(env)
    worker.wait_ready()
    first = next(
        (orjson.loads(line) for line in worker.log().splitlines() if "worker starting" in line),
        None,
    )
    assert first is not None, worker.log()[-2000:]
    assert first["level"] == "INFO"
    assert first["message"].startswith(
        "worker starting: sink console, destination stdout (JSON lines), ingestion -"
    )
    assert f"reading {names.kong}, writing {names.traces}" in first["message"]
    assert f"consumer group {names.group}" in first["message"]

    publish(kafka_bootstrap, names.kong, kong_values(5))
    sink_traces = 'kong_litefuse_sink_traces_total{sink="console"}'

    def delivered() -> str | None:
        text = worker.metrics()
        return text if (_metric(text, sink_traces) or 0) >= 5 else None

    text = wait_until(delivered, 45)
    assert text, worker.metrics()
    assert _metric(text, "kong_litefuse_sink_up") == 1.0
    assert _metric(text, 'kong_litefuse_sink_batches_total{sink="console"}')
    # the window's gauge follows the marks, not the minutely sweep
    assert wait_until(
        lambda: (_metric(worker.metrics(), "kong_litefuse_dedup_window_entries") or 0) >= 5, 5
    ), worker.metrics()
