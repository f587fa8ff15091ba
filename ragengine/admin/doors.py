"""Django admin for the chat doors: channel → knowledge set bindings, and the 👍/👎
feedback people left on answers (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

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
    list_display = ("created_at", "member", "value", "short_comment", "platform", "request_id")
    list_filter = ("value", "platform")
    search_fields = ("request_id", "comment", "member__display_name")
    date_hierarchy = "created_at"
    list_select_related = ("member",)
    readonly_fields = (
        "member",
        "request_id",
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

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
