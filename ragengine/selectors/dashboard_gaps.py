"""Dashboard: the content gaps, questions the documents could not answer.

A gap is a question answered "not found" (no sources) or refused. Similar questions are
grouped so an admin sees "12 × how do I expense a taxi" rather than twelve rows: the same
words after normalising (case, accents, punctuation) join at once; otherwise a question
joins the group whose terms (stopwords dropped, stemmed: the retrieval's own analysis)
overlap its own most, when the overlap (Jaccard) reaches `SIMILARITY`. Greedy and
bounded to the period's latest `SAMPLE` gaps, so it costs milliseconds on any history.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from ragengine.selectors.dashboard import DashboardScope, questions_in
from ragengine.text_analysis import analyze, words

SIMILARITY = 0.5
SAMPLE = 2000


@dataclass(slots=True)
class GapGroup:
    question: str  # the most asked wording (the latest on a tie)
    count: int = 0
    not_found: int = 0
    refused: int = 0
    last_asked: datetime | None = None
    knowledge_sets: Counter = field(default_factory=Counter)
    wordings: Counter = field(default_factory=Counter)
    terms: frozenset[str] = frozenset()

    def examples(self, limit: int = 3) -> list[str]:
        """Other wordings, most asked first."""
        return [w for w, _ in self.wordings.most_common() if w != self.question][:limit]

    @property
    def sets(self) -> list[str]:
        return [name for name, _ in self.knowledge_sets.most_common()]


def normalised(text: str) -> str:
    return " ".join(words(text))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def content_gaps(*, scope: DashboardScope, limit: int = 15) -> tuple[list[GapGroup], int]:
    """Groups of unanswered questions, largest first, and how many gaps the period had
    (questions without stored text, under a 0-day retention, count but can't be grouped)."""
    rows = questions_in(scope).filter(Q(not_found=True) | Q(outcome="refused"))
    total = rows.count()
    sample = rows.exclude(question="").order_by("-created_at", "-pk")[:SAMPLE]
    groups: list[GapGroup] = []
    by_text: dict[str, GapGroup] = {}
    for question, outcome, not_found, sets, created_at in sample.values_list(
        "question", "outcome", "not_found", "knowledge_sets", "created_at"
    ):
        text = normalised(question)
        if not text:
            continue
        group = by_text.get(text)
        if group is None:
            terms = frozenset(analyze(question))
            group = _closest(groups, terms)
            if group is None:
                group = GapGroup(question=question.strip(), terms=terms, last_asked=created_at)
                groups.append(group)
            by_text[text] = group
        group.count += 1
        group.refused += outcome == "refused"
        group.not_found += bool(not_found) and outcome != "refused"
        group.wordings[question.strip()] += 1
        for name in sets or ():
            group.knowledge_sets[name] += 1
    for group in groups:
        # Counter keeps first-seen order on ties, and rows come latest first.
        group.question = group.wordings.most_common(1)[0][0]
    groups.sort(key=lambda g: (-g.count, -(g.last_asked.timestamp() if g.last_asked else 0)))
    return groups[:limit], total


def _closest(groups: list[GapGroup], terms: frozenset[str]) -> GapGroup | None:
    best, best_score = None, SIMILARITY
    for group in groups:
        score = jaccard(group.terms, terms)
        if score >= best_score and (best is None or score > best_score):
            best, best_score = group, score
    return best
