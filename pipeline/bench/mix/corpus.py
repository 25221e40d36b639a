"""The text the records' content is cut from: ~256 KB of sentences, code and non-ASCII."""

from __future__ import annotations

import random
from functools import lru_cache

_VOCABULARY = (
    "the a an of to and in is for on with that this it as be are by from at or we you your "
    "our can will should would could not if then when how why what which there their they "
    "them please explain summarise summarize write draft review translate compare list "
    "describe fix refactor improve rewrite generate classify extract answer question "
    "context document customer support ticket order invoice refund shipment account "
    "password reset billing plan kafka consumer producer partition offset topic broker lag "
    "rebalance group commit retention kong gateway route service plugin upstream latency "
    "request response header token rate limit python function class method return value "
    "error exception stack trace test case unit async database query index table schema "
    "migration postgres redis cache key value ttl replica kubernetes pod deployment node "
    "cluster namespace helm chart ingress secret config map model prompt completion "
    "embedding vector search retrieval chunk score rank answer source user session message "
    "chat assistant system tool call result json field array object string data pipeline "
    "stream batch window event time latency throughput memory cpu disk network report "
    "meeting notes action items decision owner deadline quarter revenue growth margin café "
    "naïve résumé déjà-vu straße 東京 данные — → ✓ 数据 größe über"
)
_WORDS = _VOCABULARY.split()
_CODE = (
    '`kafka-consumer-groups --describe --group "kong-litefuse"`',
    '```python\ndef handler(event):\n    return {"status": "ok", "items": event["items"]}\n```',
    '{"error": {"code": 429, "message": "slow down"}}',
    "SELECT id, total FROM orders WHERE created_at > now() - interval '1 day';",
    "https://docs.example.com/kong/plugins/kafka-log?version=3.10#config",
    "C:\\Users\\dev\\project\\config.yaml",
)


@lru_cache(maxsize=1)
def text_corpus() -> str:
    """~256 KB of text-like content: sentences, paragraphs, code, quotes, non-ASCII."""
    rng = random.Random(0x6B6F6E67)
    parts: list[str] = []
    size = 0
    while size < 262_144:
        sentences = []
        for _ in range(rng.randint(2, 6)):
            words = rng.choices(_WORDS, k=rng.randint(5, 22))
            words[0] = words[0].capitalize()
            if rng.random() < 0.1:
                words.insert(rng.randrange(len(words)), f'"{rng.choice(_WORDS)}"')
            sentences.append(" ".join(words) + rng.choice(".....?!:"))
        if rng.random() < 0.12:
            sentences.append(rng.choice(_CODE))
        paragraph = " ".join(sentences)
        parts.append(paragraph)
        size += len(paragraph) + 2
    return "\n\n".join(parts)
