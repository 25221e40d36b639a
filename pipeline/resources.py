"""Find the bundled data contracts and example records, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path


def schemas_dir() -> Path:
    """``pipeline/_schemas`` in an installed wheel, the repository's ``schemas/`` otherwise."""
    installed = Path(__file__).parent / "_schemas"
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parent.parent / "schemas"


def example_records() -> list[tuple[str, bytes]]:
    """The bundled example Kong records (file name, Kafka value), in name order."""
    folder = schemas_dir() / "examples"
    return [
        (path.name, path.read_bytes().strip())
        for path in sorted(folder.iterdir())
        if path.suffix in (".json", ".txt", ".jsonl")
    ]
