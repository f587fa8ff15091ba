"""What is asked and where: input checks, the knowledge sets a channel may read, and the
text retrieval should search for (a short follow-up borrows the thread's question)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from ragengine.ask_types import Channel, Refusal, Turn
from ragengine.blocked_patterns import blocked_message, check_question
from ragengine.models import KnowledgeSet, Member
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


INACTIVE_MESSAGE = (
    "Your access to Arandu is switched off. Ask an admin if you think this is a mistake."
)


@dataclass(frozen=True, slots=True)
class QuestionProblem:
    message: str


@dataclass(frozen=True, slots=True)
class Intake:
    """A question that may be asked: stripped, its sets' store ids (None: every set), the
    thread history cleaned, and the text retrieval searches for."""

    question: str
    set_ids: tuple[str, ...] | None
    history: tuple[Turn, ...]
    search_text: str

    @property
    def follow_up(self) -> bool:
        """A follow-up's meaning depends on the thread: it is never served from or stored
        in the cache."""
        return self.search_text != self.question


def question_intake(
    *, member: Member | None, question: str, channel: Channel, history: Sequence[Turn]
) -> Intake:
    """Everything about the question itself, checked before anything is spent or looked
    up; Refusal with a readable reason when it can't be asked here."""
    problem = question_validate(question=question)
    if member is not None and not member.is_active:
        problem = QuestionProblem(INACTIVE_MESSAGE)
    set_ids = None
    if problem is None:
        set_ids, problem = channel_set_ids(channel=channel)
    if problem is not None:
        raise Refusal(problem.message)
    question = question.strip()
    history = history_readable(history=history)
    return Intake(
        question=question,
        set_ids=set_ids,
        history=history,
        search_text=retrieval_text(question=question, history=history),
    )


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
