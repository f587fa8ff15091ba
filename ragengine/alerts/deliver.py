"""Alert notices left for the doors to deliver, exactly as evaluation reports are: one
pending `AlertDelivery` per destination and notice, then `alerts_pending`; botcore posts
each one and records how it went (`ragengine.services.deliveries`). Deliveries still due
after RETRY_AFTER are offered again by the next evaluation, up to MAX_ATTEMPTS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ragengine.alerts.signals import alerts_pending
from ragengine.models import AlertDelivery, AlertEvent, AlertNotice, AlertRule, AlertState
from ragengine.services.deliveries import due_filter

RETRY_AFTER = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class AlertView:
    """What every destination is told about one notice (each door formats it)."""

    delivery_id: int
    event_id: int
    notice: str  # firing | resolved | test
    rule: str
    kind: str
    kind_label: str
    message: str
    value: float | None
    threshold: float
    started_at: datetime
    resolved_at: datetime | None
    url: str

    @property
    def title(self) -> str:
        verb = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}[self.notice]
        return f"[{verb}] {self.rule}"

    def payload(self) -> dict[str, Any]:
        """The webhook body."""
        return {
            "type": f"alert.{self.notice}",
            "delivery_id": self.delivery_id,
            "alert": {
                "event_id": self.event_id,
                "rule": self.rule,
                "kind": self.kind,
                "state": self.notice,
                "message": self.message,
                "value": self.value,
                "threshold": self.threshold,
                "started_at": self.started_at.isoformat(),
                "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
                "url": self.url,
            },
        }


def alert_view(*, delivery: AlertDelivery) -> AlertView:
    event = delivery.event
    rule = event.rule
    return AlertView(
        delivery_id=delivery.pk,
        event_id=event.pk,
        notice=delivery.notice,
        rule=rule.name,
        kind=rule.kind,
        kind_label=rule.get_kind_display(),
        message=event.message,
        value=event.last_value,
        threshold=rule.threshold,
        started_at=event.started_at,
        resolved_at=event.resolved_at,
        url=settings.ARANDU_PUBLIC_URL
        + reverse("admin:ragengine_alertevent_change", args=[event.pk]),
    )


def alert_deliveries_create(*, event: AlertEvent, notice: str) -> list[AlertDelivery]:
    """One pending delivery per destination of the rule (a notice is recorded once)."""
    created = []
    for destination in event.rule.destinations.select_related("webhook"):
        for address in destination.addresses():
            try:
                with transaction.atomic():
                    created.append(
                        AlertDelivery.objects.create(
                            event=event,
                            notice=notice,
                            channel=destination.channel,
                            destination=address,
                        )
                    )
            except IntegrityError:  # this notice already went to this destination
                continue
    return created


def alert_deliveries_due(*, event: AlertEvent) -> list[AlertDelivery]:
    return list(event.deliveries.filter(due_filter()).select_related("event__rule").order_by("pk"))


def alerts_announce(*, event: AlertEvent) -> None:
    if alert_deliveries_due(event=event):
        alerts_pending.send(sender=AlertEvent, event=event)


def alert_deliveries_retry(*, now: datetime | None = None) -> int:
    """Announce again the incidents whose notices are still due after RETRY_AFTER."""
    now = now or timezone.now()
    event_ids = (
        AlertDelivery.objects.filter(due_filter(), created_at__lt=now - RETRY_AFTER)
        .values_list("event_id", flat=True)
        .distinct()
    )
    events = list(AlertEvent.objects.filter(pk__in=list(event_ids)))
    for event in events:
        alerts_pending.send(sender=AlertEvent, event=event)
    return len(events)


def alert_test_send(*, rule: AlertRule, now: datetime | None = None) -> AlertEvent:
    """A test notice to every destination of `rule`, recorded as a test incident."""
    now = now or timezone.now()
    event = AlertEvent.objects.create(
        rule=rule,
        state=AlertState.RESOLVED,
        started_at=now,
        resolved_at=now,
        last_checked_at=now,
        message=f"A test of the alert rule {rule.name!r}: if you can read this, "
        "its destinations work.",
        is_test=True,
    )
    alert_deliveries_create(event=event, notice=AlertNotice.TEST)
    alerts_announce(event=event)
    return event
