"""Metric labels stay bounded whatever the records say: closed sets and a bounded top-K."""

from __future__ import annotations

import re

import pytest
from prometheus_client import generate_latest

from pipeline import metrics
from pipeline.enrich.options import EnrichOptions
from pipeline.enrich.stage import KafkaValue, Rejected, StageConfig, Traced, run_stage
from pipeline.worker.enrich import count_trace
from tests.factories import kong_values


def _traced(provider: str | None, model: str | None, tokens: int = 10) -> Traced:
    return Traced("t", b"k", b"{}", provider, model, tokens, tokens, 0.001)


def _values(metric_name: str, label: str) -> set[str]:
    """The values of ``label`` in the /metrics text of one metric."""
    text = generate_latest(metrics.REGISTRY).decode()
    pattern = re.compile(rf'^{metric_name}\{{[^}}]*{label}="([^"]*)"', re.MULTILINE)
    return set(pattern.findall(text))


@pytest.fixture
def fresh_models(monkeypatch: pytest.MonkeyPatch) -> metrics.TopModels:
    """A new top-K for the test (the module's one counts across the whole test session)."""
    top = metrics.TopModels(on_drop=metrics.remove_model_series)
    monkeypatch.setattr(metrics, "_top_models", top)
    return top


def test_made_up_providers_are_other() -> None:
    for index in range(2000):
        count_trace(_traced(f"made-up-provider-{index}", "gpt-4o"))
    count_trace(_traced("OpenAI", "gpt-4o"))
    count_trace(_traced("mistral", "mistral-large"))
    count_trace(_traced(None, "gpt-4o"))
    providers = _values("kong_litefuse_traces_published_total", "provider")
    allowed = metrics.known_providers() | {metrics.OTHER, metrics.UNKNOWN}
    assert providers <= allowed
    assert {"openai", "mistral", "other", "unknown"} <= providers
    assert len(allowed) < 50


def test_known_providers_are_the_enrichment_and_price_names() -> None:
    known = metrics.known_providers()
    for name in ("openai", "azure", "anthropic", "google", "cohere", "ollama", "vllm"):
        assert name in known  # the built-in detectors
    for name in ("mistral", "groq", "together", "deepseek", "openrouter", "x-ai"):
        assert name in known  # OpenAI-compatible upstreams and price ids
    assert "vertex-ai" in known and "bedrock" in known


def test_dead_letter_reasons_are_codes_from_a_closed_set() -> None:
    # the reasons the enrich stage really writes, each with record details in it
    config = StageConfig(options=EnrichOptions(), traces_topic="t")
    bad = [b"{not json at all", b"[]", b"[1]", b'{"hello": 1}', b'{"request": {"headers": 5}}']
    bad += [b" " * i + b"{broken" for i in range(1000)]  # "not JSON: … at position i"
    outcomes = run_stage([KafkaValue(v, "kong", 0, i) for i, v in enumerate(bad)], config)
    reasons = [o.reason for o in outcomes if isinstance(o, Rejected)]
    assert len(set(reasons)) > 1000  # free text: positions and details differ
    codes = {metrics.reason_label(reason) for reason in reasons}
    assert codes == {"not_json", "not_kong_record", "invalid_record"}
    for reason in reasons:
        metrics.dead_letters.labels("enrich", metrics.reason_label(reason)).inc()
    assert _values("kong_litefuse_dead_letters_total", "reason") <= metrics.REASONS


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("not JSON: unexpected character at position 3", "not_json"),
        ("empty JSON array", "not_kong_record"),
        ("item 4 is a JSON str, not a Kong log object", "not_kong_record"),
        ("value is a JSON int, not a Kong log object", "not_kong_record"),
        ("not a Kong log record: neither 'request' nor 'response' is present", "not_kong_record"),
        (
            "invalid Kong record: request.headers: Input should be ... (1 error(s))",
            "invalid_record",
        ),
        ("AI request without started_at", "invalid_record"),
        ("trace too large for Kafka even truncated: 2000000 bytes", "too_large"),
        ("internal error: TypeError: unhashable type: 'dict'", "enrich_failed"),
        ("invalid trace: 1 validation error for Trace", "invalid_trace"),
        ("rejected by Litefuse (400): invalid usage for trace abc", "rejected_by_litefuse"),
        ("upstream bug", "other"),
        ("", "other"),
    ],
)
def test_each_reason_maps_to_its_code(reason: str, code: str) -> None:
    assert metrics.reason_label(reason) == code
    assert code in metrics.REASONS


def test_a_burst_of_made_up_models_cannot_take_gpt_4o_s_label(
    fresh_models: metrics.TopModels,
) -> None:
    for index in range(5000):
        count_trace(_traced("openai", "gpt-4o"))
        count_trace(_traced("openai", f"made-up-model-{index}"))
    assert metrics.model_label("gpt-4o") == "gpt-4o"
    models = _values("kong_litefuse_tokens_total", "model")
    assert "gpt-4o" in models
    assert not any(m.startswith("made-up-model-") for m in models)  # each seen once: other
    assert len(models) <= metrics.MAX_MODEL_LABELS + 2


def test_fifty_early_names_do_not_keep_their_labels_for_life(
    fresh_models: metrics.TopModels,
) -> None:
    # what made gpt-4o `other` for the process lifetime: 50 names that came first
    for index in range(metrics.MAX_MODEL_LABELS):
        for _ in range(3):
            count_trace(_traced("openai", f"early-model-{index}"))
    assert len(fresh_models) == metrics.MAX_MODEL_LABELS
    labels = [metrics.model_label("gpt-4o") for _ in range(10)]
    assert labels[-1] == "gpt-4o"
    assert len(fresh_models) == metrics.MAX_MODEL_LABELS
    count_trace(_traced("openai", "gpt-4o"))
    models = _values("kong_litefuse_tokens_total", "model")
    assert "gpt-4o" in models
    assert len({m for m in models if m.startswith("early-model-")}) == metrics.MAX_MODEL_LABELS - 1


def test_models_that_lose_their_label_lose_their_series(
    fresh_models: metrics.TopModels,
) -> None:
    # many models, each frequent for a while, then forgotten: /metrics keeps at most the top-K
    for index in range(400):
        for _ in range(index + 2):  # later ones are more frequent, so they take over
            count_trace(_traced("openai", f"wave-model-{index}"))
    # The newest then clearly leads (a label changes hands only with a quarter more counts;
    # at 401 against ~320-400 that hung on the sketch's collisions, which vary with the hash seed)
    for _ in range(200):
        count_trace(_traced("openai", "wave-model-399"))
    models = {m for m in _values("kong_litefuse_tokens_total", "model") if m.startswith("wave-")}
    assert len(models) <= metrics.MAX_MODEL_LABELS
    assert "wave-model-399" in models and "wave-model-0" not in models
    cost_models = _values("kong_litefuse_cost_usd_total", "model")
    assert {m for m in cost_models if m.startswith("wave-")} == models
    assert len(generate_latest(metrics.REGISTRY)) < 200_000


def test_the_table_stays_bounded_and_keeps_the_frequent_name() -> None:
    dropped: list[str] = []
    top = metrics.TopModels(labels=3, capacity=6, min_seen=2, on_drop=dropped.append)
    for _ in range(20):
        top.label("a")
    for index in range(1000):
        assert top.label(f"junk-{index}") == metrics.OTHER
    assert top.label("a") == "a" and top.count("a") >= 20
    assert len(top._counts) == 6
    assert dropped == []  # "a" kept its label; the junk never had one


def test_a_burst_of_made_up_names_after_a_quiet_start_leaves_gpt_4o_its_label() -> None:
    top = metrics.TopModels()
    for _ in range(200):
        assert top.label("gpt-4o") in ("gpt-4o", metrics.OTHER)
    assert top.label("gpt-4o") == "gpt-4o"
    # 100,000 names seen once each: plain Space-Saving (a newcomer takes the least count + 1)
    # would have raised its least count past 200 and evicted gpt-4o
    for index in range(100_000):
        assert top.label(f"made-up-{index}") == metrics.OTHER
    assert top.label("gpt-4o") == "gpt-4o"
    assert len(top) == 1


def test_real_records_still_label_their_model() -> None:
    config = StageConfig(options=EnrichOptions(), traces_topic="t")
    values = [KafkaValue(v, "kong", 0, i) for i, v in enumerate(kong_values(3))]
    traced = [o for o in run_stage(values, config) if isinstance(o, Traced)]
    assert traced and all(metrics.provider_label(t.provider) == "openai" for t in traced)


def test_two_names_of_about_the_same_frequency_do_not_trade_the_last_label() -> None:
    dropped: list[str] = []
    top = metrics.TopModels(labels=1, capacity=4, on_drop=dropped.append)
    for _ in range(10):
        top.label("model-a")
    for _ in range(50):  # then each just ahead of the other in turn
        while top.count("model-b") <= top.count("model-a"):
            top.label("model-b")
        while top.count("model-a") <= top.count("model-b"):
            top.label("model-a")
    assert dropped == []  # every trade would have reset both names' series
    assert top.label("model-a") == "model-a" and top.label("model-b") == metrics.OTHER
    for _ in range(400):  # model-b clearly ahead now: it takes the label, once
        top.label("model-b")
    assert top.label("model-b") == "model-b"
    assert dropped == ["model-a"]
