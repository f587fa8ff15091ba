"""Figures an operator watches that live in the database, read when /metrics is scraped:
the ingestion queue, the background queue, the last evaluation scores per set."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db.models import Count

from ragengine.models import Document, DocumentStatus, EvalRun, EvalRunStatus, EvalSet

logger = logging.getLogger(__name__)

# The scores a report leads with (evaluation/summary.py `headline`), per target.
SCORE_METRICS = (
    "fact_recall",
    "hit_at_k",
    "refusal_accuracy",
    "citation_precision",
    "failure_rate",
)
# Sets exported (most recently run first): label combinations stay bounded.
MAX_EVAL_SETS = 50


@dataclass(frozen=True, slots=True)
class EvalScore:
    eval_set: str
    target: str
    metric: str
    value: float


@dataclass(frozen=True, slots=True)
class OperationsFigures:
    documents_by_status: dict[str, int]
    task_queue_length: int | None  # None: the broker could not be asked
    eval_scores: list[EvalScore] = field(default_factory=list)


def documents_by_status() -> dict[str, int]:
    counts = dict.fromkeys(DocumentStatus.values, 0)
    for row in Document.objects.values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return counts


def task_queue_length() -> int | None:
    """Tasks waiting in the django-q2 broker (ORM or Redis), None when it does not answer."""
    try:
        from django_q.brokers import get_broker

        return int(get_broker().queue_size())
    except Exception:
        logger.warning("task queue length unavailable", exc_info=True)
        return None


def last_eval_scores() -> list[EvalScore]:
    """Each set's latest finished run ("done"): its targets' headline scores."""
    scores: list[EvalScore] = []
    sets = EvalSet.objects.order_by("-pk")[:MAX_EVAL_SETS]
    for eval_set in sets:
        run = (
            EvalRun.objects.filter(eval_set=eval_set, status=EvalRunStatus.DONE)
            .order_by("-finished_at", "-pk")
            .only("summary")
            .first()
        )
        targets = ((run.summary or {}).get("targets") or {}) if run else {}
        for target, summary in targets.items():
            metrics = (summary or {}).get("metrics") or {}
            for name in SCORE_METRICS:
                value = (metrics.get(name) or {}).get("value")
                if isinstance(value, int | float) and not isinstance(value, bool):
                    scores.append(EvalScore(eval_set.name, str(target), name, float(value)))
    return scores


def operations_figures() -> OperationsFigures:
    return OperationsFigures(
        documents_by_status=documents_by_status(),
        task_queue_length=task_queue_length(),
        eval_scores=last_eval_scores(),
    )
