"""Offline token estimates for calls whose provider reported no usage (streams, vLLM, …).

``bpe-openai`` bundles the cl100k/o200k vocabularies (tiktoken would download them at run
time). Exact for OpenAI models; for other families cl100k is a documented approximation, and
the usage is always flagged ``estimated`` so nobody mistakes it for a provider count.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pipeline.enrich.providers.base import strings
from pipeline.trace import Usage

if TYPE_CHECKING:
    import bpe_openai

_O200K = re.compile(r"^(?:gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o\d|chatgpt-4o|gpt-oss|codex)")
# Beyond this many characters we count a prefix and scale: bounded time for huge payloads.
MAX_CHARS = 200_000
# OpenAI's chat format costs ~3 tokens per message plus 3 to prime the reply.
_PER_MESSAGE = 3


def encoding_name(model: str | None) -> str:
    """o200k for OpenAI's 4o/4.1/5/o-series, cl100k for everything else."""
    name = (model or "").lower().rsplit("/", 1)[-1]
    return "o200k_base" if _O200K.match(name) else "cl100k_base"


@lru_cache(maxsize=4)
def _encoding(name: str) -> bpe_openai.Encoding:
    # Imported on first use: importing bpe-openai alone costs ~70 MB (it loads every bundled
    # vocabulary as Python dicts), which a worker whose providers report usage never needs.
    import bpe_openai
    from bpe_openai import registry

    encoding = bpe_openai.get_encoding(name)
    # The native encoding is built; the Python rank tables it was built from are not needed
    # again (~35 MB per vocabulary), but bpe-openai caches them forever.
    for cached in ("_load_mergeable_ranks", "cl100k_base", "o200k_base", "voyage3_base"):
        clear = getattr(getattr(registry, cached, None), "cache_clear", None)
        if clear is not None:
            clear()
    return encoding


def count_text(text: str, encoding: str = "cl100k_base") -> int:
    """Tokens in ``text``; special-token look-alikes count as plain text."""
    if not text:
        return 0
    if len(text) <= MAX_CHARS:
        return len(_encoding(encoding).encode_ordinary(text))
    head = len(_encoding(encoding).encode_ordinary(text[:MAX_CHARS]))
    return round(head * len(text) / MAX_CHARS)


def count_value(value: Any, encoding: str = "cl100k_base") -> int:
    """Tokens in a prompt or output: a string, a message list or any nested structure."""
    if value is None:
        return 0
    if isinstance(value, str):
        return count_text(value, encoding)
    total = count_text("\n".join(strings(value)), encoding)
    if isinstance(value, list) and value and all(isinstance(m, dict) for m in value):
        total += _PER_MESSAGE * len(value) + _PER_MESSAGE
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
    base = reported.model_dump() if reported else {}
    base.update(
        input=input_tokens,
        output=output_tokens,
        total=(input_tokens or 0) + (output_tokens or 0),
        estimated=True,
        source=f"estimate:{encoding}",
    )
    return Usage(**base)
