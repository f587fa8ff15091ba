"""Django admin for the chat doors: channel → knowledge set bindings, and the 👍/👎
feedback people left on answers (read-only)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from unfold.admin import ModelAdmin

from ragengine.admin.evaluation import page
from ragengine.admin.evaluation_forms import PickEvalSetForm, draft_cases_message
from ragengine.admin.history import history_link
from ragengine.evaluation.feedback_cases import eval_cases_from_feedback
from ragengine.models import ChannelBinding, Feedback


@admin.register(ChannelBinding)
class ChannelBindingAdmin(ModelAdmin):
    """One binding per channel id: it applies to everyone asking there, whatever team
    they come from (Slack Connect), and to the channel's threads."""

    list_display = ("name", "platform", "workspace_id", "channel_id", "sets_display")
    list_filter = ("platform", "knowledge_sets")
    search_fields = ("name", "channel_id", "workspace_id")
    filter_horizontal = ("knowledge_sets",)

    @admin.display(description="knowledge sets")
    def sets_display(self, obj: ChannelBinding) -> str:
        names = [s.name for s in obj.knowledge_sets.all()]
        return ", ".join(names) if names else "none (bot is off here)"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("knowledge_sets")


@admin.register(Feedback)
class FeedbackAdmin(ModelAdmin):
    list_display = (
        "created_at",
        "member",
        "value",
        "short_comment",
        "platform",
        "request_id",
        "question_link",
    )
    list_filter = ("value", "platform")
    search_fields = ("request_id", "comment", "member__display_name")
    date_hierarchy = "created_at"
    list_select_related = ("member",)
    readonly_fields = (
        "member",
        "request_id",
        "question_link",
        "usage",
        "value",
        "comment",
        "platform",
        "channel",
        "created_at",
        "updated_at",
    )

    @admin.display(description="comment")
    def short_comment(self, obj: Feedback) -> str:
        return obj.comment if len(obj.comment) <= 80 else obj.comment[:79] + "…"

    @admin.display(description="question")
    def question_link(self, obj: Feedback) -> str:
        return history_link(obj.request_id)

    actions = ["add_to_evaluation_set"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_add_to_evaluation_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ragengine.add_evalcase")

    @admin.action(
        description="Add 👎 answers to an evaluation set (as draft cases)",
        permissions=["add_to_evaluation"],
    )
    def add_to_evaluation_set(
        self, request: HttpRequest, queryset: QuerySet
    ) -> HttpResponse | None:
        form = PickEvalSetForm(request.POST if "eval_set" in request.POST else None)
        if not form.is_valid():
            return page(
                self,
                request,
                "pick_eval_set.html",
                "Add to an evaluation set",
                form=form,
                feedback=list(queryset.select_related("member")),
                action="add_to_evaluation_set",
            )
        report = eval_cases_from_feedback(
            feedback=list(queryset.select_related("member")),
            eval_set=form.cleaned_data["eval_set"],
        )
        self.message_user(
            request,
            draft_cases_message(
                created=len(report.created),
                eval_set=form.cleaned_data["eval_set"],
                skipped={
                    "not 👎": report.skipped_not_down,
                    "already there": report.skipped_already,
                },
            ),
            messages.SUCCESS,
        )
        return None
