"""A realistic, seeded mix of Kong kafka-log records (JSON bytes) for benchmarks.

The records are built here, from compact templates of what Kong's log serializer and kafka-log
write (see docs/enrichment.md, "Kong records we read"), so the benchmarks work from a plain
``pip install`` with no test or schema files. They are shaped like traffic through Kong in front
of LLM APIs:

- Kong's JSON: compact, ``/`` escaped as ``\\/``, lowercased headers, ``{}`` for empty tables,
  ``upstream_status`` as a string, entity copies of the service, route and consumer;
- real client and provider headers (openai-python's ``x-stainless-*``, OpenAI's rate-limit and
  Cloudflare headers, Anthropic's ``anthropic-ratelimit-*``): an envelope without bodies weighs
  1.7-3.3 KB, as Kong's records do;
- bodies as our Kong config captures them: request JSON, response JSON or the SSE text the
  client received (one event of ~290 bytes per token for OpenAI streams);
- users, sessions, chats, organisations and projects in the ``X-*`` headers (and sometimes the
  body's ``metadata``), Kong consumers, fake credentials in ``authorization`` / ``x-api-key`` /
  ``api-key`` (Kong only redacts ``authorization``; other senders keep it), once in a while a
  key pasted into a prompt.

Categories, default weights (percent of records; :data:`CATEGORIES`) and record sizes at
``size_scale=1`` (median, 90th percentile):

========== ====== =========== ================================================================
chat        36    4.3 / 5.9K  OpenAI-compatible chat completions (OpenAI, Azure, Mistral, Groq,
                              DeepSeek, Together, OpenRouter), 1-16 messages, tools in 8%;
                              10% tail of 10-50 KB
stream      17    8.1 / 18K   chat with ``stream: true``: SSE body ending with
                              ``include_usage``'s usage chunk; 3-20 tokens, 10% of 30-160
embeddings   8    12 / 38K    ``/v1/embeddings``: 1-8 inputs, base64 (openai-python's default)
                              or float vectors of 256-3072 dimensions
anthropic    8    5.0 / 16K   ``/v1/messages``: 70% JSON, 30% SSE (``message_start`` ...
                              ``message_stop``), cache read/write tokens
vllm         5    3.4 / 4.9K  a vLLM service: OpenAI chat / completions routes with vLLM-only
                              fields, and ``/generate`` (no usage: tokens are estimated)
kong_ai     10    2.8 / 4.5K  Kong AI Gateway ai-proxy logging only (no captured bodies):
                              3.8 / 3.10 / 3.12 ``ai`` layouts, payloads in 40%, Kong's cost
                              in half
error        5    3.4 / 4.5K  4xx/5xx: OpenAI 429 / 400 / 401 / 500 / 503, Anthropic 529 / 400,
                              Kong's own 429 / 401 (short circuits)
non_ai       9    2.7 / 5.6K  what else Kong proxies: health checks, ``/v1/models``, CORS
                              preflights, ``count_tokens``, ``/metrics``, REST APIs (skipped)
malformed    2    2.6 / 5.1K  truncated JSON, a JSON scalar, another producer's log line,
                              headers as a string, an AI call without ``started_at``
                              (dead letters)
========== ====== =========== ================================================================

All records (seed 7, 20,000): median 4.5 KB, mean 7.3 KB; 40% up to 4 KB, 44% 4-10 KB, 16%
above 10 KB, none above 150 KB.

``size_scale`` multiplies the text content (messages, completions, stream length, embedding
inputs, payloads, REST bodies); envelopes and embedding vectors keep their size, so the mean
record grows linearly, about 4.4 KB + 2.9 KB x ``size_scale``.

The package: ``records`` (``plan``, ``composition``, ``generate``), ``weights`` (``--mix``
overrides of the default weights), ``categories/`` (the table of categories with their default
weights, and one module per generator, each a ``make(m: Maker) -> bytes``), ``maker`` (one
record's random stream and the pieces every category shares), ``envelope`` (Kong's services,
routes, consumers; providers and clients) and ``corpus`` (the text content is cut from).
Record ``index`` of a mix depends only on the seed, its index, its category and
``size_scale``: the same arguments give the same bytes.
"""

from __future__ import annotations

from pipeline.bench.mix.categories import CATEGORIES, DEFAULT_WEIGHTS, EXPECTED, Category
from pipeline.bench.mix.records import composition, generate, generate_labelled, plan
from pipeline.bench.mix.weights import parse_weights, resolve_weights

__all__ = [
    "CATEGORIES",
    "DEFAULT_WEIGHTS",
    "EXPECTED",
    "Category",
    "composition",
    "generate",
    "generate_labelled",
    "parse_weights",
    "plan",
    "resolve_weights",
]
