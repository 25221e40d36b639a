"""Captured bodies are decoded, or kept as text: a body never makes a record a dead letter."""

from __future__ import annotations

import base64
import gzip

import pytest

from pipeline.kong.bodies import decode_body

_JSON = b'{"model": "gpt-4o-mini", "choices": []}'


def test_a_base64_gzip_capture_is_decoded() -> None:
    body = decode_body(base64.b64encode(gzip.compress(_JSON)).decode())
    assert body.kind == "json" and body.json_object() == {"model": "gpt-4o-mini", "choices": []}


@pytest.mark.parametrize(
    "capture",
    [
        base64.b64encode(gzip.compress(_JSON)[:-12]).decode(),  # cut by Kong's body limit
        base64.b64encode(gzip.compress(_JSON)[:20]).decode(),
        "H4sIAAAAAAAA/" + "A" * 40,  # a gzip header and then garbage
        "H4sI!!not base64",
    ],
)
def test_a_truncated_or_corrupt_gzip_capture_is_kept_as_text(capture: str) -> None:
    body = decode_body(capture)
    assert body.kind == "text" and body.text == capture
