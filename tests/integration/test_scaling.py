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


def _consumed(worker: WorkerProcess) -> float:
    found = re.search(r"^kong_litefuse_records_consumed_total (\S+)$", worker.metrics(), re.M)
    return float(found.group(1)) if found else -1.0


def _assignments(worker: WorkerProcess) -> int:
    """How many assignments the worker logged: one more means the group rebalanced."""
    return worker.log().count('"message":"assigned (generation')


_GROUP_EVENTS = re.compile(
    r"assigned|revok|rebalanc|heartbeat|session|rejoin|join|leave|coordinator|error|warn",
    re.I,
)


def _group_history(*workers: WorkerProcess) -> str:
    """Each worker's group events (assignments, revocations, heartbeats, errors) for a report."""
    lines = []
    for index, worker in enumerate(workers):
        lines.append(f"--- worker {index} ({worker.log_path.name}) ---")
        lines += [line[:400] for line in worker.log().splitlines() if _GROUP_EVENTS.search(line)]
    return "\n".join(lines[-200:])


def _wait_for_split(one: WorkerProcess, two: WorkerProcess, topic: str) -> None:
    deadline = time.monotonic() + 60
    mine, theirs = set(), set()
    while time.monotonic() < deadline:
        mine, theirs = _kong_partitions(one, topic), _kong_partitions(two, topic)
        if mine and theirs and not mine & theirs and mine | theirs == {0, 1, 2, 3}:
            return
        time.sleep(1)
    assert mine and theirs, "one worker got no partition\n" + _group_history(one, two)
    assert not mine & theirs, "a partition is owned twice\n" + _group_history(one, two)
    assert mine | theirs == {0, 1, 2, 3}, _group_history(one, two)


def test_two_workers_share_partitions_and_process_each_record_once(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    """Both workers consume while they share the partitions, and no record is traced twice.

    A group may rebalance on its own (a member that misses heartbeats on a loaded machine is
    evicted, and its partitions move): a round in which either worker logged a new assignment
    cannot show the split, so it is repeated once; exactly-once is checked over all rounds.
    """
    one = start_worker(worker_env, name="one")
    two = start_worker({**worker_env, "WORKER_WEB_PORT": str(free_port())}, name="two")
    one.wait_ready()
    two.wait_ready()
    sent = 0
    for attempt in range(2):
        _wait_for_split(one, two, names.kong)
        before = [(_assignments(w), _consumed(w)) for w in (one, two)]
        # Keyed, so the records spread over all four partitions: keyless ones go to one
        # partition per producer batch (librdkafka's sticky partitioning), and a burst could
        # land wholly in one worker's partitions (a clean-clone run did).
        values = kong_values(1000, start=sent)
        keyed = [(f"record-{sent + i}".encode(), value) for i, value in enumerate(values)]
        publish(kafka_bootstrap, names.kong, keyed)
        sent += 1000
        ids = receiver.wait_quiet(sent, timeout=90)  # a stray duplicate arrives before this
        assert len(ids) == sent and len(set(ids)) == sent, _group_history(one, two)
        after = [(_assignments(w), _consumed(w)) for w in (one, two)]
        consumed = [a[1] - b[1] for a, b in zip(after, before, strict=True)]
        assert sum(consumed) == 1000, (consumed, _group_history(one, two))
        if all(c > 0 for c in consumed):
            return
        rebalanced = [a[0] != b[0] for a, b in zip(after, before, strict=True)]
        assert any(rebalanced), (
            f"one worker consumed nothing ({consumed}) without a rebalance\n"
            + _group_history(one, two)
        )
        print(f"round {attempt}: the group rebalanced ({consumed}); once more\n")
        print(_group_history(one, two))
    raise AssertionError("the group rebalanced in both rounds\n" + _group_history(one, two))


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
