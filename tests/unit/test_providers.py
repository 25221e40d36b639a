"""The provider registry: custom providers from config and from entry points, detection rules."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import msgspec
import orjson
import pytest

from pipeline.enrich import Skipped, enrich
from pipeline.enrich.options import build_options
from pipeline.enrich.providers import FAMILIES, ProviderConfigError, build_registry, load_plugins
from pipeline.enrich.providers.custom import ENTRY_POINT_GROUP, build_rule
from pipeline.kong import parse_records
from pipeline.kong.record import KongRecord, parse_record
from pipeline.settings import SettingsError, load_settings
from pipeline.trace import Trace
from tests.factories import with_changes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kong"


def _record(name: str) -> KongRecord:
    return parse_records((FIXTURES / f"{name}.json").read_bytes())[0]


def _with(record: KongRecord, **changes: object) -> KongRecord:
    return parse_record(with_changes(msgspec.to_builtins(record), **changes))


@pytest.mark.parametrize(
    ("match", "hits"),
    [
        ({"path_prefix": "/acme/"}, True),
        ({"path_prefix": "/other/"}, False),
        ({"path_regex": r"/llm/infer$"}, True),
        ({"service": ["acme-llm", "x"]}, True),
        ({"service": "nope"}, False),
        ({"route": "acme-infer"}, True),
        ({"host": "acme.internal"}, True),
        ({"header": {"content-type": "application/json"}}, True),
        ({"header": {"x-llm": None}}, False),
        ({"path_prefix": "/acme/", "service": "nope"}, False),  # all conditions must hold
    ],
)
def test_config_rule_match_conditions(match: dict[str, object], hits: bool) -> None:
    options = build_options(
        provider_plugins=False,
        custom_providers=[{"name": "acme", "family": "openai", "match": match}],
    )
    result = enrich(_record("custom-provider-by-config"), options)
    if hits:
        assert isinstance(result, Trace) and result.metadata["provider"] == "acme"
        assert result.metadata["provider_family"] == "openai"
    else:
        assert result == Skipped(reason="not an AI request")


def test_config_rule_picks_the_parser_family_and_operation() -> None:
    # an Anthropic-speaking internal gateway on an odd path
    record = _record("anthropic-messages")
    record = _with(record, request__uri="/internal/claude", request__url=None)
    options = build_options(
        provider_plugins=False,
        custom_providers=[
            {
                "name": "claude-internal",
                "family": "anthropic",
                "match": {"path_prefix": "/internal/"},
            }
        ],
    )
    result = enrich(record, options)
    assert isinstance(result, Trace)
    assert result.metadata["provider"] == "claude-internal"
    assert result.generation.name == "messages"
    assert result.generation.usage is not None and result.generation.usage.input == 1220


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"family": "openai", "match": {"path_prefix": "/x"}}, "non-empty 'name'"),
        ({"name": "x", "family": "llama", "match": {"path_prefix": "/x"}}, "family must be one of"),
        ({"name": "x", "match": {}}, "non-empty 'match'"),
        ({"name": "x", "match": {"paths": "/x"}}, "unknown match keys"),
        ({"name": "x", "match": {"path_regex": "("}}, "bad path_regex"),
        ({"name": "x", "operation": "chat", "match": {"path_prefix": "/"}}, "operation must be"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ProviderConfigError, match=message):
        build_rule(rule, FAMILIES)


def test_rules_come_from_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "kong-litefuse.yaml"
    config.write_text(
        textwrap.dedent(
            """
            vllm_services: [gpu-pool]
            custom_providers:
              - name: acme
                family: openai
                match: {service: acme-llm}
            """
        )
    )
    monkeypatch.setenv("KONG_LITEFUSE_CONFIG", str(config))
    settings = load_settings()
    assert settings.custom_providers[0]["name"] == "acme"
    config.write_text("custom_providers: [{name: acme, family: nope, match: {service: a}}]\n")
    with pytest.raises(SettingsError, match="CUSTOM_PROVIDERS"):
        load_settings()


PLUGIN = '''
from pipeline.enrich.providers.base import Exchange, LLMCall


class EchoProvider:
    """A provider shipped in another distribution."""

    name = "echo"

    def detect(self, exchange: Exchange) -> str | None:
        return "completion" if exchange.path == "/echo" else None

    def parse(self, operation: str, exchange: Exchange) -> LLMCall:
        body = exchange.request.json_object() or {}
        return LLMCall(provider=self.name, operation=operation, input=body.get("say"),
                       output=body.get("say"), request_model="echo-1")
'''


@pytest.fixture
def echo_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real installed distribution (dist-info on sys.path) declaring our entry point."""
    (tmp_path / "echo_provider.py").write_text(PLUGIN)
    info = tmp_path / "echo_provider-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-provider\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\necho = echo_provider:EchoProvider\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "echo_provider", raising=False)


def test_entry_point_provider(echo_plugin: None) -> None:
    assert [p.name for p in load_plugins()] == ["echo"]
    record = _with(
        _record("openai-completions"),
        request__uri="/echo",
        request__url=None,
        request__body=orjson.dumps({"say": "hello"}).decode(),
    )
    result = enrich(record, build_options())
    assert isinstance(result, Trace)
    assert result.metadata["provider"] == "echo"
    assert result.generation.output == "hello"
    assert result.generation.usage is not None and result.generation.usage.estimated
    # plugins can be switched off
    assert enrich(record, build_options(provider_plugins=False)) == Skipped("not an AI request")


def test_broken_plugin_fails_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = tmp_path / "broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nbroken = no_such_module:X\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ProviderConfigError, match="broken"):
        build_registry()


def test_vllm_is_recognised_by_name_service_or_body() -> None:
    plain = build_options(provider_plugins=False)
    by_config = build_options(provider_plugins=False, vllm_services=["llama-internal"])
    record = _record("vllm-openai-completions-by-service")
    assert isinstance(found := enrich(record, plain), Trace)
    assert found.metadata["provider"] == "openai"  # nothing says vLLM: the reference's answer
    assert isinstance(found := enrich(record, by_config), Trace)
    assert found.metadata["provider"] == "vllm"
    # "vllm" in the Kong service name needs no configuration
    named = _with(record, service__name="vllm-prod")
    assert isinstance(found := enrich(named, plain), Trace) and found.metadata["provider"] == "vllm"


def test_ollama_openai_routes_are_named_ollama() -> None:
    record = _with(_record("mistral-by-host"), service__host="ollama.internal", service__name="llm")
    result = enrich(record, build_options(provider_plugins=False))
    assert isinstance(result, Trace) and result.metadata["provider"] == "ollama"


def test_ai_block_on_an_unknown_route_is_sniffed_by_shape() -> None:
    result = enrich(
        _record("ai-3.10-proxy-native-anthropic"), build_options(provider_plugins=False)
    )
    assert isinstance(result, Trace)
    assert result.generation.name == "messages"
    assert result.generation.output == {"role": "assistant", "content": "Delay."}


def test_a_gateway_v1_chat_route_with_openai_bodies_is_not_cohere() -> None:
    """``/llm/v1/chat`` is a common ai-proxy route name; Cohere's v1 chat sends ``message``."""
    options = build_options(provider_plugins=False)
    ai_proxy = _with(_record("ai-3.9-proxy-zero-cost"), request__uri="/llm/v1/chat")
    result = enrich(ai_proxy, options)
    assert isinstance(result, Trace) and result.metadata["provider"] == "openai"
    cohere = _record("cohere-v1-chat-stream")
    assert cohere.request.uri == "/v1/chat"
    result = enrich(cohere, options)
    assert isinstance(result, Trace) and result.metadata["provider"] == "cohere"


def test_bedrock_is_a_builtin_and_a_family() -> None:
    names = [provider.name for provider in build_registry(plugins=False)]
    assert names.index("bedrock") < names.index("openai")
    options = build_options(
        provider_plugins=False,
        custom_providers=[
            {"name": "aws-internal", "family": "bedrock", "match": {"path_prefix": "/aws/"}}
        ],
    )
    record = _with(
        _record("openai-chat-tools"),
        request__uri="/aws/llm",
        request__url=None,
        request__body=orjson.dumps(
            {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
        ).decode(),
        response__body=orjson.dumps(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "Hello."}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 3, "outputTokens": 2},
            }
        ).decode(),
    )
    result = enrich(record, options)
    assert isinstance(result, Trace) and result.metadata["provider"] == "aws-internal"
    assert result.generation.input == [{"role": "user", "content": "Hi"}]
    assert result.generation.output == {"role": "assistant", "content": "Hello."}


def test_a_record_with_tools_carries_them_in_its_input() -> None:
    """Litefuse reads tool definitions from the input's ``tools``, calls from ``tool_calls``."""
    result = enrich(_record("openai-chat-tools"), build_options(provider_plugins=False))
    assert isinstance(result, Trace)
    assert result.generation.input == {
        "messages": [{"role": "user", "content": "Weather in Oslo?"}],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
    }
    assert result.generation.output == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
            }
        ],
    }
    assert result.input == result.generation.input and result.output == result.generation.output


def test_estimates_count_tool_definitions_and_messages() -> None:
    """Without usage, the estimate counts the tools' text and each message's overhead."""
    record = _record("openai-chat-tools")
    body = orjson.loads(record.response.body or "{}")
    body.pop("usage")
    without = _with(record, response__body=orjson.dumps(body).decode())
    result = enrich(without, build_options(provider_plugins=False))
    assert isinstance(result, Trace) and result.generation.usage is not None
    usage = result.generation.usage
    assert usage.estimated and usage.input == 11  # "Weather in Oslo?", "weather", 3 + 3
