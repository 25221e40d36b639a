"""What enrichment needs from the settings, as a plain value (enrich does no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class EnrichOptions:
    environment: str = "production"
    release: str | None = None
    trace_name: Literal["path", "route", "service"] = "path"
