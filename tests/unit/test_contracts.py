"""schemas/ holds the contracts generated from the models; they must not drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.contracts import CONTRACTS, render, write_schemas
from pipeline.kong import RecordError, parse_records
from tests.conftest import EXAMPLES
from tests.factories import with_changes


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


def _chat_record(**changes: object) -> bytes:
    record = json.loads((EXAMPLES / "01-openai-chat.json").read_text())
    return json.dumps(with_changes(record, **changes)).encode()


def test_unknown_sizes_and_statuses_are_unknown_not_dead_letters() -> None:
    """Kong writes "" or an empty Lua table where it has no number."""
    for value in ("", {}, "n/a", "inf"):
        (record,) = parse_records(_chat_record(request__size=value, response__size=value))
        assert record.request.size is None and record.response.size is None
    (record,) = parse_records(_chat_record(request__size="1024.0", response__status="200"))
    assert (record.request.size, record.response.status) == (1024, 200)
    with pytest.raises(RecordError, match=r"response\.status"):
        parse_records(_chat_record(response__status={"code": 200}))


def test_a_null_header_is_absent_not_the_text_none() -> None:
    (record,) = parse_records(_chat_record(request__headers={"x-user-id": None, "x-n": 1}))
    assert record.request.headers == {"x-n": "1"}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-user-id": "u1", "content-type": "a/b"}, {"x-user-id": "u1", "content-type": "a/b"}),
        ({"X-User-Id": "u1", "content-type": "a/b"}, {"x-user-id": "u1", "content-type": "a/b"}),
        ({"x-user-id": "u1", "ÄCCEPT": "x"}, {"x-user-id": "u1", "äccept": "x"}),
        ({"x-1": "a", "X-ΑΣ": "b"}, {"x-1": "a", "x-ας": "b"}),
        ({}, {}),
    ],
)
def test_header_names_are_lower_cased(headers: dict[str, str], expected: dict[str, str]) -> None:
    """Kong writes them lower-cased; custom fields and other producers may not."""
    (record,) = parse_records(_chat_record(request__headers=headers, response__headers=headers))
    assert record.request.headers == expected
    assert record.response.headers == expected
