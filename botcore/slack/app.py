"""The one Bolt `App` of a process, with the background pool its listeners hand work to.

The web server builds it for the HTTP Events API (`/slack/events`), `runslackbot` for
Socket Mode. Both talk to the Web API at SLACK_API_URL, so a local stand-in can replace
Slack in tests and demos.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from slack_bolt import App
from slack_bolt.adapter.django import SlackRequestHandler
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from botcore.jobs import BackgroundJobs
from botcore.slack.listeners import register_listeners

logger = logging.getLogger(__name__)


# Threads for the short steps (claim, placeholder, votes): Slack API calls only.
QUICK_WORKERS = 2
# After the app failed to start (auth.test refused the token, Slack unreachable), requests
# get the remembered failure for this long before auth.test is called again.
START_RETRY_S = 30.0


@dataclass(frozen=True, slots=True)
class SlackBot:
    app: App
    jobs: BackgroundJobs  # answering
    quick: BackgroundJobs  # claim + placeholder, votes, `/ask sets`
    django_handler: SlackRequestHandler | None  # None in Socket Mode

    def shutdown(self) -> None:
        """Finish queued work: announcements first, since they queue answers."""
        self.quick.shutdown(wait=True)
        self.jobs.shutdown(wait=True)


class InlineExecutor(Executor):
    """Runs Bolt's listeners on the calling thread (workers=0: tests and tools)."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # Bolt's runner handles listener errors itself
            future.set_exception(exc)
        return future


def build_slack_bot(
    *,
    token: str,
    api_url: str,
    workers: int,
    signing_secret: str = "",
    socket_mode: bool = False,
) -> SlackBot:
    """A Bolt app with our listeners. Calls auth.test once (Bolt learns the bot's user
    id from it), so a bad token fails here, loudly, not on the first question.

    `workers=0` runs everything inline on the request's thread, for deterministic tests.
    """
    if not token:
        raise ImproperlyConfigured("SLACK_BOT_TOKEN is not set.")
    if not socket_mode and not signing_secret:
        raise ImproperlyConfigured("SLACK_SIGNING_SECRET is needed to verify HTTP requests.")
    jobs = BackgroundJobs(workers=workers, name="slack")
    quick = BackgroundJobs(workers=QUICK_WORKERS if workers else 0, name="slack-quick")
    app = App(
        # the client carries the token; passing `token=` too only makes Bolt warn
        client=WebClient(token=token, base_url=api_url),
        signing_secret=signing_secret or None,
        # Socket Mode frames arrive over an authenticated websocket and carry no signature
        request_verification_enabled=not socket_mode,
        process_before_response=False,
        listener_executor=InlineExecutor() if workers == 0 else None,
        name="arandu",
    )
    register_listeners(app, jobs=jobs, quick=quick)
    handler = None if socket_mode else SlackRequestHandler(app)
    logger.info(
        "slack app ready",
        extra={
            "platform": "slack",
            "mode": "socket" if socket_mode else "http",
            "workers": workers,
        },
    )
    return SlackBot(app=app, jobs=jobs, quick=quick, django_handler=handler)


class SlackStartFailed(BoltError):
    """The app failed to start less than `BotStarter.retry_s` ago: not tried again yet."""


class BotStarter:
    """Builds this process's bot once per mode, one build at a time (concurrent first
    requests must not each call auth.test and start their own pools).

    After a failure it remembers the error for `retry_s` seconds and raises
    `SlackStartFailed` without calling Slack, so a revoked token or an unreachable Slack
    can't turn every incoming request into an outbound call.
    """

    def __init__(self, *, retry_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.retry_s = retry_s
        self.clock = clock
        self._lock = threading.Lock()
        self._bots: dict[bool, SlackBot] = {}
        self._failed_at: float | None = None
        self._failure = ""

    def bot(self, *, socket_mode: bool = False) -> SlackBot:
        bot = self._bots.get(socket_mode)
        if bot is not None:
            return bot
        with self._lock:
            bot = self._bots.get(socket_mode)
            if bot is not None:
                return bot
            if self._failed_at is not None and self.clock() - self._failed_at < self.retry_s:
                raise SlackStartFailed(
                    f"{self._failure} (next attempt within {self.retry_s:.0f} s)"
                )
            try:
                bot = build_slack_bot(
                    token=settings.SLACK_BOT_TOKEN,
                    signing_secret=settings.SLACK_SIGNING_SECRET,
                    api_url=settings.SLACK_API_URL,
                    workers=settings.ARANDU_BOT_WORKERS,
                    socket_mode=socket_mode,
                )
            except (BoltError, SlackClientError, OSError) as exc:
                self._failed_at, self._failure = self.clock(), str(exc)[:200]
                raise
            self._failed_at = None
            self._bots[socket_mode] = bot
            return bot


@functools.cache
def bot_starter() -> BotStarter:
    """This process's starter (settings are read when a bot is built, not here)."""
    return BotStarter(retry_s=START_RETRY_S)


def slack_bot(*, socket_mode: bool = False) -> SlackBot:
    """This process's bot, built from settings on first use; after a failure, raises
    `SlackStartFailed` for START_RETRY_S seconds before trying again."""
    return bot_starter().bot(socket_mode=socket_mode)


def reset_slack_bot() -> None:
    """Forget the bots and any remembered failure (tests change settings between cases)."""
    bot_starter.cache_clear()
