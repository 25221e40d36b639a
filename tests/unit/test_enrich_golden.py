"""Golden outputs: parsing and enrichment must stay byte-identical while the hot path changes.

``tests/fixtures/golden/enrich.json`` was generated once, before the hot path was optimised
(its parsed records and invalid-record reasons again when the record became a msgspec Struct:
only declared fields kept, msgspec's wording of type errors; every output stayed identical),
from every record in ``schemas/examples`` and ``tests/fixtures/kong`` plus synthetic variants
that exercise the lenient parsing rules (numbers as strings, empty Lua tables, odd headers),
the dead-letter reasons and planted secrets, under several option sets. It holds, per input,
the parsed record (``msgspec.to_builtins`` as JSON) and the enrichment result:
``Trace.to_json()`` and what a user sees of it (the trace and generation rows of the Litefuse
stand-in, for the OTLP and the legacy sink), the Skipped reason or the RecordError message.
Regenerate only for an intended behaviour change:

    .venv/bin/python -m tests.unit.test_enrich_golden --write
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from msgspec.structs import replace

from pipeline.enrich import Skipped, enrich
from pipeline.enrich.options import EnrichOptions, build_options
from pipeline.kong import RecordError, parse_records
from pipeline.trace import SourceRef
from tests.litefuse import rows_for, shown

ROOT = Path(__file__).resolve().parent.parent.parent
GOLDEN = ROOT / "tests" / "fixtures" / "golden" / "enrich.json"
FIXTURES = ROOT / "tests" / "fixtures" / "kong"
EXAMPLES = ROOT / "schemas" / "examples"

OPTION_SETS: dict[str, EnrichOptions] = {
    "default": EnrichOptions(),
    "custom": build_options(
        environment="staging",
        release="2025.11.1",
        trace_name="route",
        payload_mode="truncated",
        payload_max_chars=80,
        mask_patterns=["email", "credit_card", "phone", r"Oslo|Kafka"],
        sample_rate=1.0,
        model_aliases={"prod-gpt4o": "gpt-4o", "gpt-4o-mini": "gpt-4o"},
        vllm_services=["llama-internal"],
        provider_plugins=False,
        custom_providers=[
            {"name": "acme", "family": "openai", "match": {"path_prefix": "/acme/"}},
        ],
        environment_from_request=True,
    ),
    "sparse": build_options(
        trace_name="service",
        payload_mode="none",
        sample_rate=0.5,
        sample_rates={"production": 0.5, "dev": 0.0},
        estimate_tokens=False,
        provider_plugins=False,
    ),
}
# The Kafka position given to the "custom" set, so trace ids come from it (not the content).
SOURCE = SourceRef(topic="kong-logs", partition=3, offset=1000)

SECRET_HEADERS = {
    "x-api-key": "sk-ant-api03-GOLDENHEADERKEY000000000000",
    "api-key": "azuregoldenheadersecret77",
    "authorization": "Bearer goldenbearertoken123456",
    "cookie": "session=goldencookievalue991",
    "X-Goog-Api-Key": "AIzaGOLDENGOOGLEHEADERKEY000000000000",
}


def _fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    return loaded


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], Any]:
    """A mutation setting ``a.b.c`` (``...`` deletes the key)."""

    def apply(record: dict[str, Any]) -> Any:
        *parents, last = path.split(".")
        target = record
        for part in parents:
            target = target.setdefault(part, {})
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = copy.deepcopy(value)
        return record

    return apply


def _plant(record: dict[str, Any]) -> dict[str, Any]:
    """Credentials in headers, query, body, metadata and content (cf. test_privacy)."""
    request, response = record["request"], record["response"]
    request["headers"] = {**(request.get("headers") or {}), **SECRET_HEADERS}
    response["headers"] = {**(response.get("headers") or {}), "set-cookie": ["sid=x1; Http"]}
    request["querystring"] = {"key": "AIzaGOLDENQUERYKEY00000000000000000000", "q": "1"}
    request["uri"] = (request.get("uri") or "/").split("?")[0] + "?key=AIzaGOLDENQ&token=abc"
    body = orjson.loads(request["body"]) if request.get("body") else {}
    body["api_key"] = "goldenbodyapikey-66"
    body["metadata"] = {
        "api_key": "goldenbodyapikey-66",
        "credentials": {"password": "goldennested-77"},
        "user_id": "golden-user",
        "session_id": "sess-1",
        "environment": "Dev Env",
        "ticket": "ann@example.com",
    }
    text = 'key sk-proj-GOLDENCONTENTKEY1234567890abcd {"password": "pw-123456"} eyJhbGciOiJIUzI1'
    if isinstance(body.get("messages"), list):
        body["messages"].append({"role": "user", "content": text + " 4111 1111 1111 1111"})
    request["body"] = orjson.dumps(body).decode()
    return record


def _variants() -> dict[str, bytes]:
    """Synthetic records around the real ones: every lenient rule and every rejection."""
    mutations: dict[str, tuple[str, list[Callable[[dict[str, Any]], Any]]]] = {
        "planted-openai": ("openai-chat-tools", [_plant]),
        "planted-anthropic": ("anthropic-messages", [_plant]),
        "planted-gemini": ("gemini-stream-sse", [_plant]),
        "planted-ollama": ("ollama-chat-ndjson", [_plant]),
        "planted-kong-ai": ("ai-3.12-ttft-stream", [_plant]),
        "headers-odd": (
            "openai-chat-tools",
            [
                _set(
                    "request.headers",
                    {
                        "User-Agent": ["", "agent/1", "agent/2"],
                        "X-User-Id": 42,
                        "X-Session-Id": True,
                        "x-chat-id": False,
                        "X-Message-Id": ["m-1"],
                        "OpenAI-Organization": " org-9 ",
                        "x-environment": "QA_1",
                        "authorization": "Bearer abcdefghijklmnop",
                    },
                ),
                _set("response.headers", {"X-Kong-LLM-Model": "openai/gpt-4o"}),
            ],
        ),
        "headers-empty-list": ("openai-chat-tools", [_set("request.headers", [])]),
        "headers-none": ("anthropic-messages", [_set("response.headers", None)]),
        "latencies-strings": (
            "openai-chat-tools",
            [_set("latencies", {"kong": " 7 ", "proxy": "1.5e3", "request": "", "receive": "x"})],
        ),
        "latencies-ints": (
            "openai-chat-tools",
            [_set("latencies", {"kong": 2, "proxy": 900, "request": 905, "receive": 0})],
        ),
        "latencies-none": ("anthropic-messages", [_set("latencies", None)]),
        "latencies-list": ("anthropic-messages", [_set("latencies", [])]),
        "latencies-bool": ("anthropic-messages", [_set("latencies.kong", True)]),
        "latencies-missing": ("anthropic-messages", [_set("latencies", ...)]),
        "latencies-not-proxied": ("openai-chat-tools", [_set("latencies.proxy", -1)]),
        "started-seconds": ("openai-chat-tools", [_set("started_at", 1764400003.25)]),
        "started-micros": ("openai-chat-tools", [_set("started_at", 1764400003250000)]),
        "started-nanos": ("openai-chat-tools", [_set("started_at", 1.76440000325e18)]),
        "started-string": ("openai-chat-tools", [_set("started_at", "1764400003250")]),
        "started-empty": ("openai-chat-tools", [_set("started_at", "")]),
        "started-garbage": ("openai-chat-tools", [_set("started_at", "soon")]),
        "started-zero": ("openai-chat-tools", [_set("started_at", 0)]),
        "started-negative": ("openai-chat-tools", [_set("started_at", -5)]),
        "started-bool": ("openai-chat-tools", [_set("started_at", True)]),
        "started-missing": ("openai-chat-tools", [_set("started_at", ...)]),
        "upstream-float": ("openai-chat-tools", [_set("upstream_status", 200.0)]),
        "upstream-int": ("openai-chat-tools", [_set("upstream_status", 502)]),
        "upstream-retries": ("openai-chat-tools", [_set("upstream_status", "502, 200")]),
        "upstream-empty": ("anthropic-overloaded", [_set("upstream_status", "")]),
        "upstream-bool": ("openai-chat-tools", [_set("upstream_status", False)]),
        "status-string": ("openai-chat-tools", [_set("response.status", " 429 ")]),
        "status-float": ("openai-chat-tools", [_set("response.status", 503.0)]),
        "status-text": ("openai-chat-tools", [_set("response.status", "n/a")]),
        "status-bool": ("openai-chat-tools", [_set("response.status", True)]),
        "status-fraction": ("openai-chat-tools", [_set("response.status", 200.5)]),
        "size-strings": (
            "openai-chat-tools",
            [_set("request.size", "912.7"), _set("response.size", "1400")],
        ),
        "size-float": ("openai-chat-tools", [_set("request.size", 12.9)]),
        "size-empty": ("openai-chat-tools", [_set("request.size", "")]),
        "body-dict": (
            "openai-chat-tools",
            [
                _set(
                    "request.body",
                    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                )
            ],
        ),
        "body-list": ("gemini-generate", [_set("response.body", [{"candidates": []}])]),
        "body-empty-table": ("openai-chat-tools", [_set("response.body", {})]),
        "body-number": ("openai-chat-tools", [_set("response.body", 12)]),
        "body-bool": ("openai-chat-tools", [_set("response.body", False)]),
        "request-id-int": ("openai-chat-tools", [_set("request.id", 123456)]),
        "request-id-empty": ("openai-chat-tools", [_set("request.id", "")]),
        "request-id-upper": (
            "openai-chat-tools",
            [_set("request.id", " 0123456789ABCDEF0123456789ABCDEF ")],
        ),
        "method-empty": ("openai-chat-tools", [_set("request.method", "")]),
        "method-lower": ("openai-chat-tools", [_set("request.method", "post")]),
        "method-get": ("openai-chat-tools", [_set("request.method", "GET")]),
        "uri-table": (
            "openai-chat-tools",
            [_set("request.uri", {}), _set("request.url", "https://h.example/v1/chat/completions")],
        ),
        "uri-none-url-none": (
            "openai-chat-tools",
            [_set("request.uri", []), _set("request.url", "")],
        ),
        "query-list": ("azure-deployment-chat", [_set("request.querystring", [])]),
        "query-values": (
            "azure-deployment-chat",
            [_set("request.querystring", {"api-version": ["2024-06-01", "x"], "flag": True})],
        ),
        "entities-empty": (
            "openai-chat-tools",
            [_set("route", []), _set("service", {}), _set("consumer", [])],
        ),
        "entities-none": (
            "openai-chat-tools",
            [_set("route", None), _set("service", None), _set("consumer", None)],
        ),
        "consumer-username": (
            "openai-chat-tools",
            [_set("consumer", {"id": "c-1", "username": "alice", "created_at": 1})],
        ),
        "consumer-custom-id": (
            "openai-chat-tools",
            [_set("consumer", {"id": "c-1", "custom_id": "cust-7"})],
        ),
        "authenticated-entity": (
            "openai-chat-tools",
            [_set("consumer", ...), _set("authenticated_entity", {"id": 77})],
        ),
        "service-ollama-port": (
            "openai-chat-tools",
            [_set("service", {"name": "local", "host": "10.0.0.5", "port": 11434})],
        ),
        "workspace-empty": (
            "openai-chat-tools",
            [_set("workspace", ""), _set("workspace_name", {}), _set("client_ip", [])],
        ),
        "source-kong": ("anthropic-overloaded", [_set("source", "kong")]),
        "source-empty": ("openai-chat-tools", [_set("source", "")]),
        "ai-empty": ("ai-3.8-plural-cost", [_set("ai", {})]),
        "ai-list": ("ai-3.8-plural-cost", [_set("ai", [])]),
        "ai-only-extra": ("openai-chat-tools", [_set("ai", {"ai-prompt-guard": {"x": 1}})]),
        # rejections: each must keep its dead-letter reason
        "bad-status-dict": ("openai-chat-tools", [_set("response.status", {"code": 200})]),
        "bad-headers-string": ("openai-chat-tools", [_set("request.headers", "host: x")]),
        "bad-route-string": ("openai-chat-tools", [_set("route", "llm-route")]),
        "bad-service-name": ("openai-chat-tools", [_set("service.name", 12)]),
        "bad-request-string": ("openai-chat-tools", [_set("request", "GET /")]),
        "bad-latencies-list": ("openai-chat-tools", [_set("latencies", [1, 2])]),
        "bad-latency-dict": ("openai-chat-tools", [_set("latencies.proxy", {"ms": 1})]),
        "bad-method-int": ("openai-chat-tools", [_set("request.method", 5)]),
        "bad-ai-string": ("openai-chat-tools", [_set("ai", "yes")]),
        "bad-size-text": ("openai-chat-tools", [_set("response.size", "big")]),
        "bad-started-list": ("openai-chat-tools", [_set("started_at", [1])]),
        "bad-client-ip-int": ("openai-chat-tools", [_set("client_ip", 10)]),
        "bad-upstream-uri": ("openai-chat-tools", [_set("upstream_uri", 3)]),
        "bad-several": (
            "openai-chat-tools",
            [_set("response.status", {}), _set("request.method", 1), _set("route", 2)],
        ),
        "no-request-no-response": (
            "openai-chat-tools",
            [_set("request", ...), _set("response", ...)],
        ),
        "response-only": ("openai-chat-tools", [_set("request", ...)]),
        "request-none": ("openai-chat-tools", [_set("request", None)]),
    }
    values: dict[str, bytes] = {}
    for name, (base, changes) in mutations.items():
        record = _fixture(base)
        for change in changes:
            change(record)
        values[f"variant:{name}"] = orjson.dumps(record)
    two = [_fixture("anthropic-messages"), _fixture("openai-chat-tools")]
    values["variant:array-of-two"] = orjson.dumps(two)
    values["variant:array-with-bad-item"] = orjson.dumps([two[0], 7])
    values["variant:empty-array"] = b"[]"
    values["variant:scalar"] = b"42"
    values["variant:not-json"] = b'{"request": '
    values["variant:object-without-kong-keys"] = b'{"hello": "world"}'
    return values


def inputs() -> dict[str, bytes]:
    """Every input by name: the bundled examples, the fixtures, the variants."""
    found = {f"examples/{p.name}": p.read_bytes() for p in sorted(EXAMPLES.iterdir())}
    found.update({f"kong/{p.name}": p.read_bytes() for p in sorted(FIXTURES.glob("*.json"))})
    found.update(_variants())
    return found


def _outcome(value: bytes, options: EnrichOptions, source: SourceRef | None) -> Any:
    try:
        records = parse_records(value)
    except RecordError as exc:
        return {"parse_error": str(exc)}
    results = []
    for index, record in enumerate(records):
        ref = replace(source, index=index) if source is not None else None
        try:
            result = enrich(record, options, ref, content=value)
        except RecordError as exc:
            results.append({"error": str(exc)})
            continue
        if isinstance(result, Skipped):
            results.append({"skipped": result.reason})
        else:
            # and what a user sees of it: the rows Litefuse (OTLP) and Langfuse v3 (legacy) store
            entry = {"trace": result.to_json().decode()}
            for sink, mode in (("litefuse", "otel"), ("legacy", "legacy")):
                entry[sink] = orjson.dumps(shown(rows_for([result], mode), result.id)).decode()
            results.append(entry)
    return results


def generate() -> dict[str, Any]:
    golden: dict[str, Any] = {}
    for name, value in inputs().items():
        entry: dict[str, Any] = {}
        try:
            records = parse_records(value)
            entry["records"] = [orjson.dumps(msgspec.to_builtins(r)).decode() for r in records]
        except RecordError as exc:
            entry["records"] = {"parse_error": str(exc)}
        for label, options in OPTION_SETS.items():
            source = SOURCE if label == "custom" else None
            entry[label] = _outcome(value, options, source)
        golden[name] = entry
    return golden


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(GOLDEN.read_bytes())
    return loaded


@pytest.fixture(scope="module")
def current() -> dict[str, Any]:
    return generate()


def test_golden_covers_every_input(golden: dict[str, Any], current: dict[str, Any]) -> None:
    assert sorted(current) == sorted(golden)


@pytest.mark.parametrize("name", sorted(inputs()))
def test_output_is_unchanged(name: str, golden: dict[str, Any], current: dict[str, Any]) -> None:
    expected, got = golden[name], current[name]
    assert got["records"] == expected["records"], "parsed record"
    for label in OPTION_SETS:
        assert got[label] == expected[label], label


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(__doc__)
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_bytes(orjson.dumps(generate(), option=orjson.OPT_INDENT_2) + b"\n")
