"""Dead letters go back to their source topic once, unchanged; filters and dry runs move nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipeline.delivery.deadletter import DeadLetter, dead_letter_headers
from pipeline.delivery.redrive import redrive
from tests.conftest import ROOT, Names, consume_all
from tests.factories import kong_record, trace

pytestmark = pytest.mark.integration


def _letters(kafka_bootstrap: str, names: Names) -> list[bytes]:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    values = []
    for i in range(4):
        value = json.dumps(kong_record(i)).encode()
        letter = DeadLetter(
            stage="enrich",
            reason="internal error: KeyError: 'x'" if i % 2 else "not JSON: bad",
            value=value,
            source_topic=names.kong,
            source_partition=0,
            source_offset=i,
        )
        producer.produce(names.dlq, value=value, headers=dead_letter_headers(letter))
        values.append(value)
    rejected = trace(99)
    letter = DeadLetter.for_trace(rejected, 400, "invalid usage")
    producer.produce(
        names.dlq, key=letter.key, value=letter.value, headers=dead_letter_headers(letter)
    )
    values.append(letter.value)
    producer.flush(10)
    return values


def test_redrive_moves_each_letter_back_once(kafka_bootstrap: str, names: Names) -> None:
    values = _letters(kafka_bootstrap, names)
    common = {
        "group_id": f"{names.group}-redrive",
        "kong_topic": names.kong,
        "traces_topic": names.traces,
        "timeout": 30.0,
    }
    dry = redrive(kafka_bootstrap, names.dlq, dry_run=True, **common)  # type: ignore[arg-type]
    assert dry.read == 5 and dry.redriven == 0
    filtered = redrive(
        kafka_bootstrap,
        names.dlq,
        reason_contains="internal error",
        **common,  # type: ignore[arg-type]
    )
    assert filtered.redriven == 2 and filtered.filtered == 3

    summary = redrive(kafka_bootstrap, names.dlq, **common)  # type: ignore[arg-type]
    assert summary.read == 5 and summary.redriven == 5
    assert summary.by_target == {names.kong: 4, names.traces: 1}
    again = redrive(kafka_bootstrap, names.dlq, **common)  # type: ignore[arg-type]
    assert again.read == 0 and again.redriven == 0

    kong = consume_all(kafka_bootstrap, names.kong, expected=6, timeout=20)
    # 2 from the filtered run + 4 from the full run: the values came back unchanged
    assert sorted(m.value() for m in kong) == sorted(values[1:4:2] + values[:4])
    traces = consume_all(kafka_bootstrap, names.traces, expected=1, timeout=20)
    assert [m.value() for m in traces] == [values[4]]


def test_redrive_command(kafka_bootstrap: str, names: Names) -> None:
    _letters(kafka_bootstrap, names)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KONG_LOG_TOPIC": names.kong,
        "TRACES_TOPIC": names.traces,
        "DEAD_LETTER_TOPIC": names.dlq,
        "CONSUMER_GROUP": names.group,
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "redrive"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "read 5, moved 5" in result.stdout
    assert f"{names.kong}: 4" in result.stdout
