"""`manage.py runslackbot`: the Slack bot over Socket Mode (no public URL needed)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackClientError

from botcore.slack.app import SlackBot, slack_bot

logger = logging.getLogger(__name__)

MISSING_TOKENS = (
    "Socket Mode needs SLACK_BOT_TOKEN (xoxb-…, OAuth & Permissions) and SLACK_APP_TOKEN "
    "(xapp-…, Basic Information → App-Level Tokens, scope connections:write). Missing: {}."
)
HTTP_MODE_ONLY = (
    "SLACK_SIGNING_SECRET is set without SLACK_APP_TOKEN, which means HTTP mode: "
    "the web server answers Slack at /slack/events (set the app's Request URLs to "
    "https://YOUR-HOST/slack/events) and this command is not needed. "
    "To use Socket Mode instead, set SLACK_BOT_TOKEN and SLACK_APP_TOKEN."
)


class Command(BaseCommand):
    help = (
        "Run the Slack bot over Socket Mode (needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN). "
        "HTTP mode needs no command: the web server serves /slack/events."
    )

    def handle(self, *args, **options) -> None:
        handler, bot = self.socket_mode_handler()
        self.stdout.write(
            f"Slack bot connecting over Socket Mode (Web API: {settings.SLACK_API_URL})"
        )
        try:
            handler.start()  # blocks until interrupted
        except KeyboardInterrupt:
            pass
        finally:
            handler.close()
            bot.shutdown()
        self.stdout.write("Slack bot stopped.")

    def socket_mode_handler(self) -> tuple[SocketModeHandler, SlackBot]:
        """The handler `handle` starts, and the bot whose pool it must shut down."""
        bot_token, app_token = settings.SLACK_BOT_TOKEN, settings.SLACK_APP_TOKEN
        if not app_token and settings.SLACK_SIGNING_SECRET:
            raise CommandError(HTTP_MODE_ONLY)
        missing = [
            name
            for name, value in (("SLACK_BOT_TOKEN", bot_token), ("SLACK_APP_TOKEN", app_token))
            if not value
        ]
        if missing:
            raise CommandError(MISSING_TOKENS.format(", ".join(missing)))
        try:
            bot = slack_bot(socket_mode=True)
        except (BoltError, SlackClientError, OSError, ImproperlyConfigured) as exc:
            raise CommandError(f"The Slack app could not start: {exc}") from exc
        handler = SocketModeHandler(
            bot.app,
            app_token=app_token,
            web_client=bot.app.client,  # the app's client: already on SLACK_API_URL
        )
        return handler, bot
