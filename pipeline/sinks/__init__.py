"""Sinks: where traces go. ``build_sink`` picks one from the settings (or a route)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.sinks.base import Rejected, Sink, SinkAuthError, SinkError, WriteResult
from pipeline.sinks.console import ConsoleSink
from pipeline.sinks.litefuse import LitefuseSink
from pipeline.sinks.routing import LitefuseRoute

if TYPE_CHECKING:
    from pipeline.settings import Settings


def build_sink(settings: Settings, route: LitefuseRoute | None = None) -> Sink:
    """The default destination's sink, or the sink of one route."""
    if route is not None:
        base_url, (public, secret), mode = route.base_url, route.keys(), route.ingestion
    elif settings.sink_kind == "console":
        return ConsoleSink()
    else:
        assert settings.langfuse_base_url and settings.langfuse_public_key
        assert settings.langfuse_secret_key
        base_url, mode = settings.langfuse_base_url, settings.langfuse_ingestion
        public = settings.langfuse_public_key.get_secret_value()
        secret = settings.langfuse_secret_key.get_secret_value()
    return LitefuseSink(
        base_url,
        public,
        secret,
        mode=mode,
        timeout=settings.sink_timeout_seconds,
        max_retries=settings.sink_max_retries,
        backoff_cap=settings.sink_backoff_cap_seconds,
        max_batch_bytes=settings.sink_max_batch_bytes,
        max_event_bytes=settings.sink_max_event_bytes,
        compression=settings.sink_compression,
    )


__all__ = [
    "ConsoleSink",
    "LitefuseRoute",
    "LitefuseSink",
    "Rejected",
    "Sink",
    "SinkAuthError",
    "SinkError",
    "WriteResult",
    "build_sink",
]
