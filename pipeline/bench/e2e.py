"""End-to-end benchmark: Kong records on Kafka → worker → a local Litefuse stand-in.

One run, side by side on the same machine and the same topic:

1. **ceiling** — a bare confluent-kafka consumer reading the topic and ``orjson.loads``-ing
   every record (what any Python consumer of this topic pays at least); the median of several
   passes, as one pass ranged over 9,400-15,000 records/s in one afternoon on a shared machine;
2. **full load** — ``kong-litefuse worker`` (child processes, as operators run it) drains the
   same backlog to the receiver (``pipeline.bench.receiver``, another process); sustained
   records/s (records ÷ seconds from the workers owning their partitions to the last trace
   accepted, ramp-up included), HTTP requests per 1,000 traces, bytes per trace, peak RSS, and
   the CPU time each process took meanwhile (worker, its helpers, broker, receiver, this
   harness): what a record costs the worker to run, and who else used the cores;
3. **latency** — records produced at half the measured rate while the worker runs; p50/p99
   of produce → accepted by the receiver;
4. **outage** (optional) — the receiver answers 503 while records keep coming; the worker's
   peak RSS during it, then every trace must arrive once it ends.

Each record's Kong ``request.id`` is rewritten to a unique 32-hex id, which the pipeline uses
as the trace id, so the receiver can tell lost and duplicated traces apart and time each one.
Only 127.0.0.1 is contacted; every wait is bounded by ``timeout``.

Issue 18's targets (this 2-core machine, the bench mix, one worker, ratios from one run),
which ``bench e2e`` prints as yes/no lines: worker CPU (worker + helpers) ≤ 350 µs per record
at full load; records/s at least 0.2 times the bare consumer's (``ratio_to_ceiling``); ≤ 2
Litefuse requests per 1,000 traces; peak RSS ≤ 300 MB at full load and during an outage; p99
≤ 2 s at half rate; no trace lost or duplicated.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import orjson

from pipeline.bench.worker import WorkerProcess
from pipeline.broker import EmbeddedBroker, free_port

WORKER_CPU_TARGET_US = 350.0
"""Most CPU µs per record the worker and its helpers should take at full load (issue 18)."""
RATIO_TARGET = 0.2
"""Least share of the bare consumer's records/s the worker should sustain end to end."""
REQUESTS_TARGET = 2.0
"""Most Litefuse requests per 1,000 traces."""
RSS_TARGET_MB = 300.0
"""Most peak RSS of the worker's processes, at full load and during an outage."""
LATENCY_TARGET_MS = 2000.0
"""Most p99 latency at half the sustained rate."""
PUBLIC_KEY = "pk-lf-bench"
SECRET_KEY = "sk-lf-bench"  # a stand-in receiver's key, not a secret


@dataclass
class E2EResult:
    """Every figure of one run (``to_dict`` for ``--json``)."""

    records: int
    traces_expected: int
    partitions: int
    embedded_broker: bool
    workers: int = 1
    # ceiling
    ceiling_records_per_s: float = 0.0
    """The median of ``ceiling_samples``."""
    ceiling_samples: list[float] = field(default_factory=list)
    # full load
    records_per_s: float = 0.0
    traces_per_s: float = 0.0
    drain_seconds: float = 0.0
    ratio_to_ceiling: float = 0.0
    requests: int = 0
    requests_per_1000_traces: float = 0.0
    bytes_per_trace: float = 0.0
    worker_cpu_ms_per_record: float = 0.0
    """CPU time (user + system) of the worker(s) and their helpers over the full-load phase,
    per record: the cost of running the pipeline, less sensitive to a noisy machine than the
    rate (wall-clock) is. In ms (a saved key); ``worker_cpu_us_per_record`` is the same in µs,
    the target's unit."""
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU seconds over the full-load phase by process: the worker processes, the helpers they
    started (``ENRICH_PROCESSES``), the broker (embedded only), the receiver and this harness;
    next to ``drain_seconds`` they show who used the cores."""
    cores: int = 0
    """CPUs the run may use (this process's affinity)."""
    others_cpu_us_per_record: float = 0.0
    """CPU of the broker and the receiver per record over the full load: what the worker's
    counterparts (Kafka, Litefuse) take of the same cores. The harness's is left out: it
    samples at a fixed pace, a cost of measuring and of the run's length, not of records."""
    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0
    """Sampled twice a second, summed over the worker's processes: pages they share (the
    interpreter, libraries) count once, as in a container's memory limit."""
    # latency at a fixed rate
    latency_rate: float = 0.0
    latency_records: int = 0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    """Produce → accepted by the receiver of each trace of the latency phase, in ms (0.1 ms
    steps), sorted: the distribution behind p50 and p99 (``bench … --plot``)."""
    # outage
    outage_seconds: float = 0.0
    outage_records: int = 0
    outage_peak_rss_mb: float = 0.0
    outage_peak_pss_mb: float = 0.0
    # correctness over the whole run
    traces_received: int = 0
    lost: int = 0
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def worker_cpu_us_per_record(self) -> float:
        """``worker_cpu_ms_per_record`` in µs."""
        return self.worker_cpu_ms_per_record * 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": "e2e",
            **asdict(self),
            "worker_cpu_us_per_record": self.worker_cpu_us_per_record,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> E2EResult:
        """A result read back from ``to_dict``'s JSON (keys it does not know are ignored, those
        of retired targets and the derived ``worker_cpu_us_per_record`` among them)."""
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


# --- helpers ---------------------------------------------------------------------------------
def _with_ids(values: list[bytes], prefix: str, start: int) -> tuple[list[bytes], list[str]]:
    """Give each record a unique Kong request id (= its trace id); non-JSON stays as is."""
    out: list[bytes] = []
    ids: list[str] = []
    for seq, value in enumerate(values, start):
        trace_id = f"{prefix}{seq:024x}"
        try:
            record = orjson.loads(value)
        except orjson.JSONDecodeError:
            out.append(value)
            ids.append(trace_id)
            continue
        if isinstance(record, dict) and isinstance(record.get("request"), dict):
            record["request"]["id"] = trace_id
            value = orjson.dumps(record)
        out.append(value)
        ids.append(trace_id)
    return out, ids


def _expected_traces(values: list[bytes]) -> set[str]:
    """Trace ids the pipeline should deliver: the enrich stage run in-process over the same
    values, with the worker's default settings."""
    from pipeline.bench.enrich import kafka_values
    from pipeline.enrich.stage import StageConfig, Traced, run_stage
    from pipeline.settings import Settings

    config = StageConfig.from_settings(Settings())
    outcomes = run_stage(kafka_values(values), config)
    return {o.key.decode() for o in outcomes if isinstance(o, Traced)}


def _status_mb(pid: int, field: str) -> float:
    """A memory figure of ``/proc/<pid>/status`` (VmRSS, VmHWM = peak) in MB; 0 if unreadable."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _pss_mb(pid: int) -> float:
    """A process's proportional set size (``/proc/<pid>/smaps_rollup``) in MB; 0 if unreadable."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


def proc_stat(pid: int | str) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name, which may hold spaces and
    parentheses (hence the split after its last ")"): state, ppid, … utime, stime at 0, 1, …
    11, 12. Raises OSError for a process that is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """The processes a worker started (its enrich helpers, multiprocessing's tracker), found
    through each process's parent in ``/proc/<pid>/stat``."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int(proc_stat(entry.name)[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo and len(found) < 1024:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _worker_mb(pid: int, field: str) -> float:
    """``_status_mb`` summed over a worker and the processes it started: what it costs. For
    VmHWM the sum of each process's peak, an upper bound of their peak together."""
    return sum(_status_mb(each, field) for each in [pid, *descendants(pid)])


def _fleet_memory(pids: Iterable[int]) -> tuple[float, float]:
    """The largest RSS and the largest PSS now among the workers ``pids``, each summed over a
    worker and the processes it started (found once per worker for both)."""
    rss, pss = 0.0, 0.0
    for pid in pids:
        tree = [pid, *descendants(pid)]
        rss = max(rss, sum(_status_mb(each, "VmRSS") for each in tree))
        pss = max(pss, sum(_pss_mb(each) for each in tree))
    return rss, pss


def _cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU seconds the processes used so far (``/proc/<pid>/stat``); a process
    gone or unreadable counts 0."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = proc_stat(pid)
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ceiling(bootstrap: str, topic: str, count: int, timeout: float) -> float:
    """Records/s of a bare confluent-kafka consumer reading and parsing ``count`` records."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-ceiling-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
        }
    )
    # assign(), not subscribe(): the group join is not what is being measured
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    seen = 0
    started: float | None = None
    deadline = time.monotonic() + timeout
    loads = orjson.loads
    try:
        while seen < count and time.monotonic() < deadline:
            messages = consumer.consume(num_messages=1000, timeout=0.5)
            if messages and started is None:
                started = time.perf_counter()
            for message in messages:
                if message.error():
                    continue
                with contextlib.suppress(orjson.JSONDecodeError):
                    loads(message.value() or b"")
                seen += 1
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()
    return seen / elapsed if elapsed > 0 else 0.0


class _Receiver:
    """The receiver process and its HTTP control/stats API."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.bench.receiver", "--port", str(self.port)],
            stdin=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{self.url}/_stats", timeout=1)
                return
            time.sleep(0.1)
        raise RuntimeError("the benchmark receiver did not start")

    def stats(self, arrivals: bool = True) -> dict[str, Any]:
        """The receiver's counts, and the arrivals unless ``arrivals`` is False."""
        query = "" if arrivals else "?arrivals=0"
        return dict(orjson.loads(httpx.get(f"{self.url}/_stats{query}", timeout=30).content))

    def outage(self, on: bool) -> None:
        httpx.post(f"{self.url}/_outage/{'on' if on else 'off'}", timeout=5)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


def _wait_for(
    receiver: _Receiver,
    expected: set[str],
    timeout: float,
    on_poll: Callable[[], None] = lambda: None,
) -> dict[str, Any]:
    """Poll the receiver until every expected trace arrived (or the timeout).

    Polls count traces only; the arrivals (megabytes of JSON at tens of thousands of traces)
    are fetched once there are enough of them: work the measurement should not add.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        on_poll()
        if receiver.stats(arrivals=False)["traces"] >= len(expected):
            stats = receiver.stats()
            if expected <= {trace_id for trace_id, _ in stats["arrivals"]}:
                return stats
        time.sleep(0.5)
    return receiver.stats()


def _produce_at_rate(
    bootstrap: str, topic: str, values: list[bytes], ids: list[str], rate: float
) -> dict[str, float]:
    """Produce at ``rate`` records/s in 10 ms ticks; returns trace id → produce time."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    sent: dict[str, float] = {}
    started = time.time()
    index = 0
    while index < len(values):
        due = int((time.time() - started) * rate) + 1
        while index < min(due, len(values)):
            while True:
                try:
                    producer.produce(topic, values[index])
                    break
                except BufferError:
                    producer.poll(0.01)
            sent[ids[index]] = time.time()
            index += 1
        producer.poll(0)
        time.sleep(0.01)
    producer.flush(30)
    return sent


@contextlib.contextmanager
def _broker(bootstrap: str | None) -> Iterator[tuple[str, int | None]]:
    """The bootstrap servers, and the embedded broker's process id (None: an external one)."""
    if bootstrap:
        yield bootstrap, None
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap_servers, broker.pid


# --- the run ---------------------------------------------------------------------------------
def run_e2e(
    records: int = 50_000,
    *,
    bootstrap: str | None = None,
    partitions: int = 4,
    workers: int = 1,
    latency_seconds: float = 10.0,
    outage_seconds: float = 0.0,
    seed: int = 7,
    timeout: float = 300.0,
    ceiling_passes: int = 3,
    workdir: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
    worker_env: dict[str, str] | None = None,
) -> E2EResult:
    """Run every phase once (the ceiling ``ceiling_passes`` times); see the module docstring.
    ``bootstrap`` None: embedded broker."""
    from pipeline.bench.mix import generate
    from pipeline.kafka import publish
    from pipeline.ops.topics import ensure_topics, pipeline_topics
    from pipeline.settings import Settings

    run = uuid.uuid4().hex[:8]
    workdir = workdir or Path(os.environ.get("TMPDIR", "/tmp"))
    values, _ = _with_ids(generate(records, seed), run, 0)
    expected = _expected_traces(values)
    result = E2EResult(
        records=records,
        traces_expected=len(expected),
        partitions=partitions,
        embedded_broker=False,
        workers=workers,
    )
    with _broker(bootstrap) as (servers, broker_pid):
        embedded = broker_pid is not None
        result.embedded_broker = embedded
        names = {
            "KONG_LOG_TOPIC": f"bench-{run}-kong-logs",
            "TRACES_TOPIC": f"bench-{run}-ai-traces",
            "DEAD_LETTER_TOPIC": f"bench-{run}-kong-logs.dlq",
            "TRACES_DEAD_LETTER_TOPIC": f"bench-{run}-ai-traces.dlq",
            "CONSUMER_GROUP": f"bench-{run}",
        }
        settings = Settings(
            kafka_bootstrap_servers=servers,
            kong_log_topic=names["KONG_LOG_TOPIC"],
            traces_topic=names["TRACES_TOPIC"],
            dead_letter_topic=names["DEAD_LETTER_TOPIC"],
            traces_dead_letter_topic=names["TRACES_DEAD_LETTER_TOPIC"],
            consumer_group=names["CONSUMER_GROUP"],
        )
        ensure_topics(servers, pipeline_topics(settings), partitions)
        progress(f"publishing {records:,} records")
        publish(servers, names["KONG_LOG_TOPIC"], values, timeout=timeout)

        progress(
            f"ceiling: a bare confluent-kafka consumer reading and parsing them, "
            f"{ceiling_passes} pass(es)"
        )
        result.ceiling_samples = [
            ceiling(servers, names["KONG_LOG_TOPIC"], records, timeout)
            for _ in range(ceiling_passes)
        ]
        result.ceiling_records_per_s = statistics.median(result.ceiling_samples)

        receiver = _Receiver()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGFUSE_", "KONG_"))}
        env.update(names)
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": servers,
                "TOPIC_PARTITIONS": str(partitions),
                "LANGFUSE_BASE_URL": receiver.url,
                "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY,
                "LANGFUSE_SECRET_KEY": SECRET_KEY,
                "WORKER_WEB_PORT": str(free_port()),
                "LOG_LEVEL": "WARNING",
            }
        )
        if embedded:
            env["KAFKA_PRODUCER_MAX_BATCH_BYTES"] = "1"  # Tansu's changelog-recovery quirk
        env.update(worker_env or {})
        fleet: list[WorkerProcess] = []
        samples: list[tuple[float, float]] = []  # (RSS, PSS) at full load

        def sample_rss() -> None:
            samples.append(_fleet_memory(w.pid for w in fleet))

        def peak_rss() -> float:
            return max(_worker_mb(w.pid, "VmHWM") for w in fleet)

        try:
            for index in range(workers):
                if index:
                    env = {**env, "WORKER_WEB_PORT": str(free_port())}
                fleet.append(
                    WorkerProcess(env, workdir / f"bench-e2e-{run}-worker{index}.log").start()
                )
            progress(f"full load: {workers} worker(s) drain the backlog")
            for worker in fleet:
                worker.wait_ready(timeout)

            def cpu() -> dict[str, float]:
                times = os.times()
                return {
                    "workers": _cpu_seconds(w.pid for w in fleet),
                    "helpers": _cpu_seconds(pid for w in fleet for pid in descendants(w.pid)),
                    "broker": _cpu_seconds([broker_pid] if broker_pid else []),
                    "receiver": _cpu_seconds([receiver.process.pid]),
                    "harness": times.user + times.system,
                }

            cpu_at_ready = cpu()
            ready_at = time.time()
            stats = _wait_for(receiver, expected, timeout, sample_rss)
            cpu_at_drained = cpu()
            result.cpu_seconds = {
                name: round(cpu_at_drained[name] - cpu_at_ready[name], 2) for name in cpu_at_ready
            }
            worker_cpu = result.cpu_seconds["workers"] + result.cpu_seconds["helpers"]
            result.worker_cpu_ms_per_record = worker_cpu * 1000 / records
            others = result.cpu_seconds["broker"] + result.cpu_seconds["receiver"]
            result.cores = len(os.sched_getaffinity(0))
            result.others_cpu_us_per_record = others * 1e6 / records
            arrivals = sorted(t for _, t in stats["arrivals"])
            if arrivals:
                # from the worker(s) owning partitions to the last trace accepted: ramp-up
                # (first fetch, first batch) included, so a slight underestimate
                result.drain_seconds = max(arrivals[-1] - ready_at, 1e-3)
                result.records_per_s = records / result.drain_seconds
                result.traces_per_s = len(arrivals) / result.drain_seconds
            result.ratio_to_ceiling = (
                result.records_per_s / result.ceiling_records_per_s
                if result.ceiling_records_per_s
                else 0.0
            )
            result.requests = int(stats["requests"])
            traced = max(int(stats["traces"]), 1)
            result.requests_per_1000_traces = result.requests * 1000 / traced
            result.bytes_per_trace = int(stats["bytes"]) / traced
            result.peak_rss_mb = max([*(rss for rss, _ in samples), peak_rss()])
            result.peak_pss_mb = max((pss for _, pss in samples), default=0.0)

            if latency_seconds > 0 and result.records_per_s > 0:
                rate = result.records_per_s / 2
                count = max(1, int(rate * latency_seconds))
                progress(f"latency: {count:,} records at {rate:,.0f} records/s")
                more, more_ids = _with_ids(generate(count, seed + 1), run, records)
                more_expected = _expected_traces(more)
                sent = _produce_at_rate(servers, names["KONG_LOG_TOPIC"], more, more_ids, rate)
                expected |= more_expected
                stats = _wait_for(receiver, expected, timeout)
                arrived = dict(stats["arrivals"])
                latencies = [(arrived[i] - sent[i]) * 1000 for i in more_expected if i in arrived]
                result.latency_rate = rate
                result.latency_records = count
                result.latency_p50_ms = _percentile(latencies, 0.5)
                result.latency_p99_ms = _percentile(latencies, 0.99)
                result.latencies_ms = sorted(round(ms, 1) for ms in latencies)

            if outage_seconds > 0:
                progress(f"outage: Litefuse answers 503 for {outage_seconds:.0f}s")
                receiver.outage(True)
                count = records
                more, _ = _with_ids(generate(count, seed + 2), run, records * 2)
                expected |= _expected_traces(more)
                publish(servers, names["KONG_LOG_TOPIC"], more, timeout=timeout)
                deadline = time.monotonic() + outage_seconds
                outage: list[tuple[float, float]] = []  # (RSS, PSS)
                while time.monotonic() < deadline:
                    outage.append(_fleet_memory(w.pid for w in fleet))
                    time.sleep(0.5)
                receiver.outage(False)
                stats = _wait_for(receiver, expected, timeout)
                result.outage_seconds = outage_seconds
                result.outage_records = count
                result.outage_peak_rss_mb = max((rss for rss, _ in outage), default=0.0)
                result.outage_peak_pss_mb = max((pss for _, pss in outage), default=0.0)
                result.peak_rss_mb = max(result.peak_rss_mb, peak_rss())
        finally:
            for index, worker in enumerate(fleet):
                if index:
                    time.sleep(2)  # the embedded broker's group quirk: stagger leaving members
                worker.stop()
            final = receiver.stats()
            receiver.stop()
        arrived_ids = {trace_id for trace_id, _ in final["arrivals"]}
        result.traces_received = len(arrived_ids)
        result.lost = len(expected - arrived_ids)
        result.duplicates = int(final["duplicates"])
        if result.lost:
            result.notes.extend(f"worker log: {w.log_path}" for w in fleet)
    return result


def summary_rows(result: E2EResult) -> list[tuple[str, str]]:
    """(figure, value) rows for a table."""
    return [
        ("records (traces expected)", f"{result.records:,} ({result.traces_expected:,})"),
        (
            f"ceiling: bare consumer + orjson, median of {len(result.ceiling_samples)}",
            f"{result.ceiling_records_per_s:,.0f} records/s "
            f"({min(result.ceiling_samples, default=0):,.0f}-"
            f"{max(result.ceiling_samples, default=0):,.0f})",
        ),
        ("worker, sustained", f"{result.records_per_s:,.0f} records/s"),
        ("ratio to the ceiling", f"{result.ratio_to_ceiling:.3f}"),
        (
            f"latency p50 / p99 at {result.latency_rate:,.0f} records/s",
            f"{result.latency_p50_ms:,.0f} / {result.latency_p99_ms:,.0f} ms",
        ),
        ("HTTP requests per 1,000 traces", f"{result.requests_per_1000_traces:.2f}"),
        ("bytes sent per trace", f"{result.bytes_per_trace:,.0f}"),
        (
            "worker CPU per record (full load, worker + helpers)",
            f"{result.worker_cpu_us_per_record:,.0f} µs",
        ),
        (
            "broker and receiver CPU per record (full load)",
            f"{result.others_cpu_us_per_record:,.0f} µs ({result.cores} cores shared)",
        ),
        (
            f"CPU seconds in the {result.drain_seconds:,.1f} s of full load",
            ", ".join(f"{name} {seconds:,.1f}" for name, seconds in result.cpu_seconds.items()),
        ),
        ("worker peak RSS", f"{result.peak_rss_mb:,.0f} MB"),
        ("worker peak RSS during the outage", f"{result.outage_peak_rss_mb:,.0f} MB"),
        (
            "worker peak PSS, sampled (full load / outage)",
            f"{result.peak_pss_mb:,.0f} / {result.outage_peak_pss_mb:,.0f} MB",
        ),
        ("traces lost / duplicated", f"{result.lost} / {result.duplicates}"),
    ]
