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
from django.utils import timezone

from ragengine.evaluation.signals import reports_pending
from ragengine.models import DeliveryChannel, EvalRun, ReportDelivery
from ragengine.services.deliveries import (  # noqa: F401 - the doors' API for reports
    MAX_ATTEMPTS,
    delivery_claim,
    delivery_done,
    due_filter,
)

logger = logging.getLogger(__name__)

RETRY_AFTER = timedelta(minutes=10)


def deliveries_create(*, run: EvalRun) -> list[ReportDelivery]:
    """One pending delivery per destination of the run's schedule (none without one)."""
    schedule = run.schedule
    if schedule is None:
        return []
    wanted = [(DeliveryChannel.SLACK, schedule.slack_channel.strip())]
    wanted.append((DeliveryChannel.DISCORD, schedule.discord_channel.strip()))
    wanted += [(DeliveryChannel.EMAIL, address) for address in schedule.emails]
    wanted += [
        (DeliveryChannel.WEBHOOK, hook.name) for hook in schedule.webhooks.filter(enabled=True)
    ]
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
    return list(run.deliveries.filter(due_filter()).order_by("pk"))


def reports_announce(*, run: EvalRun) -> None:
    if deliveries_due(run=run):
        reports_pending.send(sender=EvalRun, run=run)


def deliveries_retry(*, now: datetime | None = None) -> int:
    """Announce again the runs whose deliveries are still due after RETRY_AFTER."""
    now = now or timezone.now()
    run_ids = (
        ReportDelivery.objects.filter(due_filter(), created_at__lt=now - RETRY_AFTER)
        .values_list("run_id", flat=True)
        .distinct()
    )
    runs = list(EvalRun.objects.filter(pk__in=list(run_ids)))
    for run in runs:
        reports_pending.send(sender=EvalRun, run=run)
    return len(runs)
