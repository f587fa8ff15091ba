"""Request validation and the documented shape of every response."""

from __future__ import annotations

import unicodedata
from datetime import date

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ragengine.models import Document, DocumentKind
from ragengine.selectors.knowledge import export_records
from ragengine.selectors.usage_report import GROUPS, PERIODS

# Report days outside these years can't hold usage (and would overflow calendar math).
REPORT_YEARS = (2000, 9000)
MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 8000
MAX_REQUESTED_SETS = 50
ALLOWED_CONTROLS = frozenset("\n\r\t")


def no_control_characters(value: str) -> None:
    """Control characters (other than tab and line breaks) and lone surrogates never
    reach the engine or the database."""
    for position, char in enumerate(value):
        if char not in ALLOWED_CONTROLS and unicodedata.category(char) in {"Cc", "Cs"}:
            raise serializers.ValidationError(
                f"Contains a control character (U+{ord(char):04X}) at position {position}."
            )


class TurnSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["user", "assistant"])
    text = serializers.CharField(max_length=MAX_TURN_CHARS, validators=[no_control_characters])


class AskSerializer(serializers.Serializer):
    def get_fields(self) -> dict:
        """Built for each request, not declared: the question's length limits come from the
        settings of the running server, and building four fields costs less than DRF's
        deep copy of declared ones (a nested list serializer among them)."""
        low, high = settings.ARANDU_QUESTION_MIN_CHARS, settings.ARANDU_QUESTION_MAX_CHARS
        return {
            "question": serializers.CharField(
                min_length=low,
                max_length=high,
                validators=[no_control_characters],
                error_messages={
                    "min_length": f"That question is too short: please use at least {low} "
                    "characters.",
                    "max_length": f"That question is too long: please keep it under {high} "
                    "characters.",
                },
            ),
            "knowledge_sets": serializers.ListField(
                child=serializers.CharField(max_length=120, validators=[no_control_characters]),
                required=False,
                allow_empty=False,
                max_length=MAX_REQUESTED_SETS,
                help_text="Narrow the answer to some of the sets this token may read "
                "(default: all).",
            ),
            "history": TurnSerializer(
                many=True,
                required=False,
                max_length=MAX_HISTORY_TURNS,
                help_text="Earlier turns of the conversation, oldest first (follow-up questions).",
            ),
            "stream": serializers.BooleanField(
                required=False,
                default=False,
                help_text="Answer as server-sent events: `delta` events with text as a model "
                "writes it, then one `answer` event with the whole answer and its sources.",
            ),
        }


class SourceSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    title = serializers.CharField()
    location = serializers.CharField(allow_blank=True)
    snippet = serializers.CharField(allow_blank=True)
    score = serializers.FloatField()
    document_id = serializers.IntegerField()
    link = serializers.CharField(allow_blank=True)


class AnswerSerializer(serializers.Serializer):
    """`Answer.to_dict()`: what every door shows."""

    answer = serializers.CharField(allow_blank=True)
    mode = serializers.ChoiceField(choices=["generated", "extractive", "cached", "refused"])
    sources = SourceSerializer(many=True)
    provider = serializers.CharField(allow_blank=True)
    model = serializers.CharField(allow_blank=True)
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    cost = serializers.CharField(help_text="Decimal, in the prices' currency.")
    timings_ms = serializers.DictField(child=serializers.FloatField())
    notices = serializers.ListField(child=serializers.CharField())
    request_id = serializers.CharField()
    language = serializers.CharField(
        allow_blank=True, help_text='The question\'s language ("en", "pt"); may be empty.'
    )
    labels = serializers.DictField(
        child=serializers.CharField(),
        help_text='Labels in that language for a client to print ("sources", "notes").',
    )


class AskEventSerializer(serializers.Serializer):
    """One server-sent event of a streamed answer."""

    event = serializers.ChoiceField(choices=["delta", "reset", "answer", "error"])
    data = serializers.CharField(
        help_text='JSON: delta/reset `{"text"}`; answer: the answer as in the JSON '
        "response; error: the error body."
    )


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="A stable code, e.g. invalid, throttled.")
    detail = serializers.CharField(help_text="What went wrong and how to fix it.")
    fields = serializers.DictField(required=False, help_text="Per-field messages (invalid).")
    retry_after_s = serializers.IntegerField(required=False, help_text="Throttled: wait this.")


class KnowledgeSetSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    documents = serializers.IntegerField(help_text="Documents ready to answer from.")


class KnowledgeSetListSerializer(serializers.Serializer):
    knowledge_sets = KnowledgeSetSerializer(many=True)
    origin = serializers.ChoiceField(
        choices=["token", "member", "workspace"],
        help_text="Where the sets come from: the service token, the member's own sets, or "
        "their workspace's defaults.",
    )


class ExportRecordsSerializer(serializers.Serializer):
    total = serializers.IntegerField(help_text="The export's records that are documents.")
    ready = serializers.IntegerField()
    failed = serializers.IntegerField()
    in_progress = serializers.IntegerField()
    skipped = serializers.IntegerField(
        help_text="Records of the file that could not be used (see `skipped_reasons`)."
    )
    in_file = serializers.IntegerField(help_text="Usable records in the file last read.")
    done = serializers.IntegerField(help_text="Of those, ingested so far (progress).")


class DocumentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    knowledge_set = serializers.CharField(source="knowledge_set.name")
    filename = serializers.SerializerMethodField()
    parent = serializers.SerializerMethodField(
        help_text="A record's export (its URL); null for other documents."
    )
    records = serializers.SerializerMethodField(
        help_text="An export's records by state; null for other documents."
    )
    skipped_reasons = serializers.SerializerMethodField(
        help_text="Why records of an export were skipped (the first 20)."
    )

    class Meta:
        model = Document
        fields = [
            "id",
            "url",
            "knowledge_set",
            "title",
            "filename",
            "kind",
            "parent",
            "records",
            "skipped_reasons",
            "status",
            "error",
            "chunk_count",
            "size_bytes",
            "mime_type",
            "created_at",
            "updated_at",
            "ingested_at",
        ]

    def get_url(self, document: Document) -> str:
        return self._url(document.pk)

    def _url(self, document_id: int) -> str:
        path = reverse("api:document", args=[document_id])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_parent(self, document: Document) -> str | None:
        return self._url(document.parent_id) if document.parent_id else None

    @extend_schema_field(ExportRecordsSerializer(allow_null=True))
    def get_records(self, document: Document) -> dict | None:
        if document.kind != DocumentKind.EXPORT:
            return None
        return export_records(export=document)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_skipped_reasons(self, document: Document) -> list[str]:
        return list(document.metadata.get("skipped_reasons") or [])

    def get_filename(self, document: Document) -> str:
        return str(document.metadata.get("filename") or document.source.rsplit("/", 1)[-1])


class DocumentUploadSerializer(serializers.Serializer):
    knowledge_set = serializers.CharField(max_length=120, validators=[no_control_characters])
    file = serializers.FileField(allow_empty_file=False, max_length=255)


class UsageQuerySerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS, default="day")
    by = serializers.ChoiceField(choices=GROUPS, required=False, help_text="Default: one total.")
    date = serializers.DateField(
        required=False, help_text="A day inside the period (YYYY-MM-DD); default today."
    )

    def validate_date(self, value: date) -> date:
        if not REPORT_YEARS[0] <= value.year <= REPORT_YEARS[1]:
            raise serializers.ValidationError(
                f"Choose a day between {REPORT_YEARS[0]} and {REPORT_YEARS[1]}."
            )
        return value


class UsageRowSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The member, tier or provider:model; 'total'.")
    questions = serializers.IntegerField()
    tokens_in = serializers.IntegerField()
    tokens_out = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=20, decimal_places=8)
    cost_saved = serializers.DecimalField(max_digits=20, decimal_places=8)


class UsageReportSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIODS)
    by = serializers.ChoiceField(choices=GROUPS, allow_null=True)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    rows = UsageRowSerializer(many=True)
