"""Compressed Kong topics: whatever codec the producer chose, the worker reads every record.

Any producer may compress (Kong's kafka-log, ``ingest-http``, MirrorMaker, Vector…), and the
worker's consumer (aiokafka, under faust) decodes lz4, snappy and zstd only when the
``cramjam`` package is installed. Without it the worker died with ``UnsupportedCodecError`` on
the first compressed batch, and again after every restart.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from pipeline.kafka import publish
from tests.conftest import Names
from tests.factories import kong_values
from tests.receiver import LitefuseReceiver

pytestmark = pytest.mark.integration

CODECS = ("gzip", "lz4", "zstd", "snappy")
PER_CODEC = 50
# the codec ids of Kafka's record-batch attributes
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def batch_codecs(bootstrap: str, topic: str, partitions: int = 4) -> list[str]:
    """The codec of every record batch of the topic, as the broker serves it (a raw Fetch,
    nothing decompressed): proof that the batches really are compressed, and how."""
    names = {number: name for name, number in CODEC_IDS.items()}

    async def fetch() -> list[str]:
        client = AIOKafkaClient(bootstrap_servers=bootstrap)
        await client.bootstrap()
        try:
            await client.force_metadata_update()
            found: list[str] = []
            for partition in range(partitions):
                node = client.cluster.leader_for_partition(TopicPartition(topic, partition))
                request = FetchRequest(
                    100, 1, 50_000_000, 0, [(topic, [(partition, 0, 50_000_000)])]
                )
                response = await client.send(node, request)
                for _topic, answers in response.topics:
                    for answer in answers:
                        records = MemoryRecords(answer[-1])
                        while records.has_next():
                            batch = records.next_batch()
                            found.append(names.get(batch.compression_type, "?"))
            return found
        finally:
            await client.close()

    return asyncio.run(asyncio.wait_for(fetch(), 30))


def test_every_codec_is_read_and_every_record_is_delivered(
    kafka_bootstrap: str,
    names: Names,
    receiver: LitefuseReceiver,
    worker_env: dict[str, str],
    start_worker,
) -> None:
    worker = start_worker(worker_env)
    worker.wait_ready()
    assert worker.process is not None
    sent: list[str] = []
    for round_, codec in enumerate(CODECS):
        values = kong_values(PER_CODEC, start=round_ * PER_CODEC)
        # linger lets librdkafka put many records in one compressed batch, as Kong's would
        publish(kafka_bootstrap, names.kong, values, **{"compression.type": codec, "linger.ms": 50})
        sent += [f"{(0xC0FFEE << 96) + round_ * PER_CODEC + i:032x}" for i in range(PER_CODEC)]

    assert set(batch_codecs(kafka_bootstrap, names.kong)) == set(CODECS)

    # until every trace arrived, or the worker died (it did, on the first lz4 batch)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.process.poll() is None:
        if set(receiver.trace_ids()) >= set(sent):
            break
        time.sleep(0.1)
    tail = worker.log()[-2000:]
    assert worker.process.poll() is None, f"the worker exited:\n{tail}"
    assert "UnsupportedCodecError" not in worker.log(), tail
    ids = receiver.trace_ids()
    assert sorted(set(ids)) == sorted(sent), f"{len(set(ids))} of {len(sent)} traces\n{tail}"
