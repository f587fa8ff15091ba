"""Turning a 👎 answer into a draft evaluation case: its question, the sources it cited
and the member's comment; an admin then fills in the expected facts and enables it.

The question and cited sources come from the record of the answer (`answer_record`). The
engine does not keep its questions yet (the query history arrives with the admin's
history pages): until then the draft carries the comment and the links to the feedback
and its ledger row, and the admin types the question in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Max

from ragengine.models import CaseOrigin, EvalCase, EvalSet, Feedback, FeedbackValue

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    question: str
    cited_documents: list[str] = field(default_factory=list)  # names, as cases expect them


def answer_record(*, request_id: str) -> AnswerRecord | None:
    """What was asked and cited for answer `request_id`, when the engine recorded it.

    The one place the query history plugs in; today nothing records questions, so None."""
    return None


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
                notes.append("The question was not recorded: type it in, then the facts.")
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
