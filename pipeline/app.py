"""The faust app: its topics, and the worker's parts attached to it. Wiring only.

    kong-logs ──enrich agent──► ai-traces ──sink agent──► Litefuse
         └──► kong-logs.dlq                    └──► ai-traces.dlq

The parts live in ``pipeline.worker``: the enrich agent, a sink agent per destination, the
partition watch and the web pages. ``faust -A pipeline.app worker`` works (``app`` is built from
the environment on first use); ``kong-litefuse worker`` does the same with our defaults.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import faust

from pipeline import metrics, transport
from pipeline.delivery.deliverer import DeliveryReport
from pipeline.settings import Settings, load_settings
from pipeline.sinks import Sink, build_sink
from pipeline.sinks.routing import route_topic
from pipeline.worker.conf import faust_app
from pipeline.worker.deadletters import DeadLetters
from pipeline.worker.enrich import EnrichAgent
from pipeline.worker.producer import LazyProducer
from pipeline.worker.sink import SinkAgent
from pipeline.worker.watch import PartitionWatch
from pipeline.worker.web import attach_pages

log = logging.getLogger("pipeline")

DEDUP_SWEEP_INTERVAL_S = 60.0
"""How often expired entries leave the de-duplication windows (ignored meanwhile)."""

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    sink: Sink | None = None,
    on_delivered: Callable[[DeliveryReport], None] | None = None,
) -> faust.App:
    """Build the app. ``sink`` and ``on_delivered`` let the demo watch what is delivered."""
    if not settings.kafka_bootstrap_servers:
        raise ValueError("KAFKA_BOOTSTRAP_SERVERS is not set")
    transport.register()
    app = faust_app(settings)
    producer = LazyProducer(settings)
    dead_letters = DeadLetters(settings.kafka_max_message_bytes)

    def topic(name: str) -> Any:
        return app.topic(name, value_type=bytes, key_type=bytes)

    enrich = EnrichAgent(settings, producer, dead_letters)
    enrich.attach(app, topic(settings.kong_log_topic))
    # one traces topic and sink agent per destination: the default one, then each route
    sinks = [
        SinkAgent(
            settings, None, sink or build_sink(settings), producer, dead_letters, on_delivered
        )
    ]
    for route in settings.langfuse_routes:
        sinks.append(
            SinkAgent(settings, route, build_sink(settings, route), producer, dead_letters)
        )
    traces_topics = [route_topic(settings.traces_topic, agent.route) for agent in sinks]
    for agent, name in zip(sinks, traces_topics, strict=True):
        agent.attach(app, topic(name))
    app.batch_topics = frozenset({settings.kong_log_topic, *traces_topics})

    def holding() -> bool:
        return any(agent.holding for agent in sinks)

    app.sink_holding = holding
    watch = PartitionWatch(
        [settings.kong_log_topic, *traces_topics],
        settings.partition_stall_seconds,
        settings.liveness_stall_seconds,
        holding,
    )
    watch.attach(app)

    @app.timer(interval=DEDUP_SWEEP_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def sweep_dedup_windows() -> None:
        try:
            for agent in sinks:
                if agent.window is not None:
                    agent.window.sweep(time.time())
        except Exception:  # a timer must never raise: faust would stop the worker
            log.exception("sweeping the de-duplication window failed; trying again in 60 s")
        metrics.dedup_entries.set(sum(len(a.window) for a in sinks if a.window is not None))

    @app.on_before_shutdown.connect
    async def close(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        enrich.close()
        producer.close()

    attach_pages(app, watch.liveness)
    return app


_app: faust.App | None = None


def __getattr__(name: str) -> Any:
    # `faust -A pipeline.app worker` looks up `app` here; build it only then.
    global _app
    if name == "app":
        if _app is None:
            _app = create_app(load_settings())
        return _app
    raise AttributeError(name)
