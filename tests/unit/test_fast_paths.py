"""The hot path's shortcuts give exactly what the plain code gives.

scrub skips work when a value cannot hold a credential, and the Trace models are built
without validating them (msgspec Structs do not validate on construction). Each shortcut is
checked here against the straightforward implementation it replaces, on the real records and
on generated edge cases.
"""

from __future__ import annotations

import random
import re
import string
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import orjson
import pytest
from msgspec.structs import replace

from pipeline.enrich import Skipped, enrich, privacy
from pipeline.enrich.build import _METADATA_KEYS
from pipeline.enrich.privacy import (
    _HEADER_LINE,
    _JSON_PAIR,
    _QUERY_PAIR,
    _TOKENS,
    REDACTED,
    _clean,
    _quoted,
    is_secret_name,
    redact_text,
    redact_token,
    scrub,
    scrub_present,
)
from pipeline.kong import RecordError, parse_records
from pipeline.trace import Cost, Generation, SourceRef, Trace, Usage
from tests.unit.test_enrich_golden import OPTION_SETS, SOURCE, inputs


def reference_redact(text: str) -> str:
    """Every pattern, ungated: what redact_text's gates must give too."""
    text = _JSON_PAIR.sub(lambda m: f"{m.group(1)}{_quoted(m.group(3), m.group('q'))}", text)
    text = _QUERY_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
    text = _HEADER_LINE.sub(lambda m: m.group(1) + REDACTED, text)
    return _TOKENS.sub(redact_token, text)


def reference_scrub(value: Any) -> Any:
    if isinstance(value, str):
        return reference_redact(value) if value else value
    if isinstance(value, dict):
        return {
            key: (
                REDACTED if item is not None and is_secret_name(str(key)) else reference_scrub(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [reference_scrub(item) for item in value]
    return value


PIECES = [
    "api_key",
    "API-KEY",
    "apikey",
    "x-api-key",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "token",
    "access_token",
    "auth",
    "code",
    "session",
    "sig",
    "signature",
    "jwt",
    "credentials",
    "authorization",
    "Authorization",
    "proxy-authorization",
    "cookie",
    "Set-Cookie",
    "key",
    "\u017fecret",
    "authorİzation",
    "ke\u0131",
    "\u212aey",
    "Bearer ",
    "bearer ",
    "BEARER ",
    "Basic ",
    "basic\t",
    "sk-",
    "SK-",
    "pk-",
    "rk-",
    "sk-ant-",
    "AIza",
    "aiza",
    "AKIA",
    "ghp_",
    "GHO_",
    "xoxb-",
    "XOXP-",
    "eyJ",
    "EYJ",
    '"',
    '\\"',
    ":",
    " : ",
    "=",
    "?",
    "&",
    ";",
    "\n",
    "\r\n",
    " ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "-",
    "_",
    ".",
    "/",
    "abcdefghij",
    "0123456789",
    "ABCDEFGHIJKLMNOP",
    "QRSTUVWXYZ012345",
    "hello",
    "Heads-up",
    "tokens",
    "monkey",
    "design",
    "\x00",
    "é",
    "日本",
]


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(PIECES, k=rng.randint(1, 14))) for _ in range(count)]


def _record_strings() -> list[str]:
    """Every string of the bundled records and of their decoded bodies."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                found.append(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for value in inputs().values():
        try:
            records = parse_records(value)
        except RecordError:
            continue
        for record in records:
            walk(msgspec.to_builtins(record))
    return found


def test_only_four_characters_fold_or_lower_to_ascii_letters() -> None:
    """_patterns_for lower-cases UTF-8 bytes, which changes ASCII letters only; re's IGNORECASE
    also matches these to ASCII letters, or str.lower() turns them into one."""
    letter = re.compile("(?i)[a-z]")
    folds = {
        char
        for char in map(chr, range(128, sys.maxunicode + 1))
        if letter.fullmatch(char) or any(c in string.ascii_lowercase for c in char.lower())
    }
    assert folds == set(privacy._FOLDS)


def test_credentials_spelt_with_folding_characters_are_redacted() -> None:
    """Each character that folds or lower-cases to an ASCII letter (dotted and dotless i, long s,
    Kelvin sign) in place of a letter of a credential: redacted as the reference does, and never
    taken as clean (bytes.lower() does not fold them, re's IGNORECASE does)."""
    secrets = [
        '{"api_key": "abc"}',
        "?token=abc",
        "Authorization: abc",
        "Bearer abcdefghijk",
        "sk-abcdefghijklmnopqrstu",
        "xoxb-abcdefghijklmn",
        "ghs_abcdefghijklmnopqrstuvwxyz0123",
    ]
    letters = re.compile("(?i)[a-z]")
    changed = 0
    for secret in secrets:
        for char in ("\u0130", "\u0131", "\u017f", "\u212a"):
            for index, letter in enumerate(secret):
                if not (letters.fullmatch(letter) and re.fullmatch(f"(?i){letter}", char)):
                    continue
                text = secret[:index] + char + secret[index + 1 :]
                expected = reference_redact(text)
                assert redact_text(text) == expected, text
                if expected != text:
                    assert not _clean(text), text
                    changed += 1
    assert changed >= 10


NAMES = [
    "api_key",
    "X-Api-Key",
    "client_secret",
    "db-password",
    "access_token",
    "Authorization",
    "sig",
    "key",
    "token",
    "code",
    "session",
    "keys",
    "monkey",
    "tokens",
    "author",
    "secretary",
    "café_key",
    "my_secret_thing",
]


def _pairs(count: int, seed: int) -> list[str]:
    """JSON pairs and query arguments, secret-named or nearly, in prose, code and nested JSON."""
    rng = random.Random(seed)
    quotes = ['"', '\\"', '\\\\\\"']
    values = ['"abc123"', '"a\\"b"', "[1, 2]", "12345", "tok.en/x=", '""', "{", " "]
    prose = ["", "Please explain the ", "a key idea: ", "tokens=", "{", "[", "x", "é ", "\n"]
    texts = []
    for _ in range(count):
        name = rng.choice(NAMES)
        if rng.random() < 0.5:
            quote = rng.choice(quotes)
            close = quote if rng.random() < 0.8 else rng.choice(quotes)
            space = rng.choice(["", " ", "\t", "  "])
            pair = f"{quote}{name}{close}{space}:{rng.choice(['', ' '])}{rng.choice(values)}"
        else:
            pair = "".join(  # runs of arguments, some with empty values: "?a=;token=x"
                f"{rng.choice('?&;/ ')}{rng.choice(NAMES)}={rng.choice(['abc', '', '#', 'a b'])}"
                for _ in range(rng.randint(1, 3))
            )
        parts = [rng.choice(prose), pair, rng.choice([",", "}", "]", " and more", ""])]
        if rng.random() < 0.3:
            parts.append(rng.choice(prose) + rng.choice(quotes) + rng.choice(NAMES))
        texts.append("".join(parts) * rng.randint(1, 2))
    return texts


@pytest.mark.parametrize("seed", range(3))
def test_pair_gates_match_the_reference(seed: int) -> None:
    """The name checks in front of the JSON-pair and query patterns never skip a change."""
    changed = 0
    for text in _pairs(3000, seed):
        expected = reference_redact(text)
        assert redact_text(text) == expected, text
        if expected != text:
            assert not _clean(text), text
            changed += 1
    assert 600 < changed < 2400  # secret and innocent names are both well represented


@pytest.mark.parametrize("seed", range(4))
def test_redact_text_and_its_gate_match_the_reference(seed: int) -> None:
    changed = 0
    for text in _texts(3000, seed):
        expected = reference_redact(text)
        assert redact_text(text) == expected, text
        if _clean(text):
            assert expected == text, text
        changed += expected != text
    assert 300 < changed < 2700  # both kinds are well represented


def test_redact_text_on_every_record_string() -> None:
    for text in _record_strings():
        assert redact_text(text) == reference_redact(text), text
        if _clean(text):
            assert reference_redact(text) == text, text


def _values(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice([None, True, 3, 2.5, "", *_texts(1, rng.randint(0, 10**6))])
    if roll < 0.7:
        keys = rng.choices([*PIECES, "role", "content", "metadata", "user"], k=rng.randint(0, 5))
        return {key: _values(rng, depth + 1) for key in keys}
    return [_values(rng, depth + 1) for _ in range(rng.randint(0, 4))]


@pytest.mark.parametrize("seed", range(4))
def test_scrub_matches_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(1500):
        value = _values(rng)
        assert scrub(value) == reference_scrub(value)
        if isinstance(value, dict):
            present = {k: v for k, v in value.items() if v is not None}
            assert scrub_present(value) == reference_scrub(present)


class _Text(str):
    pass


def test_scrub_keeps_the_rules_for_subclasses_and_other_types() -> None:
    value = {"a": _Text("Bearer abcdefghijk"), "b": (1, "sk-abcdefghijklmnopqrstu"), 3: "x"}
    assert scrub(value) == reference_scrub(value)
    assert scrub(value)["a"] == "Bearer REDACTED"


def test_metadata_keys_taken_as_plain_are_not_secret_names() -> None:
    assert not [key for key in _METADATA_KEYS if is_secret_name(key)]


def _strict(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 is not 1.0), models by their state."""
    if type(a) is not type(b):
        return False
    if isinstance(a, msgspec.Struct):
        return _strict(msgspec.structs.asdict(a), msgspec.structs.asdict(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_strict(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_strict(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _validated(model: msgspec.Struct) -> msgspec.Struct:
    """The instance validation (strict, as the topic's reader) builds from the same values."""
    return msgspec.convert(msgspec.structs.asdict(model), type(model))


def _traces(values: Iterable[bytes]) -> Iterator[Trace]:
    """Every trace each option set makes of ``values`` (the custom set with a source)."""
    for value in values:
        try:
            records = parse_records(value)
        except RecordError:
            continue
        for label, options in OPTION_SETS.items():
            for index, record in enumerate(records):
                source = replace(SOURCE, index=index) if label == "custom" else None
                try:
                    trace = enrich(record, options, source, content=value)
                except RecordError:
                    continue
                if not isinstance(trace, Skipped):
                    yield trace


def test_built_models_are_the_validated_ones() -> None:
    checked = 0
    for trace in _traces(inputs().values()):
        generation = trace.generation
        parts: list[msgspec.Struct] = [trace, generation, trace.source]
        parts += [part for part in (generation.usage, generation.cost) if part]
        for part in parts:
            assert isinstance(part, Trace | Generation | SourceRef | Usage | Cost)
            assert _strict(part, _validated(part)), type(part).__name__
            checked += 1
    assert checked > 300


def _dump(value: Any) -> Any:
    """A model as a dict of its fields but the None ones (pydantic's ``exclude_none``)."""
    if isinstance(value, msgspec.Struct):
        fields = msgspec.structs.asdict(value)
        return {name: _dump(field) for name, field in fields.items() if field is not None}
    return value


def test_trace_json_is_orjson_over_the_json_dump() -> None:
    """Trace.to_json (msgspec) writes the bytes the plain way gives: orjson over the fields
    but the None ones, defaults included, as the topic has always carried. Read back, it is
    the trace that was written."""
    from pipeline.bench.mix import generate_labelled

    values = list(inputs().values()) + [value for _, value in generate_labelled(600, 3)]
    checked = 0
    for trace in _traces(values):
        plain = orjson.dumps(_dump(trace), option=orjson.OPT_UTC_Z)
        assert trace.to_json() == plain
        assert _strict(Trace.from_json(plain), trace)
        checked += 1
    assert checked > 1000


def test_trace_from_json_is_the_validated_trace_with_its_payloads_shared() -> None:
    """Trace.from_json reads what msgspec's plain typed decode reads; the generation's input
    and output are the trace's own objects when they are equal."""
    from pipeline.bench.mix import generate_labelled

    values = list(inputs().values()) + [value for _, value in generate_labelled(300, 5)]
    shared = 0
    for trace in _traces(values):
        data = trace.to_json()
        read, plain = Trace.from_json(data), msgspec.json.decode(data, type=Trace)
        assert _strict(read, plain)
        for name in ("input", "output"):
            ours, theirs = getattr(read, name), getattr(read.generation, name)
            if ours is not None and ours == theirs:
                assert theirs is ours
                shared += 1
    assert shared > 500


def test_trace_from_json_keeps_a_generation_payload_that_differs() -> None:
    trace = next(_traces(inputs().values()))
    data = orjson.loads(trace.to_json())
    data["input"], data["generation"]["input"] = ["a"], ["b"]
    data["output"], data["generation"]["output"] = "same", "same"
    read = Trace.from_json(orjson.dumps(data))
    assert (read.input, read.generation.input) == (["a"], ["b"])
    assert read.generation.output is read.output == "same"
    for bad in (b"{not json", b"[]", orjson.dumps({**data, "generation": None})):
        with pytest.raises(ValueError):
            Trace.from_json(bad)
