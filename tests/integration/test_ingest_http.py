"""`kong-litefuse ingest-http` as a process on 127.0.0.1, publishing to the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from aiohttp import web

from pipeline.broker import free_port
from pipeline.ops.ingest_http import split_records
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
    nobody = f"127.0.0.1:{free_port()}"  # nothing listens there
    ingest = start_ingest(nobody, "kong-logs", INGEST_HTTP_DELIVERY_TIMEOUT="1.5")
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
