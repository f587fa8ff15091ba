"""What every delivery the doors make has in common (evaluation reports, alerts): a row
per destination that starts pending, counts its attempts and ends sent or failed.

A worker claims an attempt with a conditional update, so two workers offered the same
row never both post it; a failed row is offered again until MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging

from django.db import models
from django.db.models import Q
from django.utils import timezone

from ragengine.models import DeliveryStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def due_filter() -> Q:
    """Rows still to send: pending, or failed with attempts left."""
    return Q(status=DeliveryStatus.PENDING) | Q(
        status=DeliveryStatus.FAILED, attempts__lt=MAX_ATTEMPTS
    )


def delivery_claim(*, delivery: models.Model) -> bool:
    """Count an attempt; False when another worker sent it meanwhile or none are left."""
    return bool(
        type(delivery)
        .objects.filter(pk=delivery.pk, attempts=delivery.attempts, attempts__lt=MAX_ATTEMPTS)
        .exclude(status=DeliveryStatus.SENT)
        .update(attempts=delivery.attempts + 1)
    )


def delivery_done(*, delivery: models.Model, error: str = "") -> None:
    """Record how an attempt went (the doors call this; an error is kept as written)."""
    fields = {"status": DeliveryStatus.FAILED if error else DeliveryStatus.SENT, "error": error}
    if not error:
        fields["sent_at"] = timezone.now()
    type(delivery).objects.filter(pk=delivery.pk).update(**fields)
    logger.info(
        "delivery",
        extra={
            "delivery": f"{delivery._meta.model_name}:{delivery.pk}",
            "channel": delivery.channel,
            "ok": not error,
            "error": error[:200],
        },
    )
