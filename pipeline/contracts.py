"""The data contracts in ``schemas/``: JSON Schema generated from the models (the Kong record
is a msgspec Struct, the trace a pydantic model)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
from pydantic import BaseModel

from pipeline.kong.record import KongRecord
from pipeline.resources import schemas_dir
from pipeline.trace import Trace

CONTRACTS: dict[str, type[BaseModel] | type[msgspec.Struct]] = {
    "kong-record.schema.json": KongRecord,
    "trace.schema.json": Trace,
}


def _struct_schema(model: type[msgspec.Struct]) -> dict[str, Any]:
    """msgspec's schema with the model itself at the root (as pydantic writes it), not a $ref."""
    schema = msgspec.json.schema(model)
    definitions: dict[str, Any] = schema["$defs"]
    root: dict[str, Any] = definitions.pop(model.__name__)
    if definitions:
        root["$defs"] = definitions
    return root


def render(model: type[BaseModel] | type[msgspec.Struct]) -> str:
    if issubclass(model, msgspec.Struct):
        schema = _struct_schema(model)
    else:
        schema = model.model_json_schema(mode="validation")
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
