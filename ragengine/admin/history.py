"""The question history in the admin (read-only): what people asked, what they were
answered, through which door, with the 👍/👎 they left and the ledger row that paid for
it; searchable, filterable, exported as CSV, and a source of draft evaluation cases.

Rows are joined to feedback and the ledger by request id (no foreign key: a refused
question has no ledger row, and the history's text may be gone while the money stays).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from unfold.admin import ModelAdmin

from ragengine.admin.evaluation import page
from ragengine.admin.evaluation_forms import PickEvalSetForm, draft_cases_message
from ragengine.admin.history_export import history_csv_lines
from ragengine.admin.history_filters import KnowledgeSetFilter, MemberFilter, TierFilter
from ragengine.evaluation.feedback_cases import eval_cases_from_history
from ragengine.models import (
    Document,
    Feedback,
    FeedbackValue,
    QuestionRecord,
    UsageRecord,
)

# Stages in the order a question goes through them (others follow, as recorded).
STAGES = ("validate", "budget", "cache", "embed", "retrieve", "generate", "total")


def history_url(request_id: str) -> str:
    """The history rows of answer `request_id` (for links from feedback and the ledger)."""
    changelist = reverse("admin:ragengine_questionrecord_changelist")
    return f"{changelist}?{urlencode({'request_id': request_id})}"


def history_link(request_id: str) -> str:
    if not request_id:
        return "—"
    return format_html(
        '<a class="text-primary-600" href="{}">question</a>', history_url(request_id)
    )


def stage_timings(latencies_ms: dict) -> str:
    """Per-stage latency as a small table with bars (not raw JSON)."""
    if not latencies_ms:
        return "—"
    names = [s for s in STAGES if s in latencies_ms]
    names += sorted(set(latencies_ms) - set(names))
    longest = max((float(latencies_ms[n]) for n in names), default=0) or 1
    rows = format_html_join(
        "",
        '<tr><td class="pr-3">{}</td><td class="pr-3 text-right tabular-nums">{} ms</td>'
        '<td><span style="display:inline-block;height:.6rem;width:{}px;'
        'background:var(--color-primary-500, #a855f7);border-radius:2px"></span>'
        "</td></tr>",
        (
            (n, f"{float(latencies_ms[n]):,.1f}", int(160 * float(latencies_ms[n]) / longest))
            for n in names
        ),
    )
    return format_html('<table class="stage-timings text-sm">{}</table>', rows)


@admin.register(QuestionRecord)
class QuestionRecordAdmin(ModelAdmin):
    list_before_template = "admin/ragengine/questionrecord/export.html"
    list_display = (
        "short_question",
        "member",
        "door",
        "outcome_display",
        "model",
        "cost_display",
        "total_ms_display",
        "feedback_display",
        "created_at",
        "ledger_link",
    )
    list_display_links = ("short_question",)
    list_filter = (
        "door",
        MemberFilter,
        TierFilter,
        KnowledgeSetFilter,
        "outcome",
        "not_found",
        "created_at",
    )
    search_fields = ("question", "answer", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("member",)
    fieldsets = (
        (None, {"fields": ("question", "answer_display", "sources_display")}),
        (
            "Asked",
            {
                "fields": (
                    "created_at",
                    "member",
                    "door",
                    "channel",
                    "sets_display",
                    "request_id",
                )
            },
        ),
        (
            "Answered",
            {
                "fields": (
                    "outcome",
                    "not_found",
                    "provider",
                    "model",
                    "cost",
                    "total_ms_display",
                    "feedback_detail",
                    "ledger_detail",
                )
            },
        ),
    )
    readonly_fields = (
        "question",
        "answer_display",
        "sources_display",
        "created_at",
        "member",
        "door",
        "channel",
        "sets_display",
        "request_id",
        "outcome",
        "not_found",
        "provider",
        "model",
        "cost",
        "total_ms_display",
        "feedback_detail",
        "ledger_detail",
    )
    actions = ["add_to_evaluation_set"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        votes = Feedback.objects.filter(request_id=OuterRef("request_id")).order_by("-pk")
        ledger = UsageRecord.objects.filter(request_id=OuterRef("request_id")).order_by("-pk")
        return (
            super()
            .get_queryset(request)
            .annotate(
                vote=Subquery(votes.values("value")[:1]),
                usage_pk=Subquery(ledger.values("pk")[:1]),
            )
        )

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv),
                name="ragengine_questionrecord_export",
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_add_to_evaluation_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ragengine.add_evalcase")

    @admin.display(description="question")
    def short_question(self, obj: QuestionRecord) -> str:
        if not obj.question:
            return "(text not kept)"
        return obj.question if len(obj.question) <= 90 else obj.question[:89] + "…"

    @admin.display(description="knowledge sets")
    def sets_display(self, obj: QuestionRecord) -> str:
        return ", ".join(obj.knowledge_sets) or "every set (or none: see the outcome)"

    @admin.display(description="outcome", ordering="outcome")
    def outcome_display(self, obj: QuestionRecord) -> str:
        label = obj.get_outcome_display()
        return f"{label} · nothing found" if obj.not_found else label

    @admin.display(description="cost", ordering="cost")
    def cost_display(self, obj: QuestionRecord) -> str:
        return f"{obj.cost:.6f}" if obj.cost else "—"

    @admin.display(description="time", ordering="total_ms")
    def total_ms_display(self, obj: QuestionRecord) -> str:
        return f"{obj.total_ms / 1000:.2f} s" if obj.total_ms >= 1000 else f"{obj.total_ms:.0f} ms"

    @admin.display(description="feedback")
    def feedback_display(self, obj: QuestionRecord) -> str:
        vote = getattr(obj, "vote", None)
        if vote is None:
            return "—"
        return "👍" if vote == FeedbackValue.UP else "👎"

    @admin.display(description="ledger")
    def ledger_link(self, obj: QuestionRecord) -> str:
        pk = getattr(obj, "usage_pk", None)
        if pk is None:
            return "—"
        url = reverse("admin:ragengine_usagerecord_change", args=[pk])
        return format_html('<a class="text-primary-600" href="{}">ledger row</a>', url)

    @admin.display(description="answer")
    def answer_display(self, obj: QuestionRecord) -> str:
        if not obj.answer:
            return "(text not kept)" if obj.outcome != "error" else "(an error: no answer)"
        return format_html('<div style="white-space:pre-wrap;max-width:60rem">{}</div>', obj.answer)

    @admin.display(description="sources")
    def sources_display(self, obj: QuestionRecord) -> str:
        if not obj.sources:
            return "none"
        ids = [s.get("document_id") for s in obj.sources if s.get("document_id")]
        known = set(Document.objects.filter(pk__in=ids).values_list("pk", flat=True))
        items = []
        for source in obj.sources:
            label = f"[{source.get('number')}] {source.get('title', '')}"
            if source.get("location"):
                label += f" — {source['location']}"
            if source.get("document_id") in known:
                url = reverse("admin:ragengine_document_change", args=[source["document_id"]])
                items.append(
                    format_html('<a class="text-primary-600" href="{}">{}</a>', url, label)
                )
            else:
                items.append(format_html("{}", label))
        return format_html_join("", "<div>{}</div>", ((i,) for i in items))

    @admin.display(description="feedback")
    def feedback_detail(self, obj: QuestionRecord) -> str:
        votes = list(Feedback.objects.filter(request_id=obj.request_id).select_related("member"))
        if not votes:
            return "none"
        return format_html_join(
            "",
            '<div><a class="text-primary-600" href="{}">{} {}</a>{}</div>',
            (
                (
                    reverse("admin:ragengine_feedback_change", args=[v.pk]),
                    "👍" if v.value == FeedbackValue.UP else "👎",
                    v.member,
                    f" — {v.comment}" if v.comment else "",
                )
                for v in votes
            ),
        )

    @admin.display(description="ledger")
    def ledger_detail(self, obj: QuestionRecord) -> str:
        usage = UsageRecord.objects.filter(request_id=obj.request_id).order_by("-pk").first()
        if usage is None:
            return "no ledger row (refused before any spending decision)"
        url = reverse("admin:ragengine_usagerecord_change", args=[usage.pk])
        return format_html(
            '<div><a class="text-primary-600" href="{}">{} · {} · {} tokens in, {} out · '
            "cost {} · saved {}</a></div>{}",
            url,
            usage.mode or usage.status,
            usage.tier or "no tier",
            usage.tokens_in,
            usage.tokens_out,
            f"{usage.cost:.6f}",
            f"{usage.cost_saved:.6f}",
            stage_timings(usage.latencies_ms),
        )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        query = request.GET.urlencode()
        export = reverse("admin:ragengine_questionrecord_export")
        extra = {
            "export_url": f"{export}?{query}" if query else export,
            "retention_days": settings.ARANDU_QUESTION_RETENTION_DAYS,
        }
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def export_csv(self, request: HttpRequest) -> HttpResponse:
        """The change list's rows under its current search and filters, streamed."""
        if not self.has_view_permission(request):
            return HttpResponse("You may not view the question history.", status=403)
        changelist = self.get_changelist_instance(request)
        rows = changelist.get_queryset(request).select_related("member").order_by("-created_at")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(
            history_csv_lines(rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="questions-{stamp}.csv"'
        return response

    @admin.action(
        description="Add to an evaluation set (as draft cases)",
        permissions=["add_to_evaluation"],
    )
    def add_to_evaluation_set(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        form = PickEvalSetForm(request.POST if "eval_set" in request.POST else None)
        records = list(queryset.select_related("member"))
        if not form.is_valid():
            return page(
                self,
                request,
                "pick_history_eval_set.html",
                "Add questions to an evaluation set",
                form=form,
                records=records,
                action="add_to_evaluation_set",
            )
        report = eval_cases_from_history(records=records, eval_set=form.cleaned_data["eval_set"])
        self.message_user(
            request,
            draft_cases_message(
                created=len(report.created),
                eval_set=form.cleaned_data["eval_set"],
                skipped={
                    "without their text": report.skipped_no_text,
                    "already there": report.skipped_already,
                },
            ),
            messages.SUCCESS,
        )
        return None
