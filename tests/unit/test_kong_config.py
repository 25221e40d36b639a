"""`kong-litefuse kong-config`: valid Kong config, valid Lua, and records our pipeline reads.

The Lua chunks are compiled and run by LuaJIT 2.1 (lupa), the VM OpenResty embeds, inside an
environment holding only what Kong's serverless sandbox offers; ``kong``/``ngx`` there are a
minimal stand-in for the PDK calls the chunks make, recording what Kong would serialize.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import re
import shlex
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from lupa import luajit21
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.enrich import EnrichOptions, enrich
from pipeline.kong import parse_records
from pipeline.ops import kong_config as kc
from pipeline.ops.kong_config import KongConfigError, KongConfigOptions
from pipeline.trace import Trace
from tests.unit.test_bodies import FUNCTIONS_STREAM

ROOT = Path(__file__).resolve().parents[2]
KONG_DIR = ROOT / "infra" / "kong"
STREAM_EXAMPLE = ROOT / "schemas" / "examples" / "03-openai-chat-stream.json"
JSON_EXAMPLE = ROOT / "schemas" / "examples" / "01-openai-chat.json"

VERSIONS = [f"3.{minor}" for minor in range(16)]


def _options(**overrides: Any) -> KongConfigOptions:
    return KongConfigOptions(**overrides)


def _plugin(document: dict[str, Any], name: str) -> dict[str, Any] | None:
    for plugin in document["services"][0]["plugins"]:
        if plugin["name"] == name:
            return plugin
    return None


def _valid_combinations() -> list[KongConfigOptions]:
    combos = []
    for version, transport, sasl, tls, ai in itertools.product(
        VERSIONS,
        ("kafka-log", "http-log"),
        (None, "PLAIN", "SCRAM-SHA-512"),
        (False, True),
        (False, True),
    ):
        options = _options(
            kong_version=version,
            transport=transport,
            sasl_mechanism=sasl,
            sasl_user="kong" if sasl else None,
            tls=tls,
            ai_proxy=ai,
        )
        try:
            kc.build_config(options)
        except KongConfigError:
            continue
        combos.append(options)
    return combos


COMBINATIONS = _valid_combinations()


# --- the kafka-log schema table ------------------------------------------------------------


def test_schema_table_matches_the_documented_versions() -> None:
    assert "custom_fields_by_lua" not in kc.kafka_log_fields((3, 3))
    assert "custom_fields_by_lua" in kc.kafka_log_fields((3, 4))
    for name in ("key_query_arg", "schema_registry"):
        assert name not in kc.kafka_log_fields((3, 10))
        assert name in kc.kafka_log_fields((3, 11))
    assert "security.ssl_verify" not in kc.kafka_log_fields((3, 12))
    assert "security.ssl_verify" in kc.kafka_log_fields((3, 13))
    assert "OAUTHBEARER" not in kc.sasl_mechanisms((3, 14))
    assert "OAUTHBEARER" in kc.sasl_mechanisms((3, 15))
    assert {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} <= kc.sasl_mechanisms((3, 0))


def test_the_matrix_covers_every_version_and_transport() -> None:
    versions = {o.kong_version for o in COMBINATIONS}
    assert versions == set(VERSIONS)
    assert {o.transport for o in COMBINATIONS} == {"kafka-log", "http-log"}
    assert any(o.ai_proxy for o in COMBINATIONS) and any(o.tls for o in COMBINATIONS)


@pytest.mark.parametrize("options", COMBINATIONS, ids=lambda o: kc.command_line(o)[26:] or "-")
def test_yaml_parses_and_kafka_log_fields_exist_in_that_version(options: KongConfigOptions) -> None:
    document = yaml.safe_load(kc.render_yaml(options))
    assert document["_format_version"] == "3.0"
    service = document["services"][0]
    assert service["routes"][0]["paths"] == ["/v1"]
    kafka = _plugin(document, "kafka-log")
    if options.transport == "http-log":
        assert kafka is None
        http = _plugin(document, "http-log")
        assert http is not None and http["config"]["queue"]["max_batch_size"] > 1
        return
    assert kafka is not None
    config = kafka["config"]
    allowed = kc.kafka_log_fields(options.version)
    assert set(kc.config_paths(config)) <= allowed, set(kc.config_paths(config)) - allowed
    assert config["bootstrap_servers"] == [{"host": "kafka", "port": 9092}]
    assert config["producer_request_acks"] in (-1, 0, 1)
    # one record must fit a Produce request: two capped bodies plus headers
    assert 2 * options.body_cap < config["producer_request_limits_bytes_per_request"]
    if options.sasl_mechanism:
        auth = config["authentication"]
        assert auth["mechanism"] in kc.sasl_mechanisms(options.version)
        assert auth["password"] == "{vault://env/kafka-sasl-password}"
    if options.tls:
        assert config["security"]["ssl"] is True
        assert ("ssl_verify" in config["security"]) == (options.version >= (3, 13))
    has_custom = "custom_fields_by_lua" in config
    assert has_custom == (options.version >= (3, 4))
    pre = _plugin(document, "pre-function")
    assert pre is not None
    # before 3.4 the log-phase pre-function sets response.body instead
    assert ("log" in pre["config"]) == (not has_custom)
    if options.ai_proxy:
        ai = _plugin(document, "ai-proxy")
        assert ai is not None
        assert ai["config"]["logging"] == {"log_statistics": True, "log_payloads": True}


def test_http_log_config_posts_to_ingest_http_with_a_token_reference() -> None:
    document = kc.build_config(_options(transport="http-log", kong_version="3.9"))
    http = _plugin(document, "http-log")
    assert http is not None
    config = http["config"]
    assert config["http_endpoint"].endswith("/ingest")
    assert config["headers"] == {"x-kong-litefuse-token": "{vault://env/ingest-http-token}"}
    assert set(config["custom_fields_by_lua"]) == {"response.body", "response.body_truncated"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kong_version": "2.8"}, "3.0 to 3.15"),
        ({"kong_version": "latest"}, "MAJOR.MINOR"),
        ({"body_cap": 600_000}, "--body-cap"),
        ({"sasl_mechanism": "PLAIN"}, "--sasl-user"),
        ({"sasl_user": "kong"}, "--sasl-mechanism"),
        ({"transport": "http-log", "kong_version": "3.2"}, "3.3+"),
        ({"ai_proxy": True, "kong_version": "3.5"}, "3.6+"),
        ({"tls": True, "tls_verify": False, "kong_version": "3.12"}, "3.13+"),
        ({"bootstrap_servers": ("kafka",)}, "host:port"),
        ({"route_paths": ("v1",)}, "must start with /"),
        ({"sasl_mechanism": "PLAIN", "sasl_user": "u", "sasl_password_env": "lower"}, "variable"),
    ],
)
def test_impossible_options_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(KongConfigError, match=re.escape(message)):
        kc.build_config(_options(**overrides))


def test_secrets_are_env_references_never_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2-secret")
    monkeypatch.setenv("INGEST_HTTP_TOKEN", "token-secret")
    runner = CliRunner()
    for args in (
        ["--sasl-mechanism", "SCRAM-SHA-256", "--sasl-user", "kong"],
        ["--sasl-mechanism", "PLAIN", "--sasl-user", "kong", "--format", "admin-api"],
        ["--transport", "http-log"],
    ):
        result = runner.invoke(app, ["kong-config", *args])
        assert result.exit_code == 0, result.output
        assert "hunter2-secret" not in result.output
        assert "token-secret" not in result.output
        assert "{vault://env/" in result.output


# --- Admin API output ----------------------------------------------------------------------


def test_admin_api_calls_carry_the_same_configuration() -> None:
    options = _options(ai_proxy=True, sasl_mechanism="PLAIN", sasl_user="kong")
    script = kc.render_admin_api(options)
    calls = re.findall(r'curl -fsS -X PUT "\$ADMIN(\S+)" .*?\\\n  --data (.+)', script)
    bodies = {path: json.loads(shlex.split(data)[0]) for path, data in calls}
    document = kc.build_config(options)
    plugins = document["services"][0]["plugins"]
    assert list(bodies) == ["/services/llm", "/routes/llm"] + [
        f"/plugins/{p['id']}" for p in plugins
    ]
    for plugin in plugins:
        body = bodies[f"/plugins/{plugin['id']}"]
        assert body["config"] == plugin["config"]
        assert body["name"] == plugin["name"]
        assert body["service"] == {"name": "llm"}
    assert bodies["/routes/llm"]["service"] == {"name": "llm"}


# --- shipped examples ----------------------------------------------------------------------


def _examples() -> list[Path]:
    return sorted(p for p in KONG_DIR.iterdir() if p.suffix in (".yaml", ".sh"))


def test_examples_exist() -> None:
    names = {p.name for p in _examples()}
    assert {"kong.yaml", "kong-ai-gateway.yaml", "kong-oss-http-log.yaml"} <= names
    assert "kong-admin-api.sh" in names


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.name)
def test_examples_are_what_the_command_generates(path: Path) -> None:
    text = path.read_text()
    match = re.search(r"^# Generated by: kong-litefuse (kong-config.*)$", text, re.MULTILINE)
    assert match, f"{path.name} does not say how it was generated"
    result = CliRunner().invoke(app, shlex.split(match.group(1)))
    assert result.exit_code == 0, result.output
    assert result.stdout == text, (
        f"{path.name} is stale: run `kong-litefuse {match.group(1)} --output {path}`"
    )


# --- Lua: compiles on LuaJIT, runs in the sandbox's environment, feeds our parser --------

SANDBOX_GLOBALS = [
    "assert",
    "error",
    "ipairs",
    "next",
    "pairs",
    "pcall",
    "select",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "xpcall",
    "string",
    "table",
    "math",
    "bit",
]


class KongHarness:
    """One Kong request through the generated chunks on LuaJIT, as Kong's phases run them."""

    def __init__(self, options: KongConfigOptions) -> None:
        self.options = options
        self.document = kc.build_config(options)
        self.lua = luajit21.LuaRuntime(encoding=None)
        self.lua.execute(
            b"""
            serialized, cleared, shared = {}, {}, {}
            kong = {
              request = { get_raw_body = function() return REQUEST_BODY end },
              response = {
                get_header = function(n) return RESPONSE_HEADERS and RESPONSE_HEADERS[n] end,
              },
              service = { request = { clear_header = function(n) cleared[#cleared + 1] = n end } },
              log = { set_serialize_value = function(k, v) serialized[k] = v end },
              ctx = { shared = shared },
            }
            ngx = { arg = {}, encode_base64 = function(s) return B64(s) end }
            """
        )
        self.lua.globals().B64 = lambda data: base64.b64encode(data)
        names = " ".join(SANDBOX_GLOBALS).encode()
        self._env_factory = self.lua.eval(
            b"""function(names)
              local env = { kong = kong, ngx = ngx }
              for name in names:gmatch("%S+") do env[name] = _G[name] end
              return setmetatable(env, { __index = function(_, k)
                error("global not in Kong's sandbox: " .. tostring(k), 2)
              end })
            end"""
        )(names)

    def compile(self, code: str, name: str) -> Any:
        loader = self.lua.eval(
            b"function(c, n, e) local f, err = load(c, n, 't', e); return f or false, err end"
        )
        chunk, error = loader(code.encode(), name.encode(), self._env_factory)
        assert chunk, f"{name} does not compile: {error!r}"
        return chunk

    def _phase(self, plugin: str, phase: str) -> list[Any]:
        found = _plugin(self.document, plugin)
        codes = (found or {}).get("config", {}).get(phase, [])
        return [self.compile(code, f"{plugin}.{phase}") for code in codes]

    def run(
        self,
        request_body: bytes | None,
        chunks: list[bytes],
        response_headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        globals_ = self.lua.globals()
        globals_.REQUEST_BODY = request_body
        globals_.RESPONSE_HEADERS = self.lua.table_from(
            {k.encode(): v.encode() for k, v in (response_headers or {}).items()}
        )
        for chunk in self._phase("pre-function", "access"):
            chunk()
        body_filter = self._phase("post-function", "body_filter")
        arg = globals_.ngx[b"arg"]
        for index, data in enumerate([*chunks, b""]):
            arg[1], arg[2] = data, index == len(chunks)
            for chunk in body_filter:
                chunk()
        for chunk in self._phase("pre-function", "log"):
            chunk()
        log_plugin = _plugin(self.document, self.options.transport)
        assert log_plugin is not None
        serialized = globals_.serialized
        for key, code in log_plugin["config"].get("custom_fields_by_lua", {}).items():
            serialized[key.encode()] = self.compile(code, key)()
        return {
            k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in serialized.items()
        }

    @property
    def cleared_headers(self) -> list[str]:
        return [v.decode() for v in self.lua.globals().cleared.values()]


def _record_with(template: Path, fields: dict[str, Any]) -> bytes:
    """The example record with its bodies replaced by what the chunks serialized (dotted keys
    nest, as kong.log.set_serialize_value does), JSON-encoded as kafka-log does."""
    record = orjson.loads(template.read_bytes())
    record["request"].pop("body", None)
    record["response"].pop("body", None)
    for dotted, value in fields.items():
        target = record
        *parents, leaf = dotted.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return orjson.dumps(record)


def _enrich_one(value: bytes) -> Trace:
    records = parse_records(value)
    assert len(records) == 1
    trace = enrich(records[0], EnrichOptions())
    assert isinstance(trace, Trace), trace
    return trace


def _sse_chunks(template: Path, size: int) -> tuple[bytes, list[bytes]]:
    record = orjson.loads(template.read_bytes())
    body = record["response"]["body"].encode()
    return body, [body[i : i + size] for i in range(0, len(body), size)]


@pytest.mark.parametrize("options", COMBINATIONS, ids=lambda o: kc.command_line(o)[26:] or "-")
def test_every_lua_chunk_compiles_on_luajit(options: KongConfigOptions) -> None:
    harness = KongHarness(options)
    for name, code in kc.lua_snippets(options).items():
        harness.compile(code, name)
    ai = _plugin(harness.document, "ai-proxy")
    assert ai is None or "logging" in ai["config"]


@pytest.mark.parametrize("version", ["3.3", "3.10", "3.15"])
@pytest.mark.parametrize("transport", ["kafka-log", "http-log"])
def test_sse_stream_capture_is_parsed_and_enriched(version: str, transport: str) -> None:
    if transport == "http-log" and version == "3.3":
        version = "3.4"
    options = _options(kong_version=version, transport=transport)
    request = orjson.loads(STREAM_EXAMPLE.read_bytes())["request"]["body"].encode()
    full, chunks = _sse_chunks(STREAM_EXAMPLE, 37)  # chunks cut mid-line, as networks do
    harness = KongHarness(options)
    fields = harness.run(request, chunks)
    assert fields["request.body"] == request.decode()
    assert fields["response.body"] == full.decode()
    assert harness.cleared_headers == ["accept-encoding"]
    trace = _enrich_one(_record_with(STREAM_EXAMPLE, fields))
    usage = trace.generation.usage
    assert usage is not None and (usage.input, usage.output) == (18, 5)
    assert trace.generation.output is not None


def test_json_response_capture_is_parsed_and_enriched() -> None:
    example = orjson.loads(JSON_EXAMPLE.read_bytes())
    request = example["request"]["body"].encode()
    response = example["response"]["body"].encode()
    fields = KongHarness(_options()).run(request, [response[:10], response[10:]])
    trace = _enrich_one(_record_with(JSON_EXAMPLE, fields))
    expected = _enrich_one(JSON_EXAMPLE.read_bytes())
    assert trace.generation.usage == expected.generation.usage
    assert trace.generation.model == expected.generation.model


def test_bodies_over_the_cap_are_cut_and_flagged() -> None:
    cap = 1024
    harness = KongHarness(_options(body_cap=cap))
    fields = harness.run(b"x" * 5000, [b"a" * 700, b"b" * 700, b"c" * 700])
    assert len(fields["request.body"]) == cap and fields["request.body_truncated"] is True
    assert fields["response.body"] == "a" * 700 + "b" * 324
    assert fields["response.body_truncated"] is True
    small = KongHarness(_options(body_cap=cap)).run(b"{}", [b"ok"])
    assert "request.body_truncated" not in small and small.get("response.body_truncated") is None


def test_gzip_bodies_are_base64_and_decoded_by_the_pipeline() -> None:
    example = orjson.loads(JSON_EXAMPLE.read_bytes())
    compressed = gzip.compress(example["response"]["body"].encode())
    harness = KongHarness(_options(identity_encoding=False))
    fields = harness.run(example["request"]["body"].encode(), [compressed[:20], compressed[20:]])
    assert fields["response.body"].startswith("H4sI")
    assert harness.cleared_headers == []
    trace = _enrich_one(_record_with(JSON_EXAMPLE, fields))
    expected = _enrich_one(JSON_EXAMPLE.read_bytes())
    assert trace.generation.usage == expected.generation.usage


@pytest.mark.parametrize("version", ["3.3", "3.10"])
def test_aws_event_streams_are_base64_and_decoded_by_the_pipeline(version: str) -> None:
    """Bedrock's ConverseStream answers binary frames; the capture keeps the JSON record valid."""
    stream = FUNCTIONS_STREAM
    request = b'{"messages": [{"role": "user", "content": [{"text": "add 2 and 12"}]}]}'
    harness = KongHarness(_options(kong_version=version))
    chunks = [stream[:100], stream[100:700], stream[700:]]
    headers = {"content-type": "application/vnd.amazon.eventstream"}
    fields = harness.run(request, chunks, headers)
    assert base64.b64decode(fields["response.body"]) == stream
    record = orjson.loads(_record_with(JSON_EXAMPLE, fields))
    record["request"]["uri"] = "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    record["request"].pop("url", None)
    trace = _enrich_one(orjson.dumps(record))
    assert trace.metadata["provider"] == "bedrock"
    assert trace.generation.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "tooluse_UxbKWVKgTqe8cKjPPzopiQ",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 2, "b": 12}'},
            }
        ],
    }
    usage = trace.generation.usage
    assert usage is not None and (usage.input, usage.output) == (478, 44)
    # other binary-free bodies stay as they are, whatever the content type
    plain = KongHarness(_options()).run(request, [b'{"ok": true}'], {"content-type": "text/x"})
    assert plain["response.body"] == '{"ok": true}'


def test_no_body_capture_means_no_lua() -> None:
    document = kc.build_config(_options(body_capture=False))
    names = [p["name"] for p in document["services"][0]["plugins"]]
    assert names == ["kafka-log"]
    config = document["services"][0]["plugins"][0]["config"]
    assert "custom_fields_by_lua" not in config
