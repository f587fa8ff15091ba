"""Delivering alerts: the engine leaves a pending AlertDelivery per destination and
notice (firing, resolved, test) and sends `alerts_pending`; this posts each one, short and
native to where it goes, through the same transport and loop as evaluation reports."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils.html import escape as html_escape

from botcore.delivery import (
    DeliveryError,
    deliveries_send,
    post_discord,
    post_slack,
    send_email,
    webhook_outcome,
)
from botcore.slack.blocks import escape
from ragengine.alerts.deliver import AlertView, alert_deliveries_due, alert_view
from ragengine.alerts.webhooks import webhook_post
from ragengine.models import AlertDelivery, AlertEvent, DeliveryChannel, Webhook

logger = logging.getLogger(__name__)

DELIVERY_TASK = "botcore.tasks.alert_deliveries_task"
RED, GREEN, BLUE = 0xC62828, 0x2E7D32, 0x1565C0
_EMOJI = {"firing": ":rotating_light:", "resolved": ":white_check_mark:", "test": ":bell:"}
_UNICODE = {"firing": "🚨", "resolved": "✅", "test": "🔔"}
_COLOR = {"firing": RED, "resolved": GREEN, "test": BLUE}


def on_alerts_pending(sender: Any, event: AlertEvent, **kwargs: Any) -> None:
    """Receiver of ragengine.alerts.signals.alerts_pending: deliver off the evaluator's
    path, as a django-q2 task (inline in sync mode)."""
    from django_q.tasks import async_task

    async_task(
        DELIVERY_TASK,
        event.pk,
        task_name=f"alert notices of incident {event.pk}",
        sync=bool(settings.Q_CLUSTER.get("sync")),
    )


def alert_deliveries_send(*, event_id: int) -> int:
    """Post every due notice of the incident; returns how many were sent."""
    event = AlertEvent.objects.select_related("rule").filter(pk=event_id).first()
    if event is None:
        return 0
    return deliveries_send(
        alert_deliveries_due(event=event),
        lambda delivery: SENDERS[delivery.channel](alert_view(delivery=delivery), delivery),
    )


def _when(view: AlertView) -> str:
    since = f"since {view.started_at:%Y-%m-%d %H:%M} UTC"
    if view.notice == "resolved" and view.resolved_at:
        minutes = max(1, round((view.resolved_at - view.started_at).total_seconds() / 60))
        return f"{since}, resolved after {minutes} min"
    return since


def slack_message(view: AlertView) -> dict[str, Any]:
    text = f"{_EMOJI[view.notice]} *{escape(view.title)}*\n{escape(view.message[:2500])}"
    return {
        "text": escape(f"{view.title}: {view.message[:200]}"),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": escape(f"{view.kind_label} · {_when(view)}")}
                ],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the incident"},
                        "url": view.url,
                        "action_id": "open_alert_event",
                    }
                ],
            },
        ],
    }


def discord_message(view: AlertView) -> dict[str, Any]:
    embed = {
        "title": f"{_UNICODE[view.notice]} {view.title}"[:256],
        "url": view.url,
        "description": view.message[:4096],
        "color": _COLOR[view.notice],
        "footer": {"text": f"{view.kind_label} · {_when(view)}"[:2048]},
    }
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def email_message(view: AlertView) -> tuple[str, str, str]:
    subject = f"[Arandu] {view.title}"
    text = f"{view.title}\n\n{view.message}\n\n{view.kind_label} · {_when(view)}\n\n{view.url}"
    html = f'<pre>{html_escape(text)}</pre><p><a href="{html_escape(view.url)}">Open</a></p>'
    return subject, text, html


def send_slack(view: AlertView, delivery: AlertDelivery) -> None:
    post_slack(channel=delivery.destination, message=slack_message(view))


def send_discord(view: AlertView, delivery: AlertDelivery) -> None:
    post_discord(channel_id=delivery.destination, message=discord_message(view))


def send_email_alert(view: AlertView, delivery: AlertDelivery) -> None:
    subject, text, html = email_message(view)
    send_email(to=delivery.destination, subject=subject, text=text, html=html)


def send_webhook(view: AlertView, delivery: AlertDelivery) -> None:
    webhook = Webhook.objects.filter(name=delivery.destination).first()
    if webhook is None:
        raise DeliveryError(f"The webhook {delivery.destination!r} no longer exists.")
    webhook_outcome(
        webhook_post(
            webhook=webhook,
            payload=view.payload(),
            event=f"alert.{view.notice}",
            delivery_id=f"alert-{delivery.pk}",
            alert_delivery=delivery,
        )
    )


SENDERS = {
    DeliveryChannel.SLACK: send_slack,
    DeliveryChannel.DISCORD: send_discord,
    DeliveryChannel.EMAIL: send_email_alert,
    DeliveryChannel.WEBHOOK: send_webhook,
}
