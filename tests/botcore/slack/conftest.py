"""Slack door fixtures: a fake Web API per test, settings pointing at it, and a sender
that signs requests like Slack does and POSTs them to the real /slack/events view."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from tests.botcore.slack.fake_slack import BOT_USER_ID, TEAM_ID, FakeSlack

SIGNING_SECRET = "test-signing-secret"
USER_ID = "U0USER1"
CHANNEL_ID = "C0CHAN1"
QUESTION = "How many vacation days do I get?"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_settings(settings, fake_slack: FakeSlack):
    """The door configured for HTTP mode against the fake; work runs inline (workers=0)."""
    from botcore.slack.app import reset_slack_bot

    settings.SLACK_BOT_TOKEN = "xoxb-test-token"
    settings.SLACK_APP_TOKEN = ""
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_API_URL = fake_slack.api_url
    settings.ARANDU_BOT_WORKERS = 0
    settings.ARANDU_BOT_EDIT_INTERVAL_S = 0
    reset_slack_bot()
    yield settings
    reset_slack_bot()


class SlackSender:
    """Builds Slack's payloads and delivers them, signed, through Django's test client."""

    def __init__(self, client, fake: FakeSlack) -> None:
        self.client = client
        self.fake = fake
        self._ids = itertools.count(1)

    def post(
        self,
        body: str,
        *,
        content_type: str,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        headers: dict[str, str] | None = None,
    ):
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = SignatureVerifier(secret).generate_signature(
            timestamp=str(timestamp), body=body
        )
        all_headers = {
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        return self.client.post(
            "/slack/events", data=body, content_type=content_type, headers=all_headers
        )

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry: int | None = None,
        team_id: str = TEAM_ID,
        **kw,
    ):
        envelope = event_envelope(
            event, event_id=event_id or f"Ev{next(self._ids):04d}", team_id=team_id
        )
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post(
            json.dumps(envelope),
            content_type="application/json",
            headers=headers if retry else None,
            **kw,
        )

    def command(
        self,
        text: str,
        *,
        channel_id: str = CHANNEL_ID,
        response: str = "cmd",
        team_id: str = TEAM_ID,
        channel_name: str = "general",
    ):
        form = {
            "token": "legacy",
            "team_id": team_id,
            "team_domain": "acme",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": USER_ID,
            "user_name": "ana",
            "command": "/ask",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": self.fake.response_url(response),
            "trigger_id": "1337.42.abcd",
        }
        return self.post(urlencode(form), content_type="application/x-www-form-urlencoded")

    def interaction(self, payload: dict[str, Any]):
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, content_type="application/x-www-form-urlencoded")

    def click(self, action_id: str, request_id: str, *, response: str = "click"):
        return self.interaction(
            {
                "type": "block_actions",
                "team": {"id": TEAM_ID, "domain": "acme"},
                "user": {"id": USER_ID, "username": "ana", "name": "ana", "team_id": TEAM_ID},
                "api_app_id": "A0APP",
                "token": "legacy",
                "trigger_id": "1337.99.trigger",
                "channel": {"id": CHANNEL_ID, "name": "general"},
                "container": {"type": "message", "channel_id": CHANNEL_ID, "is_ephemeral": False},
                "message": {"type": "message", "ts": "1700000002.000100", "text": "answer"},
                "response_url": self.fake.response_url(response),
                "actions": [
                    {
                        "type": "button",
                        "action_id": action_id,
                        "block_id": "feedback",
                        "value": request_id,
                        "action_ts": "1700000100.000001",
                    }
                ],
            }
        )

    def submit_comment(self, request_id: str, text: str):
        return self.interaction(
            {
                "type": "view_submission",
                "team": {"id": TEAM_ID, "domain": "acme"},
                "user": {"id": USER_ID, "username": "ana", "name": "ana", "team_id": TEAM_ID},
                "api_app_id": "A0APP",
                "token": "legacy",
                "trigger_id": "1337.100.trigger",
                "view": {
                    "id": "V0001",
                    "type": "modal",
                    "callback_id": "feedback_comment",
                    "private_metadata": request_id,
                    "state": {
                        "values": {
                            "comment": {
                                "comment_input": {"type": "plain_text_input", "value": text}
                            }
                        }
                    },
                },
            }
        )


def event_envelope(
    event: dict[str, Any], *, event_id: str, team_id: str = TEAM_ID
) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": team_id,
        "api_app_id": "A0APP",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True, "enterprise_id": None}
        ],
        "is_ext_shared_channel": team_id != TEAM_ID,
    }


def mention(text: str = QUESTION, *, ts: str = "1699990000.000100", **extra) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": USER_ID,
        "text": f"<@{BOT_USER_ID}> {text}",
        "ts": ts,
        "channel": CHANNEL_ID,
        "event_ts": ts,
        **extra,
    }


def message(text: str, *, ts: str = "1699990000.000200", **extra) -> dict[str, Any]:
    return {
        "type": "message",
        "user": USER_ID,
        "text": text,
        "ts": ts,
        "channel": CHANNEL_ID,
        "event_ts": ts,
        "channel_type": "channel",
        **extra,
    }


@pytest.fixture
def slack(client, fake_slack: FakeSlack, slack_settings) -> SlackSender:
    """Send signed requests to /slack/events; the app is built (auth.test) beforehand so
    tests see only the calls their request causes."""
    from botcore.slack.app import slack_bot

    slack_bot()
    assert fake_slack.calls("auth.test"), "Bolt checks the token at start-up"
    fake_slack.clear()
    return SlackSender(client, fake_slack)


@pytest.fixture
def team_reads_every_set():
    """The test team's admin switched on "answer from every set": unbound channels and
    DMs read every set. Door tests that are not about scope answer from it."""
    from tests.factories import WorkspaceFactory

    return WorkspaceFactory(platform="slack", external_id=TEAM_ID, answers_from_every_set=True)
