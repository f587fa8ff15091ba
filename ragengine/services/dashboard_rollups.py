"""The dashboard's daily rollups: stored once a day is closed, deleted when a late
write touches a closed day, rebuilt on the next read or by the hourly task.

What can still change a closed day's figures, and how each is caught:
- a reservation settling after midnight (`usage_settle` updates in place, so it calls
  `rollups_invalidate_at` itself with the reservation's time);
- any other ledger or history row saved or deleted with a time in a closed day (admin
  edits, a lost reservation recorded late): the model signals below;
- a person deleted (their ledger rows go, their questions lose their asker): every
  rollup is dropped.
Feedback is not rolled up (its figures are read live), so a late vote needs nothing.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from ragengine.models import DashboardDay, Member, QuestionRecord, UsageRecord
from ragengine.selectors.dashboard import MAX_CUSTOM_DAYS, ROW_GAP, DashboardScope, zone
from ragengine.selectors.dashboard_days import day_figures, is_closed, rolled_days, view_of

logger = logging.getLogger(__name__)

# How far back the hourly task fills missing days: the longest custom period.
FILL_DAYS = MAX_CUSTOM_DAYS


def rollups_store(*, days: list[date]) -> int:
    """Compute and store the figures of `days` (closed ones), replacing any stored."""
    stored = 0
    for day in days:
        figures = day_figures(day)
        try:
            with transaction.atomic():
                _clear(day)
                DashboardDay.objects.bulk_create(
                    DashboardDay(day=day, view=view, figures=data) for view, data in figures.items()
                )
        except IntegrityError:
            # Another process (the worker's task, a second page) stored it meanwhile,
            # from the same rows: theirs stands.
            logger.info("dashboard day rolled up elsewhere", extra={"day": day.isoformat()})
            continue
        stored += 1
    return stored


def _clear(day: date) -> None:
    DashboardDay.objects.filter(day=day).delete()


def _missing(days: list[date], now: datetime) -> list[date]:
    closed = [d for d in days if is_closed(d, now=now)]
    rolled = rolled_days(closed)
    return [d for d in closed if d not in rolled]


# Most missing days a page rolls up itself (each takes ~0.1-2 s); with more missing (a
# fresh install before the hourly task's first run) the page reads the rows instead.
LAZY_DAYS = 3


def rollups_ensure(*, scope: DashboardScope, limit: int = LAZY_DAYS) -> bool:
    """Roll up the scope's closed days that have no rollup yet (the page's first read
    after a late write, or before the hourly task caught up). False when the scope has
    no view, no closed day (one open day reads faster in SQL than through the Python
    that rolls a day up) or more than `limit` days missing: read it live this time."""
    if view_of(scope) is None or not any(is_closed(d, now=scope.now) for d in scope.days):
        return False  # no view, or nothing to read from rollups (today): the rows it is
    missing = _missing(list(scope.days), scope.now)
    if len(missing) > limit:
        logger.info("dashboard read live: days not rolled up", extra={"days": len(missing)})
        return False
    if missing:
        logger.info("dashboard days rolled up on read", extra={"days": len(missing)})
        rollups_store(days=missing)
    return True


def rollups_fill(*, now: datetime | None = None, days_back: int = FILL_DAYS) -> int:
    """Roll up every closed day of the last `days_back` days that has none (hourly)."""
    now = now or timezone.now()
    today = now.astimezone(zone()).date()
    days = [today - timedelta(days=n) for n in range(days_back, 0, -1)]
    stored = rollups_store(days=_missing(days, now))
    if stored:
        logger.info("dashboard days rolled up", extra={"days": stored})
    return stored


def rollups_invalidate(*, days: list[date]) -> int:
    """Drop the rollups of `days`; the next read or fill computes them again."""
    deleted, _ = DashboardDay.objects.filter(day__in=days).delete()
    if deleted:
        logger.info("dashboard rollups invalidated", extra={"days": [d.isoformat() for d in days]})
    return deleted


def rollups_invalidate_at(*, created_at: datetime | None, history: bool = False) -> int:
    """A ledger row (or, `history`, a question's row) of time `created_at` changed:
    drop the closed days whose figures read it. A ledger row counts on its day and gives
    its tier to questions up to `ROW_GAP` later; a history row counts on its day and
    gives its sets to ledger rows up to `ROW_GAP` earlier. No query unless such a day
    is closed, so the rows written by every question cost nothing here."""
    if created_at is None:
        return 0
    now = timezone.now()
    edges = (created_at - ROW_GAP, created_at) if history else (created_at, created_at + ROW_GAP)
    days = sorted({moment.astimezone(zone()).date() for moment in edges})
    closed = [d for d in days if is_closed(d, now=now)]
    return rollups_invalidate(days=closed) if closed else 0


def _ledger_changed(sender, instance: UsageRecord, **kwargs) -> None:
    rollups_invalidate_at(created_at=instance.created_at)


def _history_changed(sender, instance: QuestionRecord, **kwargs) -> None:
    rollups_invalidate_at(created_at=instance.created_at, history=True)


def _member_deleted(sender, instance: Member, **kwargs) -> None:
    DashboardDay.objects.all().delete()


def connect_signals() -> None:
    """Called once from the app's ready()."""
    for signal in (post_save, post_delete):
        signal.connect(_ledger_changed, sender=UsageRecord, dispatch_uid="rollups_ledger")
        signal.connect(_history_changed, sender=QuestionRecord, dispatch_uid="rollups_history")
    post_delete.connect(_member_deleted, sender=Member, dispatch_uid="rollups_member")
