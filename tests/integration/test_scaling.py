"""Workers in one consumer group share the partitions; topics grow with add-partitions."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid

import pytest

from pipeline.broker import free_port
from pipeline.kafka import publish
from pipeline.ops.topics import describe_topics
from tests.conftest import ROOT, Names, WorkerProcess
from tests.factories import kong_values
from tests.receiver import LitefuseReceiver

pytestmark = pytest.mark.integration


def _kong_partitions(worker: WorkerProcess, topic: str) -> set[int]:
    pattern = re.compile(
        r'kong_litefuse_consumer_lag\{partition="(\d+)",topic="' + re.escape(topic) + '"'
    )
    return {int(p) for p in pattern.findall(worker.metrics())}


def test_two_workers_share_partitions_and_process_each_record_once(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    one = start_worker(worker_env, name="one")
    two = start_worker({**worker_env, "WORKER_WEB_PORT": str(free_port())}, name="two")
    one.wait_ready()
    two.wait_ready()
    deadline = time.monotonic() + 60
    mine, theirs = set(), set()
    while time.monotonic() < deadline:
        mine, theirs = _kong_partitions(one, names.kong), _kong_partitions(two, names.kong)
        if mine and theirs and mine | theirs == {0, 1, 2, 3}:
            break
        time.sleep(1)
    assert mine and theirs, "one worker got no partition"
    assert not mine & theirs, "a partition is owned twice"
    assert mine | theirs == {0, 1, 2, 3}

    publish(kafka_bootstrap, names.kong, kong_values(1000))
    ids = receiver.wait_for_traces(1000, timeout=90)
    time.sleep(2)
    ids = receiver.trace_ids()
    assert len(set(ids)) == 1000 and len(ids) == 1000
    consumed = [
        float(m.group(1))
        for w in (one, two)
        if (m := re.search(r"^kong_litefuse_records_consumed_total (\S+)$", w.metrics(), re.M))
    ]
    assert len(consumed) == 2 and all(c > 0 for c in consumed) and sum(consumed) == 1000


def _topics_cli(bootstrap: str, names: Names, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KONG_LOG_TOPIC": names.kong,
        "TRACES_TOPIC": names.traces,
        "DEAD_LETTER_TOPIC": names.dlq,
        "TRACES_DEAD_LETTER_TOPIC": names.traces_dlq,
        "CONSUMER_GROUP": names.group,
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "topics", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_topics_add_partitions(noida_bootstrap: str) -> None:
    names = Names(uuid.uuid4().hex[:10])
    assert _topics_cli(noida_bootstrap, names, "create").returncode == 0
    described = _topics_cli(noida_bootstrap, names, "describe").stdout
    assert re.search(re.escape(names.kong) + r"\s+partitions=4\n", described)
    grown = _topics_cli(noida_bootstrap, names, "add-partitions", "8")
    assert grown.returncode == 0, grown.stderr
    assert f"{names.kong}: 4 → 8 partitions" in grown.stdout
    (info,) = describe_topics(noida_bootstrap, [names.kong])
    assert info.partitions == 8
    assert "already 8" in _topics_cli(noida_bootstrap, names, "add-partitions", "8").stdout


def test_add_partitions_on_a_broker_without_it_says_so(kafka_bootstrap: str) -> None:
    names = Names(uuid.uuid4().hex[:10])
    assert _topics_cli(kafka_bootstrap, names, "create").returncode == 0
    result = _topics_cli(kafka_bootstrap, names, "add-partitions", "8")
    if result.returncode == 0:  # a real Kafka cluster (KAFKA_BOOTSTRAP_SERVERS) supports it
        assert "4 → 8 partitions" in result.stdout
        return
    assert result.returncode == 1
    assert "CreatePartitions" in result.stderr and "Traceback" not in result.stderr
