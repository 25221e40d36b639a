"""Credentials never leave; content masking and payload modes do what the user asked.

The acceptance test plants secrets in the headers, query strings and bodies of real records and
checks every byte that can leave: the OTLP protobuf, the legacy batch, the traces topic value,
the sink dead letter, the enrich dead letter and the ``transform`` output.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import orjson
import pytest

from pipeline.delivery.deadletter import DeadLetter, dead_letter_headers
from pipeline.enrich import enrich
from pipeline.enrich.options import build_options
from pipeline.enrich.privacy import (
    limit_payload,
    mask,
    mask_rules,
    redact_bytes,
    redact_text,
    scrub,
)
from pipeline.kong import RecordError, parse_records
from pipeline.ops.transform import run_transform
from pipeline.settings import Settings
from pipeline.sinks.legacy import encode_batch
from pipeline.sinks.otlp import encode_request
from pipeline.trace import Trace

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kong"

SECRETS = {
    "x-api-key": "sk-ant-api03-PLANTEDHEADERKEY0000000000000",
    "api-key": "azureplantedheadersecret77",
    "authorization": "Bearer plantedbearertoken123456",
    "proxy-authorization": "Basic cGxhbnRlZDpwcm94eXNlY3JldA==",
    "cookie": "session=plantedcookievalue991",
    "x-goog-api-key": "AIzaPLANTEDGOOGLEHEADERKEY00000000000",
}
RESPONSE_COOKIE = "plantedsetcookie-4411"
QUERY = {"key": "AIzaPLANTEDQUERYKEY000000000000000000", "api_key": "plantedqueryapikey55"}
BODY_KEY = "plantedbodyapikey-66"
NESTED_PASSWORD = "plantednestedpassword-77"
CONTENT_KEY = "sk-proj-PLANTEDCONTENTKEY1234567890abcd"
TOOL_SECRET = "plantedtoolsecret-88"
AI_BLOCK_TOKEN = "plantedaiblocktoken-99"
ALL = [
    *SECRETS.values(),
    RESPONSE_COOKIE,
    *QUERY.values(),
    BODY_KEY,
    NESTED_PASSWORD,
    CONTENT_KEY,
    TOOL_SECRET,
    AI_BLOCK_TOKEN,
    "plantedbearertoken123456",
    "cGxhbnRlZDpwcm94eXNlY3JldA==",
    "plantedcookievalue991",
]


def _plant(name: str) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    request, response = record["request"], record["response"]
    request["headers"].update(SECRETS)
    response["headers"]["set-cookie"] = [f"sid={RESPONSE_COOKIE}; HttpOnly", "theme=dark"]
    query = "&".join(f"{k}={v}" for k, v in QUERY.items())
    request["querystring"] = {**request.get("querystring", {}), **QUERY}
    request["uri"] = request["uri"].split("?")[0] + "?" + query
    request["url"] = "https://gateway.example.com:443" + request["uri"]
    body = orjson.loads(request["body"]) if request.get("body") else {}
    body["api_key"] = BODY_KEY
    body["metadata"] = {
        **body.get("metadata", {}),
        "api_key": BODY_KEY,
        "credentials": {"password": NESTED_PASSWORD},
        "user_id": "privacy-user",
    }
    secret_text = f'my key is {CONTENT_KEY} and config {{"password": "{NESTED_PASSWORD}"}}'
    if isinstance(body.get("messages"), list):
        body["messages"].append({"role": "user", "content": secret_text})
    elif isinstance(body.get("contents"), list):
        body["contents"].append({"role": "user", "parts": [{"text": secret_text}]})
    request["body"] = orjson.dumps(body).decode()
    if response.get("body", "").startswith("{") and "\n" not in response["body"].strip():
        answer = orjson.loads(response["body"])
        for choice in answer.get("choices", []):
            choice["message"]["tool_calls"] = [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {
                        "name": "login",
                        "arguments": orjson.dumps({"client_secret": TOOL_SECRET}).decode(),
                    },
                }
            ]
        response["body"] = orjson.dumps(answer).decode()
    record["ai"] = {**(record.get("ai") or {}), "ai-custom-auth": {"auth_token": AI_BLOCK_TOKEN}}
    return record


PLANTED = ["openai-chat-tools", "anthropic-messages", "gemini-stream-sse", "ollama-chat-ndjson"]


def _leaks(data: bytes) -> list[str]:
    return [secret for secret in ALL if secret.encode() in data]


@pytest.mark.parametrize("name", PLANTED)
def test_planted_secrets_never_leave(name: str) -> None:
    raw = orjson.dumps(_plant(name))
    assert _leaks(raw), "the secrets were planted"
    options = build_options(provider_plugins=False)
    trace = enrich(parse_records(raw)[0], options, content=raw)
    assert isinstance(trace, Trace)
    assert trace.user_id == "privacy-user"

    otlp = encode_request([trace]).SerializeToString()
    legacy = orjson.dumps(encode_batch([trace]))
    topic_value = trace.to_json()
    sink_letter = DeadLetter.for_trace(trace, 400, "rejected")
    enrich_letter = redact_bytes(raw)  # what the enrich agent writes to the dead-letter topic
    headers = b"".join(value for _, value in dead_letter_headers(sink_letter))
    for label, data in [
        ("otlp", otlp),
        ("legacy", legacy),
        ("traces topic", topic_value),
        ("sink dead letter", sink_letter.value + headers),
        ("enrich dead letter", enrich_letter),
    ]:
        assert _leaks(data) == [], label
    # the scrubbed dead letter is still the record: redrive can re-publish it
    assert parse_records(enrich_letter)[0].request.id == parse_records(raw)[0].request.id
    # and the content the user sent is still there, minus the credentials
    assert b"my key is REDACTED" in otlp


def test_transform_output_holds_no_secret() -> None:
    data = b"\n".join(orjson.dumps(_plant(name)) for name in PLANTED)
    for fmt in ("langfuse", "otlp-json"):
        out, err = io.StringIO(), io.StringIO()
        failures = run_transform(data, Settings(), fmt, out, err)  # type: ignore[arg-type]
        assert failures == 0, err.getvalue()
        assert out.getvalue() and _leaks(out.getvalue().encode()) == [], fmt


def test_unparseable_record_is_scrubbed_for_the_dead_letter_topic() -> None:
    raw = orjson.dumps(_plant("openai-chat-tools"))
    broken = raw[:-40]  # truncated: not JSON any more
    with pytest.raises(RecordError):
        parse_records(broken)
    assert _leaks(redact_bytes(broken)) == []
    # a record that parses but cannot be enriched (no started_at) is scrubbed the same way
    record = _plant("openai-chat-tools")
    del record["started_at"]
    raw = orjson.dumps(record)
    with pytest.raises(RecordError, match="started_at"):
        enrich(parse_records(raw)[0], build_options(provider_plugins=False), content=raw)
    assert _leaks(redact_bytes(raw)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"api_key": "abc"}', '{"api_key": "REDACTED"}'),
        ('{\\"api_key\\": \\"abc\\"}', '{\\"api_key\\": \\"REDACTED\\"}'),
        ("https://x/y?key=abc&q=1", "https://x/y?key=REDACTED&q=1"),
        ("Authorization: Bearer abcdefghijk", "Authorization: REDACTED"),
        ("token sk-abcdefghijklmnopqrstu here", "token REDACTED here"),
        ("AKIAABCDEFGHIJKLMNOP", "REDACTED"),
        ("no secrets, max_tokens=5", "no secrets, max_tokens=5"),
        ("use bearer abcdefghijklmnop123 now", "use bearer REDACTED now"),
        ("curl -H 'x: Basic dXNlcjpwYXNz'", "curl -H 'x: Basic REDACTED'"),
        ("a basic understanding of it.", "a basic understanding of it."),
        ("the bearer e-commerce model", "the bearer e-commerce model"),
        ("Basic understanding", "Basic REDACTED"),  # the auth scheme's spelling: redacted
        ("bearer abcdefghijklmnopqrstuvwxyzabcd", "bearer REDACTED"),
    ],
)
def test_redact_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_scrub_keeps_ordinary_fields() -> None:
    value = {"max_tokens": 5, "input_tokens": 3, "session_id": "s", "password": "p", "x": [1]}
    assert scrub(value) == {**value, "password": "REDACTED"}


def test_masks_presets_and_regexes() -> None:
    rules = mask_rules(["email", "credit_card", r"TICKET-\d+"])
    text = "Mail ann@example.com, card 4111 1111 1111 1111, order 1234 5678 9012 3456, TICKET-42"
    assert mask(text, rules) == (
        "Mail [MASKED], card [MASKED], order 1234 5678 9012 3456, [MASKED]"  # Luhn: not a card
    )
    with pytest.raises(ValueError, match="not a valid regex"):
        mask_rules(["("])


def test_masks_and_payload_modes_apply_to_exported_content() -> None:
    raw = (FIXTURES / "openai-chat-tools.json").read_bytes()
    record = parse_records(raw)[0]
    masked = enrich(record, build_options(provider_plugins=False, mask_patterns=[r"Oslo"]))
    assert isinstance(masked, Trace)
    assert "Oslo" not in orjson.dumps(masked.generation.input).decode()
    none = enrich(record, build_options(provider_plugins=False, payload_mode="none"))
    assert isinstance(none, Trace)
    assert none.input is None and none.generation.output is None
    assert none.generation.usage is not None  # usage and cost do not need the content
    small = enrich(
        record,
        build_options(provider_plugins=False, payload_mode="truncated", payload_max_chars=20),
    )
    assert isinstance(small, Trace)
    assert isinstance(small.generation.input, str) and "[truncated:" in small.generation.input
    assert len(small.generation.input) < 60


def test_limit_payload_keeps_small_values() -> None:
    assert limit_payload({"a": 1}, "truncated", 100) == {"a": 1}
    assert limit_payload("x" * 10, "none", 100) is None
