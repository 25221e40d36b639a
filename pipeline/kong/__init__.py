"""The source side: Kong log records as Kong's log serializer writes them."""

from pipeline.kong.record import KongRecord, RecordError, parse_record, parse_records

__all__ = ["KongRecord", "RecordError", "parse_record", "parse_records"]
