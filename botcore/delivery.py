"""Posting what the engine leaves for the doors to deliver (evaluation reports, alerts):
the transport each destination shares, and the loop that claims, sends and records.

- Slack: chat.postMessage (settings.SLACK_API_URL, SLACK_BOT_TOKEN);
- Discord: POST /channels/{id}/messages (DISCORD_API_URL, DISCORD_BOT_TOKEN);
- e-mail: django.core.mail (EMAIL_URL, ARANDU_EMAIL_FROM);
- webhooks: the engine's signed, retried POST (`ragengine.alerts.webhooks`).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import models

from ragengine.alerts.webhooks import WebhookResult
from ragengine.services.deliveries import delivery_claim, delivery_done

logger = logging.getLogger(__name__)

HTTP_TIMEOUT_S = 10
D = TypeVar("D", bound=models.Model)


class DeliveryError(RuntimeError):
    """Posting failed; the message says why (kept on the delivery row)."""


def deliveries_send(deliveries: Iterable[D], send: Callable[[D], None]) -> int:
    """Claim, send and record each delivery; a failure never stops the others. Returns
    how many were sent."""
    sent = 0
    for delivery in deliveries:
        if not delivery_claim(delivery=delivery):
            continue
        try:
            send(delivery)
        except DeliveryError as exc:
            delivery_done(delivery=delivery, error=str(exc))
        except Exception as exc:  # a bug must not stop the other destinations
            logger.exception(
                "delivery failed", extra={"delivery": f"{delivery._meta.model_name}:{delivery.pk}"}
            )
            delivery_done(delivery=delivery, error=f"{type(exc).__name__}: {exc}")
        else:
            delivery_done(delivery=delivery)
            sent += 1
    return sent


def post_slack(*, channel: str, message: dict[str, Any]) -> None:
    if not settings.SLACK_BOT_TOKEN:
        raise DeliveryError("SLACK_BOT_TOKEN is not set.")
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(
        token=settings.SLACK_BOT_TOKEN, base_url=settings.SLACK_API_URL, timeout=HTTP_TIMEOUT_S
    )
    try:
        client.chat_postMessage(channel=channel, **message)
    except SlackApiError as exc:
        raise DeliveryError(f"Slack refused the message: {exc.response.get('error')}") from exc
    except OSError as exc:
        raise DeliveryError(f"Slack could not be reached: {exc}") from exc


def post_discord(*, channel_id: str, message: dict[str, Any]) -> None:
    if not settings.DISCORD_BOT_TOKEN:
        raise DeliveryError("DISCORD_BOT_TOKEN is not set.")
    if not channel_id.isdigit():
        raise DeliveryError(f"{channel_id!r} is not a Discord channel id.")
    request = urllib.request.Request(
        f"{settings.DISCORD_API_URL}/channels/{channel_id}/messages",
        data=json.dumps(message).encode(),
        method="POST",
        headers={
            "Authorization": f"Bot {settings.DISCORD_BOT_TOKEN}",
            "Content-Type": "application/json",
            "User-Agent": "DiscordBot (https://github.com/arandu, 1.0)",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise DeliveryError(f"Discord answered {exc.code}: {detail}") from exc
    except OSError as exc:
        raise DeliveryError(f"Discord could not be reached: {exc}") from exc


def send_email(*, to: str, subject: str, text: str, html: str) -> None:
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [to])
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except OSError as exc:
        raise DeliveryError(f"The mail server refused or could not be reached: {exc}") from exc


def webhook_outcome(result: WebhookResult) -> None:
    """Turn the engine's webhook result into the doors' error (attempts are recorded)."""
    if not result.ok:
        raise DeliveryError(f"Webhook failed after {result.attempts} attempt(s): {result.error}")
