"""Signed webhooks against a loopback receiver that verifies the signature and the
timestamp: retried with exponential backoff on 5xx and network errors (the waits are
recorded, not slept), each attempt recorded, permanent refusals not retried, the secret
read from its variable and never stored or sent."""

from __future__ import annotations

import hashlib
import hmac
import logging

import pytest
from django.core.exceptions import ValidationError

from ragengine.alerts.webhooks import (
    Backoff,
    webhook_body,
    webhook_post,
    webhook_signature,
)
from ragengine.models import WebhookAttempt
from tests.factories import WebhookFactory
from tests.ragengine.alerts.webhook_receiver import WebhookReceiver
from tests.ragengine.llm.provider_fixtures import unreachable_url
from tests.ragengine.llm.replay_server import FakeSleep

pytestmark = pytest.mark.django_db

SECRET = "test-signing-secret-0123456789"
PAYLOAD = {"type": "alert.firing", "alert": {"rule": "Stub down", "value": 1.0}}


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("ARANDU_TEST_WEBHOOK_SECRET", SECRET)


def post(webhook, waits: FakeSleep | None = None, **kwargs):
    return webhook_post(
        webhook=webhook,
        payload=PAYLOAD,
        event="alert.firing",
        delivery_id="alert-7",
        backoff=Backoff(initial_s=0.5, max_s=3.0, sleep=waits or FakeSleep()),
        **kwargs,
    )


def attempts(webhook) -> list[tuple[int, int | None]]:
    return list(webhook.attempts.order_by("pk").values_list("attempt", "status_code"))


def test_the_body_is_signed_over_timestamp_and_body_and_verifies():
    with WebhookReceiver(SECRET) as receiver:
        webhook = WebhookFactory(url=receiver.url)
        result = post(webhook)
    assert result.ok and result.attempts == 1 and result.status_code == 200
    (received,) = receiver.received
    assert received.verified
    assert received.json == PAYLOAD
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Arandu-Event"] == "alert.firing"
    assert received.headers["X-Arandu-Delivery"] == "alert-7"
    assert SECRET not in repr(received.headers) and SECRET.encode() not in received.body
    assert attempts(webhook) == [(1, 200)]


def test_the_signature_is_the_documented_hmac():
    body = webhook_body(PAYLOAD)
    assert webhook_signature(secret=b"k", timestamp=1700000000, body=body) == (
        "sha256=" + hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    )


def test_a_wrong_secret_or_a_stale_timestamp_is_refused_by_the_receiver(monkeypatch):
    with WebhookReceiver("another-secret") as receiver:
        webhook = WebhookFactory(url=receiver.url)
        assert not post(webhook).ok  # 401: permanent, not retried
    assert [r.verified for r in receiver.received] == [False]
    assert attempts(webhook) == [(1, 401)]

    with WebhookReceiver(SECRET) as receiver:
        webhook = WebhookFactory(url=receiver.url)
        result = post(webhook, clock=lambda: 1_000_000_000)  # a replayed, old timestamp
    assert not result.ok and "HTTP 401" in result.error


def test_failures_are_retried_with_exponential_backoff_and_every_attempt_recorded(caplog):
    caplog.set_level(logging.DEBUG)
    waits = FakeSleep()
    with WebhookReceiver(SECRET, fail_first=3) as receiver:
        webhook = WebhookFactory(url=receiver.url, max_attempts=5)
        result = post(webhook, waits)
    assert result.ok and result.attempts == 4
    assert waits.waits == [0.5, 1.0, 2.0]
    assert attempts(webhook) == [(1, 503), (2, 503), (3, 503), (4, 200)]
    assert all(r.verified for r in receiver.received)
    # each attempt is signed afresh (its own timestamp header), same body
    assert len({r.body for r in receiver.received}) == 1
    assert "webhook attempt" in caplog.text and SECRET not in caplog.text
    assert all(SECRET not in repr(r.__dict__) for r in caplog.records)


def test_attempts_run_out_and_the_backoff_is_capped():
    waits = FakeSleep()
    with WebhookReceiver(SECRET, fail_first=100) as receiver:
        webhook = WebhookFactory(url=receiver.url, max_attempts=6)
        result = post(webhook, waits)
    assert not result.ok and result.attempts == 6 and result.status_code == 503
    assert waits.waits == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert len(receiver.received) == 6
    assert WebhookAttempt.objects.filter(webhook=webhook, status_code=503).count() == 6


def test_an_unreachable_receiver_is_retried_and_recorded_with_its_error():
    webhook = WebhookFactory(url=unreachable_url() + "/hook", max_attempts=2)
    result = post(webhook)
    assert not result.ok and result.status_code is None
    rows = list(webhook.attempts.order_by("pk"))
    assert [r.attempt for r in rows] == [1, 2]
    assert all("Connection" in r.error or "refused" in r.error for r in rows)


def test_redirects_are_not_followed():
    with WebhookReceiver(SECRET, status=302) as receiver:
        webhook = WebhookFactory(url=receiver.url)
        result = post(webhook)
    assert not result.ok and result.status_code == 302 and len(receiver.received) == 1


def test_a_missing_secret_variable_sends_nothing_and_says_so(monkeypatch):
    monkeypatch.delenv("ARANDU_TEST_WEBHOOK_SECRET")
    with WebhookReceiver(SECRET) as receiver:
        webhook = WebhookFactory(url=receiver.url)
        result = post(webhook)
    assert receiver.received == []
    assert not result.ok
    assert result.error == "The signing secret variable ARANDU_TEST_WEBHOOK_SECRET is not set."
    assert webhook.attempts.get().error == result.error


@pytest.mark.parametrize(
    ("secret_env", "problem"),
    [
        ("DJANGO_SECRET_KEY", "must contain WEBHOOK"),
        ("whsec_abc123", "NAME of an environment variable"),
        ("my secret", "NAME of an environment variable"),
    ],
)
def test_a_webhook_names_a_webhook_secret_variable(secret_env, problem):
    with pytest.raises(ValidationError) as error:
        WebhookFactory.build(secret_env=secret_env).full_clean()
    assert problem in str(error.value)


def test_only_http_addresses():
    with pytest.raises(ValidationError) as error:
        WebhookFactory.build(url="ftp://example.com/hook").full_clean()
    assert "url" in error.value.message_dict
