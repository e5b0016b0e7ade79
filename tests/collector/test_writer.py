"""The pure part of the writers (collector/writer.py): how HTTP statuses and network errors are sorted, how
Retry-After is read, and how a server's error becomes a one-line message without secrets. Table-tested."""

from __future__ import annotations

import base64
import email.utils
import socket

import pytest

from homeshore.collector.writer import (
    MESSAGE_MAX_CHARS, REDACTED, WriteOutcome, classify, one_line, parse_retry_after, result_for_error,
    result_for_response, secret_forms, server_error_text,
)

OK, MALFORMED, RETRY, REFUSED, TOO_LARGE = (WriteOutcome.OK, WriteOutcome.MALFORMED, WriteOutcome.RETRY,
                                            WriteOutcome.REFUSED, WriteOutcome.TOO_LARGE)

STATUSES = [
    (200, OK), (204, OK),
    (400, MALFORMED), (422, MALFORMED),  # the only two that ever quarantine a line
    (413, TOO_LARGE),
    (401, REFUSED), (403, REFUSED),
    (404, REFUSED),  # 1.x "database not found", 2.x "bucket not found": configuration, the data is fine
    (405, REFUSED), (407, REFUSED), (409, REFUSED), (301, REFUSED), (302, REFUSED),
    (408, RETRY), (429, RETRY), (500, RETRY), (502, RETRY), (503, RETRY), (504, RETRY), (507, RETRY), (599, RETRY),
]


@pytest.mark.parametrize(("status", "outcome"), STATUSES)
def test_statuses_are_sorted_as_documented(status: int, outcome: WriteOutcome) -> None:
    assert classify(status) is outcome


NOW_S = 1_700_000_000.0
RETRY_AFTERS = [
    (None, None), ("", None), ("  ", None), ("soon", None), ("-5", None), ("1e3", None),
    ("120", 120.0), (" 7 ", 7.0), ("0", 0.0), ("2.5", 2.5),
    (email.utils.formatdate(NOW_S + 90, usegmt=True), 90.0),
    (email.utils.formatdate(NOW_S - 90, usegmt=True), 0.0),  # a date in the past: now
    ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP-date
]


@pytest.mark.parametrize(("header", "seconds"), RETRY_AFTERS)
def test_retry_after_is_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now_s=NOW_S) == seconds


BODIES = [
    (b'{"error":"database not found: \\"nope\\""}', 'database not found: "nope"'),  # 1.x
    ('{"code":"invalid","message":"unable to parse \'x\': missing fields"}',
     "invalid: unable to parse 'x': missing fields"),
    ('{"message":"m"}', "m"),
    ("<html><body>502 Bad Gateway</body></html>", "<html><body>502 Bad Gateway</body></html>"),
    ("[1, 2]", "[1, 2]"),
    (b"", ""), (None, ""),
]


@pytest.mark.parametrize(("body", "text"), BODIES)
def test_the_servers_reason_is_read_from_1x_and_2x_bodies(body, text: str) -> None:
    assert server_error_text(body) == text


def test_a_message_is_one_line_cut_to_the_limit_and_never_holds_a_secret() -> None:
    secret = "hunter2-very-secret"
    basic = base64.b64encode(f"writer:{secret}".encode()).decode()
    body = f'{{"error": "bad header\\nAuthorization: Basic {basic} (password {secret})\\r\\n{"x" * 500}"}}'
    result = result_for_response(401, body, secrets=secret_forms(secret, username="writer"))
    assert result.outcome is REFUSED and result.status == 401
    assert "\n" not in result.message and "\r" not in result.message
    assert len(result.message) <= MESSAGE_MAX_CHARS
    assert secret not in result.message and basic not in result.message
    assert result.message.startswith("HTTP 401: bad header Authorization: Basic [redacted] (password [redacted])")


def test_a_secret_cut_by_the_limit_leaks_no_prefix() -> None:
    secret = "s3cr3t-" * 10
    text = "x" * (MESSAGE_MAX_CHARS - 20) + secret
    message = one_line(text, [secret])
    assert secret[:10] not in message and REDACTED[:10] in message


def test_retry_after_is_kept_only_on_retry_outcomes() -> None:
    assert result_for_response(429, "", retry_after="30").retry_after_s == 30.0
    assert result_for_response(503, "", retry_after="30").retry_after_s == 30.0
    assert result_for_response(400, "", retry_after="30").retry_after_s is None
    assert result_for_response(204, "", retry_after="30") == result_for_response(204, None)
    assert result_for_response(500, "", reason="Internal Server Error").message == "HTTP 500: Internal Server Error"


@pytest.mark.parametrize("error", [ConnectionRefusedError(111, "Connection refused"), ConnectionResetError(),
                                   socket.gaierror(-2, "Name or service not known"), TimeoutError("timed out")])
def test_no_answer_is_retry(error: BaseException) -> None:
    result = result_for_error(error, secrets=["pw"])
    assert result.outcome is RETRY and result.status is None and result.retry_after_s is None
    assert type(error).__name__ in result.message
