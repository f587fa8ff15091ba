"""Scheduled evaluations: each EvalSchedule is kept in step with a django-q2 Schedule that
calls `ragengine.tasks.evaluation_scheduled_task(schedule_id)`; that task runs the set and
the finished run leaves its reports for the doors to deliver (deliveries.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule

from ragengine.evaluation.runner import run_execute
from ragengine.evaluation.runs import run_start
from ragengine.models import EvalRun, EvalSchedule, Frequency

logger = logging.getLogger(__name__)

Q_FUNC = "ragengine.tasks.evaluation_scheduled_task"
_TYPES = {Frequency.DAILY: Schedule.DAILY, Frequency.WEEKLY: Schedule.WEEKLY}
_EVERY = {Frequency.DAILY: timedelta(days=1), Frequency.WEEKLY: timedelta(weeks=1)}


def _first_run(schedule: EvalSchedule, now: datetime) -> datetime:
    if schedule.frequency == Frequency.CRON:
        from croniter import croniter

        return croniter(schedule.cron, timezone.localtime(now)).get_next(datetime)
    return now + _EVERY[schedule.frequency]


@transaction.atomic
def schedule_sync(*, schedule: EvalSchedule) -> Schedule | None:
    """Create, update or remove the django-q2 Schedule behind `schedule` (removed while
    it is disabled). A changed frequency or cron expression restarts the clock."""
    q = schedule.q_schedule
    if not schedule.enabled:
        if q is not None:
            schedule.q_schedule = None
            schedule.save(update_fields=["q_schedule"])
            q.delete()
        return None
    q_type = _TYPES.get(schedule.frequency, Schedule.CRON)
    cron = schedule.cron if schedule.frequency == Frequency.CRON else None
    if q is None or q.schedule_type != q_type or q.cron != cron:
        q = q or Schedule(name=f"arandu: evaluation {schedule.name}"[:100])
        q.next_run = _first_run(schedule, timezone.now())
    q.name = f"arandu: evaluation {schedule.name}"[:100]
    q.func, q.args, q.kwargs = Q_FUNC, str(schedule.pk), None
    q.schedule_type, q.cron, q.repeats = q_type, cron, -1
    q.save()
    if schedule.q_schedule_id != q.pk:
        schedule.q_schedule = q
        schedule.save(update_fields=["q_schedule"])
    return q


@transaction.atomic
def schedule_delete(*, schedule: EvalSchedule) -> None:
    if schedule.q_schedule_id:
        Schedule.objects.filter(pk=schedule.q_schedule_id).delete()
    schedule.delete()


def scheduled_run(*, schedule_id: int) -> EvalRun | None:
    """What the schedule's task does: run the set now, in this worker. None when the
    schedule is gone or disabled (a Schedule row left behind does nothing)."""
    schedule = EvalSchedule.objects.select_related("eval_set").filter(pk=schedule_id).first()
    if schedule is None:  # deleted with its set: its django-q2 Schedule goes too
        Schedule.objects.filter(func=Q_FUNC, args=str(schedule_id)).delete()
    if schedule is None or not schedule.enabled:
        logger.info("evaluation schedule skipped", extra={"schedule_id": schedule_id})
        return None
    run = run_start(
        eval_set=schedule.eval_set,
        specs=list(schedule.targets),
        use_cache=schedule.use_cache,
        budget_cap=schedule.budget_cap,
        schedule=schedule,
        enqueue=False,
    )
    return run_execute(run_id=run.pk)
