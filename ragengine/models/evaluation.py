"""Evaluation test sets: the questions, what a good answer to each contains, and which
knowledge sets they are asked against."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from ragengine.models.feedback import Feedback
from ragengine.models.knowledge import KnowledgeSet


class EvalSet(models.Model):
    """A named test set. Runs ask its enabled cases in a scope made of exactly its
    knowledge sets (a set without knowledge sets is refused at run start: never "every
    set" by accident)."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    knowledge_sets = models.ManyToManyField(
        KnowledgeSet,
        blank=True,
        related_name="eval_sets",
        help_text="The knowledge sets every case is asked against.",
    )
    baseline_run = models.ForeignKey(
        "ragengine.EvalRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Scheduled runs are compared with this run to call out drift.",
    )
    thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text='Regression threshold per metric, e.g. {"fact_recall": 0.05, '
        '"latency_p95_ms": 500}; metrics left out use the defaults.',
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "evaluation set"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.thresholds, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and v >= 0
            for v in self.thresholds.values()
        ):
            raise ValidationError(
                {"thresholds": "Give a JSON object of metric name → non-negative number."}
            )


class CaseLanguage(models.TextChoices):
    ENGLISH = "en", "English"
    PORTUGUESE = "pt", "Portuguese"


class CaseOrigin(models.TextChoices):
    MANUAL = "manual", "Written in the admin"
    IMPORT = "import", "Imported"
    FEEDBACK = "feedback", "From 👎 feedback"
    HISTORY = "history", "From the question history"


class EvalCase(models.Model):
    """One question and what a good answer to it contains.

    `expected_documents` name documents by file name or source (`employee-handbook.md`,
    `faq-export.jsonl#faq-0101`), so a case survives re-ingestion. `expected_facts` is a
    list of groups of alternative phrases: each group is one fact, found when any of its
    phrases is in the answer (case and accents ignored).
    """

    eval_set = models.ForeignKey(EvalSet, on_delete=models.CASCADE, related_name="cases")
    position = models.PositiveIntegerField(default=0)
    question = models.TextField()
    language = models.CharField(max_length=8, choices=CaseLanguage.choices, blank=True)
    expected_documents = models.JSONField(default=list, blank=True)
    expected_facts = models.JSONField(default=list, blank=True)
    reference_answer = models.TextField(blank=True)
    must_refuse = models.BooleanField(
        default=False, help_text="The documents don't answer this: the right answer declines."
    )
    tags = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    origin = models.CharField(max_length=10, choices=CaseOrigin.choices, default=CaseOrigin.MANUAL)
    feedback = models.ForeignKey(
        Feedback, null=True, blank=True, on_delete=models.SET_NULL, related_name="eval_cases"
    )
    notes = models.TextField(
        blank=True, help_text="Why this case exists (a member's comment, for a 👎 answer)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["eval_set", "position", "pk"]
        verbose_name = "evaluation case"

    def __str__(self) -> str:
        return self.question[:80] or f"(draft case {self.pk}: no question yet)"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if not (self.question or "").strip():
            errors["question"] = "A case needs a question."
        if not _is_list_of_str(self.expected_documents):
            errors["expected_documents"] = "A list of document names."
        if not isinstance(self.expected_facts, list) or not all(
            _is_list_of_str(group) and group for group in self.expected_facts
        ):
            errors["expected_facts"] = "A list of facts, each a list of alternative phrases."
        if not _is_list_of_str(self.tags):
            errors["tags"] = "A list of tags."
        if not errors and self.must_refuse and (self.expected_facts or self.expected_documents):
            errors["must_refuse"] = (
                "A question the documents can't answer expects no facts and no documents."
            )
        if (
            not errors
            and self.enabled
            and not self.must_refuse
            and not (self.expected_facts or self.expected_documents or self.reference_answer)
        ):
            errors["expected_facts"] = (
                "An enabled case needs expected facts, documents or a reference answer "
                "(or 'must refuse'); keep drafts disabled until they have them."
            )
        if errors:
            raise ValidationError(errors)


def _is_list_of_str(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
