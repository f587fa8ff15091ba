"""Starting, cancelling and sweeping evaluation runs (the asking is in runner.py).

A run is a django-q2 task (`ragengine.tasks.evaluation_run_task`). Whatever happens to the
worker, a run ends in a finished state: the task marks it failed on an error, and the
stale sweep (every few minutes) marks failed a run whose heartbeat stopped, keeping its
partial results, or a queued run no worker ever took.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ragengine.evaluation.judge import JudgeUnavailable, judge_model_for
from ragengine.models import (
    EvalRun,
    EvalRunStatus,
    EvalRunTarget,
    EvalSchedule,
    EvalSet,
    ProviderEndpoint,
    TargetKind,
    Tier,
)
from ragengine.services.answer_targets import TargetError, parse_target, target_check

logger = logging.getLogger(__name__)

RUN_TASK = "ragengine.tasks.evaluation_run_task"
# A queued run no worker took in this long is marked failed (is the worker running?).
QUEUED_TOO_LONG = timedelta(hours=6)


class RunError(ValueError):
    """A run that can't start; the message says why."""


def run_start(
    *,
    eval_set: EvalSet,
    specs: list[str],
    use_cache: bool = False,
    budget_cap: Decimal | None = None,
    concurrency: int | None = None,
    k: int | None = None,
    judge_tier: Tier | None = None,
    created_by: Any = None,
    schedule: EvalSchedule | None = None,
    enqueue: bool = True,
) -> EvalRun:
    """Check and record a run of `eval_set` against `specs`, then queue it (with
    `enqueue=False` the caller runs it: `manage.py evaluate`)."""
    if not eval_set.knowledge_sets.exists():
        raise RunError(
            f"{eval_set} has no knowledge sets: give it the sets its questions are about "
            "(a run never searches every set)."
        )
    cases = eval_set.cases.filter(enabled=True).count()
    if not cases:
        raise RunError(f"{eval_set} has no enabled cases.")
    targets = []
    for spec in dict.fromkeys(s.strip() for s in specs if s.strip()):
        try:
            target = parse_target(spec)
            target_check(target)
        except TargetError as exc:
            raise RunError(str(exc)) from exc
        targets.append(target)
    if not targets:
        raise RunError("Pick at least one target.")
    if judge_tier is not None:
        try:
            judge_model_for(judge_tier)
        except JudgeUnavailable as exc:
            raise RunError(str(exc)) from exc
    with transaction.atomic():
        run = EvalRun.objects.create(
            eval_set=eval_set,
            use_cache=use_cache,
            budget_cap=settings.ARANDU_EVAL_BUDGET_CAP if budget_cap is None else budget_cap,
            concurrency=concurrency or settings.ARANDU_EVAL_CONCURRENCY,
            k=k or settings.ARANDU_TOP_K,
            judge_tier=judge_tier,
            created_by=created_by,
            schedule=schedule,
            cases_total=cases * len(targets),
        )
        for position, target in enumerate(targets):
            EvalRunTarget.objects.create(
                run=run,
                position=position,
                kind=target.kind,
                spec=target.spec,
                source_tier=Tier.objects.filter(name=target.tier_name).first()
                if target.kind == TargetKind.TIER
                else None,
                endpoint=ProviderEndpoint.objects.filter(name=target.endpoint_name).first()
                if target.kind == TargetKind.MODEL
                else None,
                model=target.model,
            )
    logger.info(
        "evaluation run queued",
        extra={"run_id": run.pk, "eval_set": eval_set.name, "targets": len(targets)},
    )
    if enqueue:
        from django_q.tasks import async_task

        task_id = async_task(
            RUN_TASK,
            run.pk,
            task_name=f"evaluation run {run.pk}",
            # read at call time: django-q2's own Conf keeps the value from import time
            sync=bool(settings.Q_CLUSTER.get("sync")),
        )
        EvalRun.objects.filter(pk=run.pk).update(task_id=str(task_id or "")[:64])
        run.refresh_from_db()
    return run


def run_cancel(*, run: EvalRun) -> bool:
    """Stop a run: a queued one at once, a running one after the answers in flight (its
    results so far are kept). False when it had finished already."""
    now = timezone.now()
    if EvalRun.objects.filter(pk=run.pk, status=EvalRunStatus.QUEUED).update(
        status=EvalRunStatus.CANCELLED, cancel_requested=True, finished_at=now
    ):
        logger.info("evaluation run cancelled before it started", extra={"run_id": run.pk})
        run.refresh_from_db()
        return True
    requested = EvalRun.objects.filter(pk=run.pk, status=EvalRunStatus.RUNNING).update(
        cancel_requested=True
    )
    run.refresh_from_db()
    if requested:
        logger.info("evaluation run cancel requested", extra={"run_id": run.pk})
    return bool(requested)


def run_sweep_stale(*, now: datetime | None = None) -> int:
    """Mark failed the runs whose worker died (no heartbeat for ARANDU_EVAL_STALE_MINUTES)
    and the queued runs no worker took; their partial results and summary are kept."""
    from ragengine.evaluation.run_end import run_finish

    now = now or timezone.now()
    stale = now - timedelta(minutes=settings.ARANDU_EVAL_STALE_MINUTES)
    swept = 0
    for run in EvalRun.objects.filter(status=EvalRunStatus.RUNNING, heartbeat_at__lt=stale):
        minutes = settings.ARANDU_EVAL_STALE_MINUTES
        swept += run_finish(
            run=run,
            status=EvalRunStatus.FAILED,
            error=f"The worker running it stopped (no progress for over {minutes} minutes); "
            f"{run.cases_done} of {run.cases_total} answers were kept.",
        )
    for run in EvalRun.objects.filter(
        status=EvalRunStatus.QUEUED, created_at__lt=now - QUEUED_TOO_LONG
    ):
        swept += run_finish(
            run=run,
            status=EvalRunStatus.FAILED,
            error="No worker took this run: is the worker running (manage.py serve or qcluster)?",
            expect=EvalRunStatus.QUEUED,
        )
    if swept:
        logger.warning("stale evaluation runs marked failed", extra={"runs": swept})
    return swept
