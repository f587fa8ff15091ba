"""`manage.py runslackbot`: clear errors without tokens; with tokens, a Socket Mode
handler wired to the app and to SLACK_API_URL (stopped before it connects)."""

from __future__ import annotations

import pytest
from django.core.management import call_command, execute_from_command_line
from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler

from botcore.slack.app import reset_slack_bot, slack_bot

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_slack(settings):
    settings.SLACK_BOT_TOKEN = settings.SLACK_APP_TOKEN = settings.SLACK_SIGNING_SECRET = ""
    reset_slack_bot()
    yield settings
    reset_slack_bot()


def run(capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "runslackbot"])
    return exited.value.code, capsys.readouterr().err


def test_without_tokens_it_says_which_are_missing_and_exits_1(no_slack, capsys):
    code, err = run(capsys)

    assert code == 1
    assert "SLACK_BOT_TOKEN" in err and "SLACK_APP_TOKEN" in err


def test_with_only_the_app_token_missing_it_names_it(no_slack, capsys):
    no_slack.SLACK_BOT_TOKEN = "xoxb-1"

    code, err = run(capsys)

    assert code == 1
    assert "Missing: SLACK_APP_TOKEN." in err


def test_with_only_a_signing_secret_it_points_to_http_mode(no_slack, capsys):
    no_slack.SLACK_SIGNING_SECRET = "secret"

    code, err = run(capsys)

    assert code == 1
    assert "/slack/events" in err and "HTTP mode" in err


def test_with_tokens_it_starts_socket_mode_against_slack_api_url(
    no_slack, fake_slack, monkeypatch, capsys
):
    no_slack.SLACK_BOT_TOKEN = "xoxb-test"
    no_slack.SLACK_APP_TOKEN = "xapp-test"
    no_slack.SLACK_API_URL = fake_slack.api_url
    started: list[SocketModeHandler] = []
    monkeypatch.setattr(SocketModeHandler, "start", lambda self: started.append(self))

    call_command("runslackbot")

    (handler,) = started
    assert handler.app is slack_bot(socket_mode=True).app
    assert handler.app_token == "xapp-test"
    assert handler.client.web_client.base_url == fake_slack.api_url
    assert handler.app.client.base_url == fake_slack.api_url
    assert fake_slack.calls("auth.test"), "the bot token was checked against SLACK_API_URL"
    assert handler.client.closed  # closed on the way out
    assert "Socket Mode" in capsys.readouterr().out


def test_a_rejected_bot_token_is_a_clear_error(no_slack, fake_slack, capsys):
    no_slack.SLACK_BOT_TOKEN = "xoxb-revoked"
    no_slack.SLACK_APP_TOKEN = "xapp-test"
    no_slack.SLACK_API_URL = fake_slack.api_url
    fake_slack.errors["auth.test"] = "invalid_auth"

    code, err = run(capsys)

    assert code == 1
    assert "could not start" in err and "invalid_auth" in err
