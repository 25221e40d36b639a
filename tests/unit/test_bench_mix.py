"""The benchmark mix: deterministic, in proportion, and every category does what it claims."""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter
from typing import Any

import orjson
import pytest

from pipeline.bench import mix
from pipeline.enrich import EnrichOptions, Skipped, enrich
from pipeline.kong import RecordError, parse_records
from pipeline.trace import SourceRef, Trace

OPTIONS = EnrichOptions()


def _outcome(value: bytes, offset: int) -> Trace | Skipped | RecordError:
    try:
        records = parse_records(value)
        assert len(records) == 1
        return enrich(records[0], OPTIONS, SourceRef(topic="kong-logs", partition=0, offset=offset))
    except RecordError as exc:
        return exc


@pytest.fixture(scope="module")
def enriched() -> dict[str, list[tuple[dict[str, Any] | None, Trace | Skipped | RecordError]]]:
    """600 records by category: (the decoded record or None, what enrichment made of it)."""
    by_category: dict[str, list[tuple[dict[str, Any] | None, Trace | Skipped | RecordError]]] = {}
    for offset, (category, value) in enumerate(mix.generate_labelled(600, seed=11)):
        try:
            document = orjson.loads(value)
        except orjson.JSONDecodeError:
            document = None
        record = document if isinstance(document, dict) else None
        by_category.setdefault(category, []).append((record, _outcome(value, offset)))
    return by_category


def _traces(results: list[tuple[Any, Any]]) -> list[tuple[dict[str, Any], Trace]]:
    assert results
    for _, result in results:
        assert isinstance(result, Trace), result
    return [(record, result) for record, result in results]


# --- determinism and proportions -------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = mix.generate(200, seed=5)
    assert mix.generate(200, seed=5) == first
    assert [value for _, value in mix.generate_labelled(200, seed=5)] == first
    other = mix.generate(200, seed=6)
    assert other != first
    assert len(set(first) & set(other)) == 0


def _digest(labelled: list[tuple[str, bytes]]) -> str:
    """One SHA-256 over (category, length, value) of every record, in order."""
    digest = hashlib.sha256()
    for category, value in labelled:
        digest.update(category.encode() + b"\0" + len(value).to_bytes(8, "big") + value)
    return digest.hexdigest()


# Recorded from the generator as it was before it became a package (pipeline/bench/mix.py at
# 7eacf9a): the same seed must keep giving the same bytes, so figures measured on the mix stay
# comparable across commits. A change to what a category generates must update these on purpose.
PINNED_MIXES = {
    (300, 7, 1.0): "4b0abf8e7831307675f83cb5f8174299029374df595968f72fdba08561e93c84",
    (200, 11, 0.5): "1ed65f8891c438b71102093e581adc1db56dd67ec75e24f36802e64de62c2bf0",
    (200, 3, 4.0): "12c36080039bd499df4d6e69a4fdb775ae46ef22aee42397618ac3ba7138b1b8",
}
PINNED_CATEGORIES = {  # 30 records of one category alone, seed 5
    "chat": "5c995238cd89c7580cde90446c20c0bfae5c91622fbea08128a1269f7a56ef4e",
    "stream": "1559cf80b1bba9d2bf2f42084710e10ad3172bf69375f33d8e337d50b2fc9dce",
    "embeddings": "361c41d1446e7d03b713d9008ce9ca6baf3657e96f523003de011faa6e061cea",
    "anthropic": "b232ec96d82b34fb2d649391f8c71acf1ab0962a107848ef7f5a8e155ef9c2a8",
    "vllm": "1709e49a7f1171994f657156e2d7da2f865be55678ef8417875587684225efa8",
    "kong_ai": "40d3549c9301ccb8edaa3e819f5a41a9f3d6a9d3fb47c5e77b28918a37e3c2f3",
    "error": "43af0218633ec545f6bb6fe7c202eb90fb8cfd5ff55b8bc97978dc8b231df745",
    "non_ai": "479b1bfef0d7b92e3c4a1ec31484082f612b361cf9834a0c67863d992d9b72bf",
    "malformed": "6b68f39e698d2a07f169a202d62b84af16c578b86fd1d01595ac1a316f23eb7f",
}


@pytest.mark.parametrize(("count", "seed", "scale"), list(PINNED_MIXES))
def test_the_mix_keeps_its_bytes(count: int, seed: int, scale: float) -> None:
    labelled = mix.generate_labelled(count, seed, size_scale=scale)
    assert _digest(labelled) == PINNED_MIXES[count, seed, scale]


@pytest.mark.parametrize("category", list(PINNED_CATEGORIES))
def test_each_category_keeps_its_bytes(category: str) -> None:
    only = dict.fromkeys(mix.DEFAULT_WEIGHTS, 0) | {category: 1}
    labelled = mix.generate_labelled(30, 5, weights=only)
    assert {label for label, _ in labelled} == {category}
    assert _digest(labelled) == PINNED_CATEGORIES[category]


def test_default_weights_cover_every_category_and_sum_to_100() -> None:
    assert [c.name for c in mix.CATEGORIES] == list(mix.DEFAULT_WEIGHTS)
    assert sum(mix.DEFAULT_WEIGHTS.values()) == 100
    assert all(weight > 0 for weight in mix.DEFAULT_WEIGHTS.values())
    assert set(mix.EXPECTED.values()) == {"trace", "skipped", "dead_letter"}


def test_each_category_carries_its_generator_from_its_own_module() -> None:
    for category in mix.CATEGORIES:
        assert category.make.__module__ == f"pipeline.bench.mix.categories.{category.name}"
    assert sorted(mix.__all__) == sorted(
        [
            "CATEGORIES",
            "Category",
            "DEFAULT_WEIGHTS",
            "EXPECTED",
            "composition",
            "generate",
            "generate_labelled",
            "parse_weights",
            "plan",
            "resolve_weights",
        ]
    )


def test_proportions_are_exact() -> None:
    assert mix.composition(1000) == {name: int(w * 10) for name, w in mix.DEFAULT_WEIGHTS.items()}
    counts = mix.composition(997, seed=3)
    assert sum(counts.values()) == 997
    for name, weight in mix.DEFAULT_WEIGHTS.items():
        assert abs(counts[name] - 997 * weight / 100) < 1
    labels = [category for category, _ in mix.generate_labelled(997, seed=3)]
    assert Counter(labels) == {k: v for k, v in counts.items() if v}
    assert labels != sorted(labels, key=list(mix.DEFAULT_WEIGHTS).index)  # shuffled


def test_weights_can_be_changed_and_bad_ones_are_refused() -> None:
    weights = mix.parse_weights("malformed=0, stream=45")
    assert weights["malformed"] == 0 and weights["stream"] == 45
    assert weights["chat"] == mix.DEFAULT_WEIGHTS["chat"]
    counts = mix.composition(500, weights=weights)
    assert counts["malformed"] == 0
    assert counts["stream"] > counts["chat"]
    only_chat = mix.resolve_weights(dict.fromkeys(mix.DEFAULT_WEIGHTS, 0) | {"chat": 1})
    assert set(mix.plan(50, weights=only_chat)) == {"chat"}
    for bad in ("nope=3", "chat", "chat=x", "chat=-1"):
        with pytest.raises(ValueError):
            mix.parse_weights(bad)
    with pytest.raises(ValueError):
        mix.resolve_weights(dict.fromkeys(mix.DEFAULT_WEIGHTS, 0))
    with pytest.raises(ValueError):
        mix.generate(10, size_scale=0)


# --- record shapes ----------------------------------------------------------------------------


def test_records_look_like_kong_kafka_log_values() -> None:
    labelled = mix.generate_labelled(400, seed=2)
    ids = set()
    for category, value in labelled:
        if category == "malformed":
            continue
        assert b"\\/" in value and b"/" not in value.replace(b"\\/", b"")  # lua-cjson escapes
        record = orjson.loads(value)
        assert set(record) >= {"request", "response", "latencies", "started_at", "service"}
        assert isinstance(record["upstream_status"], str)
        assert record["request"]["headers"]["host"] == "gateway.example.com"
        assert all(name == name.lower() for name in record["request"]["headers"])
        ids.add(record["request"]["id"])
    assert len(ids) == sum(1 for category, _ in labelled if category != "malformed")


def test_users_sessions_models_and_fake_keys_vary() -> None:
    users, sessions, models, keyed, ai = set(), set(), Counter(), 0, 0
    for category, value in mix.generate_labelled(600, seed=4):
        if mix.EXPECTED[category] != "trace":
            continue
        ai += 1
        record = orjson.loads(value)
        headers = record["request"]["headers"]
        users.add(headers.get("x-user-id"))
        sessions.add(headers.get("x-session-id"))
        body = orjson.loads(record["request"].get("body") or "{}")
        models[body.get("model")] += 1
        keyed += b"benchFAKE" in value
    assert len(users) > 50 and len(sessions) > 50
    assert len(models) >= 10
    assert keyed / ai > 0.5  # authorization / x-api-key / api-key with a fake key


def test_sizes_scale_with_size_scale() -> None:
    means = {}
    for scale in (0.5, 1.0, 4.0):
        sizes = [len(value) for value in mix.generate(400, seed=9, size_scale=scale)]
        means[scale] = statistics.mean(sizes)
        if scale == 1.0:
            assert 2_500 < statistics.median(sizes) < 6_000
            assert 0.05 < sum(size > 10_240 for size in sizes) / len(sizes) < 0.3  # the tail
            assert max(sizes) < 1_048_576  # Kong drops larger records
    assert means[0.5] < means[1.0] < means[4.0]
    assert means[4.0] > 2 * means[1.0]
    # the content grows linearly with the scale, the envelope stays
    assert means[4.0] - means[1.0] == pytest.approx(6 * (means[1.0] - means[0.5]), rel=0.2)
    # the category sequence does not depend on the size
    small = [c for c, _ in mix.generate_labelled(100, seed=9, size_scale=0.5)]
    assert small == [c for c, _ in mix.generate_labelled(100, seed=9, size_scale=4.0)]


# --- what enrichment makes of each category --------------------------------------------------


def test_chat_becomes_a_trace_with_the_responses_usage(enriched: Any) -> None:
    providers = Counter()
    for record, trace in _traces(enriched["chat"]):
        usage = orjson.loads(record["response"]["body"])["usage"]
        assert trace.generation.usage is not None
        assert trace.generation.usage.source == "response"
        assert trace.generation.usage.input == usage["prompt_tokens"]
        assert trace.generation.usage.output == usage["completion_tokens"]
        assert trace.generation.level == "DEFAULT"
        providers[trace.metadata["provider"]] += 1
    assert providers["openai"] > len(enriched["chat"]) / 2
    assert len(providers) >= 4


def test_stream_usage_comes_from_the_stream(enriched: Any) -> None:
    for record, trace in _traces(enriched["stream"]):
        events = record["response"]["body"].split("\n\n")
        assert events[-2] == "data: [DONE]"
        usage = orjson.loads(events[-3].removeprefix("data: "))["usage"]
        assert trace.generation.usage is not None
        assert trace.generation.usage.source == "stream"
        assert trace.generation.usage.output == usage["completion_tokens"]
        assert trace.metadata["stream"] is True
        assert isinstance(trace.generation.output, dict | str) and trace.generation.output


def test_embeddings_anthropic_and_vllm(enriched: Any) -> None:
    for _, trace in _traces(enriched["embeddings"]):
        assert trace.generation.type == "embedding"
        assert trace.generation.usage is not None and trace.generation.usage.input
    sources = Counter()
    for _, trace in _traces(enriched["anthropic"]):
        assert trace.metadata["provider"] == "anthropic"
        assert trace.generation.usage is not None
        sources[trace.generation.usage.source] += 1
    assert set(sources) == {"response", "stream"}
    for _, trace in _traces(enriched["vllm"]):
        assert trace.metadata["provider"] == "vllm"
        assert trace.generation.usage is not None and trace.generation.usage.output


def test_kong_ai_block_only_uses_kongs_usage(enriched: Any) -> None:
    for record, trace in _traces(enriched["kong_ai"]):
        assert "body" not in record["request"] and "body" not in record["response"]
        block = next(iter(record["ai"].values()))
        assert trace.generation.usage is not None
        assert trace.generation.usage.source == "kong-ai"
        assert trace.generation.usage.input == block["usage"]["prompt_tokens"]
        assert trace.generation.usage.output == block["usage"]["completion_tokens"]


def test_errors_are_traced_as_errors(enriched: Any) -> None:
    statuses = set()
    for record, trace in _traces(enriched["error"]):
        assert record["response"]["status"] >= 400
        assert trace.generation.level == "ERROR"
        assert trace.generation.status_message
        statuses.add(record["response"]["status"])
    assert len(statuses) >= 3


def test_non_ai_is_skipped_and_malformed_is_a_dead_letter(enriched: Any) -> None:
    assert enriched["non_ai"] and enriched["malformed"]
    assert all(isinstance(result, Skipped) for _, result in enriched["non_ai"])
    assert all(isinstance(result, RecordError) for _, result in enriched["malformed"])


def test_every_category_has_its_expected_outcome_and_no_key_leaves(enriched: Any) -> None:
    kinds = {Trace: "trace", Skipped: "skipped", RecordError: "dead_letter"}
    users = set()
    for category, results in enriched.items():
        for _, result in results:
            assert kinds[type(result)] == mix.EXPECTED[category], category
            if isinstance(result, Trace):
                assert b"benchFAKE" not in result.to_json()
                users.add(result.user_id)
    assert set(enriched) == set(mix.DEFAULT_WEIGHTS)
    assert len(users) > 50
