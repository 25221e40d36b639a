"""Operator tools: topics, transform, (later) replay, kong-config, ingest-http."""
