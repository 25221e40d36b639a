"""Litefuse's HTTP answer → what the sink does with the batch: one pure function.

In the manner of Vector's ``RetryStrategy::retry_action``: every status maps to exactly one
action, decided here and nowhere else, so the table in ``tests/unit/test_sink_status.py`` is the
whole policy. Unknown codes are treated as the ``x00`` code of their class (RFC 9110 §15), so an
odd 299 is a success, 418 a client error and 599 a server error, while a 1xx or 3xx final answer
is never taken as delivered.

=======================  ==========================================================
action                   what the sink does
=======================  ==========================================================
Accepted                 the batch is delivered (2xx except 207)
Partial                  legacy 207: per-event results (5xx resent, 4xx dead-lettered)
Split                    413: the batch is halved, each half sent on its own
Retry(delay, reason)     408, 425, 429, 5xx, 1xx: backoff (``delay`` from Retry-After,
                         always capped by the sink at SINK_BACKOFF_CAP_SECONDS)
AuthFailed(reason)       401, 403, 407, 511: held, retried every SINK_BACKOFF_CAP_SECONDS
Misdirected(reason)      3xx, 404, 421: the URL is wrong. Redirects are never followed
                         (the keys must not go to another host): held like AuthFailed
Rejected(reason)         other 4xx, 501, 505: the server refuses this request as it is;
                         held with backoff until an operator fixes the cause
=======================  ==========================================================

Nothing but Accepted (and the accepted part of a Partial) counts as delivered.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

_SNIPPET = 300
_DELTA_SECONDS = re.compile(r"^\d{1,10}(?:\.\d{1,6})?$")


@dataclass(frozen=True, slots=True)
class Accepted:
    pass


@dataclass(frozen=True, slots=True)
class Partial:
    """A legacy 207: the body says which events failed."""


@dataclass(frozen=True, slots=True)
class Split:
    """413: the request was too large; send each half of the batch."""


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str
    delay: float | None = None
    """Seconds from Retry-After (finite, >= 0, not yet capped); None: the sink's backoff."""


@dataclass(frozen=True, slots=True)
class AuthFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class Misdirected:
    reason: str
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    reason: str


Action = Accepted | Partial | Split | Retry | AuthFailed | Misdirected | Rejected


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date (RFC 9110 §10.2.3).

    Only what the RFC allows is honoured: ``inf``, ``nan``, ``1e9``, negative numbers and
    unparseable text give None (the caller's own backoff); a date in the past gives 0. The
    result is finite but not capped: the sink caps every wait at its backoff cap.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELTA_SECONDS.match(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:  # HTTP dates are GMT; a zone-less one is invalid
        return None
    delay = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, delay) if math.isfinite(delay) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def snippet(body: str) -> str:
    return body[:_SNIPPET].replace("\n", " ").replace("\r", " ")


def classify(
    status: int,
    headers: Mapping[str, str],
    body: str,
    *,
    now: float | None = None,
) -> Action:
    """The one decision: what to do with a batch Litefuse answered ``status`` to."""
    text = snippet(body)
    if 200 <= status < 300:
        return Partial() if status == 207 else Accepted()
    if 300 <= status < 400:
        location = _header(headers, "location")
        where = f" to {location}" if location else " (no Location given)"
        return Misdirected(
            f"Litefuse answered {status}, a redirect{where}: redirects are not followed, so the "
            "keys never go to another host; set LANGFUSE_BASE_URL (or the route's base_url) "
            "to the URL that answers",
            location,
        )
    if status in (401, 403):
        return AuthFailed(
            f"Litefuse answered {status}: check LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY "
            f"and the project's ingestion status ({text})"
        )
    if status in (407, 511):
        return AuthFailed(
            f"Litefuse answered {status}: a proxy between the worker and Litefuse wants "
            f"credentials ({text})"
        )
    if status in (404, 421):
        return Misdirected(
            f"Litefuse answered {status} for the ingestion path: check LANGFUSE_BASE_URL (or "
            f"the route's base_url) and LANGFUSE_INGESTION ({text})"
        )
    if status == 413:
        return Split()
    if status in (408, 425, 429):
        return Retry(f"HTTP {status}", parse_retry_after(_header(headers, "retry-after"), now))
    if status in (501, 505):
        return Rejected(
            f"Litefuse answered {status}: it does not implement this request; check "
            f"LANGFUSE_INGESTION (otel needs Langfuse v3.22+ or Litefuse) ({text})"
        )
    if 500 <= status < 600:
        return Retry(f"HTTP {status}", parse_retry_after(_header(headers, "retry-after"), now))
    if 400 <= status < 500:
        hint = ""
        if status == 400 and "UnsupportedEventTypes" in body:
            hint = (
                " — this server does not take traces on the legacy ingestion API; "
                "set LANGFUSE_INGESTION=otel"
            )
        return Rejected(f"Litefuse rejected the batch ({status}): {text}{hint}")
    # 1xx as a final answer, or no HTTP status at all: nothing was delivered
    return Retry(f"HTTP {status}")
