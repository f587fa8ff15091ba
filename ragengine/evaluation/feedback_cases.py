"""Turning answers into draft evaluation cases: a 👎 vote (with the member's comment) or
any question of the history; an admin then fills in the expected facts and enables it.

The question and cited sources come from the question history (`answer_record`). When
its text is gone (past `ARANDU_QUESTION_RETENTION_DAYS`, or never stored) the draft
says so and the admin types the question in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max

from ragengine.models import (
    CaseOrigin,
    Document,
    EvalCase,
    EvalSet,
    Feedback,
    FeedbackValue,
    QuestionRecord,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    question: str
    cited_documents: list[str] = field(default_factory=list)  # names, as cases expect them


def answer_record(*, request_id: str) -> AnswerRecord | None:
    """What was asked and cited for answer `request_id`, when the history still has its
    text (the newest row, should a door have reused an id)."""
    record = QuestionRecord.objects.filter(request_id=request_id).order_by("-pk").first()
    return _answer_record(record) if record is not None else None


def _answer_record(record: QuestionRecord) -> AnswerRecord | None:
    """Cited documents by their source path (what cases name them by), else title."""
    if not record.question:
        return None
    ids = [s.get("document_id") for s in record.sources if s.get("document_id")]
    paths = dict(Document.objects.filter(pk__in=ids).values_list("pk", "source"))
    names = [paths.get(s.get("document_id")) or s.get("title", "") for s in record.sources]
    return AnswerRecord(
        question=record.question, cited_documents=list(dict.fromkeys(filter(None, names)))
    )


@dataclass(frozen=True, slots=True)
class DraftReport:
    created: list[EvalCase]
    skipped_not_down: int
    skipped_already: int


def eval_cases_from_feedback(*, feedback: list[Feedback], eval_set: EvalSet) -> DraftReport:
    """A disabled draft case in `eval_set` per 👎 vote (👍 votes and votes already drafted
    into this set are skipped)."""
    created: list[EvalCase] = []
    not_down = already = 0
    with transaction.atomic():
        drafted = set(
            eval_set.cases.filter(feedback__isnull=False).values_list("feedback_id", flat=True)
        )
        position = eval_set.cases.aggregate(top=Max("position"))["top"] or 0
        for vote in feedback:
            if vote.value != FeedbackValue.DOWN:
                not_down += 1
                continue
            if vote.pk in drafted:
                already += 1
                continue
            record = answer_record(request_id=vote.request_id)
            position += 1
            notes = [f"👎 from {vote.member} on answer {vote.request_id} ({vote.channel})."]
            if vote.comment:
                notes.append(f"Comment: {vote.comment}")
            if record is None:
                notes.append(
                    "The question is not (or no longer) in the history: type it in, then the facts."
                )
            case = EvalCase.objects.create(
                eval_set=eval_set,
                position=position,
                question=record.question if record else "",
                expected_documents=record.cited_documents if record else [],
                enabled=False,
                origin=CaseOrigin.FEEDBACK,
                feedback=vote,
                notes="\n".join(notes),
                tags=["from-feedback"],
            )
            drafted.add(vote.pk)
            created.append(case)
    logger.info(
        "draft cases from feedback",
        extra={"eval_set": eval_set.name, "drafts": len(created), "skipped": not_down + already},
    )
    return DraftReport(created, not_down, already)


@dataclass(frozen=True, slots=True)
class HistoryDraftReport:
    created: list[EvalCase]
    skipped_no_text: int
    skipped_already: int


def eval_cases_from_history(
    *, records: list[QuestionRecord], eval_set: EvalSet
) -> HistoryDraftReport:
    """A disabled draft case in `eval_set` per history row with its question still kept
    (a question already in the set, same text, is skipped)."""
    created: list[EvalCase] = []
    no_text = already = 0
    with transaction.atomic():
        known = set(eval_set.cases.values_list("question", flat=True))
        position = eval_set.cases.aggregate(top=Max("position"))["top"] or 0
        for row in records:
            record = _answer_record(row)
            if record is None:
                no_text += 1
                continue
            if record.question in known:
                already += 1
                continue
            position += 1
            who = row.member.display_name if row.member else "someone"
            case = EvalCase.objects.create(
                eval_set=eval_set,
                position=position,
                question=record.question,
                expected_documents=record.cited_documents,
                enabled=False,
                origin=CaseOrigin.HISTORY,
                notes=(
                    f"Asked by {who} through {row.door} on {row.created_at:%Y-%m-%d %H:%M} "
                    f"(answer {row.request_id}, {row.outcome}"
                    f"{', nothing found' if row.not_found else ''})."
                ),
                tags=["from-history"],
            )
            known.add(record.question)
            created.append(case)
    logger.info(
        "draft cases from history",
        extra={"eval_set": eval_set.name, "drafts": len(created), "skipped": no_text + already},
    )
    return HistoryDraftReport(created, no_text, already)
