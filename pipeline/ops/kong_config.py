"""Generate the Kong side of the pipeline: decK YAML or the equivalent Admin API calls.

What Kong must do for us, and why each piece is here:

* **kafka-log** (Enterprise) publishes one record per request to the Kong topic. Its producer
  settings are chosen for a log pipeline: all-replica acks, bounded memory, a named cluster.
* **body capture**: Kong's log serializer carries no bodies, so a pre-function copies the request
  body (``request.body``) and a post-function keeps the response chunks the client received
  (JSON, SSE streams, NDJSON) in ``kong.ctx.shared``; kafka-log's ``custom_fields_by_lua`` then
  sets ``response.body``. These names are the convention ``pipeline.kong.record`` parses.
* **ai-proxy** (AI Gateway users): ``logging.log_statistics`` / ``log_payloads`` add Kong's own
  token counts, cost and payloads (the ``ai`` block) to the same record.
* **http-log** (Kong open source, no kafka-log): posts the same records, batched, to
  ``kong-litefuse ingest-http``, which publishes them to the Kong topic.

Secrets never appear here: passwords and tokens are Kong vault references to environment
variables (``{vault://env/kafka-sasl-password}`` reads ``KAFKA_SASL_PASSWORD`` in Kong's
environment). Every kafka-log field emitted is checked against the plugin's schema of the chosen
Kong version (``KAFKA_LOG_SCHEMA``), so a generated file never fails Kong's validation for an
unknown field.
"""

from __future__ import annotations

import json
import re
import shlex
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from pipeline.terminal import UserError

Transport = Literal["kafka-log", "http-log"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
AiProvider = Literal["openai", "anthropic"]
Version = tuple[int, int]

TAG = "kong-litefuse"
MIN_VERSION: Version = (3, 0)
MAX_VERSION: Version = (3, 15)
DEFAULT_BODY_CAP = 256 * 1024
# kafka-log drops a record bigger than one Produce request (producer_request_limits_bytes_per_
# request, 1 MiB by default, also Kafka's default message.max.bytes). Two capped bodies plus the
# serializer's headers and entities must stay under it.
MAX_REQUEST_BYTES = 1_048_576
RECORD_OVERHEAD_BYTES = 64 * 1024
MAX_BODY_CAP = (MAX_REQUEST_BYTES - RECORD_OVERHEAD_BYTES) // 2

# The kafka-log plugin schema: dotted config paths (records flattened), by the Kong version that
# introduced them. Sources: the plugin's schema and changelog (shared reference kong-records.md).
KAFKA_LOG_SCHEMA: dict[Version, frozenset[str]] = {
    (3, 0): frozenset(
        {
            "bootstrap_servers",
            "bootstrap_servers.host",
            "bootstrap_servers.port",
            "topic",
            "timeout",
            "keepalive",
            "keepalive_enabled",
            "cluster_name",
            "authentication",
            "authentication.strategy",
            "authentication.mechanism",
            "authentication.user",
            "authentication.password",
            "authentication.tokenauth",
            "security",
            "security.ssl",
            "security.certificate_id",
            "producer_request_acks",
            "producer_request_timeout",
            "producer_request_limits_messages_per_request",
            "producer_request_limits_bytes_per_request",
            "producer_request_retries_max_attempts",
            "producer_request_retries_backoff_timeout",
            "producer_async",
            "producer_async_flush_timeout",
            "producer_async_buffering_limits_messages_in_memory",
        }
    ),
    (3, 4): frozenset({"custom_fields_by_lua"}),
    (3, 11): frozenset({"key_query_arg", "schema_registry"}),
    (3, 13): frozenset({"security.ssl_verify"}),
}
SASL_MECHANISMS: dict[Version, frozenset[str]] = {
    (3, 0): frozenset({"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}),
    (3, 15): frozenset({"OAUTHBEARER"}),
}
# Fields whose value is free-form (a map of Lua code), not sub-fields of the schema.
_OPAQUE_FIELDS = frozenset({"custom_fields_by_lua", "schema_registry"})


class KongConfigError(UserError, ValueError):
    """The options cannot produce a valid Kong configuration; the message says why."""

    exit_code = 2


def parse_version(text: str) -> Version:
    """``3.10``, ``3.10.0.2`` or ``3.10.0.2-enterprise-edition`` → (3, 10), within 3.0 to 3.15."""
    match = re.match(r"^\s*(\d+)\.(\d+)", text)
    if not match:
        raise KongConfigError(f"--kong-version {text!r}: expected MAJOR.MINOR such as 3.10")
    version = (int(match.group(1)), int(match.group(2)))
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise KongConfigError(
            f"--kong-version {text}: supported versions are 3.0 to 3.15 (Kong Gateway 3.x)"
        )
    return version


def kafka_log_fields(version: Version) -> frozenset[str]:
    """Every kafka-log config path that Kong ``version`` accepts."""
    fields: set[str] = set()
    for since, names in KAFKA_LOG_SCHEMA.items():
        if version >= since:
            fields |= names
    return frozenset(fields)


def sasl_mechanisms(version: Version) -> frozenset[str]:
    mechanisms: set[str] = set()
    for since, names in SASL_MECHANISMS.items():
        if version >= since:
            mechanisms |= names
    return frozenset(mechanisms)


def config_paths(config: dict[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of a plugin config (lists of records flattened, opaque maps not entered)."""
    for key, value in config.items():
        path = f"{prefix}{key}"
        yield path
        if key in _OPAQUE_FIELDS and not prefix:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                yield from config_paths(item, f"{path}.")


def env_reference(env_name: str) -> str:
    """A Kong vault reference to an environment variable (Kong maps dashes to underscores)."""
    if not re.match(r"^[A-Z][A-Z0-9_]*$", env_name):
        raise KongConfigError(f"{env_name!r} is not an environment variable name (A-Z, 0-9, _)")
    return "{vault://env/" + env_name.lower().replace("_", "-") + "}"


@dataclass(frozen=True, slots=True)
class KongConfigOptions:
    """Everything ``kong-litefuse kong-config`` asks; defaults suit an OpenAI passthrough."""

    service_name: str = "llm"
    service_url: str = "https://api.openai.com"
    route_paths: tuple[str, ...] = ("/v1",)
    transport: Transport = "kafka-log"
    bootstrap_servers: tuple[str, ...] = ("kafka:9092",)
    topic: str = "kong-logs"
    sasl_mechanism: SaslMechanism | None = None
    sasl_user: str | None = None
    sasl_password_env: str = "KAFKA_SASL_PASSWORD"
    tls: bool = False
    tls_verify: bool = True
    body_capture: bool = True
    body_cap: int = DEFAULT_BODY_CAP
    identity_encoding: bool = True
    ai_proxy: bool = False
    ai_provider: AiProvider = "openai"
    ai_model: str = "gpt-4o-mini"
    ai_log_payloads: bool = True
    ai_auth_env: str | None = None
    http_endpoint: str = "http://kong-litefuse-ingest:8080/ingest"
    http_token_env: str | None = "INGEST_HTTP_TOKEN"
    kong_version: str = "3.10"

    @property
    def version(self) -> Version:
        return parse_version(self.kong_version)


# --- Lua ------------------------------------------------------------------------------------
# Chunks run in Kong's serverless sandbox (``untrusted_lua = sandbox``, the default), which
# keeps ``kong`` and ``ngx`` reachable. No single quotes: the Admin API output shell-quotes them.

_GZIP_GUARD = """\
  if body:byte(1) == 31 and body:byte(2) == 139 then
    -- gzip is binary: base64 keeps the JSON record valid (the pipeline decodes it)
    body = ngx.encode_base64(body)
  end"""


def lua_capture_request(cap: int, identity_encoding: bool) -> str:
    """pre-function, access phase: the request body as ``request.body`` (capped)."""
    identity = (
        "-- ask the upstream for an uncompressed answer so the captured body is readable\n"
        'kong.service.request.clear_header("accept-encoding")\n'
        if identity_encoding
        else ""
    )
    return f"""\
-- kong-litefuse: capture the request body (at most {cap} bytes) as request.body
{identity}local cap = {cap}
local body = kong.request.get_raw_body()
if body and #body > 0 then
  if #body > cap then
    body = body:sub(1, cap)
    kong.log.set_serialize_value("request.body_truncated", true)
  end
{_GZIP_GUARD}
  kong.log.set_serialize_value("request.body", body)
end
"""


def lua_capture_response_chunks(cap: int) -> str:
    """post-function, body_filter phase: keep the chunks the client receives, up to the cap.

    Runs per chunk, so SSE streams are captured as they pass, without buffering the response
    (``kong.response.get_raw_body`` would hold every chunk back until the end of the stream).
    """
    return f"""\
-- kong-litefuse: keep the response chunks (at most {cap} bytes) for response.body
local cap = {cap}
local chunk = ngx.arg[1]
if chunk and chunk ~= "" then
  local ctx = kong.ctx.shared
  local size = ctx.kong_litefuse_size or 0
  if size >= cap then
    ctx.kong_litefuse_truncated = true
  else
    if size + #chunk > cap then
      chunk = chunk:sub(1, cap - size)
      ctx.kong_litefuse_truncated = true
    end
    local chunks = ctx.kong_litefuse_chunks
    if not chunks then
      chunks = {{}}
      ctx.kong_litefuse_chunks = chunks
    end
    chunks[#chunks + 1] = chunk
    ctx.kong_litefuse_size = size + #chunk
  end
end
"""


LUA_RESPONSE_BODY = """\
-- kong-litefuse: the captured response chunks, joined
local chunks = kong.ctx.shared.kong_litefuse_chunks
if not chunks then
  return nil
end
local body = table.concat(chunks)
if body:byte(1) == 31 and body:byte(2) == 139 then
  return ngx.encode_base64(body)
end
local content_type = kong.response.get_header("content-type")
if content_type and content_type:find("application/vnd.amazon.eventstream", 1, true) then
  -- Bedrock streams are binary AWS event-stream frames: base64, as gzip
  return ngx.encode_base64(body)
end
return body
"""

LUA_RESPONSE_TRUNCATED = """\
return kong.ctx.shared.kong_litefuse_truncated
"""


def lua_log_phase_fallback() -> str:
    """pre-function, log phase: sets ``response.body`` on Kong < 3.4 (no custom_fields_by_lua).

    pre-function's priority (1000000) runs it before the log plugins serialize the request.
    """
    return (
        "-- kong-litefuse: Kong < 3.4 has no custom_fields_by_lua; set response.body here\n"
        "local function body()\n"
        + "\n".join("  " + line if line else line for line in LUA_RESPONSE_BODY.splitlines()[1:])
        + "\nend\n"
        'kong.log.set_serialize_value("response.body", body())\n'
        'kong.log.set_serialize_value("response.body_truncated", '
        "kong.ctx.shared.kong_litefuse_truncated)\n"
    )


def custom_fields() -> dict[str, str]:
    """``custom_fields_by_lua`` of the log plugin: the captured response body fields."""
    return {"response.body": LUA_RESPONSE_BODY, "response.body_truncated": LUA_RESPONSE_TRUNCATED}


def lua_snippets(options: KongConfigOptions) -> dict[str, str]:
    """Every Lua chunk the configuration carries, by where it goes (for review and tests)."""
    snippets = {
        "pre-function.access": lua_capture_request(options.body_cap, options.identity_encoding),
        "post-function.body_filter": lua_capture_response_chunks(options.body_cap),
    }
    if options.version >= (3, 4) or options.transport == "http-log":
        for name, code in custom_fields().items():
            snippets[f"{options.transport}.custom_fields_by_lua.{name}"] = code
    else:
        snippets["pre-function.log"] = lua_log_phase_fallback()
    return snippets


# --- plugins -------------------------------------------------------------------------------


def _bootstrap(servers: tuple[str, ...]) -> list[dict[str, Any]]:
    result = []
    for server in servers:
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise KongConfigError(f"--bootstrap-servers: {server!r} is not host:port")
        result.append({"host": host.strip("[]"), "port": int(port)})
    if not result:
        raise KongConfigError("--bootstrap-servers: at least one host:port is needed")
    return result


def kafka_log_config(options: KongConfigOptions) -> dict[str, Any]:
    """The kafka-log plugin config; raises KongConfigError for options the version lacks."""
    version = options.version
    config: dict[str, Any] = {
        "bootstrap_servers": _bootstrap(options.bootstrap_servers),
        "topic": options.topic,
        # one producer per cluster name: plugins sharing it share connections and buffers
        "cluster_name": TAG,
        "timeout": 10000,
        "keepalive": 60000,
        "producer_request_acks": -1,
        "producer_request_timeout": 2000,
        "producer_request_limits_messages_per_request": 200,
        "producer_request_limits_bytes_per_request": MAX_REQUEST_BYTES,
        "producer_request_retries_max_attempts": 10,
        "producer_request_retries_backoff_timeout": 500,
        "producer_async": True,
        "producer_async_flush_timeout": 1000,
        "producer_async_buffering_limits_messages_in_memory": 10000,
    }
    if options.sasl_mechanism:
        if options.sasl_mechanism not in sasl_mechanisms(version):
            raise KongConfigError(
                f"--sasl-mechanism {options.sasl_mechanism} is not supported by Kong "
                f"{options.kong_version}"
            )
        if not options.sasl_user:
            raise KongConfigError("--sasl-mechanism needs --sasl-user")
        config["authentication"] = {
            "strategy": "sasl",
            "mechanism": options.sasl_mechanism,
            "user": options.sasl_user,
            "password": env_reference(options.sasl_password_env),
        }
    elif options.sasl_user:
        raise KongConfigError("--sasl-user needs --sasl-mechanism")
    if options.tls:
        security: dict[str, Any] = {"ssl": True}
        if version >= (3, 13):
            security["ssl_verify"] = options.tls_verify
        elif not options.tls_verify:
            raise KongConfigError("--no-tls-verify needs Kong 3.13+ (security.ssl_verify)")
        config["security"] = security
    if options.body_capture and version >= (3, 4):
        config["custom_fields_by_lua"] = custom_fields()
    unknown = set(config_paths(config)) - kafka_log_fields(version)
    if unknown:  # a bug in this module, not a user error: never emit what Kong would refuse
        raise AssertionError(f"kafka-log fields unknown to Kong {version}: {sorted(unknown)}")
    return config


def http_log_config(options: KongConfigOptions) -> dict[str, Any]:
    """The http-log plugin config posting batches to ``kong-litefuse ingest-http``."""
    if options.version < (3, 3):
        raise KongConfigError("--transport http-log needs Kong 3.3+ (http-log queue settings)")
    config: dict[str, Any] = {
        "http_endpoint": options.http_endpoint,
        "method": "POST",
        "content_type": "application/json",
        "timeout": 10000,
        "keepalive": 60000,
        "queue": {
            "max_batch_size": 50,
            "max_coalescing_delay": 1,
            "max_entries": 10000,
            "max_retry_time": 300,
            "initial_retry_delay": 0.5,
            "max_retry_delay": 30,
        },
    }
    if options.http_token_env:
        config["headers"] = {"x-kong-litefuse-token": env_reference(options.http_token_env)}
    if options.body_capture:
        config["custom_fields_by_lua"] = custom_fields()
    return config


def ai_proxy_config(options: KongConfigOptions) -> dict[str, Any]:
    """ai-proxy with Kong's statistics (and payloads) logged into the same record."""
    if options.version < (3, 6):
        raise KongConfigError("--ai-proxy needs Kong 3.6+ (ai-proxy logging)")
    logging = {"log_statistics": True, "log_payloads": options.ai_log_payloads}
    if options.ai_provider == "anthropic":
        auth_env = options.ai_auth_env or "ANTHROPIC_API_KEY"
        return {
            "route_type": "llm/v1/chat",
            "auth": {"header_name": "x-api-key", "header_value": env_reference(auth_env)},
            "model": {
                "provider": "anthropic",
                "name": options.ai_model,
                "options": {"anthropic_version": "2023-06-01", "max_tokens": 1024},
            },
            "logging": logging,
        }
    auth_env = options.ai_auth_env or "OPENAI_AUTH_HEADER"
    return {
        "route_type": "llm/v1/chat",
        # the whole header value ("Bearer sk-...") lives in the variable: a reference must be
        # the entire field
        "auth": {"header_name": "Authorization", "header_value": env_reference(auth_env)},
        "model": {"provider": "openai", "name": options.ai_model},
        "logging": logging,
    }


def _plugin_id(options: KongConfigOptions, name: str) -> str:
    """Stable ids: re-applying the Admin API calls (PUT) updates instead of duplicating."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kong-litefuse:{options.service_name}:{name}"))


def plugins(options: KongConfigOptions) -> list[dict[str, Any]]:
    """The service's plugins in execution order of interest (Kong orders them by priority)."""
    result: list[dict[str, Any]] = []

    def add(name: str, config: dict[str, Any]) -> None:
        result.append(
            {"name": name, "id": _plugin_id(options, name), "config": config, "tags": [TAG]}
        )

    if options.ai_proxy:
        add("ai-proxy", ai_proxy_config(options))
    if options.body_capture:
        if not 1024 <= options.body_cap <= MAX_BODY_CAP:
            raise KongConfigError(
                f"--body-cap must be between 1024 and {MAX_BODY_CAP} bytes: two capped bodies "
                f"and the record's headers must fit one Kafka request ({MAX_REQUEST_BYTES} bytes)"
            )
        snippets = lua_snippets(options)
        pre: dict[str, Any] = {"access": [snippets["pre-function.access"]]}
        if "pre-function.log" in snippets:
            pre["log"] = [snippets["pre-function.log"]]
        add("pre-function", pre)
        add("post-function", {"body_filter": [snippets["post-function.body_filter"]]})
    if options.transport == "kafka-log":
        add("kafka-log", kafka_log_config(options))
    else:
        add("http-log", http_log_config(options))
    return result


def build_config(options: KongConfigOptions) -> dict[str, Any]:
    """The decK document (``_format_version: "3.0"``), also loadable by DB-less Kong."""
    paths = list(options.route_paths)
    for path in paths:
        if not path.startswith("/"):
            raise KongConfigError(f"--route-path {path!r} must start with /")
    if not re.match(r"^https?://[^/\s]+", options.service_url):
        raise KongConfigError(f"--service-url {options.service_url!r} is not an http(s) URL")
    return {
        "_format_version": "3.0",
        "services": [
            {
                "name": options.service_name,
                "url": options.service_url,
                "tags": [TAG],
                "routes": [
                    {
                        "name": options.service_name,
                        "paths": paths,
                        "strip_path": False,
                        "tags": [TAG],
                    }
                ],
                "plugins": plugins(options),
            }
        ],
    }


# --- rendering -----------------------------------------------------------------------------

_NOTES: dict[str, str] = {
    "producer_request_acks": "-1: all in-sync replicas; Kong's default 1 loses records when a "
    "leader fails over",
    "producer_async": "true: records are batched in a background timer, never in the request path",
    "producer_request_limits_bytes_per_request": "a record bigger than this is dropped by Kong: "
    "keep it >= 2 x body cap + headers, and <= the broker's message.max.bytes",
    "producer_async_buffering_limits_messages_in_memory": "memory bound per nginx worker while "
    "Kafka is unreachable (Kong's 50000 x large LLM records can reach gigabytes)",
    "producer_request_retries_backoff_timeout": "ms between retries: 10 x 500 ms rides out a "
    "leader election",
    "cluster_name": "plugins with the same cluster_name share one producer",
    "custom_fields_by_lua": "response.body from the chunks the post-function kept (our "
    "pipeline's convention)",
    "logging": "Kong AI Gateway: token counts, cost and latency (log_statistics) and the "
    "payloads (log_payloads; from 3.9 only with statistics on) in the record's ai block",
    "password": "a vault reference to Kong's environment, never the secret itself",
    "header_value": "a vault reference to Kong's environment, never the secret itself",
    "x-kong-litefuse-token": "shared secret checked by kong-litefuse ingest-http "
    "(a vault reference to Kong's environment)",
    "queue": "http-log batches (a JSON array per POST) and retries until ingest-http answers "
    "200, i.e. until Kafka acknowledged",
    "ssl_verify": "verify the brokers' certificates (Kong 3.13+)",
}


def _annotate(text: str) -> str:
    """Put each note as a comment above the first line of its key."""
    lines = []
    seen: set[str] = set()
    for line in text.splitlines():
        stripped = line.lstrip(" -")
        key = stripped.split(":", 1)[0]
        if key in _NOTES and key not in seen and ":" in stripped:
            seen.add(key)
            indent = line[: len(line) - len(line.lstrip(" "))]
            if line.lstrip().startswith("- "):
                indent += "  "
            width = max(40, 98 - len(indent))
            lines += [f"{indent}# {part}" for part in textwrap.wrap(_NOTES[key], width)]
        lines.append(line)
    return "\n".join(lines) + "\n"


def _header(options: KongConfigOptions, command: str) -> list[str]:
    lines = [
        f"Generated by: {command}",
        f"Kong Gateway {options.kong_version}; transport: {options.transport}"
        + ("; ai-proxy" if options.ai_proxy else ""),
        "Regenerate instead of editing; docs/operations.md explains every choice.",
    ]
    if options.body_capture:
        lines += [
            f"Bodies are captured up to {options.body_cap} bytes each as request.body /",
            "response.body (the pipeline's convention). Request bodies over nginx's",
            "client_body_buffer_size (8k by default) go to disk and are not captured: set",
            "KONG_NGINX_HTTP_CLIENT_BODY_BUFFER_SIZE to at least the body cap.",
        ]
    refs = _env_references(options)
    if refs:
        lines.append("Kong reads these secrets from its environment: " + ", ".join(refs) + ".")
    return lines


def _env_references(options: KongConfigOptions) -> list[str]:
    refs = []
    if options.transport == "kafka-log" and options.sasl_mechanism:
        refs.append(options.sasl_password_env)
    if options.transport == "http-log" and options.http_token_env:
        refs.append(options.http_token_env)
    if options.ai_proxy:
        refs.append(
            options.ai_auth_env
            or ("ANTHROPIC_API_KEY" if options.ai_provider == "anthropic" else "OPENAI_AUTH_HEADER")
        )
    return refs


def command_line(options: KongConfigOptions, output_format: str = "yaml") -> str:
    """The ``kong-litefuse kong-config`` call that reproduces ``options`` (non-defaults only).

    It heads every generated file, so a shipped example says how to regenerate it.
    """
    defaults = KongConfigOptions()
    args = ["kong-litefuse", "kong-config"]
    for name in KongConfigOptions.__dataclass_fields__:
        value, default = getattr(options, name), getattr(defaults, name)
        if value == default:
            continue
        flag = "--" + name.replace("_", "-")
        if name == "route_paths":
            for path in value:
                args += ["--route-path", path]
        elif name == "bootstrap_servers":
            args += [flag, ",".join(value)]
        elif isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        else:
            args += [flag, "" if value is None else str(value)]
    if output_format != "yaml":
        args += ["--format", output_format]
    return shlex.join(args)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the Lua chunks) as literal blocks, readable in review."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def render_yaml(options: KongConfigOptions, command: str = "kong-litefuse kong-config") -> str:
    document = build_config(options)
    body = yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    header = "".join(f"# {line}\n" for line in _header(options, command))
    return header + _annotate(body)


def render_admin_api(
    options: KongConfigOptions, command: str = "kong-litefuse kong-config --format admin-api"
) -> str:
    """The same configuration as idempotent Admin API calls (PUT by name or stable id)."""
    document = build_config(options)
    service = document["services"][0]
    lines = ["#!/bin/sh", *(f"# {line}" for line in _header(options, command))]
    lines += [
        "set -eu",
        'ADMIN="${KONG_ADMIN_URL:-http://localhost:8001}"',
        "",
    ]

    def put(path: str, body: dict[str, Any]) -> None:
        payload = json.dumps(body, separators=(",", ":"))
        lines.append(
            f'curl -fsS -X PUT "$ADMIN{path}" -H "Content-Type: application/json" \\\n'
            f"  --data {shlex.quote(payload)}"
        )
        lines.append("")

    name = service["name"]
    put(f"/services/{name}", {"url": service["url"], "tags": service["tags"]})
    for route in service["routes"]:
        put(
            f"/routes/{route['name']}",
            {k: v for k, v in route.items() if k != "name"} | {"service": {"name": name}},
        )
    for plugin in service["plugins"]:
        body = {k: v for k, v in plugin.items() if k != "id"} | {"service": {"name": name}}
        put(f"/plugins/{plugin['id']}", body)
    return "\n".join(lines)
