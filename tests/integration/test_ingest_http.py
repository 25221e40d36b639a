"""`kong-litefuse ingest-http` as a process on 127.0.0.1, publishing to the real broker."""

from __future__ import annotations

import asyncio
import gzip
import os
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from aiohttp import web

from pipeline.broker import EmbeddedBroker, free_port
from pipeline.ops.ingest_http import IngestConfig, IngestConfigError, check_config, split_records
from tests.conftest import EXAMPLES, ROOT, Names, consume_all
from tests.integration.test_codecs import batch_codecs

pytestmark = pytest.mark.integration

TOKEN = "ingest-token-0123456789"
BASIC = ("kong", "basic-password-0123")
MAX_BODY = 256 * 1024


class IngestProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = int(env["INGEST_HTTP_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "ingest-http"],
            env=env,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
        )

    def wait_up(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ingest-http exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"ingest-http not up after {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


@pytest.fixture
def start_ingest(tmp_path: Path) -> Iterator[Callable[..., IngestProcess]]:
    started: list[IngestProcess] = []

    def start(bootstrap: str, topic: str, **extra: str) -> IngestProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INGEST_HTTP_", "KONG_"))}
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KONG_LOG_TOPIC": topic,
                "INGEST_HTTP_PORT": str(free_port()),
                "INGEST_HTTP_TOKEN": TOKEN,
                "INGEST_HTTP_BASIC_USER": BASIC[0],
                "INGEST_HTTP_BASIC_PASSWORD": BASIC[1],
                "INGEST_HTTP_MAX_BODY_BYTES": str(MAX_BODY),
                "LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
                **extra,
            }
        )
        process = IngestProcess(env, tmp_path / f"ingest-{len(started)}.log")
        started.append(process)
        process.wait_up()
        return process

    yield start
    for process in started:
        process.stop()
        assert TOKEN not in process.log() and BASIC[1] not in process.log()


def _records() -> list[dict[str, object]]:
    return [orjson.loads(p.read_bytes()) for p in sorted(EXAMPLES.glob("*.json"))]


def _auth() -> dict[str, str]:
    return {"x-kong-litefuse-token": TOKEN}


def test_a_batch_is_published_one_record_each_keyed_by_request_id(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong)
    records = _records()
    response = httpx.post(
        f"{ingest.url}/ingest", content=orjson.dumps(records), headers=_auth(), timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"published": len(records)}

    messages = consume_all(kafka_bootstrap, names.kong, len(records), timeout=30)
    assert len(messages) == len(records)
    published = sorted((orjson.loads(m.value()) for m in messages), key=orjson.dumps)
    assert published == sorted(records, key=orjson.dumps)
    for message in messages:
        request_id = orjson.loads(message.value())["request"].get("id")
        assert message.key() == (request_id.encode() if request_id else None)


def test_a_single_object_arrives_byte_for_byte_and_basic_auth_works(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong)
    body = (EXAMPLES / "03-openai-chat-stream.json").read_bytes()
    response = httpx.post(f"{ingest.url}/", content=body, auth=BASIC, timeout=30)
    assert response.status_code == 200, response.text
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(ingest.url, content=body, headers=bearer, timeout=30).status_code == 200
    messages = consume_all(kafka_bootstrap, names.kong, 2, timeout=30)
    assert [m.value() for m in messages] == [body, body]
    assert httpx.get(f"{ingest.url}/readyz", timeout=10).status_code == 200


def test_bad_requests_are_refused_and_nothing_is_published(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong)
    good = (EXAMPLES / "01-openai-chat.json").read_bytes()

    def post(content: bytes, headers: dict[str, str] | None = None, **kw: object) -> httpx.Response:
        return httpx.post(
            f"{ingest.url}/ingest",
            content=content,
            headers=_auth() if headers is None else headers,
            timeout=30,
            **kw,  # type: ignore[arg-type]
        )

    unauthorised = post(good, headers={})
    assert unauthorised.status_code == 401
    assert unauthorised.headers["WWW-Authenticate"].startswith("Basic")
    assert post(good, headers={"x-kong-litefuse-token": "wrong"}).status_code == 401
    assert post(good, headers={}, auth=("kong", "wrong")).status_code == 401

    for content, reason in [
        (b"{not json", "not JSON"),
        (b"[]", "empty JSON array"),
        (b'[{"request": {}}, 42]', "item 1 is a JSON int"),
        (b'{"hello": "world"}', "not a Kong log record"),
    ]:
        response = post(content)
        assert response.status_code == 400, (content, response.text)
        assert reason in response.json()["error"]

    compact = orjson.dumps(orjson.loads(good))
    too_big = orjson.dumps([orjson.loads(good)] * (MAX_BODY // len(compact) + 2))
    assert len(too_big) > MAX_BODY
    response = post(too_big)
    assert response.status_code == 413, response.text
    assert "over" in response.json()["error"]
    chunked = post(iter([too_big[:1000], too_big[1000:]]))  # no Content-Length
    assert chunked.status_code == 413, chunked.text

    # nothing above reached the topic: only this marker record is there
    assert post(good).status_code == 200
    assert len(consume_all(kafka_bootstrap, names.kong, 2, timeout=5)) == 1


def test_503_when_kafka_is_unavailable(
    tmp_path: Path, start_ingest: Callable[..., IngestProcess]
) -> None:
    # ingest-http refuses to start without Kafka (the command checks first), so Kafka goes
    # away once it serves: a broker of its own, stopped
    with EmbeddedBroker() as gone:
        ingest = start_ingest(
            gone.bootstrap_servers, "kong-logs", INGEST_HTTP_DELIVERY_TIMEOUT="1.5"
        )
    body = (EXAMPLES / "01-openai-chat.json").read_bytes()
    started = time.monotonic()
    response = httpx.post(f"{ingest.url}/ingest", content=body, headers=_auth(), timeout=30)
    assert response.status_code == 503, response.text
    assert "Kafka unavailable" in response.json()["error"]
    assert time.monotonic() - started < 10
    assert httpx.get(f"{ingest.url}/readyz", timeout=10).status_code == 503


def test_a_record_over_the_kafka_limit_is_413_not_retried() -> None:
    big = {"request": {"id": "r1", "body": "x" * 5000}, "response": {"status": 200}}
    with pytest.raises(web.HTTPRequestEntityTooLarge) as raised:
        split_records(orjson.dumps([big]), max_record_bytes=4096)
    assert "record limit" in raised.value.text
    assert split_records(orjson.dumps(big), max_record_bytes=8192)[0][0] == b"r1"


@pytest.mark.parametrize("codec", ["lz4", "zstd", "none"])
def test_the_published_records_use_the_configured_codec(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess], codec: str
) -> None:
    extra = {} if codec == "lz4" else {"INGEST_HTTP_COMPRESSION": codec}  # lz4: the default
    ingest = start_ingest(kafka_bootstrap, names.kong, **extra)
    records = _records()
    response = httpx.post(
        f"{ingest.url}/ingest", content=orjson.dumps(records), headers=_auth(), timeout=30
    )
    assert response.status_code == 200, response.text
    codecs = batch_codecs(kafka_bootstrap, names.kong)
    assert codecs and set(codecs) == {codec}


def test_an_unknown_codec_stops_the_start(tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "INGEST_HTTP_COMPRESSION": "xz"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "ingest-http", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "--compression must be one of" in done.stderr


# --- bounded by design: records per request, inflated size, memory -----------------------------


def _post(ingest: IngestProcess, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{ingest.url}/ingest", content=content, headers={**_auth(), **headers}, timeout=60
    )


def _tiny_records(size: int) -> bytes:
    """A JSON array of the smallest Kong records (``{"request":{}}``), about ``size`` bytes."""
    item = b'{"request":{}}'
    return b"[" + b",".join([item] * (size // (len(item) + 1))) + b"]"


def _bomb(inflated: int, encoding: str = "gzip") -> bytes:
    """Zeros that inflate to ``inflated`` bytes, compressed a MB at a time (never held whole)."""
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}[encoding]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    chunk = b"\0" * 1_000_000
    parts = [packer.compress(chunk) for _ in range(inflated // len(chunk))]
    return b"".join([*parts, packer.flush()])


def _nothing_published(bootstrap: str, topic: str, ingest: IngestProcess) -> bool:
    """Only the marker record posted now is on the topic: nothing before it got there."""
    marker = (EXAMPLES / "01-openai-chat.json").read_bytes()
    assert _post(ingest, marker).status_code == 200
    return len(consume_all(bootstrap, topic, 2, timeout=5)) == 1


def test_a_batch_over_the_record_cap_is_413_and_nothing_is_published(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong, INGEST_HTTP_MAX_RECORDS="10")
    record = orjson.loads((EXAMPLES / "01-openai-chat.json").read_bytes())
    over = _post(ingest, orjson.dumps([record] * 11))
    assert over.status_code == 413, over.text
    assert "more than 10 records" in over.json()["error"]
    tiny = _post(ingest, _tiny_records(200_000))  # ~13,000 records in 200 KB
    assert tiny.status_code == 413, tiny.text
    assert _nothing_published(kafka_bootstrap, names.kong, ingest)
    assert _post(ingest, orjson.dumps([record] * 10)).status_code == 200


def test_a_few_records_holding_many_tiny_objects_are_413_and_nothing_is_published(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    # the record cap moved one level down: one record, 60,000 objects in 180 KB
    ingest = start_ingest(kafka_bootstrap, names.kong, INGEST_HTTP_MAX_RECORDS="10")
    inner = b"[" + b",".join([b"{}"] * 60_000) + b"]"
    response = _post(ingest, b'[{"request": {"x": ' + inner + b"}}]")
    assert response.status_code == 413, response.text
    assert "brackets, braces and commas" in response.json()["error"]
    assert _nothing_published(kafka_bootstrap, names.kong, ingest)


def test_an_unterminated_string_is_refused_in_linear_time() -> None:
    # a quote, then escaped quotes: a plain string regex tried every start, O(n^2) (~30 s here)
    body = b'[{"request": "' + b'\\"' * 50_000
    started = time.monotonic()
    with pytest.raises(web.HTTPBadRequest):
        split_records(body, max_record_bytes=1_000_000, max_records=1000)
    assert time.monotonic() - started < 2.0


def test_real_records_are_far_under_the_structure_budget() -> None:
    from pipeline.bench.mix import generate
    from pipeline.ops.ingest_http import STRUCTURE_PER_RECORD, shape

    values = []  # the bench's realistic mix, less the malformed records it holds on purpose
    for value in generate(2000):
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError:
            continue
        if isinstance(document, dict) and "request" in document:
            values.append(value)
    assert max(shape(value, 1)[1] for value in values) * 4 < STRUCTURE_PER_RECORD
    batch = b"[" + b",".join(values[:1000]) + b"]"
    assert len(split_records(batch, max_record_bytes=1_000_000, max_records=1000)) == 1000


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_inflated_and_published(
    kafka_bootstrap: str,
    names: Names,
    start_ingest: Callable[..., IngestProcess],
    encoding: str,
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong)
    records = _records()
    body = orjson.dumps(records)
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -15}
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits[encoding])
    packed = packer.compress(body) + packer.flush()
    header = "gzip" if encoding == "gzip" else "deflate"
    response = _post(ingest, packed, **{"content-encoding": header})
    assert response.status_code == 200, response.text
    assert response.json() == {"published": len(records)}
    assert len(consume_all(kafka_bootstrap, names.kong, len(records), timeout=30)) == len(records)


def test_a_body_that_inflates_past_the_limit_is_413_and_nothing_is_published(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong)  # MAX_BODY: 256 KiB
    for encoding in ("gzip", "deflate"):
        bomb = _bomb(20_000_000, encoding)
        assert len(bomb) < MAX_BODY  # small as sent: only its inflated size is over
        response = _post(ingest, bomb, **{"content-encoding": encoding})
        assert response.status_code == 413, response.text
        assert "inflates to more than" in response.json()["error"]
    assert _nothing_published(kafka_bootstrap, names.kong, ingest)


def test_broken_input_is_4xx_with_one_log_line_and_no_traceback(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong)
    good = (EXAMPLES / "01-openai-chat.json").read_bytes()
    # a token that is not UTF-8: 401, not 500
    bad_token = httpx.post(
        f"{ingest.url}/ingest",
        content=good,
        headers=[(b"x-kong-litefuse-token", b"\xff\xfe\xc3(")],
        timeout=30,
    )
    assert bad_token.status_code == 401, bad_token.text
    bearer = httpx.post(
        f"{ingest.url}/ingest",
        content=good,
        headers=[(b"authorization", b"Bearer \xff\xfe")],
        timeout=30,
    )
    assert bearer.status_code == 401, bearer.text
    # a body that is not what its Content-Encoding says: 400, not 500
    for encoding, body in [
        ("deflate", b"this is not deflate"),
        ("gzip", b"\x1f\x8b\x08\x00garbage"),
        ("gzip", gzip.compress(good)[:-20]),  # truncated
    ]:
        response = _post(ingest, body, **{"content-encoding": encoding})
        assert response.status_code == 400, (encoding, response.text)
    unsupported = _post(ingest, good, **{"content-encoding": "br"})
    assert unsupported.status_code == 415, unsupported.text
    # a record nested deeper than a Kafka record of ours may be: 400 (a 500 is retried forever)
    deep = b'[{"request": {"x": ' + b"[" * 300 + b"]" * 300 + b"}}]"
    nested = _post(ingest, deep)
    assert nested.status_code == 400, nested.text
    assert "nested" in nested.json()["error"]
    too_deep = b'[{"request": {"x": ' + b"[" * 2000 + b"]" * 2000 + b"}}]"
    assert _post(ingest, too_deep).status_code == 400
    assert _nothing_published(kafka_bootstrap, names.kong, ingest)
    log = ingest.log()
    assert "Traceback" not in log, log
    assert log.count("refused") >= 8, log


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_memory_stays_bounded_under_bombs_and_tiny_records(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    # the defaults: 10 MiB bodies, 1,000 records per request (1,000,000 brackets and commas)
    ingest = start_ingest(
        kafka_bootstrap, names.kong, INGEST_HTTP_MAX_BODY_BYTES=str(10 * 1024 * 1024)
    )
    pid = ingest.process.pid
    # warm up (imports, the producer's buffers): one real batch
    assert _post(ingest, orjson.dumps(_records())).status_code == 200
    before = _status_kb(pid, "VmRSS")
    bombs = _bomb(1_000_000_000)  # ~1 MB that inflates to 1 GB
    assert len(bombs) < 1_100_000

    async def eight_at_once() -> list[int]:
        async with httpx.AsyncClient(timeout=120) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        f"{ingest.url}/ingest",
                        content=bombs,
                        headers={**_auth(), "content-encoding": "gzip"},
                    )
                    for _ in range(8)
                )
            )
        return [a.status_code for a in answers]

    assert asyncio.run(eight_at_once()) == [413] * 8
    tiny = _post(ingest, _tiny_records(1_000_000))  # ~66,000 records in 1 MB
    assert tiny.status_code == 413, tiny.text
    dense = b'[{"request": {"x": [' + b",".join([b"{}"] * 700_000) + b"]}}]"  # 2 MB, 1 record
    assert _post(ingest, dense).status_code == 413
    peak = _status_kb(pid, "VmHWM")
    after = _status_kb(pid, "VmRSS")
    print(
        f"ingest-http RSS: {before / 1024:.0f} MB before, peak {peak / 1024:.0f} MB, "
        f"{after / 1024:.0f} MB after"
    )
    assert peak - before < 50 * 1024, f"peak {peak // 1024} MB from {before // 1024} MB"
    assert after - before < 50 * 1024
    # nothing of the refused requests reached the topic: only the warm-up batch is there
    warm_up = len(_records())
    assert len(consume_all(kafka_bootstrap, names.kong, warm_up + 1, timeout=5)) == warm_up


NO_CREDENTIALS = {
    "INGEST_HTTP_TOKEN": "",
    "INGEST_HTTP_BASIC_USER": "",
    "INGEST_HTTP_BASIC_PASSWORD": "",
}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.7", "127.1", "ingest.internal"])
def test_without_credentials_a_non_loopback_bind_is_refused(host: str) -> None:
    config = IngestConfig(bootstrap_servers="127.0.0.1:9", topic="t", host=host)
    with pytest.raises(IngestConfigError, match="--allow-no-auth"):
        check_config(config)
    check_config(IngestConfig(bootstrap_servers="127.0.0.1:9", topic="t", host=host, token="x"))
    for loopback in ("127.0.0.1", "localhost", "::1"):
        check_config(IngestConfig(bootstrap_servers="127.0.0.1:9", topic="t", host=loopback))


def test_the_command_refuses_to_start_without_credentials_on_a_non_loopback_bind() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_HTTP_")}
    env.update(
        {
            **NO_CREDENTIALS,
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
            # not loopback to the check, yet it would bind 127.0.0.1 if the check failed
            "INGEST_HTTP_HOST": "127.1",
            "INGEST_HTTP_PORT": str(free_port()),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "ingest-http"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "without credentials" in done.stderr and "--allow-no-auth" in done.stderr


def test_allow_no_auth_serves_without_credentials_and_says_so(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    # "127.1" is not loopback to the check (only 127.0.0.0/8 written in full, localhost and ::1
    # are), yet binds 127.0.0.1: the non-loopback path without leaving this host
    ingest = start_ingest(
        kafka_bootstrap,
        names.kong,
        **NO_CREDENTIALS,
        INGEST_HTTP_HOST="127.1",
        INGEST_HTTP_ALLOW_NO_AUTH="true",
    )
    body = (EXAMPLES / "01-openai-chat.json").read_bytes()
    assert httpx.post(f"{ingest.url}/ingest", content=body, timeout=30).status_code == 200
    warnings = [
        line for line in ingest.log().splitlines() if "WARNING" in line and "WITHOUT" in line
    ]
    assert warnings, ingest.log()


def test_without_credentials_on_loopback_it_serves_and_logs_it(
    kafka_bootstrap: str, names: Names, start_ingest: Callable[..., IngestProcess]
) -> None:
    ingest = start_ingest(kafka_bootstrap, names.kong, **NO_CREDENTIALS)
    body = (EXAMPLES / "01-openai-chat.json").read_bytes()
    assert httpx.post(f"{ingest.url}/ingest", content=body, timeout=30).status_code == 200
    assert "without credentials (bound to 127.0.0.1 only)" in ingest.log()


def test_requests_past_the_in_flight_budget_are_503_and_the_budget_comes_back(
    start_ingest: Callable[..., IngestProcess],
) -> None:
    # the broker is gone once ingest-http serves: a request holds its records for the whole
    # delivery timeout, so two sent together overlap for certain
    with EmbeddedBroker() as gone:
        ingest = start_ingest(
            gone.bootstrap_servers,
            "kong-logs",
            INGEST_HTTP_DELIVERY_TIMEOUT="3",
            INGEST_HTTP_MAX_IN_FLIGHT_BYTES=str(MAX_BODY + 50_000),
        )
    record = orjson.loads((EXAMPLES / "01-openai-chat.json").read_bytes())
    body = orjson.dumps([record] * 60)
    assert MAX_BODY // 2 < len(body) < MAX_BODY  # one fits the budget, two do not

    async def two_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return list(
                await asyncio.gather(
                    *(
                        client.post(f"{ingest.url}/ingest", content=body, headers=_auth())
                        for _ in range(2)
                    )
                )
            )

    answers = sorted(r.json()["error"] for r in asyncio.run(two_at_once()))
    assert answers[0].startswith("Kafka unavailable"), answers
    assert answers[1].startswith("busy"), answers
    # both done: the budget is whole again, so the next request is not turned away as busy
    again = _post(ingest, body)
    assert again.status_code == 503 and again.json()["error"].startswith("Kafka unavailable")


def test_an_in_flight_budget_below_one_body_is_refused() -> None:
    config = IngestConfig(
        bootstrap_servers="127.0.0.1:9",
        topic="t",
        token="x",
        max_body_bytes=10_000_000,
        max_in_flight_bytes=1_000_000,
    )
    with pytest.raises(IngestConfigError, match="INGEST_HTTP_MAX_IN_FLIGHT_BYTES"):
        check_config(config)
