"""Which evaluation sets and runs a REST API token may start and read.

A run asks its set's questions in exactly the set's knowledge sets and its results quote
their passages, so a token reaches a set (and its runs) only when every one of those
knowledge sets is among the token's own (`api_scope`). A set without knowledge sets is
reached by no token.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from ragengine.models import EvalRun, EvalSet, KnowledgeSet


def _outside(knowledge_sets: Sequence[str]) -> QuerySet[KnowledgeSet]:
    return KnowledgeSet.objects.exclude(name__in=list(knowledge_sets))


def api_eval_sets(*, knowledge_sets: Sequence[str]) -> QuerySet[EvalSet]:
    """The evaluation sets whose knowledge sets all lie within `knowledge_sets`."""
    return (
        EvalSet.objects.filter(knowledge_sets__isnull=False)
        .exclude(knowledge_sets__in=_outside(knowledge_sets))
        .distinct()
    )


def api_eval_runs(*, knowledge_sets: Sequence[str]) -> QuerySet[EvalRun]:
    """The runs of those sets."""
    return EvalRun.objects.filter(eval_set__in=api_eval_sets(knowledge_sets=knowledge_sets))
