"""Writing the question history (`QuestionRecord`), one row per `ask()`.

Called by `ask()` once its answer is final. A failure here is logged and never reaches
the asker: the history is for admins, the answer is for the person waiting. A daily
clean-up (`question_history_prune`) empties the text of rows older than
`ARANDU_QUESTION_RETENTION_DAYS`; the figures stay, like the ledger's.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ragengine.ask_types import Answer, AnswerMode, Channel
from ragengine.models import Member, QuestionOutcome, QuestionRecord
from ragengine.plaintext import readable

logger = logging.getLogger(__name__)

MAX_STORED_CHARS = 8000  # a pasted log is history, not a backup
ANSWERED_MODES = frozenset({AnswerMode.GENERATED, AnswerMode.EXTRACTIVE, AnswerMode.CACHED})


def question_record(
    *,
    request_id: str,
    member: Member | None,
    channel: Channel,
    question: str,
    answer: Answer | None,
) -> QuestionRecord | None:
    """Record one question and its answer (`answer=None`: `ask()` raised an error).

    With `ARANDU_QUESTION_RETENTION_DAYS = 0` the row keeps figures but no text. Text is
    stored readable (no NUL, no lone surrogates): a refused question may hold them.
    """
    keep_text = settings.ARANDU_QUESTION_RETENTION_DAYS > 0
    try:
        return QuestionRecord.objects.create(
            request_id=request_id,
            member=member if member is not None and member.pk else None,
            door=channel.platform[:20],
            channel=f"{channel.platform}:{channel.channel_id}"[:120],
            knowledge_sets=list(channel.knowledge_sets or ()),
            question=readable(question[:MAX_STORED_CHARS]) if keep_text else "",
            answer=readable(answer.text[:MAX_STORED_CHARS]) if answer and keep_text else "",
            outcome=str(answer.mode) if answer is not None else QuestionOutcome.ERROR,
            not_found=answer is not None and answer.mode in ANSWERED_MODES and not answer.sources,
            sources=_sources(answer),
            provider=answer.provider[:60] if answer else "",
            model=answer.model[:120] if answer else "",
            cost=answer.cost if answer else 0,
            total_ms=round(answer.timings_ms.get("total", 0.0), 3) if answer else 0.0,
        )
    except Exception:
        logger.exception("question not recorded in the history", extra={"request_id": request_id})
        return None


def _sources(answer: Answer | None) -> list[dict]:
    if answer is None:
        return []
    return [
        {"number": s.number, "title": s.title, "location": s.location, "document_id": s.document_id}
        for s in answer.sources
    ]


def question_history_prune(*, now: datetime | None = None) -> int:
    """Empty the question and answer text of rows past the retention (every row's when
    it is 0, e.g. after it was lowered to 0); returns how many rows were emptied."""
    days = settings.ARANDU_QUESTION_RETENTION_DAYS
    rows = QuestionRecord.objects.filter(~Q(question="") | ~Q(answer=""))
    if days > 0:
        rows = rows.filter(created_at__lt=(now or timezone.now()) - timedelta(days=days))
    emptied = rows.update(question="", answer="")
    if emptied:
        logger.info(
            "question history text removed",
            extra={"rows": emptied, "retention_days": days},
        )
    return emptied
