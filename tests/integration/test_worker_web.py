"""The worker's web port serves /metrics, /healthz and /readyz, and nothing else.

faust serves its own pages on the same port: ``/router/`` (the cluster's workers and who owns
which key), ``/table/…`` (the tables' contents: here the de-duplication window's trace ids),
and with debug on, statistics at ``/``. All unauthenticated, on a port the Dockerfile and the
Kubernetes manifest bind to 0.0.0.0.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Names

pytestmark = pytest.mark.integration

FAUST_PAGES = [
    "/",
    "/router/",
    "/router/default/",
    "/table/",
    "/table/delivered/",
    "/table/delivered/some-key/",
    "/stats/",
    "/assignment/",
    "/graph/",
    "/performance/",
]


def test_only_metrics_and_health_are_served(
    names: Names, worker_env: dict[str, str], start_worker
) -> None:
    # faust's own switches, set to serve everything: they must not turn the pages back on
    env = {
        **worker_env,
        "APP_WEB_ROUTER_ENABLED": "true",
        "APP_WEB_TABLES_ENABLED": "true",
        "APP_WEB_STATS_ENABLED": "true",
        "APP_WEB_GRAPH_ENABLED": "true",
        "APP_WEB_METRICS_ENABLED": "true",
    }
    worker = start_worker(env)
    worker.wait_ready()
    base = f"http://127.0.0.1:{worker.port}"
    assert httpx.get(f"{base}/metrics", timeout=5).status_code == 200
    assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    served = {
        path: status
        for path in FAUST_PAGES
        if (status := httpx.get(f"{base}{path}", timeout=5).status_code) != 404
    }
    assert served == {}, f"faust pages served on the metrics port: {served}"
