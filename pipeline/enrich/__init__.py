"""Enrichment: pure functions from a Kong record to a Trace (no Faust, no I/O)."""

from pipeline.enrich.build import Skipped, enrich, request_path
from pipeline.enrich.options import EnrichOptions, build_options

__all__ = ["EnrichOptions", "Skipped", "build_options", "enrich", "request_path"]
