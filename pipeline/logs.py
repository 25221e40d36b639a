"""Logging: JSON lines (one object per record, with the trace id where there is one) or text.

Log aggregators parse JSON without regexes, and a trace id in the log line leads straight to the
trace in Litefuse. Keys and passwords never reach a log line: nothing logs them, and the
formatter scrubs credential-looking text from messages as a last line of defence.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from pipeline.enrich.privacy import redact_text

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # the whole line: extra fields can carry text too
        return redact_text(orjson.dumps(entry, default=str).decode())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def logging_config(level: str, fmt: Literal["json", "text"]) -> dict[str, Any]:
    """A dictConfig for the worker (faust applies it when the worker starts)."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {
            "()": TextFormatter,
            "format": "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s",
        }
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["default"]},
        "loggers": {"httpx": {"level": "WARNING"}, "aiokafka": {"level": "WARNING"}},
    }
