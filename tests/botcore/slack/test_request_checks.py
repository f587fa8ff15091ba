"""Bad requests to /slack/events (unsigned, forged, stale, malformed headers, oversized,
signed but malformed bodies) through the real view, against the fake Web API: each gets a
clear 4xx, no traceback, at most one throttled log line, and never a call to Slack, also
while the app can't start."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest

from botcore.slack.verify import MAX_BODY_BYTES, MAX_NESTING
from tests.botcore.slack.conftest import SIGNING_SECRET, SlackSender, event_envelope, mention

pytestmark = pytest.mark.django_db

URL_VERIFICATION = json.dumps({"token": "legacy", "challenge": "c1", "type": "url_verification"})


@dataclass(frozen=True)
class Bad:
    body: bytes | str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def slack_headers(body: bytes | str, *, timestamp: str | None = None, secret: str = SIGNING_SECRET):
    """Signed like Slack signs: SignatureVerifier for text, the same HMAC by hand for
    bytes that aren't UTF-8 (which SignatureVerifier can't sign)."""
    from slack_sdk.signature import SignatureVerifier

    timestamp = timestamp or str(int(time.time()))
    if isinstance(body, bytes):
        base = f"v0:{timestamp}:".encode() + body
        signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    else:
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": signature}


DEEP_ARRAY = "[" * 5000 + "]" * 5000
EVENT = json.dumps(event_envelope(mention(), event_id="EvBad"))


def unsigned_requests() -> dict[str, tuple[Bad, int]]:
    """Requests that carry no valid signature, whatever their body: refused on the
    headers. Built when a test runs, so "stale" and "from the future" stay 6 minutes
    off the clock however long the suite ran before."""
    now = str(int(time.time()))
    return {
        "no-headers-broken-json": (Bad("{"), 401),
        "no-headers-array": (Bad("[1, 2]"), 401),
        "no-headers-deep-nesting": (Bad(DEEP_ARRAY), 401),
        "no-headers-not-utf8": (Bad(b"\xff\xfe{"), 401),
        "only-timestamp": (Bad(EVENT, {"X-Slack-Request-Timestamp": now}), 401),
        "forged-event": (Bad(EVENT, slack_headers(EVENT, secret="guessed")), 401),
        "forged-broken-json": (Bad("{", slack_headers("{", secret="guessed")), 401),
        "forged-array": (Bad("[1]", slack_headers("[1]", secret="guessed")), 401),
        "forged-deep-nesting": (
            Bad(DEEP_ARRAY, slack_headers(DEEP_ARRAY, secret="guessed")),
            401,
        ),
        "forged-not-utf8": (Bad(b"\xff{", {**slack_headers("x", secret="guessed")}), 401),
        "stale": (
            Bad(EVENT, slack_headers(EVENT, timestamp=str(int(time.time()) - 6 * 60))),
            401,
        ),
        "from-the-future": (
            Bad(EVENT, slack_headers(EVENT, timestamp=str(int(time.time()) + 6 * 60))),
            401,
        ),
        "non-numeric-timestamp": (
            Bad(
                EVENT,
                {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=" + "0" * 64},
            ),
            400,
        ),
        "non-ascii-digits-timestamp": (
            Bad(EVENT, {"X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠", "X-Slack-Signature": "v0=00"}),
            400,
        ),
        "malformed-signature": (
            Bad(EVENT, {"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "sha1=abc"}),
            400,
        ),
    }


def signed(body: bytes | str, content_type: str = "application/json") -> Bad:
    return Bad(body, slack_headers(body), content_type)


def nested_object(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


# Bodies carrying a valid signature that still aren't a Slack payload.
SIGNED_MALFORMED = {
    "broken-json": signed('{"type": "event_callback", '),
    "json-array": signed('[{"type": "event_callback"}]'),
    "json-string": signed('"event_callback"'),
    "deep-array": signed(DEEP_ARRAY),
    "object-nested-beyond-the-limit": signed(nested_object(MAX_NESTING + 1)),
    "not-utf8": signed(b'{"text": "\xff"}'),
    "form-payload-broken-json": signed(
        urlencode({"payload": '{"type": '}), "application/x-www-form-urlencoded"
    ),
    "form-payload-array": signed(
        urlencode({"payload": "[1, 2]"}), "application/x-www-form-urlencoded"
    ),
    "json-with-charset-that-is-an-array": signed("[1]", "application/json; charset=utf-8"),
    "authorizations-not-a-list-of-objects": signed(
        json.dumps({"type": "event_callback", "authorizations": ["x"]})
    ),
}


def send(client, bad: Bad, **extra):
    return client.post(
        "/slack/events",
        data=bad.body,
        content_type=bad.content_type,
        headers=bad.headers,
        **extra,
    )


@pytest.fixture
def quiet_log():
    """A fresh rejection-log throttle for tests that count log lines."""
    from botcore.slack.views import rejection_log

    rejection_log.cache_clear()
    yield
    rejection_log.cache_clear()


@pytest.fixture
def slack_down(slack_settings, fake_slack):
    """The door configured, but auth.test refuses the token: the app can't start."""
    fake_slack.errors["auth.test"] = "invalid_auth"
    return fake_slack


def no_tracebacks(records: list[logging.LogRecord]) -> bool:
    return all(r.exc_info is None and "Traceback" not in r.getMessage() for r in records)


@pytest.mark.parametrize("name", list(unsigned_requests()))
def test_unsigned_or_forged_requests_are_refused_on_their_headers(
    name, slack, fake_slack, caplog, quiet_log
):
    bad, status = unsigned_requests()[name]

    with caplog.at_level(logging.DEBUG):
        response = send(slack.client, bad)

    assert response.status_code == status
    assert response.json()["message"]
    assert fake_slack.requests == []
    assert no_tracebacks(caplog.records)
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) <= 1


@pytest.mark.parametrize("name", list(unsigned_requests()))
def test_while_the_app_cannot_start_bad_requests_never_call_slack(
    name, client, slack_down, caplog, quiet_log
):
    bad, status = unsigned_requests()[name]

    with caplog.at_level(logging.DEBUG):
        response = send(client, bad)

    assert response.status_code == status
    assert slack_down.requests == []  # no auth.test: the app was not even built
    assert no_tracebacks(caplog.records)


@pytest.mark.parametrize("name", list(SIGNED_MALFORMED))
def test_signed_but_malformed_bodies_get_400(name, slack, fake_slack, caplog, quiet_log):
    with caplog.at_level(logging.DEBUG):
        response = send(slack.client, SIGNED_MALFORMED[name])

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_body"
    assert fake_slack.requests == []
    assert no_tracebacks(caplog.records)


def test_signed_malformed_body_is_refused_before_the_app_starts(client, slack_down):
    response = send(client, SIGNED_MALFORMED["json-array"])

    assert response.status_code == 400
    assert slack_down.requests == []


def test_a_payload_nested_as_deep_as_allowed_still_gets_through(slack, fake_slack):
    envelope = json.loads(URL_VERIFICATION)
    envelope["extra"] = json.loads(nested_object(MAX_NESTING - 1))

    response = slack.post(json.dumps(envelope), content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"challenge": "c1"}


class CountingStream:
    """A wsgi.input that records how much of it was read."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        chunk = b"{" * (65536 if size is None or size < 0 else min(size, 65536))
        self.read_bytes += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def test_an_oversized_body_gets_413_before_any_of_it_is_read(slack, fake_slack):
    stream = CountingStream()
    declared = 50 * MAX_BODY_BYTES

    response = send(
        slack.client,
        Bad("", slack_headers("x")),
        CONTENT_LENGTH=str(declared),
        **{"wsgi.input": stream},
    )

    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert stream.read_bytes == 0
    assert fake_slack.requests == []


def test_a_signed_body_just_over_the_limit_gets_413(slack, fake_slack):
    body = json.dumps({"type": "event_callback", "pad": "x" * MAX_BODY_BYTES})

    response = slack.post(body, content_type="application/json")

    assert response.status_code == 413
    assert fake_slack.requests == []


def test_a_malformed_content_length_gets_400(slack):
    response = send(slack.client, signed(URL_VERIFICATION), CONTENT_LENGTH="12abc")

    assert response.status_code == 400


def test_a_flood_of_bad_requests_logs_one_line_per_reason(client, slack_down, caplog, quiet_log):
    cases = [bad for bad, _ in unsigned_requests().values()] + list(SIGNED_MALFORMED.values())

    with caplog.at_level(logging.DEBUG):
        statuses = {send(client, bad).status_code for _ in range(5) for bad in cases}

    assert statuses <= {400, 401}
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    reasons = [r.reason for r in loud]
    assert loud and all(r.getMessage() == "slack request rejected" for r in loud)
    assert len(reasons) == len(set(reasons))  # 5 rounds, yet one line per reason
    assert not [r for r in caplog.records if r.name == "django.request"]
    assert no_tracebacks(caplog.records)
    assert slack_down.requests == []


def test_the_throttled_line_says_how_many_were_left_out():
    from botcore.slack.verify import BAD_SIGNATURE, RejectionLog

    now = [0.0]
    log = RejectionLog(interval_s=60, clock=lambda: now[0])

    written = [log.warn(BAD_SIGNATURE, remote_addr="10.0.0.9") for _ in range(4)]
    now[0] = 61.0
    assert written == [True, False, False, False]
    assert log.warn(BAD_SIGNATURE, remote_addr="10.0.0.9") is True


def test_the_throttled_line_carries_the_left_out_count(caplog):
    from botcore.slack.verify import BAD_SIGNATURE, RejectionLog

    now = [0.0]
    log = RejectionLog(interval_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            log.warn(BAD_SIGNATURE, remote_addr="10.0.0.9")
        now[0] = 61.0
        log.warn(BAD_SIGNATURE, remote_addr="10.0.0.9")

    assert [r.not_logged_since_last for r in caplog.records] == [0, 3]
    assert caplog.records[0].remote_addr == "10.0.0.9"


def test_a_failed_start_is_remembered_instead_of_calling_auth_test_again(
    client, slack_down, caplog
):
    from botcore.slack.app import START_RETRY_S, bot_starter

    sender = SlackSender(client, slack_down)
    with caplog.at_level(logging.INFO):
        first = sender.post(URL_VERIFICATION, content_type="application/json")
        second = sender.post(URL_VERIFICATION, content_type="application/json")

    assert first.status_code == second.status_code == 503
    assert "SLACK_BOT_TOKEN" in second.json()["message"]
    assert len(slack_down.calls("auth.test")) == 1
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in loud] == ["slack app could not start"]  # once, not per request

    # once the retry interval has passed (and the token is fixed), the next request retries
    starter = bot_starter()
    started = starter.clock()
    starter.clock = lambda: started + START_RETRY_S + 1
    del slack_down.errors["auth.test"]
    third = sender.post(URL_VERIFICATION, content_type="application/json")

    assert third.status_code == 200 and third.json() == {"challenge": "c1"}
    assert len(slack_down.calls("auth.test")) == 2


def test_concurrent_first_requests_build_the_app_once(slack_settings, monkeypatch):
    from botcore.slack import app as slack_app

    real_build = slack_app.build_slack_bot
    builds: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def slow_build(**kwargs):
        builds.append(1)
        entered.set()
        release.wait(timeout=10)
        return real_build(**kwargs)

    monkeypatch.setattr(slack_app, "build_slack_bot", slow_build)
    bots: list = []
    first = threading.Thread(target=lambda: bots.append(slack_app.slack_bot()))
    second = threading.Thread(target=lambda: bots.append(slack_app.slack_bot()))
    first.start()
    assert entered.wait(timeout=10)
    second.start()
    release.set()
    first.join(timeout=10)
    second.join(timeout=10)

    assert len(builds) == 1
    assert len(bots) == 2 and bots[0] is bots[1]
