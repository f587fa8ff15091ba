"""What each kind of alert rule measures, at a given moment. Pure reads: the ledger (via
the usage selectors and the budget periods), the circuit states every process records,
the worker's status and failed documents. A rule fires when its value reaches the
threshold."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F, Sum
from django.utils import timezone

from ragengine.models import (
    AlertKind,
    AlertRule,
    CircuitState,
    Document,
    DocumentStatus,
    ProviderCircuit,
    UsageRecord,
    UsageStatus,
)
from ragengine.selectors.usage import exclude_evaluation, live_spend_filter
from ragengine.selectors.worker import worker_status
from ragengine.services.budgets import periods_at

ERROR_MODE = "error"


@dataclass(frozen=True, slots=True)
class Measurement:
    firing: bool
    value: float | None  # None: nothing to measure (no questions, no budget)
    message: str


def rule_measure(*, rule: AlertRule, now: datetime | None = None) -> Measurement:
    now = now or timezone.now()
    return _MEASURES[rule.kind](rule, now)


def _percent(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _spend(rule: AlertRule, now: datetime) -> Measurement:
    """The tier's budget is per person: the rule fires when anyone on it has used N% of
    it (settled cost plus live reservations, as the budget check counts)."""
    tier = rule.tier
    daily = rule.kind == AlertKind.SPEND_DAILY
    budget = (tier.daily_budget if daily else tier.monthly_budget) if tier else None
    label = "daily" if daily else "monthly"
    if tier is None or not budget:
        return Measurement(False, None, f"Tier {tier or '?'} has no {label} budget to watch.")
    periods = periods_at(now)
    start = periods.day_start if daily else periods.month_start
    rows = exclude_evaluation(
        UsageRecord.objects.filter(
            live_spend_filter(now), tier=tier, created_at__gte=start, created_at__lte=now
        )
    )
    spenders = list(
        rows.values("member_id", "member__display_name")
        .annotate(spent=Sum(F("cost") + F("reserved")))
        .order_by("-spent")
    )
    if not spenders:
        return Measurement(False, 0.0, f"Nobody on tier {tier} has spent anything {label}.")
    threshold = Decimal(str(rule.threshold))
    over = [s for s in spenders if s["spent"] * 100 >= threshold * budget]
    top = spenders[0]
    percent = float(top["spent"] / budget * 100)
    message = (
        f"{len(over)} of {len(spenders)} people on tier {tier} have used at least "
        f"{_percent(rule.threshold)}% of the {label} budget (${budget:.2f} each); the most: "
        f"{top['member__display_name']} {_percent(percent)}% (${top['spent']:.2f})."
        if over
        else f"The most spent on tier {tier}: {_percent(percent)}% of the {label} budget."
    )
    return Measurement(bool(over), percent, message)


def _window_rows(rule: AlertRule, now: datetime):
    rows = UsageRecord.objects.filter(
        created_at__gt=now - timedelta(minutes=rule.window_minutes), created_at__lte=now
    ).exclude(status=UsageStatus.RESERVED)
    if rule.tier_id:
        rows = rows.filter(tier_id=rule.tier_id)
    return exclude_evaluation(rows)


def _error_rate(rule: AlertRule, now: datetime) -> Measurement:
    modes = list(_window_rows(rule, now).values_list("mode", flat=True))
    total, errors = len(modes), sum(1 for m in modes if m == ERROR_MODE)
    window = f"the last {rule.window_minutes} min"
    if total < max(1, rule.min_questions):
        return Measurement(False, None, f"{total} questions in {window}: too few to judge.")
    rate = errors / total * 100
    return Measurement(
        rate >= rule.threshold,
        rate,
        f"{errors} of {total} questions failed in {window} ({_percent(rate)}%).",
    )


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile (the value 95% of the samples are at or below)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _latency(rule: AlertRule, now: datetime) -> Measurement:
    totals = [
        float(lat["total"])
        for lat in _window_rows(rule, now).values_list("latencies_ms", flat=True)
        if isinstance(lat, dict) and isinstance(lat.get("total"), int | float)
    ]
    window = f"the last {rule.window_minutes} min"
    if len(totals) < max(1, rule.min_questions):
        return Measurement(False, None, f"{len(totals)} timed answers in {window}: too few.")
    value = p95(totals)
    return Measurement(
        value >= rule.threshold,
        value,
        f"p95 latency {value:.0f} ms over {len(totals)} answers in {window}.",
    )


def _circuit(rule: AlertRule, now: datetime) -> Measurement:
    rows = ProviderCircuit.objects.filter(state=CircuitState.OPEN)
    if rule.provider:
        rows = rows.filter(name=rule.provider)
    opened = list(rows.order_by("changed_at"))
    if not opened:
        scope = f"{rule.provider}'s circuit is" if rule.provider else "Every provider circuit is"
        return Measurement(False, 0.0, f"{scope} closed.")
    names = ", ".join(
        f"{c.name} (since {c.changed_at:%H:%M} UTC, {c.failures} failures)" for c in opened
    )
    return Measurement(True, float(len(opened)), f"Provider circuit open: {names}.")


def _worker(rule: AlertRule, now: datetime) -> Measurement:
    status = worker_status(now=now)
    if status.running:
        return Measurement(False, 0.0, "The background worker is running.")
    return Measurement(True, 1.0, status.reason or "The background worker is not running.")


def _ingestion(rule: AlertRule, now: datetime) -> Measurement:
    failed = Document.objects.filter(
        status=DocumentStatus.FAILED,
        updated_at__gt=now - timedelta(minutes=rule.window_minutes),
        updated_at__lte=now,
    ).order_by("-updated_at")
    count = failed.count()
    threshold = max(1.0, rule.threshold)
    examples = "; ".join(f"{d.title}: {d.error[:120]}" for d in failed[:5])
    message = f"{count} documents failed to ingest in the last {rule.window_minutes} min."
    return Measurement(count >= threshold, float(count), f"{message} {examples}".strip())


_MEASURES: dict[str, Callable[[AlertRule, datetime], Measurement]] = {
    AlertKind.SPEND_DAILY: _spend,
    AlertKind.SPEND_MONTHLY: _spend,
    AlertKind.ERROR_RATE: _error_rate,
    AlertKind.LATENCY_P95: _latency,
    AlertKind.CIRCUIT_OPEN: _circuit,
    AlertKind.WORKER_DOWN: _worker,
    AlertKind.INGESTION_FAILURES: _ingestion,
}
