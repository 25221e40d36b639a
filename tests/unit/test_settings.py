"""Settings: environment names, config files, routes, and errors that name the variable."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.kafka import client_config
from pipeline.settings import (
    SettingsError,
    check_litefuse_url,
    is_loopback_host,
    load_settings,
    url_without_userinfo,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "KAFKA_BOOTSTRAP_SERVERS",
        "LANGFUSE_BASE_URL",
        "LANGFUSE_PUBLIC_KEY",
        "LANGFUSE_SECRET_KEY",
        "KONG_LITEFUSE_CONFIG",
        "LANGFUSE_ENVIRONMENT",
        "LANGFUSE_ALLOW_INSECURE_HTTP",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_use_the_names_users_know() -> None:
    settings = load_settings()
    assert settings.kong_log_topic == "kong-logs"
    assert settings.traces_topic == "ai-traces"
    assert settings.dead_letter_topic == "kong-logs.dlq"
    assert settings.langfuse_ingestion == "otel"
    assert settings.langfuse_environment == "production"
    assert settings.sink_kind == "console"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://litefuse.example.com/")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-1")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    settings = load_settings()
    assert settings.langfuse_base_url == "https://litefuse.example.com"
    assert settings.sink_kind == "litefuse"
    assert "sk-lf-1" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LANGFUSE_ENVIRONMENT", "Prod", "LANGFUSE_ENVIRONMENT"),
        ("LANGFUSE_ENVIRONMENT", "langfuse-x", "LANGFUSE_ENVIRONMENT"),
        ("LANGFUSE_INGESTION", "grpc", "LANGFUSE_INGESTION"),
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port", "KAFKA_BOOTSTRAP_SERVERS"),
        ("SINK_BATCH_SIZE", "0", "SINK_BATCH_SIZE"),
        ("LANGFUSE_BASE_URL", "ftp://x", "LANGFUSE_BASE_URL"),
    ],
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_base_url_needs_both_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://litefuse.example.com")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    with pytest.raises(SettingsError, match="LANGFUSE_SECRET_KEY"):
        load_settings()


def test_plain_http_to_a_remote_host_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_BASE_URL", "http://litefuse.example.com")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-1")
    with pytest.raises(SettingsError, match="LANGFUSE_ALLOW_INSECURE_HTTP"):
        load_settings()
    monkeypatch.setenv("LANGFUSE_ALLOW_INSECURE_HTTP", "true")
    assert load_settings().langfuse_base_url == "http://litefuse.example.com"
    monkeypatch.setenv("LANGFUSE_ALLOW_INSECURE_HTTP", "false")
    monkeypatch.setenv("LANGFUSE_BASE_URL", "http://127.0.0.1:3000")
    assert load_settings().langfuse_base_url == "http://127.0.0.1:3000"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("127.12.0.3", True),
        ("::1", True),
        ("0:0:0:0:0:0:0:1", True),  # ::1 written out
        ("127.attacker.example", False),  # what startswith("127.") let through
        ("127.0.0.1.nip.io", False),
        ("localhost.attacker.example", False),
        ("localhost.", False),
        ("128.0.0.1", False),
        ("126.255.255.255", False),
        ("127.1", False),  # not an address to ipaddress: refused rather than guessed
        ("2130706433", False),
        ("::ffff:127.0.0.1", False),
        ("::2", False),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("litefuse.example.com", False),
        ("", False),
    ],
)
def test_loopback_is_parsed_not_matched_by_prefix(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:3000", True),
        ("http://localhost:3000", True),
        ("http://[::1]:3000", True),
        ("https://litefuse.example.com", True),
        ("https://127.attacker.example", True),  # https is fine anywhere
        ("http://127.attacker.example", False),
        ("http://127.0.0.1@attacker.example", False),  # userinfo, then the real host
        ("http://[::ffff:127.0.0.1]:3000", False),
        ("http://litefuse.example.com", False),
    ],
)
def test_every_litefuse_url_gets_the_same_check(url: str, allowed: bool) -> None:
    if allowed:
        check_litefuse_url(url, allow_insecure_http=False, setting="X")
    else:
        with pytest.raises(ValueError, match="LANGFUSE_ALLOW_INSECURE_HTTP"):
            check_litefuse_url(url, allow_insecure_http=False, setting="X")
    check_litefuse_url(url, allow_insecure_http=True, setting="X")  # the explicit opt-in


def test_plain_http_to_a_host_named_like_loopback_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANGFUSE_BASE_URL", "http://127.attacker.example")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-1")
    with pytest.raises(SettingsError, match=r"LANGFUSE_BASE_URL.*127\.attacker\.example"):
        load_settings()


def test_plain_http_in_a_route_is_refused_like_the_base_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "langfuse_routes:\n"
        "  - name: dev\n"
        "    match: {environment: development}\n"
        "    base_url: http://litefuse.dev.example.com\n"
        "    public_key: pk-lf-dev\n"
        "    secret_key: sk-lf-dev\n"
        "  - name: local\n"
        "    match: {environment: local}\n"
        "    base_url: http://[::1]:3000\n"
        "    public_key: pk-lf-local\n"
        "    secret_key: sk-lf-local\n"
    )
    monkeypatch.setenv("KONG_LITEFUSE_CONFIG", str(config))
    with pytest.raises(SettingsError, match=r"langfuse_routes\[0\] \(dev\) base_url uses http://"):
        load_settings()
    monkeypatch.setenv("LANGFUSE_ALLOW_INSECURE_HTTP", "true")
    routes = load_settings().langfuse_routes
    assert [r.base_url for r in routes] == ["http://litefuse.dev.example.com", "http://[::1]:3000"]


def test_a_url_is_printed_without_its_credentials() -> None:
    assert url_without_userinfo("https://user:pass@litefuse.example.com/x") == (
        "https://litefuse.example.com/x"
    )
    assert url_without_userinfo("https://u:p@ss@litefuse.example.com") == (
        "https://litefuse.example.com"
    )
    assert url_without_userinfo("https://litefuse.example.com") == "https://litefuse.example.com"


def test_the_demo_prints_the_litefuse_url_without_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    from pipeline.demo import DemoResult, print_report, sink_name

    monkeypatch.setenv("LANGFUSE_BASE_URL", "https://demo-user:demo-pass@litefuse.example.com")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-1")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-1")
    settings = load_settings()
    console = Console(record=True, width=200)
    print_report(DemoResult(), console, sink_name(settings))  # what `kong-litefuse demo` does
    printed = console.export_text()
    assert "Traces delivered to https://litefuse.example.com" in printed
    assert "demo-user" not in printed and "demo-pass" not in printed


def test_config_file_with_routes_and_env_precedence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "kong_log_topic: from-file\n"
        "traces_topic: traces-from-file\n"
        "langfuse_routes:\n"
        "  - name: dev\n"
        "    match: {environment: development}\n"
        "    base_url: https://dev.litefuse.example.com\n"
        "    public_key: pk-lf-dev\n"
        "    secret_key_env: DEV_SECRET\n"
    )
    monkeypatch.setenv("KONG_LITEFUSE_CONFIG", str(config))
    monkeypatch.setenv("DEV_SECRET", "sk-lf-dev")
    monkeypatch.setenv("TRACES_TOPIC", "from-env")
    settings = load_settings()
    assert settings.kong_log_topic == "from-file"
    assert settings.traces_topic == "from-env"  # environment wins over the file
    (route,) = settings.langfuse_routes
    assert route.keys() == ("pk-lf-dev", "sk-lf-dev")
    monkeypatch.delenv("DEV_SECRET")
    with pytest.raises(SettingsError, match="DEV_SECRET is not set"):
        load_settings()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KONG_LITEFUSE_CONFIG", "/nonexistent/kong-litefuse.yaml")
    with pytest.raises(SettingsError, match="KONG_LITEFUSE_CONFIG"):
        load_settings()


def test_kafka_sasl_and_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(SettingsError, match="KAFKA_SASL_MECHANISM"):
        load_settings()
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "kong")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/etc/ssl/ca.pem")
    settings = load_settings()
    assert client_config(settings) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "kong",
        "sasl.password": "s3cret",
        "ssl.ca.location": "/etc/ssl/ca.pem",
    }
    assert "s3cret" not in repr(settings)


def test_the_worker_sets_its_switch_interval_and_gc_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.runtime import GC_THRESHOLD, SWITCH_INTERVAL_S, tune_interpreter

    monkeypatch.setenv("WORKER_TUNE_MALLOC", "false")
    before, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        sys.setswitchinterval(0.005)
        tune_interpreter(load_settings())
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S) == 0.05
        assert gc.get_threshold() == (GC_THRESHOLD, *thresholds[1:])
    finally:
        sys.setswitchinterval(before)
        gc.set_threshold(*thresholds)


def test_retired_settings_are_accepted_and_named_and_unknown_file_keys_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pipeline.settings import retired_in_use

    monkeypatch.setenv("WORKER_GC_THRESHOLD", "5000")
    assert load_settings()  # an upgrade does not fail on a setting that was removed
    assert retired_in_use() == ["WORKER_GC_THRESHOLD (fixed at 10,000)"]
    config = tmp_path / "config.yaml"
    config.write_text("sink_batch_size: 10\nenrich_max_in_flight: 8\n")
    monkeypatch.setenv("KONG_LITEFUSE_CONFIG", str(config))
    assert load_settings().sink_batch_size == 10
    assert "ENRICH_MAX_IN_FLIGHT (fixed at 4)" in retired_in_use()
    config.write_text("sink_bach_size: 10\n")  # a typo is not silently ignored
    with pytest.raises(
        SettingsError, match="unknown setting 'sink_bach_size': did you mean sink_batch_size"
    ):
        load_settings()


def test_a_helper_applies_the_settings_and_freezes_its_startup_heap() -> None:
    # in a process of its own: a frozen heap is never collected again
    code = (
        "import gc, os, sys\n"
        "from pipeline.enrich import pool\n"
        "from pipeline.settings import load_settings\n"
        "pool._start(load_settings())\n"
        "print(gc.get_threshold()[0], sys.getswitchinterval(), gc.get_freeze_count())\n"
    )
    env = dict(os.environ)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    threshold, interval, frozen = done.stdout.split()
    assert int(threshold) == 10_000 and float(interval) == pytest.approx(0.05)
    assert int(frozen) > 10_000  # the modules and the enrichment options at least
