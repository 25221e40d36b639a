"""Every knob of the pipeline, as one typed object read from the environment.

Environment variables win over the optional YAML/TOML config file named by
``KONG_LITEFUSE_CONFIG``, which wins over the defaults. Names are the upper-case
field names (``LANGFUSE_BASE_URL`` …) so Langfuse users find the ones they know.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)
from pydantic_settings import SettingsError as SourceError

from pipeline.sinks.routing import (
    LitefuseRoute,
    check_litefuse_url,
    is_loopback_host,
    url_without_userinfo,
)
from pipeline.terminal import UserError, one_line

__all__ = [
    "Settings",
    "SettingsError",
    "check_litefuse_url",
    "is_loopback_host",
    "load_settings",
    "url_without_userinfo",
]

CONFIG_FILE_ENV = "KONG_LITEFUSE_CONFIG"
ENVIRONMENT_PATTERN = re.compile(r"^(?!langfuse)[a-z0-9-_]+$")


class SettingsError(UserError, ValueError):
    """A setting is missing or wrong; the message names the environment variable."""

    exit_code = 2


class Settings(BaseSettings):
    """The pipeline's configuration. See the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="",
        case_sensitive=False,
        extra="ignore",
        frozen=True,
    )

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="host:port[,host:port]. Unset: start the embedded broker (demo/broker only).",
    )
    kong_log_topic: str = Field(default="kong-logs", description="Topic Kong's kafka-log writes.")
    traces_topic: str = Field(default="ai-traces", description="Topic of enriched traces.")
    dead_letter_topic: str = Field(
        default="kong-logs.dlq", description="Records that could not be parsed, with the reason."
    )
    traces_dead_letter_topic: str = Field(
        default="ai-traces.dlq", description="Traces Litefuse refused (4xx), with its message."
    )
    consumer_group: str = Field(
        default="kong-litefuse",
        description="Kafka consumer group (faust app id); workers sharing it share partitions.",
    )
    topic_partitions: int = Field(
        default=4, ge=1, description="Partitions used when the pipeline creates its topics."
    )
    topic_replication_factor: int = Field(default=1, ge=1)
    kafka_session_timeout_seconds: float = Field(
        default=6.0,
        gt=0,
        description="Consumer session timeout. Low values make group joins fast and dead "
        "workers leave quickly; raise it on busy clusters.",
    )
    kafka_heartbeat_interval_seconds: float = Field(default=1.0, gt=0)
    kafka_producer_max_batch_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Producer batch size in bytes. 1 is needed on the embedded Tansu broker, "
        "whose table recovery loses updates from multi-record batches (set automatically).",
    )
    kafka_batch_max_records: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Records per faust event: agents read runs of up to this many records of "
        "one partition at once, so faust's per-event cost is paid per run, not per record.",
    )
    kafka_max_message_bytes: int = Field(
        default=1_000_000,
        ge=100_000,
        description="Largest record the worker produces (match the brokers' message.max.bytes): "
        "a larger trace has its largest fields truncated with a marker.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="Longest the broker may hold a fetch waiting for records (faust's 1,500 ms "
        "added seconds of latency at low traffic).",
    )
    kafka_max_partition_fetch_bytes: int = Field(
        default=1024 * 1024,
        ge=64 * 1024,
        description="Most bytes one fetch takes from a partition (faust's "
        "consumer_max_fetch_size): with the partitions a worker owns, what it holds of fetched "
        "records.",
    )
    enrich_processes: int = Field(
        default=0,
        ge=0,
        le=16,
        description="Helper processes that enrich record batches while the worker fetches, "
        "produces and delivers (0: enrich in the worker). One uses a second core.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = Field(default=None, description="CA bundle (PEM) to trust.")
    kafka_ssl_certfile: str | None = Field(default=None, description="Client certificate (mTLS).")
    kafka_ssl_keyfile: str | None = Field(default=None, description="Client key (mTLS).")

    # --- Litefuse ------------------------------------------------------------------------------
    langfuse_base_url: str | None = Field(
        default=None, description="Litefuse/Langfuse base URL, e.g. https://litefuse.example.com"
    )
    langfuse_public_key: SecretStr | None = Field(default=None, description="pk-lf-…")
    langfuse_secret_key: SecretStr | None = Field(default=None, description="sk-lf-…")
    langfuse_ingestion: Literal["otel", "legacy"] = Field(
        default="otel",
        description="otel: OTLP/HTTP protobuf (Litefuse, Langfuse v4). legacy: "
        "/api/public/ingestion JSON batches (Langfuse v2/v3).",
    )
    langfuse_environment: str = Field(default="production", description="Trace environment.")
    langfuse_release: str | None = Field(default=None, description="Release tag on every trace.")
    langfuse_allow_insecure_http: bool = Field(
        default=False, description="Allow http:// to a non-loopback Litefuse host."
    )
    sink: Literal["auto", "litefuse", "console"] = Field(
        default="auto",
        description="auto: litefuse when LANGFUSE_BASE_URL is set, else console (JSON lines).",
    )

    # --- sink batching -----------------------------------------------------------------------
    sink_batch_size: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Traces per request at most (fewer when the byte limit is reached first).",
    )
    sink_compression: Literal["gzip", "none"] = Field(
        default="gzip", description="OTLP request compression (gzip shrinks spans ~6x)."
    )
    sink_flush_interval_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Longest a trace waits for its batch to fill."
    )
    sink_timeout_seconds: float = Field(default=10.0, gt=0, description="HTTP request timeout.")
    sink_max_retries: int = Field(
        default=8, ge=0, description="Retries of one batch before the worker stops consuming."
    )
    sink_max_batch_bytes: int = Field(
        default=2_500_000,
        ge=10_000,
        le=4_000_000,
        description="Encoded bytes per request at most (Litefuse refuses 4.5 MB).",
    )
    sink_max_event_bytes: int = Field(
        default=1_000_000,
        ge=1_000,
        description="A trace larger than this has its largest fields truncated, with a marker.",
    )

    # --- delivery ------------------------------------------------------------------------------
    langfuse_routes: list[LitefuseRoute] = Field(
        default_factory=list,
        description="Extra destination projects, matched in order (config file); traces "
        "matching none go to LANGFUSE_BASE_URL.",
    )
    sink_backoff_cap_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest pause between delivery attempts while Litefuse is unavailable.",
    )
    partition_stall_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Re-read a partition whose committed offset has not moved for this long "
        "although all its records were fetched (0: never).",
    )
    liveness_stall_seconds: float = Field(
        default=180.0,
        ge=0,
        description="/healthz answers 503 (restart me) when the worker owns partitions with lag "
        "whose committed offsets have not moved for this long while no sink holds for a "
        "Litefuse outage (0: never).",
    )
    stream_buffer_maxsize: int = Field(
        default=1000,
        ge=10,
        description="Records an agent's stream buffers (per topic, in whole batches of "
        "KAFKA_BATCH_MAX_RECORDS, at least 2) before faust pauses fetching the partition that "
        "filled it: the bound on a worker's memory while Litefuse is down.",
    )
    dedup_window_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How long accepted trace ids are remembered to skip re-sends (0: off). "
        "Memory: about 200 bytes per trace id held.",
    )
    dedup_window_max_traces: int = Field(
        default=200_000,
        ge=1,
        description="Most trace ids the window holds per destination (oldest forgotten first): "
        "bounds memory at full load (~40 MB at the default).",
    )

    # --- enrichment ----------------------------------------------------------------------------
    trace_name: Literal["path", "route", "service"] = Field(
        default="path", description="Trace name: request path (no query), Kong route or service."
    )
    payload_mode: Literal["full", "truncated", "none"] = Field(
        default="full",
        description="Message content exported: full, truncated (PAYLOAD_MAX_CHARS) or none.",
    )
    payload_max_chars: int = Field(
        default=20_000, ge=100, description="Size limit of input/output in truncated mode."
    )
    mask_patterns: list[str] = Field(
        default_factory=list,
        description="Content masks (JSON list): presets email, credit_card, phone, ipv4, iban, "
        "us_ssn, or regexes; matches become [MASKED].",
    )
    sample_rate: float = Field(
        default=1.0, ge=0, le=1, description="Share of AI traces exported (by trace id)."
    )
    sample_rates: dict[str, float] = Field(
        default_factory=dict,
        description='Per-environment sample rates (JSON object), e.g. {"staging": 0.1}.',
    )
    price_override_file: Path | None = Field(
        default=None, description="YAML/JSON/TOML file of model prices (USD per 1M) and aliases."
    )
    model_aliases: dict[str, str] = Field(
        default_factory=dict,
        description="Model/deployment name → priced model name (JSON object), e.g. Azure "
        "deployments.",
    )
    custom_providers: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Providers without code: match rules → name + parser family (config file).",
    )
    vllm_services: list[str] = Field(
        default_factory=list,
        description="Kong service/route names or upstream hosts that are vLLM servers.",
    )
    provider_plugins: bool = Field(
        default=True, description="Load providers from the kong_litefuse.providers entry points."
    )
    estimate_tokens: bool = Field(
        default=True, description="Count tokens offline when a provider reports none (flagged)."
    )
    environment_from_request: bool = Field(
        default=False,
        description="Honour x-langfuse-environment / body metadata.environment per request.",
    )
    trace_context: Literal["join", "ignore"] = Field(
        default="join",
        description="join: a request carrying a W3C traceparent, x-langfuse-trace-id or body "
        "metadata trace_id / existing_trace_id joins that trace as a child of the caller's "
        "span; ignore: every Kong request is a trace of its own.",
    )
    trace_join_mode: Literal["observation", "full"] = Field(
        default="observation",
        description="observation: a joining request sends observation-level data only (the "
        "app's trace name, input, output and metadata stay as the app set them); full: also "
        "the trace's name, input, output and metadata.",
    )

    @field_validator("sample_rates")
    @classmethod
    def _sample_rates(cls, value: dict[str, float]) -> dict[str, float]:
        for environment, rate in value.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"rate of {environment!r} must be between 0 and 1")
            if len(environment) > 40 or not ENVIRONMENT_PATTERN.match(environment):
                raise ValueError(f"{environment!r} is not a valid environment name")
        return value

    @field_validator("mask_patterns")
    @classmethod
    def _mask_patterns(cls, value: list[str]) -> list[str]:
        from pipeline.enrich.privacy import mask_rules

        mask_rules(value)
        return value

    @field_validator("custom_providers")
    @classmethod
    def _custom_providers(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from pipeline.enrich.providers import FAMILIES
        from pipeline.enrich.providers.custom import build_rule

        for rule in value:
            build_rule(rule, FAMILIES)
        return value

    @field_validator("price_override_file")
    @classmethod
    def _price_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            from pipeline.enrich.cost import load_price_file

            load_price_file(value)
        return value

    # --- worker --------------------------------------------------------------------------------
    worker_web_host: str = Field(default="127.0.0.1", description="Bind host of /metrics.")
    worker_web_port: int = Field(default=6066, ge=0, le=65535)
    worker_tune_malloc: bool = Field(
        default=True,
        description="Set glibc's malloc arenas and thresholds so memory follows the work in "
        "flight (pipeline/allocator.py); MALLOC_* variables in the environment win.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = Field(
        default="json", description="Worker logs: JSON lines (with trace ids) or text."
    )

    @field_validator("langfuse_environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if len(value) > 40 or not ENVIRONMENT_PATTERN.match(value):
            raise ValueError("must match ^(?!langfuse)[a-z0-9-_]+$ and be at most 40 characters")
        return value

    @field_validator("langfuse_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://litefuse.example.com")
        return value.rstrip("/")

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _bootstrap(cls, value: str | None) -> str | None:
        if value is None or value.strip() == "":
            return None
        for server in value.split(","):
            if not re.match(r"^[\w.\-\[\]:]+:\d+$", server.strip()):
                raise ValueError(f"{server!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_") and not (
            self.kafka_sasl_mechanism and self.kafka_sasl_username and self.kafka_sasl_password
        ):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        return self

    @model_validator(mode="after")
    def _insecure_url(self) -> Settings:
        allow = self.langfuse_allow_insecure_http
        if self.langfuse_base_url:
            check_litefuse_url(
                self.langfuse_base_url, allow_insecure_http=allow, setting="LANGFUSE_BASE_URL"
            )
        for index, route in enumerate(self.langfuse_routes):
            check_litefuse_url(
                route.base_url,
                allow_insecure_http=allow,
                setting=f"langfuse_routes[{index}] ({route.name}) base_url",
            )
        return self

    @model_validator(mode="after")
    def _litefuse_complete(self) -> Settings:
        if self.sink == "litefuse" and self.langfuse_base_url is None:
            raise ValueError("SINK=litefuse needs LANGFUSE_BASE_URL")
        if self.langfuse_base_url is not None and (
            self.langfuse_public_key is None or self.langfuse_secret_key is None
        ):
            raise ValueError(
                "LANGFUSE_BASE_URL is set, so LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are "
                "needed too"
            )
        return self

    @property
    def sink_kind(self) -> Literal["litefuse", "console"]:
        if self.sink == "auto":
            return "litefuse" if self.langfuse_base_url else "console"
        return self.sink

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise SettingsError(f"{CONFIG_FILE_ENV}: no such file: {config_file}")
            _check_config_file(path)
            if path.suffix == ".toml":
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
            else:
                sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


def _check_config_file(path: Path) -> None:
    """The config file parses and holds a mapping, or a SettingsError saying where it is wrong
    (pydantic-settings would raise the parser's own error, or a TypeError for a list)."""
    try:
        if path.suffix == ".toml":
            import tomllib

            with path.open("rb") as file:
                document: Any = tomllib.load(file)
        else:
            import yaml

            with path.open("rb") as file:
                document = yaml.safe_load(file)
    except OSError as exc:
        raise SettingsError(f"{CONFIG_FILE_ENV}: cannot read {path}: {exc.strerror}") from None
    except Exception as exc:  # yaml.YAMLError, tomllib.TOMLDecodeError, UnicodeDecodeError
        kind = "TOML" if path.suffix == ".toml" else "YAML"
        raise SettingsError(
            f"{CONFIG_FILE_ENV}: {path} is not valid {kind}: {one_line(exc)}"
        ) from None
    if document is not None and not isinstance(document, dict):
        raise SettingsError(
            f"{CONFIG_FILE_ENV}: {path} must hold a mapping of settings (key: value), "
            f"not a {type(document).__name__}"
        )
    for key in document or {}:
        name = str(key).lower()
        if name in Settings.model_fields or name in RETIRED:
            continue
        close = difflib.get_close_matches(name, Settings.model_fields, n=1)
        hint = f": did you mean {close[0]}?" if close else ""
        raise SettingsError(f"{CONFIG_FILE_ENV}: {path}: unknown setting {key!r}{hint}")


RETIRED = {
    "worker_switch_interval_ms": "fixed at 50 ms",
    "worker_gc_threshold": "fixed at 10,000",
    "enrich_max_in_flight": "fixed at 4",
}
"""Settings that no longer change anything (each moved a figure by less than 10 %): still
accepted, so an upgrade does not fail on them, and named in :func:`retired_in_use`."""


def retired_in_use() -> list[str]:
    """The retired settings given in the environment or the config file, for a warning."""
    found = [name for name in RETIRED if name.upper() in os.environ]
    config_file = os.environ.get(CONFIG_FILE_ENV)
    if config_file and Path(config_file).is_file():
        try:
            text = Path(config_file).read_text().lower()
        except (OSError, UnicodeDecodeError):
            text = ""
        found += [name for name in RETIRED if name in text and name not in found]
    return [f"{name.upper()} ({RETIRED[name]})" for name in found]


_FIELD = re.compile(r'field "([^"]+)"')


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning pydantic's error into one that names the variables."""
    try:
        return Settings(**overrides)
    except SourceError as exc:  # a complex value (list, object) that is not JSON
        found = _FIELD.search(str(exc))
        name = found.group(1).upper() if found else "a setting"
        cause = f": {one_line(exc.__cause__)}" if exc.__cause__ else ""
        raise SettingsError(
            f"invalid settings: {name}: not valid JSON{cause} (lists and objects are JSON, "
            'e.g. ["email"] or {"staging": 0.1})'
        ) from None
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {message}" if error["loc"] else message)
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
