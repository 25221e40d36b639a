"""The data contracts in ``schemas/``: JSON Schema generated from the models (msgspec Structs),
checked for drift by ``kong-litefuse schemas --check`` and the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from pipeline.kong.record import KongRecord
from pipeline.resources import schemas_dir
from pipeline.trace import Trace

CONTRACTS: dict[str, type[msgspec.Struct]] = {
    "kong-record.schema.json": KongRecord,
    "trace.schema.json": Trace,
}


def _schema(model: type[msgspec.Struct]) -> dict[str, Any]:
    schema: dict[str, Any] = msgspec.json.schema(model)
    # msgspec puts the model itself in $defs behind a $ref: lift it to the top, so the file
    # reads as the one object it describes.
    definitions = schema.pop("$defs")
    name = schema.pop("$ref").rsplit("/", 1)[1]
    schema.update(definitions.pop(name))
    if definitions:
        schema["$defs"] = definitions
    return schema


def render(model: type[msgspec.Struct]) -> str:
    schema = _schema(model)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(check: bool = False, folder: Path | None = None) -> list[str]:
    """Write the schema files (or only compare them); return the names that were stale."""
    folder = folder or schemas_dir()
    stale = []
    for name, model in CONTRACTS.items():
        path = folder / name
        text = render(model)
        if not path.exists() or path.read_text() != text:
            stale.append(name)
            if not check:
                path.write_text(text)
    return stale
