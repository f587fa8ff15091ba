"""How an evaluation run ends, whoever ends it (the runner, a cancel, the sweep): the
summary of whatever results it has, the change since the set's previous run and the
drift from its pinned baseline (flagged beyond their thresholds), the MLflow copy, the
`run_finished` signal and, for a scheduled run, its report deliveries. Only the first
ending counts: a late worker never overwrites the sweep, or back.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from ragengine.evaluation.comparison import drift_report, summary_comparison
from ragengine.evaluation.deliveries import deliveries_create, reports_announce
from ragengine.evaluation.mlflow_log import run_log_to_mlflow
from ragengine.evaluation.signals import run_finished
from ragengine.evaluation.summary import run_summary
from ragengine.models import EvalResult, EvalRun, EvalRunStatus, EvalSet

logger = logging.getLogger(__name__)


def run_finish(
    *, run: EvalRun, status: str, error: str = "", expect: str = EvalRunStatus.RUNNING
) -> int:
    """End a run in `status` with the summary of whatever results it has; 0 when it was
    not in `expect` any more (so a late worker never overwrites the sweep, or back)."""
    run.summary = results_summary(run=run)
    flagged = False
    if status == EvalRunStatus.DONE:
        flagged = _compare_with_earlier(run)
    done = EvalResult.objects.filter(run=run).count()
    changed = EvalRun.objects.filter(pk=run.pk, status=expect).update(
        status=status,
        error=error[:5000],
        summary=run.summary,
        flagged=flagged,
        cases_done=done,
        finished_at=timezone.now(),
    )
    if changed:
        run.refresh_from_db()
        logged = run_log_to_mlflow(run=run)
        if logged is not None:
            run.summary["mlflow"] = logged
            EvalRun.objects.filter(pk=run.pk).update(summary=run.summary)
        logger.info(
            "evaluation run finished",
            extra={"run_id": run.pk, "status": status, "answers": done, "error": error[:200]},
        )
        run_finished.send(sender=EvalRun, run=run)
        if run.schedule_id:
            deliveries_create(run=run)
            reports_announce(run=run)
    return changed


def _compare_with_earlier(run: EvalRun) -> bool:
    """Add the change since the set's previous finished run and the drift from its pinned
    baseline to `run.summary`; True when either is beyond its thresholds."""
    run.eval_set = EvalSet.objects.select_related("baseline_run").get(pk=run.eval_set_id)
    previous = (
        EvalRun.objects.filter(eval_set=run.eval_set, status=EvalRunStatus.DONE)
        .exclude(pk=run.pk)
        .filter(created_at__lte=run.created_at)
        .order_by("-created_at", "-pk")
        .first()
    )
    flagged = False
    if previous is not None:
        run.summary["comparison"] = summary_comparison(before=previous, after=run)
        flagged = run.summary["comparison"]["flagged"]
    baseline = run.eval_set.baseline_run
    if baseline is not None and baseline.pk != run.pk and baseline.status == EvalRunStatus.DONE:
        run.summary["drift"] = drift_report(baseline=baseline, run=run)
        flagged = flagged or run.summary["drift"]["drifted"]
    return flagged


def results_summary(*, run: EvalRun) -> dict[str, Any]:
    """The run's aggregates from its result rows so far (see summary.py)."""
    by_target: dict[str, list[EvalResult]] = {t.spec: [] for t in run.targets.all()}
    for row in EvalResult.objects.filter(run=run).select_related("target").order_by("position"):
        by_target.setdefault(row.target.spec, []).append(row)
    return run_summary(by_target)
