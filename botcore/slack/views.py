"""`/slack/events`: the HTTP Events API door. Events, slash commands and interactivity
all arrive here; Bolt verifies the signature (401 for forged or stale requests)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

logger = logging.getLogger(__name__)

REQUIRED_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")


@csrf_exempt
@require_POST
def slack_events(request: HttpRequest) -> HttpResponse:
    missing = [name for name in REQUIRED_SETTINGS if not getattr(settings, name, "")]
    if missing:
        return JsonResponse(
            {
                "error": "slack_not_configured",
                "message": f"The Slack door is off: set {' and '.join(missing)} to enable it.",
            },
            status=404,
        )
    # Imported here: Bolt costs ~0.2 s of start-up that a web process without Slack skips.
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackClientError

    from botcore.slack.app import slack_bot

    try:
        bot = slack_bot()
    except (BoltError, SlackClientError, OSError) as exc:
        # e.g. auth.test refused the token or Slack can't be reached: retry on the next call
        logger.error(
            "slack app could not start",
            extra={"platform": "slack", "error": str(exc)[:200]},
        )
        return JsonResponse(
            {
                "error": "slack_unavailable",
                "message": "The Slack door could not start (check SLACK_BOT_TOKEN and "
                "SLACK_API_URL); see the server log.",
            },
            status=503,
        )
    assert bot.django_handler is not None  # built for HTTP
    return bot.django_handler.handle(request)
