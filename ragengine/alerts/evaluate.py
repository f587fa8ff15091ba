"""Evaluating every enabled rule (a django-q2 schedule, every minute).

Per rule, one incident at a time: when its condition starts to hold an `AlertEvent` is
opened and a "firing" notice is left for each destination; while it holds nothing more is
sent; when it stops the incident is resolved and a "resolved" notice follows. So an
outage is one alert and one "resolved", not a storm. An incident opened within the rule's
cool-down of the last announcement (a flapping condition) is recorded but not sent — and
is announced after all if it is still firing once the cool-down is over.

The worker runs the evaluation, so it cannot report its own absence: `manage.py alerts
evaluate --kind worker_down` from outside it (cron, a container health check) can.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from ragengine.alerts.deliver import (
    alert_deliveries_create,
    alert_deliveries_retry,
    alerts_announce,
)
from ragengine.alerts.rules import Measurement, rule_measure
from ragengine.models import AlertEvent, AlertNotice, AlertRule, AlertState

logger = logging.getLogger(__name__)


@dataclass
class EvaluationSummary:
    fired: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # rules whose measurement raised


def alerts_evaluate(
    *, now: datetime | None = None, kinds: Collection[str] | None = None
) -> EvaluationSummary:
    """Measure every enabled rule (of `kinds`, if given) and open or resolve incidents; a
    rule that cannot be measured is logged and skipped, never stopping the others."""
    now = now or timezone.now()
    summary = EvaluationSummary()
    rules = AlertRule.objects.filter(enabled=True).select_related("tier")
    if kinds is not None:
        rules = rules.filter(kind__in=list(kinds))
    for rule in rules:
        try:
            measurement = rule_measure(rule=rule, now=now)
        except Exception:
            logger.exception("alert rule could not be measured", extra={"rule": rule.name})
            summary.failed.append(rule.name)
            continue
        rule_apply(rule=rule, measurement=measurement, now=now, summary=summary)
    alert_deliveries_retry(now=now)
    return summary


def _last_announcement(rule: AlertRule) -> datetime | None:
    last = (
        rule.events.filter(announced=True, is_test=False)
        .order_by("-started_at", "-pk")
        .only("started_at", "resolved_at")
        .first()
    )
    if last is None:
        return None
    return last.resolved_at or last.started_at


def _in_cooldown(rule: AlertRule, now: datetime) -> bool:
    last = _last_announcement(rule)
    return last is not None and now - last < timedelta(minutes=rule.cooldown_minutes)


def rule_apply(
    *,
    rule: AlertRule,
    measurement: Measurement,
    now: datetime,
    summary: EvaluationSummary | None = None,
) -> AlertEvent | None:
    """Move the rule's incident along for one measurement; returns the incident touched."""
    summary = summary if summary is not None else EvaluationSummary()
    current = rule.events.filter(state=AlertState.FIRING, is_test=False).first()
    if measurement.firing:
        if current is not None:
            return _still_firing(rule, current, measurement, now, summary)
        return _open(rule, measurement, now, summary)
    if current is not None:
        return _resolve(rule, current, measurement, now, summary)
    return None


def _open(
    rule: AlertRule, measurement: Measurement, now: datetime, summary: EvaluationSummary
) -> AlertEvent | None:
    announced = not _in_cooldown(rule, now)
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(
                rule=rule,
                state=AlertState.FIRING,
                started_at=now,
                last_checked_at=now,
                first_value=measurement.value,
                last_value=measurement.value,
                message=measurement.message,
                announced=announced,
            )
    except IntegrityError:  # another evaluator opened it a moment ago
        return None
    if announced:
        alert_deliveries_create(event=event, notice=AlertNotice.FIRING)
        alerts_announce(event=event)
        summary.fired.append(rule.name)
    else:
        summary.suppressed.append(rule.name)
    logger.warning(
        "alert firing",
        extra={"rule": rule.name, "value": measurement.value, "announced": announced},
    )
    return event


def _still_firing(
    rule: AlertRule,
    event: AlertEvent,
    measurement: Measurement,
    now: datetime,
    summary: EvaluationSummary,
) -> AlertEvent:
    fields = {"last_value": measurement.value, "last_checked_at": now}
    if measurement.message:
        fields["message"] = measurement.message
    late = not event.announced and not _in_cooldown(rule, now)
    if late:  # held through the cool-down: now it is news
        fields["announced"] = True
    updated = AlertEvent.objects.filter(
        pk=event.pk, state=AlertState.FIRING, announced=event.announced
    ).update(**fields)
    event.refresh_from_db()
    if late and updated:
        alert_deliveries_create(event=event, notice=AlertNotice.FIRING)
        alerts_announce(event=event)
        summary.fired.append(rule.name)
    return event


def _resolve(
    rule: AlertRule,
    event: AlertEvent,
    measurement: Measurement,
    now: datetime,
    summary: EvaluationSummary,
) -> AlertEvent:
    # Conditional on still firing: of two evaluators at once, one resolves it.
    resolved = AlertEvent.objects.filter(pk=event.pk, state=AlertState.FIRING).update(
        state=AlertState.RESOLVED,
        resolved_at=now,
        last_checked_at=now,
        last_value=measurement.value,
        message=f"{event.message}\nResolved: {measurement.message}".strip(),
    )
    event.refresh_from_db()
    if resolved and event.announced:
        alert_deliveries_create(event=event, notice=AlertNotice.RESOLVED)
        alerts_announce(event=event)
        summary.resolved.append(rule.name)
    logger.info("alert resolved", extra={"rule": rule.name, "value": measurement.value})
    return event
