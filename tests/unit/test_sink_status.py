"""The sink's whole answer policy, row by row: Litefuse's status (+ headers, body) → action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from pipeline.sinks.status import (
    Accepted,
    AuthFailed,
    Misdirected,
    Partial,
    Rejected,
    Retry,
    Split,
    classify,
    parse_retry_after,
)

NOW = 1_800_000_000.0
LOCATION = {"Location": "https://elsewhere.example/api/public/otel/v1/traces"}
UNSUPPORTED = '{"error":"UnsupportedEventTypes","message":"only score-create and sdk-log"}'


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind"),
    [
        # delivered: 2xx (an unknown 2xx is a 200, RFC 9110 §15)
        (200, {}, "{}", Accepted),
        (201, {}, "", Accepted),
        (202, {}, "", Accepted),
        (204, {}, "", Accepted),
        (299, {}, "", Accepted),
        (207, {}, '{"successes":[],"errors":[]}', Partial),
        # redirects are never delivered, never followed
        (301, LOCATION, "", Misdirected),
        (302, LOCATION, "", Misdirected),
        (303, LOCATION, "", Misdirected),
        (307, LOCATION, "", Misdirected),
        (308, LOCATION, "", Misdirected),
        (300, {}, "", Misdirected),
        (304, {}, "", Misdirected),
        (399, {}, "", Misdirected),
        # client errors
        (400, {}, '{"message":"invalid"}', Rejected),
        (400, {}, UNSUPPORTED, Rejected),
        (401, {}, '{"message":"Invalid credentials"}', AuthFailed),
        (403, {}, '{"message":"ingestion suspended"}', AuthFailed),
        (407, {}, "", AuthFailed),
        (404, {}, '{"message":"not found"}', Misdirected),
        (421, {}, "", Misdirected),
        (408, {}, "", Retry),
        (409, {}, "", Rejected),
        (413, {}, "", Split),
        (415, {}, "", Rejected),
        (418, {}, "I'm a teapot", Rejected),
        (425, {}, "", Retry),
        (429, {}, "", Retry),
        (429, {"Retry-After": "3"}, "", Retry),
        (451, {}, "", Rejected),
        (499, {}, "", Rejected),
        # server errors
        (500, {}, "", Retry),
        (501, {}, "", Rejected),
        (502, {}, "", Retry),
        (503, {"Retry-After": "2"}, "", Retry),
        (504, {}, "", Retry),
        (505, {}, "", Rejected),
        (507, {}, "", Retry),
        (511, {}, "", AuthFailed),
        (599, {}, "", Retry),
        # not a final answer: not delivered
        (100, {}, "", Retry),
        (199, {}, "", Retry),
    ],
)
def test_each_status_has_one_action(
    status: int, headers: dict[str, str], body: str, kind: type
) -> None:
    assert type(classify(status, headers, body, now=NOW)) is kind


def test_only_2xx_counts_as_delivered() -> None:
    delivered = [s for s in range(100, 600) if isinstance(classify(s, {}, "", now=NOW), Accepted)]
    assert delivered == [s for s in range(200, 300) if s != 207]


def test_a_redirect_names_the_setting_and_where_it_points() -> None:
    action = classify(307, LOCATION, "", now=NOW)
    assert isinstance(action, Misdirected)
    assert action.location == LOCATION["Location"]
    assert "LANGFUSE_BASE_URL" in action.reason and LOCATION["Location"] in action.reason
    assert "not followed" in action.reason
    bare = classify(302, {}, "", now=NOW)
    assert isinstance(bare, Misdirected) and bare.location is None
    assert "no Location" in bare.reason


def test_headers_are_matched_whatever_their_case() -> None:
    action = classify(301, {"LOCATION": "https://x.example"}, "", now=NOW)
    assert isinstance(action, Misdirected) and action.location == "https://x.example"
    retry = classify(429, {"retry-after": "4"}, "", now=NOW)
    assert isinstance(retry, Retry) and retry.delay == 4.0


def test_400_says_what_to_do_only_for_unsupported_event_types() -> None:
    unsupported = classify(400, {}, UNSUPPORTED, now=NOW)
    plain = classify(400, {}, '{"message":"invalid"}', now=NOW)
    assert isinstance(unsupported, Rejected) and "LANGFUSE_INGESTION=otel" in unsupported.reason
    assert isinstance(plain, Rejected) and "LANGFUSE_INGESTION" not in plain.reason
    assert '{"message":"invalid"}' in plain.reason


def test_auth_failures_name_the_keys_and_keep_the_server_message_short() -> None:
    action = classify(401, {}, "x" * 10_000 + "\nsecond line", now=NOW)
    assert isinstance(action, AuthFailed)
    assert "LANGFUSE_PUBLIC_KEY" in action.reason and "LANGFUSE_SECRET_KEY" in action.reason
    assert len(action.reason) < 500 and "\n" not in action.reason


def test_429_without_retry_after_leaves_the_delay_to_the_backoff() -> None:
    action = classify(429, {}, "", now=NOW)
    assert isinstance(action, Retry) and action.delay is None
    assert isinstance(classify(503, {"Retry-After": "2"}, "", now=NOW), Retry)
    assert classify(503, {"Retry-After": "2"}, "", now=NOW) == Retry("HTTP 503", 2.0)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("1", 1.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("1000000000", 1e9),  # valid and huge: the sink caps it
        ("inf", None),
        ("Infinity", None),
        ("nan", None),
        ("1e9", None),
        ("-5", None),
        ("-0", None),
        ("", None),
        ("soon", None),
        ("0x10", None),
        (None, None),
    ],
)
def test_retry_after_takes_only_what_the_rfc_allows(value: str | None, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime.fromtimestamp(NOW, UTC)
    in_90s = format_datetime(now + timedelta(seconds=90), usegmt=True)
    far = format_datetime(now + timedelta(days=3650), usegmt=True)
    past = format_datetime(now - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(in_90s, now=NOW) == pytest.approx(90.0)
    assert parse_retry_after(far, now=NOW) == pytest.approx(3650 * 86400.0)  # capped by the sink
    assert parse_retry_after(past, now=NOW) == 0.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now=NOW) == 0.0
    assert parse_retry_after("Sun, 06 Nov 1994 08:49:37", now=NOW) is None  # no zone: invalid
    assert parse_retry_after("Mon, 99 Foo 2026 25:61:61 GMT", now=NOW) is None
