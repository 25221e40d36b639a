"""docker-compose.yml, the Dockerfile, infra/k8s and infra/grafana stay correct without Docker.

No engine runs here, so these tests hold the files to what the code defines: setting names,
commands, ports, metric names, files that exist.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from pipeline import metrics
from pipeline.cli import app
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "infra" / "k8s"
DASHBOARD = ROOT / "infra" / "grafana" / "kong-litefuse-dashboard.json"
OUR_IMAGE = "kong-litefuse"


def _cli() -> Any:
    """The click command tree typer builds (typer vendors click: duck-typed, not isinstance)."""
    command = typer.main.get_command(app)
    assert hasattr(command, "commands")
    return command


def _setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def _ingest_env_names() -> set[str]:
    command = _cli().commands["ingest-http"]
    names: set[str] = set()
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            names.add(envvar)
        elif envvar:
            names.update(envvar)
    return names


def _check_command(args: list[str]) -> None:
    """``args`` (after the entrypoint) is a real kong-litefuse command with real options."""
    group = _cli()
    rest = list(args)
    while hasattr(group, "commands"):
        assert rest, f"{args}: no command"
        name = rest.pop(0)
        assert name in group.commands, f"{args}: no command {name!r}"
        group = group.commands[name]
    known = {opt for p in group.params for opt in (*p.opts, *p.secondary_opts)}
    for arg in rest:
        if arg.startswith("--"):
            assert arg.split("=", 1)[0] in known, f"{args}: no option {arg}"


# --- compose -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


def _ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if "build" in service or str(service.get("image", "")).startswith(OUR_IMAGE)
    }


def test_compose_has_the_whole_stack(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "kafka",
        "topic-init",
        "kong",
        "worker",
        "langfuse-web",
        "langfuse-worker",
        "postgres",
        "clickhouse",
        "redis",
        "minio",
    }
    assert expected <= set(services)
    assert set(_ours(compose)) == {"topic-init", "worker", "kong-litefuse-ingest"}
    for name, service in _ours(compose).items():
        assert service["build"] == ".", name
        assert service["image"] == f"{OUR_IMAGE}:local", name


def test_kafka_runs_kraft_and_listeners_match(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert "broker" in env["KAFKA_PROCESS_ROLES"] and "controller" in env["KAFKA_PROCESS_ROLES"]
    assert "ZOOKEEPER" not in " ".join(env)
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    listeners = dict(item.split("://", 1) for item in env["KAFKA_LISTENERS"].split(","))
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert set(listeners) == set(protocols)
    assert set(advertised) <= set(listeners)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in advertised
    # what our services use is what the broker advertises inside the network
    internal = advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]
    for name, service in _ours(compose).items():
        assert service["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == internal, name


def test_pipeline_services_set_only_real_settings(compose: dict[str, Any]) -> None:
    allowed = _setting_names() | _ingest_env_names()
    for name, service in _ours(compose).items():
        unknown = set(service["environment"]) - allowed
        assert not unknown, f"{name} sets {sorted(unknown)}: not settings of the pipeline"


def test_pipeline_services_run_real_commands(compose: dict[str, Any]) -> None:
    for service in _ours(compose).values():
        _check_command(service["command"])
    assert compose["services"]["topic-init"]["command"] == ["topics", "create"]
    assert compose["services"]["worker"]["command"][0] == "worker"


def test_workers_scale(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker
    env = worker["environment"]
    assert env["WORKER_WEB_HOST"] == "0.0.0.0"
    assert worker["expose"] == [env["WORKER_WEB_PORT"]]
    assert env["LANGFUSE_BASE_URL"] == "http://langfuse-web:3000"
    assert "6066/healthz" in " ".join(worker["healthcheck"]["test"])
    assert worker["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
    partitions = int(compose["services"]["topic-init"]["environment"]["TOPIC_PARTITIONS"])
    assert partitions >= 3  # the README's --scale worker=3 gives every worker a partition


def test_worker_keys_match_the_langfuse_project_it_creates(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]["environment"]
    web = compose["services"]["langfuse-web"]["environment"]
    assert worker["LANGFUSE_PUBLIC_KEY"] == web["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]
    assert worker["LANGFUSE_SECRET_KEY"] == web["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    port = compose["services"]["langfuse-web"]["ports"][0].rsplit(":", 1)[1]
    assert worker["LANGFUSE_BASE_URL"].endswith(f":{port}")


def test_published_ports_are_loopback_and_unique(compose: dict[str, Any]) -> None:
    seen: set[str] = set()
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
            host = port.rsplit(":", 1)[0]
            assert host not in seen, f"{name}: {host} published twice"
            seen.add(host)


def test_depends_on_names_real_services_with_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on", {})
        for other, condition in depends.items():
            assert other in services, f"{name} depends on unknown {other}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[other], f"{other} has no healthcheck"
            if services[other].get("profiles"):
                assert service.get("profiles") == services[other]["profiles"], name


def test_kong_services_mount_generated_configs(compose: dict[str, Any]) -> None:
    for name in ("kong", "kong-oss"):
        kong = compose["services"][name]
        source, target = kong["volumes"][0].split(":")[:2]
        assert (ROOT / source).resolve() == ROOT / "infra" / "kong"
        config = kong["environment"]["KONG_DECLARATIVE_CONFIG"]
        assert config.startswith(target + "/")
        path = ROOT / "infra" / "kong" / config.removeprefix(target + "/")
        document = yaml.safe_load(path.read_text())
        plugins = [p["name"] for s in document["services"] for p in s["plugins"]]
        assert ("kafka-log" if name == "kong" else "http-log") in plugins
        if name == "kong":
            kafka = next(
                p for s in document["services"] for p in s["plugins"] if p["name"] == "kafka-log"
            )
            assert kafka["config"]["bootstrap_servers"] == [{"host": "kafka", "port": 9092}]
            assert (
                kafka["config"]["topic"]
                == compose["services"]["worker"]["environment"]["KONG_LOG_TOPIC"]
            )
            # Kong's declarative version matches the image's
            assert f"Kong Gateway {kong['image'].split(':')[1]};" in path.read_text()
        else:
            http = next(
                p for s in document["services"] for p in s["plugins"] if p["name"] == "http-log"
            )
            ingest = compose["services"]["kong-litefuse-ingest"]
            port = ingest["environment"]["INGEST_HTTP_PORT"]
            assert http["config"]["http_endpoint"] == f"http://kong-litefuse-ingest:{port}/ingest"
            assert (
                kong["environment"]["INGEST_HTTP_TOKEN"]
                == ingest["environment"]["INGEST_HTTP_TOKEN"]
            )
            assert ingest["environment"]["INGEST_HTTP_HOST"] == "0.0.0.0"


def test_dockerfile_builds_the_cli_and_ships_what_the_wheel_needs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE):
        for name in copied.split():
            assert (ROOT / name).exists(), f"Dockerfile copies missing {name}"
    assert 'ENTRYPOINT ["kong-litefuse"]' in dockerfile
    assert re.search(r"^USER \d+$", dockerfile, re.MULTILINE)
    assert "EXPOSE 6066" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    for needed in ("pipeline", "schemas", "pyproject.toml", "README.md"):
        assert needed not in ignored


# --- Kubernetes ----------------------------------------------------------------------------


def _k8s() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents[document["kind"]] = document
    return documents


def test_kustomization_lists_existing_files_and_not_the_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (K8S / resource).is_file(), resource
    assert "secret.example.yaml" not in kustomization["resources"]
    listed = set(kustomization["resources"]) | {"kustomization.yaml", "secret.example.yaml"}
    assert {p.name for p in K8S.glob("*.yaml")} == listed


def _container(kind: str) -> dict[str, Any]:
    document = _k8s()[kind]
    spec = document["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return container


def test_deployment_probes_env_and_resources() -> None:
    container = _container("Deployment")
    env = {item["name"]: item for item in container["env"]}
    assert set(env) <= _setting_names(), set(env) - _setting_names()
    assert env["WORKER_WEB_HOST"]["value"] == "0.0.0.0"
    port = int(env["WORKER_WEB_PORT"]["value"])
    assert container["ports"] == [{"name": "web", "containerPort": port}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ("web", port)
    secret = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    for name in ("LANGFUSE_BASE_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"]
        assert ref["key"] in secret["stringData"]
    assert set(secret["stringData"]) <= _setting_names()
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    _check_command(container["args"])
    _check_command(_container("Job")["args"])
    assert set(item["name"] for item in _container("Job")["env"]) <= _setting_names()


def test_scaledobject_pdb_and_service_select_the_worker() -> None:
    docs = _k8s()
    deployment = docs["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert docs["Service"]["spec"]["selector"].items() <= labels.items()

    scaled = docs["ScaledObject"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    meta = trigger["metadata"]
    env = {item["name"]: item.get("value") for item in _container("Deployment")["env"]}
    assert meta["consumerGroup"] == env["CONSUMER_GROUP"] == "kong-litefuse"
    assert meta["topic"] == env["KONG_LOG_TOPIC"] == "kong-logs"
    assert meta["bootstrapServers"] == env["KAFKA_BOOTSTRAP_SERVERS"]
    assert int(meta["lagThreshold"]) > 0
    # more workers than partitions would sit idle
    job_env = {item["name"]: item.get("value") for item in _container("Job")["env"]}
    assert scaled["spec"]["maxReplicaCount"] <= int(job_env["TOPIC_PARTITIONS"])


# --- Grafana -------------------------------------------------------------------------------


def _exposed_metric_names() -> set[str]:
    """What Prometheus scrapes for each family in pipeline/metrics.py."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("_count", "_sum", "_created", ""),
        "gauge": ("",),
    }
    names: set[str] = set()
    for family in metrics.REGISTRY.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names


def test_dashboard_queries_only_metrics_that_exist() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    queries = [*exprs, *(v.get("definition", "") for v in dashboard["templating"]["list"])]
    assert len(exprs) >= 10
    used = {name for q in queries for name in re.findall(r"\bkong_litefuse_[a-z_]+", q)}
    exposed = _exposed_metric_names()
    assert used and used <= exposed, sorted(used - exposed)
    # every counter is queried as a rate of its _total series
    counters = {f.name for f in metrics.REGISTRY.collect() if f.type == "counter"}
    assert not {name for name in used if name in counters}, "counters need the _total suffix"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_operations_doc_names_files_that_exist() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    paths = set(re.findall(r"\b((?:infra|pipeline|docs)/[\w./-]*\w)", text))
    assert len(paths) >= 5
    for path in paths:
        assert (ROOT / path).exists(), f"docs/operations.md names missing {path}"
    for name in ("kong.yaml", "kong-ai-gateway.yaml", "kong-sasl-tls.yaml", "kong-admin-api.sh"):
        assert (ROOT / "infra" / "kong" / name).is_file()
