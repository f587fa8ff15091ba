"""`/slack/events`: the HTTP Events API door. Events, slash commands and interactivity
all arrive here.

Every request is checked first (botcore/slack/verify.py: signature headers, size,
signature, body shape) without importing Bolt or starting the app, so forged, stale,
oversized or malformed requests get a 4xx in microseconds, with one throttled log line
and no call to Slack. Only then is the app built (auth.test) and the request handed on.
"""

from __future__ import annotations

import functools
import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from botcore.slack.verify import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOO_LARGE,
    UNREADABLE,
    Rejection,
    RejectionLog,
    body_rejection,
    header_rejection,
    length_rejection,
    signature_rejection,
)

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
    rejection = request_rejection(request, secret=settings.SLACK_SIGNING_SECRET)
    if rejection is not None:
        return rejected(request, rejection)
    # Imported here: Bolt costs ~0.2 s of start-up that a web process without Slack skips.
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackClientError

    from botcore.slack.app import SlackStartFailed, slack_bot

    try:
        bot = slack_bot()
    except (BoltError, SlackClientError, OSError) as exc:
        # e.g. auth.test refused the token or Slack can't be reached; a remembered failure
        # was logged when it happened
        if not isinstance(exc, SlackStartFailed):
            logger.error(
                "slack app could not start",
                extra={"platform": "slack", "error": str(exc)[:200]},
            )
        return quietly(
            JsonResponse(
                {
                    "error": "slack_unavailable",
                    "message": "The Slack door could not start (check SLACK_BOT_TOKEN and "
                    "SLACK_API_URL); see the server log.",
                },
                status=503,
            )
        )
    assert bot.django_handler is not None  # built for HTTP
    return bot.django_handler.handle(request)


def request_rejection(request: HttpRequest, *, secret: str) -> Rejection | None:
    """Why `request` is not a genuine, well-formed Slack request, or None. The body is
    read only once the headers pass, and parsed only once its signature matches."""
    headers = request.headers
    rejection = header_rejection(headers=headers, now=time.time()) or length_rejection(
        request.META.get("CONTENT_LENGTH")
    )
    if rejection is not None:
        return rejection
    try:
        body = request.body
    except RequestDataTooBig:  # DATA_UPLOAD_MAX_MEMORY_SIZE set below our own cap
        return TOO_LARGE
    except OSError:  # the client went away mid-body (UnreadablePostError)
        return UNREADABLE
    return signature_rejection(
        secret=secret,
        timestamp=headers[TIMESTAMP_HEADER],
        signature=headers[SIGNATURE_HEADER],
        body=body,
    ) or body_rejection(body=body, headers=headers, query=request.META.get("QUERY_STRING", ""))


def rejected(request: HttpRequest, rejection: Rejection) -> HttpResponse:
    rejection_log().warn(rejection, remote_addr=request.META.get("REMOTE_ADDR", ""))
    return quietly(JsonResponse(rejection.as_json(), status=rejection.status))


def quietly(response: HttpResponse) -> HttpResponse:
    """Django logs every 4xx/5xx response itself ("Unauthorized: /slack/events"), one
    line per request; ours are logged once per cause instead (throttled rejections, the
    failed start), so a flood can't flood the log."""
    response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own marker
    return response


@functools.cache
def rejection_log() -> RejectionLog:
    """This process's throttle for rejection warnings."""
    return RejectionLog()
