"""Offline token estimates for calls whose provider reported no usage (streams, vLLM, …).

``bpe-openai`` bundles the cl100k/o200k vocabularies (tiktoken would download them at run
time). Exact for OpenAI models; for other families cl100k is a documented approximation, and
the usage is always flagged ``estimated`` so nobody mistakes it for a provider count.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import msgspec

from pipeline.enrich.providers.base import strings
from pipeline.trace import Usage

log = logging.getLogger(__name__)

_O200K = re.compile(r"^(?:gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o|gpt-oss|codex)")
# Beyond this many characters we count a prefix and scale: bounded time for huge payloads.
MAX_CHARS = 200_000
# OpenAI's chat format costs ~3 tokens per message plus 3 to prime the reply.
_PER_MESSAGE = 3
_NATIVE = "bpe_openai._bindings"


class Tokenizer(Protocol):
    def count(self, text: str) -> int: ...


def encoding_name(model: str | None) -> str:
    """o200k for OpenAI's 4o/4.1/5/o-series, cl100k for everything else."""
    name = (model or "").lower().rsplit("/", 1)[-1]
    return "o200k_base" if _O200K.match(name) else "cl100k_base"


def _native_core() -> Any:
    """bpe-openai's native module, loaded without running its Python package.

    Importing the package builds all three bundled vocabularies as Python dicts (~67 MB of a
    worker's memory, measured) for its tiktoken-style API; the native tokenizers carry their
    own and never use them. Registered under its usual name, so a later ``import bpe_openai``
    reuses it.
    """
    loaded = sys.modules.get(_NATIVE)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("bpe_openai")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("bpe-openai is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"_bindings{suffix}"
        if path.is_file():
            loader = importlib.machinery.ExtensionFileLoader(_NATIVE, str(path))
            native_spec = importlib.util.spec_from_file_location(_NATIVE, path, loader=loader)
            if native_spec is None:
                break
            module = importlib.util.module_from_spec(native_spec)
            loader.exec_module(module)
            sys.modules[_NATIVE] = module
            return module
    raise ImportError(f"no native bpe-openai module in {folder}")


class _Public:
    """The tiktoken-style API, if the native module cannot be loaded on its own."""

    def __init__(self, name: str) -> None:
        import bpe_openai

        self._encoding = bpe_openai.get_encoding(name)

    def count(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))


@lru_cache(maxsize=4)
def _tokenizer(name: str) -> Tokenizer:
    # Loaded on first use: a worker whose providers report usage never needs a vocabulary.
    try:
        tokenizer: Tokenizer = _native_core().tokenizer_for_encoding(name)
    except Exception as exc:  # a bpe-openai release that moved its native module
        log.warning("bpe-openai's native tokenizer did not load (%s); using its Python API", exc)
        tokenizer = _Public(name)
    return tokenizer


def _count(text: str, encoding: str) -> int:
    tokenizer = _tokenizer(encoding)
    try:
        return tokenizer.count(text)
    except UnicodeEncodeError:  # lone surrogates (JSON allows them): count them as U+FFFD
        return tokenizer.count(text.encode("utf-16", "surrogatepass").decode("utf-16", "replace"))


def count_text(text: str, encoding: str = "cl100k_base") -> int:
    """Tokens in ``text``; special-token look-alikes count as plain text."""
    if not text:
        return 0
    if len(text) <= MAX_CHARS:
        return _count(text, encoding)
    head = _count(text[:MAX_CHARS], encoding)
    return round(head * len(text) / MAX_CHARS)


def count_value(value: Any, encoding: str = "cl100k_base") -> int:
    """Tokens in a prompt or output: a string, a message list or any nested structure."""
    if value is None:
        return 0
    if isinstance(value, str):
        return count_text(value, encoding)
    total = count_text("\n".join(strings(value)), encoding)
    # A chat input that defines tools is {"messages": [...], "tools": [...]}: the tools' text
    # counts, the messages cost their per-message tokens as a bare list does.
    messages = value.get("messages") if isinstance(value, dict) and "tools" in value else value
    if isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages):
        total += _PER_MESSAGE * len(messages) + _PER_MESSAGE
    return total


def estimate_usage(
    model: str | None,
    prompt: Any,
    output: Any,
    reported: Usage | None = None,
    embedding: bool = False,
) -> Usage | None:
    """Fill what the provider did not report; None when there is nothing to count."""
    encoding = encoding_name(model)
    input_tokens = reported.input if reported and reported.input is not None else None
    output_tokens = reported.output if reported and reported.output is not None else None
    if input_tokens is None and prompt is not None:
        input_tokens = count_value(prompt, encoding)
    if output_tokens is None and not embedding and output is not None:
        output_tokens = count_value(output, encoding)
    if input_tokens is None and output_tokens is None:
        return None
    counted: dict[str, Any] = {
        "input": input_tokens,
        "output": output_tokens,
        "total": (input_tokens or 0) + (output_tokens or 0),
        "estimated": True,
        "source": f"estimate:{encoding}",
    }
    return msgspec.structs.replace(reported, **counted) if reported else Usage(**counted)
