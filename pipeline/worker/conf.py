"""The faust App of a worker, configured from our settings."""

from __future__ import annotations

from pipeline import transport
from pipeline.kafka import faust_credentials
from pipeline.logs import logging_config
from pipeline.settings import Settings
from pipeline.transport import PipelineApp

COMMIT_INTERVAL_S = 1.0
"""How often faust commits acknowledged offsets: what a crash makes the next owner redo."""


def faust_broker_url(bootstrap_servers: str) -> str:
    """The broker URL of our batching transport (``pipeline.transport``)."""
    hosts = ";".join(s.strip() for s in bootstrap_servers.split(","))
    return f"{transport.SCHEME}://{hosts}"


def faust_app(settings: Settings) -> PipelineApp:
    batch_records = settings.kafka_batch_max_records
    app = PipelineApp(
        settings.consumer_group,
        broker=faust_broker_url(settings.kafka_bootstrap_servers or ""),
        broker_session_timeout=settings.kafka_session_timeout_seconds,
        broker_heartbeat_interval=settings.kafka_heartbeat_interval_seconds,
        broker_commit_interval=COMMIT_INTERVAL_S,
        broker_max_poll_records=batch_records * 4,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=False,  # topics are created explicitly (`kong-litefuse topics`)
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        stream_wait_empty=False,  # PipelineApp waits for the batches in hand, bounded
        web_enabled=True,
        web_bind=settings.worker_web_host,
        web_host=settings.worker_web_host,
        web_port=settings.worker_web_port,
        worker_redirect_stdouts=False,
        broker_credentials=faust_credentials(settings),
        # events are record batches: the setting counts records
        stream_buffer_maxsize=max(2, settings.stream_buffer_maxsize // batch_records),
        consumer_max_fetch_size=settings.kafka_max_partition_fetch_bytes,
        logging_config=logging_config(settings.log_level, settings.log_format),
    )
    if settings.kafka_producer_max_batch_bytes:
        app.conf.producer_max_batch_size = settings.kafka_producer_max_batch_bytes
    app.batch_max_records = batch_records
    app.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
    return app
