"""Side-by-side benchmarks, run in one process so the ratios survive a noisy machine.

    .venv/bin/python benchmarks/bench.py [--traces 2000]

1. enrichment: records/s of ``parse_records`` + ``enrich`` over the bundled and fixture records;
2. delivery to a local Litefuse-compatible receiver: our batched OTLP sink vs one request per
   trace (what the in-Kong Lua plugin does), same traces, same receiver, same run;
3. encoding cost per trace: OTLP protobuf vs legacy JSON.

Only 127.0.0.1 is contacted; every loop is bounded by its input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.enrich import enrich  # noqa: E402
from pipeline.enrich.options import EnrichOptions  # noqa: E402
from pipeline.kong import RecordError, parse_records  # noqa: E402
from pipeline.sinks import LitefuseSink  # noqa: E402
from pipeline.sinks.legacy import encode_batch  # noqa: E402
from pipeline.sinks.otlp import encode_request_bytes, encode_spans  # noqa: E402
from pipeline.trace import Trace  # noqa: E402
from tests.factories import trace  # noqa: E402
from tests.receiver import PUBLIC_KEY, SECRET_KEY, LitefuseReceiver  # noqa: E402


def _records() -> list[bytes]:
    paths = sorted((ROOT / "schemas" / "examples").glob("*.json"))
    paths += sorted((ROOT / "tests" / "fixtures" / "kong").glob("*.json"))
    return [p.read_bytes() for p in paths]


def _best(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_enrich(rounds: int = 20) -> dict[str, float]:
    values = _records()
    options = EnrichOptions()

    def run() -> None:
        for _ in range(rounds):
            for value in values:
                try:
                    for record in parse_records(value):
                        enrich(record, options, content=value)
                except RecordError:
                    pass

    run()  # warm caches (prices, tokenizers)
    seconds = _best(run, repeat=3)
    count = rounds * len(values)
    return {
        "records": count,
        "records_per_s": count / seconds,
        "us_per_record": seconds / count * 1e6,
    }


async def _deliver(traces: list[Trace], batch: int) -> tuple[float, int]:
    with LitefuseReceiver() as receiver:
        sink = LitefuseSink(receiver.base_url, PUBLIC_KEY, SECRET_KEY)
        started = time.perf_counter()
        for i in range(0, len(traces), batch):
            await sink.write(traces[i : i + batch])
        seconds = time.perf_counter() - started
        await sink.aclose()
        assert len(set(receiver.trace_ids())) == len(traces)
        return seconds, len(receiver.requests)


def bench_delivery(count: int) -> dict[str, float]:
    traces = [trace(i) for i in range(count)]
    batched_s, batched_requests = asyncio.run(_deliver(traces, 200))
    single_s, single_requests = asyncio.run(_deliver(traces, 1))
    return {
        "traces": count,
        "batched_s": batched_s,
        "batched_requests": batched_requests,
        "per_trace_s": single_s,
        "per_trace_requests": single_requests,
        "speedup": single_s / batched_s,
        "request_ratio": single_requests / batched_requests,
    }


def bench_encoding(count: int = 500) -> dict[str, float]:
    traces = [trace(i) for i in range(count)]
    otlp = _best(lambda: encode_request_bytes(traces, encode_spans))
    legacy = _best(lambda: orjson.dumps(encode_batch(traces)))
    return {
        "otlp_us_per_trace": otlp / count * 1e6,
        "legacy_us_per_trace": legacy / count * 1e6,
        "otlp_bytes_per_trace": len(encode_request_bytes(traces, encode_spans)) / count,
        "legacy_bytes_per_trace": len(orjson.dumps(encode_batch(traces))) / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traces", type=int, default=2000)
    args = parser.parse_args()
    results = {
        "enrich": bench_enrich(),
        "delivery": bench_delivery(args.traces),
        "encoding": bench_encoding(),
    }
    for name, figures in results.items():
        print(f"## {name}")
        for key, value in figures.items():
            print(f"  {key}: {value:,.2f}" if isinstance(value, float) else f"  {key}: {value}")
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    main()
