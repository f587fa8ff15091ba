"""Reports of finished scheduled runs, left for the doors to deliver.

The engine never talks to Slack, Discord or a mail server: when a scheduled run finishes
it records one pending `ReportDelivery` per destination and sends `reports_pending`;
botcore listens, posts, and marks each delivery sent or failed. A delivery still pending
(its worker died) or failed is offered again by the sweep, up to MAX_ATTEMPTS.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ragengine.evaluation.signals import reports_pending
from ragengine.models import DeliveryChannel, DeliveryStatus, EvalRun, ReportDelivery

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=10)


def deliveries_create(*, run: EvalRun) -> list[ReportDelivery]:
    """One pending delivery per destination of the run's schedule (none without one)."""
    schedule = run.schedule
    if schedule is None:
        return []
    wanted = [(DeliveryChannel.SLACK, schedule.slack_channel.strip())]
    wanted.append((DeliveryChannel.DISCORD, schedule.discord_channel.strip()))
    wanted += [(DeliveryChannel.EMAIL, address) for address in schedule.emails]
    created = []
    for channel, destination in wanted:
        if not destination:
            continue
        try:
            with transaction.atomic():
                created.append(
                    ReportDelivery.objects.create(run=run, channel=channel, destination=destination)
                )
        except IntegrityError:  # already recorded for this run
            continue
    return created


def deliveries_due(*, run: EvalRun) -> list[ReportDelivery]:
    """The run's deliveries still to send (pending, or failed with attempts left)."""
    return list(
        run.deliveries.filter(
            Q(status=DeliveryStatus.PENDING)
            | Q(status=DeliveryStatus.FAILED, attempts__lt=MAX_ATTEMPTS)
        ).order_by("pk")
    )


def delivery_claim(*, delivery: ReportDelivery) -> bool:
    """Count an attempt; False when another worker sent it meanwhile or none are left."""
    return bool(
        ReportDelivery.objects.filter(
            pk=delivery.pk, attempts=delivery.attempts, attempts__lt=MAX_ATTEMPTS
        )
        .exclude(status=DeliveryStatus.SENT)
        .update(attempts=delivery.attempts + 1)
    )


def delivery_done(*, delivery: ReportDelivery, error: str = "") -> None:
    """Record how an attempt went (the doors call this; an error is kept as written)."""
    fields = {"status": DeliveryStatus.FAILED if error else DeliveryStatus.SENT, "error": error}
    if not error:
        fields["sent_at"] = timezone.now()
    ReportDelivery.objects.filter(pk=delivery.pk).update(**fields)
    logger.info(
        "report delivery",
        extra={
            "run_id": delivery.run_id,
            "channel": delivery.channel,
            "ok": not error,
            "error": error[:200],
        },
    )


def reports_announce(*, run: EvalRun) -> None:
    if deliveries_due(run=run):
        reports_pending.send(sender=EvalRun, run=run)


def deliveries_retry(*, now: datetime | None = None) -> int:
    """Announce again the runs whose deliveries are still due after RETRY_AFTER."""
    now = now or timezone.now()
    run_ids = (
        ReportDelivery.objects.filter(created_at__lt=now - RETRY_AFTER)
        .filter(
            Q(status=DeliveryStatus.PENDING)
            | Q(status=DeliveryStatus.FAILED, attempts__lt=MAX_ATTEMPTS)
        )
        .values_list("run_id", flat=True)
        .distinct()
    )
    runs = list(EvalRun.objects.filter(pk__in=list(run_ids)))
    for run in runs:
        reports_pending.send(sender=EvalRun, run=run)
    return len(runs)
