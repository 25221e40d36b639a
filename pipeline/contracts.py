"""The data contracts in ``schemas/``: JSON Schema generated from the pydantic models."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from pipeline.kong.record import KongRecord
from pipeline.resources import schemas_dir
from pipeline.trace import Trace

CONTRACTS: dict[str, type[BaseModel]] = {
    "kong-record.schema.json": KongRecord,
    "trace.schema.json": Trace,
}


def render(model: type[BaseModel]) -> str:
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
