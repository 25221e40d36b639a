"""The traces topic's JSON: what the previous version wrote reads (and writes) the same, and a
value that breaks a field's type or constraint is refused with a ValueError.

``tests/fixtures/traces/previous-version.json`` was written once by the code of ``c36184a``,
when the Trace models were pydantic models: for each trace, the exact bytes its
``Trace.to_json`` wrote and what its ``Trace.from_json`` read (``model_dump(mode="json")``:
every field, None included). The traces were picked from the bench mix, the golden inputs and
Kong's fixtures so that between them they hold every field and the values that matter (levels,
observation types, usage sources, estimated counts, Kong's cost), plus traces with the rarer
fields: joined in full and observation mode, caller ids as given, version, release, prompt
name and version, an override price.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from pipeline.trace import Trace

PREVIOUS = Path(__file__).resolve().parent.parent / "fixtures" / "traces" / "previous-version.json"
ENTRIES: list[dict[str, Any]] = json.loads(PREVIOUS.read_text())


def _values(value: Any) -> Any:
    """Every field, None included, datetimes as the topic's text: pydantic's JSON-mode dump."""
    if isinstance(value, msgspec.Struct):
        return {name: _values(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, datetime):
        return msgspec.json.encode(value).decode().strip('"')
    if isinstance(value, dict):
        return {key: _values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_values(item) for item in value]
    return value


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["name"] for entry in ENTRIES])
def test_a_trace_the_previous_version_wrote_reads_the_same(entry: dict[str, Any]) -> None:
    trace = Trace.from_json(entry["json"].encode())
    # as JSON, so 1 and 1.0 (and the fields' order) differ
    assert orjson.dumps(_values(trace)) == orjson.dumps(entry["values"])
    assert trace.to_json() == entry["json"].encode()


def test_the_sample_holds_the_rare_fields() -> None:
    values = [entry["values"] for entry in ENTRIES]
    generations = [v["generation"] for v in values]
    assert {v["joined"] for v in values} == {None, "observation", "full"}
    assert all(any(v[key] for v in values) for key in ("given_trace_id", "version", "release"))
    assert {g["type"] for g in generations} == {"generation", "embedding"}
    assert {g["level"] for g in generations} >= {"DEFAULT", "ERROR"}
    assert {g["usage"]["estimated"] for g in generations if g["usage"]} == {False, True}
    assert {g["cost"]["source"] for g in generations if g["cost"]} >= {"kong", "override"}
    assert any(g["prompt_version"] for g in generations)
    assert any(v["source"]["topic"] for v in values)


def _sample() -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(ENTRIES[0]["json"])
    return loaded


def _with(path: str, value: Any) -> bytes:
    data = _sample()
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    target[last] = value
    return orjson.dumps(data)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("generation.usage.input", -1),
        ("generation.usage.output", 1.5),
        ("generation.usage.total", "12"),
        ("generation.usage.input_cached", True),
        ("generation.usage.tokens", 3),  # Usage and Cost take no unknown field
        ("generation.cost.total", -0.01),
        ("generation.cost.output", "1"),
        ("generation.cost.bonus", 1.0),
        ("generation.level", "FATAL"),
        ("generation.type", "span"),
        ("joined", "partial"),
        ("generation.prompt_version", 0),
        ("generation.prompt_version", 2**31),
        ("timestamp", "yesterday"),
        ("generation.start_time", 1714564800),
        ("tags", ["a", 1]),
        ("generation.model_parameters", {"stop": ["x"]}),
        ("source.index", "0"),
        ("id", None),
        ("generation", None),
    ],
)
def test_a_value_the_model_does_not_allow_is_refused(path: str, value: Any) -> None:
    with pytest.raises(ValueError, match=r"\$\."):  # msgspec names where: "- at `$.…`"
        Trace.from_json(_with(path, value))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("generation.usage.input", 0),
        ("generation.cost.total", 0),
        ("generation.prompt_version", 1),
        ("generation.prompt_version", 2**31 - 1),
        ("joined", "full"),
        ("generation.level", "WARNING"),
        ("timestamp", "2024-05-01T12:00:00.5+02:00"),
        ("user", "an unknown field outside Usage and Cost is ignored"),
    ],
)
def test_the_edges_of_what_the_model_allows_are_read(path: str, value: Any) -> None:
    Trace.from_json(_with(path, value))


def test_values_nobody_checked_are_checked_where_the_models_are_built() -> None:
    """Construction does not validate: the builders fall back to trace.checked (lax as the
    pydantic constructor was: 3.0 is 3) when a value is not already of its field's type."""
    from pipeline.enrich.cost import Price, _from_price
    from pipeline.enrich.providers.base import usage_of
    from pipeline.trace import Usage

    usage = usage_of(3.0, 2, "response")  # type: ignore[arg-type]
    assert usage == Usage(input=3, output=2, total=5, source="response")
    assert usage is not None and type(usage.input) is type(usage.total) is int
    for args in ((-1, 2, "response"), (1, 2, 7)):
        with pytest.raises(ValueError, match=r"\$\."):
            usage_of(*args)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Expected `float` >= 0.0 - at `\$.input`"):
        _from_price(Price(input=-1.0, output=1.0), Usage(input=10, output=1), "override")
