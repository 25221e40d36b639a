"""schemas/ holds the contracts generated from the models; they must not drift."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.contracts import CONTRACTS, render, write_schemas
from pipeline.kong import RecordError, parse_records
from tests.conftest import EXAMPLES


def test_schema_files_match_the_models() -> None:
    stale = write_schemas(check=True)
    assert stale == [], f"run `kong-litefuse schemas` to regenerate: {stale}"


def test_drift_is_detected(tmp_path: Path) -> None:
    for name, model in CONTRACTS.items():
        (tmp_path / name).write_text(render(model).replace('"title"', '"titel"', 1))
    assert sorted(write_schemas(check=True, folder=tmp_path)) == sorted(CONTRACTS)


def test_examples_are_kong_records() -> None:
    schema = json.loads((EXAMPLES.parent / "kong-record.schema.json").read_text())
    assert schema["type"] == "object"
    for path in sorted(EXAMPLES.glob("*.json")):
        records = parse_records(path.read_bytes())
        assert records and records[0].request.id, path.name


def test_malformed_example_is_rejected() -> None:
    malformed = (EXAMPLES / "09-malformed.txt").read_bytes()
    try:
        parse_records(malformed)
    except RecordError as exc:
        assert "not JSON" in str(exc)
    else:
        raise AssertionError("the malformed example parsed")
