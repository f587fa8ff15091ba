"""What is asked and where: input checks, the knowledge sets a channel may read, and the
text retrieval should search for (a short follow-up borrows the thread's question)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from ragengine.answers import Channel, Turn
from ragengine.blocked_patterns import blocked_message, check_question
from ragengine.models import KnowledgeSet
from ragengine.plaintext import readable, unreadable_problem
from ragengine.selectors.blocked_patterns import active_blocked_patterns
from ragengine.text_analysis import analyze, detect_language, words

logger = logging.getLogger(__name__)

# A follow-up with this few content terms ("and for flights?") borrows the previous
# question's terms for retrieval.
FOLLOW_UP_MAX_TERMS = 3


NO_SETS_BOUND_MESSAGE = (
    "No knowledge sets are bound to this channel, so I can't answer here. "
    "Ask an admin to bind some in Arandu admin → Channel bindings."
)


@dataclass(frozen=True, slots=True)
class QuestionProblem:
    message: str


def question_validate(*, question: str) -> QuestionProblem | None:
    """A readable reason the question can't be asked, or None."""
    stripped = (question or "").strip()
    low, high = settings.ARANDU_QUESTION_MIN_CHARS, settings.ARANDU_QUESTION_MAX_CHARS
    if not stripped:
        return QuestionProblem("Please type a question.")
    unreadable = unreadable_problem(stripped, what="That question")
    if unreadable is not None:  # e.g. NUL: it must never reach the database or the cache
        return QuestionProblem(unreadable)
    if len(stripped) < low:
        return QuestionProblem(f"That question is too short: please use at least {low} characters.")
    if len(stripped) > high:
        return QuestionProblem(
            f"That question is too long ({len(stripped)} characters): please keep it under "
            f"{high} characters, or split it into smaller questions."
        )
    blocked = check_question(stripped, patterns=active_blocked_patterns())
    if blocked is not None:
        language = detect_language(words(stripped), stripped)
        logger.warning("question blocked", extra={"pattern": blocked.name})
        return QuestionProblem(blocked_message(blocked, language=language))
    return None


def history_readable(*, history: Sequence[Turn]) -> tuple[Turn, ...]:
    """The thread history with unreadable characters removed (see ragengine.plaintext):
    earlier messages are context, so they are cleaned, never a reason to refuse."""
    cleaned: list[Turn] = []
    for turn in history:
        text = readable(turn.text)
        cleaned.append(turn if text == turn.text else Turn(turn.role, text))
    return tuple(cleaned)


def channel_set_ids(*, channel: Channel) -> tuple[tuple[str, ...] | None, QuestionProblem | None]:
    """Store ids of the sets the channel may read (None: every set), or a problem."""
    if channel.knowledge_sets is None:
        return None, None
    if not channel.knowledge_sets:
        return None, QuestionProblem(channel.refusal or NO_SETS_BOUND_MESSAGE)
    found = dict(
        KnowledgeSet.objects.filter(name__in=channel.knowledge_sets).values_list("name", "pk")
    )
    unknown = [n for n in channel.knowledge_sets if n not in found]
    if unknown:
        return None, QuestionProblem(f"Unknown knowledge set: {', '.join(unknown)}.")
    return tuple(str(found[n]) for n in channel.knowledge_sets), None


def retrieval_text(*, question: str, history: Sequence[Turn]) -> str:
    """The question, or for a short follow-up the previous question plus this one."""
    if len(analyze(question)) > FOLLOW_UP_MAX_TERMS:
        return question
    previous = next((t.text for t in reversed(history) if t.role == "user"), "")
    return f"{previous} {question}".strip()
