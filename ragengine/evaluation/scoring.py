"""One case's metrics, from its answer and what the case expects (pure: no database).

An answer *declines* when it was refused or cites no source (the extractive answerer's
"I couldn't find this", a model saying it doesn't know): that is what refusal accuracy
compares with "must refuse". Metrics that don't apply to a case are None (see metrics.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ragengine.evaluation.metrics import (
    citation_precision,
    fact_check,
    hit_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank_at_k,
    refusal_correct,
    token_f1,
)

RETRIEVAL_METRICS = ("hit_at_k", "mrr_at_k", "ndcg_at_k", "precision_at_k", "recall_at_k")
ANSWER_METRICS = ("fact_recall", "citation_precision", "refusal_accuracy", "token_f1")
JUDGE_METRICS = ("faithfulness", "relevance")


@dataclass(frozen=True, slots=True)
class Expectation:
    expected_document_ids: Sequence[int]
    expected_facts: Sequence[Sequence[str]]
    reference_answer: str = ""
    must_refuse: bool = False


@dataclass(frozen=True, slots=True)
class CaseScore:
    metrics: dict[str, float | None]
    facts_found: list[str] = field(default_factory=list)
    facts_missed: list[str] = field(default_factory=list)
    declined: bool = False


def answer_declined(*, mode: str, cited_document_ids: Sequence[int]) -> bool:
    return mode == "refused" or not cited_document_ids


def score_case(
    *,
    answer: str,
    mode: str,
    cited_document_ids: Sequence[int],
    retrieved: Sequence[int],
    expectation: Expectation,
    k: int,
) -> CaseScore:
    expected = list(expectation.expected_document_ids)
    declined = answer_declined(mode=mode, cited_document_ids=cited_document_ids)
    metrics: dict[str, float | None] = {
        "hit_at_k": hit_at_k(retrieved, expected, k),
        "mrr_at_k": reciprocal_rank_at_k(retrieved, expected, k),
        "ndcg_at_k": ndcg_at_k(retrieved, expected, k),
        "precision_at_k": precision_at_k(retrieved, expected, k),
        "recall_at_k": recall_at_k(retrieved, expected, k),
        "citation_precision": citation_precision(cited_document_ids, expected),
        "refusal_accuracy": float(
            refusal_correct(refused=declined, must_refuse=expectation.must_refuse)
        ),
        "token_f1": token_f1(answer, expectation.reference_answer)
        if expectation.reference_answer and not expectation.must_refuse
        else None,
    }
    if expectation.must_refuse:
        metrics["fact_recall"] = None
        return CaseScore(metrics=metrics, declined=declined)
    check = fact_check(answer, expectation.expected_facts)
    metrics["fact_recall"] = check.recall
    return CaseScore(
        metrics=metrics,
        facts_found=list(check.found),
        facts_missed=list(check.missed),
        declined=declined,
    )
