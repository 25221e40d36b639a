"""The worker's web port: /metrics, /healthz and /readyz, and none of faust's own pages."""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from pipeline import metrics
from pipeline.delivery.liveness import Liveness

log = logging.getLogger("pipeline")

FAUST_WEB_FLAGS = (
    "web_router_enabled",
    "web_tables_enabled",
    "web_stats_enabled",
    "web_graph_enabled",
    "web_metrics_enabled",
)


def attach_pages(app: faust.App, liveness: Liveness) -> None:
    """Our three pages, and faust's off."""

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        from prometheus_client import generate_latest

        # aiohttp refuses a charset in content_type; the exposition format is UTF-8 anyway.
        return web.bytes(
            generate_latest(metrics.REGISTRY), content_type="text/plain; version=0.0.4"
        )

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        """Liveness: 503 (restart me) when the worker stopped making progress."""
        health = liveness.health(time.monotonic())
        metrics.worker_live.set(int(health.alive))
        if health.alive:
            return web.json({"status": "ok"})
        log.error("liveness: %s; answering /healthz with 503", health.reason)
        return web.json({"status": "stalled", "reason": health.reason}, status=503)

    @app.page("/readyz")
    async def readyz(web: Any, request: Any) -> Any:
        ready = app.consumer is not None and bool(app.consumer.assignment())
        return web.json({"ready": ready}, status=200 if ready else 503)

    # Set on the conf, after faust read its APP_WEB_* variables, which would otherwise win
    # over the App's arguments.
    for flag in FAUST_WEB_FLAGS:
        setattr(app.conf, flag, False)
    _serve_only_our_pages(app)


def _serve_only_our_pages(app: faust.App) -> None:
    """The web port serves /metrics, /healthz and /readyz only.

    faust mounts its own blueprints on the same port, unauthenticated: ``/router/`` (every
    worker's URL and who owns which key), ``/table/…`` (table contents: the de-duplication
    window's trace ids), and an index at ``/``. The flags above turn most off; the index has no
    flag, so every blueprint faust itself provides is dropped before the server starts.
    """
    blueprints = app.web.blueprints
    enabled = getattr(blueprints, "_enabled", None)
    if not isinstance(enabled, list):  # a faust that manages blueprints otherwise: be loud
        raise RuntimeError("cannot turn off faust's own web pages with this faust version")
    enabled[:] = [
        (prefix, blueprint)
        for prefix, blueprint in enabled
        if not (isinstance(blueprint, str) and blueprint.startswith("faust."))
    ]
