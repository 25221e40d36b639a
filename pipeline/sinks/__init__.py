"""Sinks: where traces go. ``build_sink`` picks one from the settings."""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.sinks.base import Rejected, Sink, SinkAuthError, SinkError, WriteResult
from pipeline.sinks.console import ConsoleSink
from pipeline.sinks.litefuse import LitefuseSink


def build_sink(settings: Settings) -> Sink:
    if settings.sink_kind == "console":
        return ConsoleSink()
    assert settings.langfuse_base_url and settings.langfuse_public_key
    assert settings.langfuse_secret_key
    return LitefuseSink(
        settings.langfuse_base_url,
        settings.langfuse_public_key.get_secret_value(),
        settings.langfuse_secret_key.get_secret_value(),
        mode=settings.langfuse_ingestion,
        timeout=settings.sink_timeout_seconds,
        max_retries=settings.sink_max_retries,
    )


__all__ = [
    "ConsoleSink",
    "LitefuseSink",
    "Rejected",
    "Sink",
    "SinkAuthError",
    "SinkError",
    "WriteResult",
    "build_sink",
]
