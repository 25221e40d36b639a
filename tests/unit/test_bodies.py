"""Captured bodies are decoded, or kept as text: a body never makes a record a dead letter.

The AWS event streams are Kong's own test data (``spec/fixtures/ai-proxy/bedrock/chunks/
chunk-{1,2,3}.txt`` and ``spec/fixtures/ai-proxy/unit/streaming-chunk-formats/aws/input.bin``
from Kong/kong, Apache-2.0), embedded as base64, and frames built with ``frame``.
"""

from __future__ import annotations

import base64
import gzip
import struct
import zlib
from typing import Any

import orjson
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


# --- AWS event streams (Bedrock), captured as base64 ----------------------------------------


# Kong's spec/fixtures/ai-proxy/bedrock/chunks/chunk-{1,2,3}.txt (git blobs 123a8f1, b32d8fb,
# ab23a35): a ConverseStream answering with one tool call, cut in three network chunks.
KONG_CHUNKS = [
    (
        "AAAAiQAAAFJcsT1SCzpldmVudC10eXBlBwAMbWVzc2FnZVN0YXJ0DTpjb250ZW50LXR5cGUHABBhcHBsaWNh"
        "dGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsicCI6ImFiY2RlZmdoaWprbCIsInJvbGUiOiJhc3Np"
        "c3RhbnQifXBfPHkAAAD+AAAAV2cp9QILOmV2ZW50LXR5cGUHABFjb250ZW50QmxvY2tTdGFydA06Y29udGVu"
        "dC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAFZXZlbnR7ImNvbnRlbnRCbG9ja0lu"
        "ZGV4IjowLCJwIjoiYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXpBQkNERUZHSElKS0xNTk8iLCJzdGFydCI6"
        "eyJ0b29sVXNlIjp7Im5hbWUiOiJhZGQiLCJ0b29sVXNlSWQiOiJ0b29sdXNlX1V4YktXVktnVHFlOGNLalBQ"
        "em9waVEifX19tUAPmwAAAMsAAABXDujC9As6ZXZlbnQtdHlwZQcAEWNvbnRlbnRCbG9ja0RlbHRhDTpjb250"
        "ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsiY29udGVudEJsb2Nr"
        "SW5kZXgiOjAsImRlbHRhIjp7InRvb2xVc2UiOnsiaW5wdXQiOiIifX0sInAiOiJhYmNkZWZnaGlqa2xtbm9w"
        "cXJzdHV2d3h5ekFCQ0RFRkdISUpLIn3FY3Oi"
    ),
    (
        "AAAA2QAAAFcUyAYWCzpldmVudC10eXBlBwARY29udGVudEJsb2NrRGVsdGENOmNvbnRlbnQtdHlwZQcAEGFw"
        "cGxpY2F0aW9uL2pzb24NOm1lc3NhZ2UtdHlwZQcABWV2ZW50eyJjb250ZW50QmxvY2tJbmRleCI6MCwiZGVs"
        "dGEiOnsidG9vbFVzZSI6eyJpbnB1dCI6IntcIiJ9fSwicCI6ImFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6"
        "QUJDREVGR0hJSktMTU5PUFFSU1RVViJ9e7vkggAAALwAAABXRRr+Kws6ZXZlbnQtdHlwZQcAEWNvbnRlbnRC"
        "bG9ja0RlbHRhDTpjb250ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVu"
        "dHsiY29udGVudEJsb2NrSW5kZXgiOjAsImRlbHRhIjp7InRvb2xVc2UiOnsiaW5wdXQiOiJhXCI6IDIifX0s"
        "InAiOiJhYmNkZWZnaGlqa2xtbm9wIn24Gvra"
    ),
    (
        "AAAA0wAAAFdeeB63CzpldmVudC10eXBlBwARY29udGVudEJsb2NrRGVsdGENOmNvbnRlbnQtdHlwZQcAEGFw"
        "cGxpY2F0aW9uL2pzb24NOm1lc3NhZ2UtdHlwZQcABWV2ZW50eyJjb250ZW50QmxvY2tJbmRleCI6MCwiZGVs"
        "dGEiOnsidG9vbFVzZSI6eyJpbnB1dCI6IiwgXCJiIn19LCJwIjoiYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4"
        "eXpBQkNERUZHSElKS0xNTiJ9vKAzdwAAALgAAABXsJpY6ws6ZXZlbnQtdHlwZQcAEWNvbnRlbnRCbG9ja0Rl"
        "bHRhDTpjb250ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsiY29u"
        "dGVudEJsb2NrSW5kZXgiOjAsImRlbHRhIjp7InRvb2xVc2UiOnsiaW5wdXQiOiJcIjogMTJ9In19LCJwIjoi"
        "YWJjZGVmZ2hpamsifeOSvBQAAAC5AAAAVvr9Qc0LOmV2ZW50LXR5cGUHABBjb250ZW50QmxvY2tTdG9wDTpj"
        "b250ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsiY29udGVudEJs"
        "b2NrSW5kZXgiOjAsInAiOiJhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ekFCQ0RFRkdISUpLTE1OT1BRUlNU"
        "VVZXWFlaMCJ9iABE1AAAAIMAAABRjwh0SQs6ZXZlbnQtdHlwZQcAC21lc3NhZ2VTdG9wDTpjb250ZW50LXR5"
        "cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsicCI6ImFiIiwic3RvcFJlYXNv"
        "biI6InRvb2xfdXNlIn1SIsnZAAAA2gAAAE43A9QGCzpldmVudC10eXBlBwAIbWV0YWRhdGENOmNvbnRlbnQt"
        "dHlwZQcAEGFwcGxpY2F0aW9uL2pzb24NOm1lc3NhZ2UtdHlwZQcABWV2ZW50eyJtZXRyaWNzIjp7ImxhdGVu"
        "Y3lNcyI6MTczNX0sInAiOiJhYmNkZWZnaGlqa2xtbm9wcXJzdHV2dyIsInVzYWdlIjp7ImlucHV0VG9rZW5z"
        "Ijo0NzgsIm91dHB1dFRva2VucyI6NDQsInRvdGFsVG9rZW5zIjo1MjJ9fQWNwUk="
    ),
]
FUNCTIONS_STREAM = b"".join(base64.b64decode(chunk) for chunk in KONG_CHUNKS)

# Kong's spec/fixtures/ai-proxy/unit/streaming-chunk-formats/aws/input.bin (git blob 8f9d03b):
# a ConverseStream answering with text.
KONG_TEXT_STREAM = base64.b64decode(
    "AAAAiQAAAFJcsT1SCzpldmVudC10eXBlBwAMbWVzc2FnZVN0YXJ0DTpjb250ZW50LXR5cGUHABBhcHBsaWNhdGlv"
    "bi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsicCI6ImFiY2RlZmdoaWprbCIsInJvbGUiOiJhc3Npc3RhbnQi"
    "fXBfPHkAAAGXAAAAVzhXM5sLOmV2ZW50LXR5cGUHABFjb250ZW50QmxvY2tEZWx0YQ06Y29udGVudC10eXBlBwAQ"
    "YXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAFZXZlbnR7ImNvbnRlbnRCbG9ja0luZGV4IjowLCJkZWx0"
    "YSI6eyJ0ZXh0IjoiSGVsbG8hIFJlbGF0aXZpdHkgaXMgYSBzZXQgb2YgcGh5c2ljYWwgdGhlb3JpZXMgdGhhdCBh"
    "cmUgY29sbGVjdGl2ZWx5IGtub3duIGFzIHNwZWNpYWwgcmVsYXRpdml0eSBhbmQgZ2VuZXJhbCByZWxhdGl2aXR5"
    "LCBwcm9wb3NlZCBieSBBbGJlcnQgRWluc3RlaW4uIFRoZXNlIHRoZW9yaWVzIHJldm9sdXRpb25pemVkIG91ciB1"
    "bmRlcnN0YW5kaW5nIG9mIHNwYWNlLCB0aW1lLCBhbmQgZ3Jhdml0eSwgYW5kIGhhdmUgaGFkIGZhci1yZWFjaCJ9"
    "LCJwIjoiYWJjZCJ9j7jeWQAAAaMAAABXbPYt3Qs6ZXZlbnQtdHlwZQcAEWNvbnRlbnRCbG9ja0RlbHRhDTpjb250"
    "ZW50LXR5cGUHABBhcHBsaWNhdGlvbi9qc29uDTptZXNzYWdlLXR5cGUHAAVldmVudHsiY29udGVudEJsb2NrSW5k"
    "ZXgiOjAsImRlbHRhIjp7InRleHQiOiJpbmcgaW1wbGljYXRpb25zIGluIHZhcmlvdXMgc2NpZW50aWZpYyBhbmQg"
    "dGVjaG5vbG9naWNhbCBmaWVsZHMuIFNwZWNpYWwgcmVsYXRpdml0eSBhcHBsaWVzIHRvIGFsbCBwaHlzaWNhbCBw"
    "aGVub21lbmEgaW4gdGhlIGFic2VuY2Ugb2YgZ3Jhdml0eSwgd2hpbGUgZ2VuZXJhbCByZWxhdGl2aXR5IGV4cGxh"
    "aW5zIHRoZSBsYXcgb2YgZ3Jhdml0eSBhbmQgaXRzIGVmZmVjdHMgb24gdGhlIG5hdHVyZSBvZiBzcGFjZSwgdGlt"
    "ZSwgYW5kIG1hdHRlci4ifSwicCI6ImFiY2RlZmdoaWprIn3QqlYrAAAAsAAAAFb37SO8CzpldmVudC10eXBlBwAQ"
    "Y29udGVudEJsb2NrU3RvcA06Y29udGVudC10eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAF"
    "ZXZlbnR7ImNvbnRlbnRCbG9ja0luZGV4IjowLCJwIjoiYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXpBQkNERUZH"
    "SElKS0xNTk9QUVIifb8RknsAAACOAAAAUXeYsPgLOmV2ZW50LXR5cGUHAAttZXNzYWdlU3RvcA06Y29udGVudC10"
    "eXBlBwAQYXBwbGljYXRpb24vanNvbg06bWVzc2FnZS10eXBlBwAFZXZlbnR7InAiOiJhYmNkZWZnaGlqa2xtIiwi"
    "c3RvcFJlYXNvbiI6ImVuZF90dXJuIn1lkl4LAAAA4QAAAE7h8l2RCzpldmVudC10eXBlBwAIbWV0YWRhdGENOmNv"
    "bnRlbnQtdHlwZQcAEGFwcGxpY2F0aW9uL2pzb24NOm1lc3NhZ2UtdHlwZQcABWV2ZW50eyJtZXRyaWNzIjp7Imxh"
    "dGVuY3lNcyI6MjYxM30sInAiOiJhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ekFCQ0RFRiIsInVzYWdlIjp7Imlu"
    "cHV0VG9rZW5zIjo5LCJvdXRwdXRUb2tlbnMiOjk3LCJ0b3RhbFRva2VucyI6MTA2fX2yrvBR"
)


def frame(
    event_type: str | None, payload: Any, message_type: str = "event", **headers: str
) -> bytes:
    """One AWS event-stream frame (string headers only), CRCs included."""
    values = {":message-type": message_type, ":content-type": "application/json", **headers}
    if event_type is not None:
        values[":event-type" if message_type == "event" else ":exception-type"] = event_type
    encoded = b"".join(
        bytes([len(name)])
        + name.encode()
        + b"\x07"
        + struct.pack(">H", len(value))
        + value.encode()
        for name, value in values.items()
    )
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    total = 12 + len(encoded) + len(body) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + body
    return message + struct.pack(">I", zlib.crc32(message))


def _frames() -> tuple[bytes, bytes]:
    return FUNCTIONS_STREAM, KONG_TEXT_STREAM


def test_a_base64_event_stream_is_decoded() -> None:
    functions, text = _frames()
    body = decode_body(base64.b64encode(functions).decode())
    assert body.kind == "eventstream" and body.is_stream
    assert body.event_names == [
        "messageStart",
        "contentBlockStart",
        *["contentBlockDelta"] * 5,
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert body.events[1]["start"] == {
        "toolUse": {"name": "add", "toolUseId": "tooluse_UxbKWVKgTqe8cKjPPzopiQ"}
    }
    assert "".join(e["delta"]["toolUse"]["input"] for e in body.events[2:7]) == '{"a": 2, "b": 12}'
    assert body.events[-1]["usage"] == {"inputTokens": 478, "outputTokens": 44, "totalTokens": 522}
    assert decode_body(base64.b64encode(text).decode()).event_names[-2:] == [
        "messageStop",
        "metadata",
    ]


def test_each_of_kongs_network_chunks_is_a_valid_event_stream() -> None:
    names = [decode_body("".join(chunk)).event_names for chunk in KONG_CHUNKS]
    assert names == [
        ["messageStart", "contentBlockStart", "contentBlockDelta"],
        ["contentBlockDelta", "contentBlockDelta"],
        ["contentBlockDelta", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata"],
    ]


@pytest.mark.parametrize("cut", [1, 4, 100, 500, 1000])
def test_a_cut_event_stream_keeps_its_complete_frames(cut: int) -> None:
    functions, _ = _frames()
    whole = decode_body(base64.b64encode(functions).decode())
    body = decode_body(base64.b64encode(functions[:-cut]).decode())
    assert body.kind == "eventstream"
    assert body.events == whole.events[: len(body.events)] and len(body.events) < 10
    # the base64 text itself cut mid-quad (a text-level cap)
    text = base64.b64encode(functions).decode()[: -cut - 1]
    assert decode_body(text).events == whole.events[: len(decode_body(text).events)]


def test_a_damaged_frame_ends_the_stream() -> None:
    functions, _ = _frames()
    damaged = bytearray(functions)
    damaged[450] ^= 0xFF  # inside the third frame (bytes 391-593): its message CRC fails
    body = decode_body(base64.b64encode(bytes(damaged)).decode())
    assert body.kind == "eventstream" and body.event_names == ["messageStart", "contentBlockStart"]


def test_exception_and_error_frames() -> None:
    stream = frame("messageStart", {"role": "assistant"}) + frame(
        "validationException", {"message": "Bad input"}, message_type="exception"
    )
    body = decode_body(base64.b64encode(stream).decode())
    assert body.event_names == ["messageStart", "validationException"]
    assert body.events[1] == {"message": "Bad input"}
    error = frame(
        None,
        b"",
        message_type="error",
        **{":error-code": "InternalFailure", ":error-message": "Try again"},
    )
    body = decode_body(base64.b64encode(error).decode())
    assert (body.event_names, body.events) == (["InternalFailure"], [{"message": "Try again"}])
    raw = frame("chunk", b"not json")
    assert decode_body(base64.b64encode(raw).decode()).events == ["not json"]


@pytest.mark.parametrize(
    "capture",
    [
        "AAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAA",  # a zero prelude: the CRC does not match
        "AAAAiQAAAFJcsT1S",  # a valid prelude, no frame after it
        "AP" + "A" * 60,
        "AAAAiQAAAFJcsT1S!!!!",
        "An error occurred",
        "A",
    ],
)
def test_base64_lookalikes_are_not_event_streams(capture: str) -> None:
    body = decode_body(capture)
    assert body.kind == "text" and body.text == capture


def test_event_stream_work_is_bounded() -> None:
    from pipeline.kong import bodies

    one = frame("contentBlockDelta", {"delta": {"text": "x"}})
    body = decode_body(base64.b64encode(one * (bodies.MAX_FRAMES + 5)).decode())
    assert len(body.events) == bodies.MAX_FRAMES
