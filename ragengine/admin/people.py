"""Admin for people and tiers: members (with their chat identities), the Slack workspaces
and Discord guilds they come from, and the tiers that decide model, budget and limits."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline

from ragengine.models import Identity, Member, Tier, TierModel, Workspace


class EvaluationFilter(admin.SimpleListFilter):
    """Hides the tiers and members evaluation runs create (named "eval:…") unless asked."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("real", "Real"), ("evaluation", "Evaluation runs"), ("all", "All")]

    def value(self):
        return super().value() or "real"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        field = "name" if queryset.model is Tier else "display_name"
        if self.value() == "real":
            return queryset.exclude(**{f"{field}__startswith": "eval:"})
        if self.value() == "evaluation":
            return queryset.filter(**{f"{field}__startswith": "eval:"})
        return queryset


class TierModelInline(TabularInline):
    model = TierModel
    extra = 1
    fields = ("position", "endpoint", "model")


@admin.register(Tier)
class TierAdmin(ModelAdmin):
    list_display = (
        "name",
        "is_default",
        "chain_display",
        "daily_budget",
        "monthly_budget",
        "hard_limit_policy",
        "questions_per_hour",
        "questions_per_day",
        "ab_percent",
    )
    list_filter = (EvaluationFilter, "is_default", "hard_limit_policy")
    search_fields = ("name",)
    inlines = [TierModelInline]
    fieldsets = (
        (None, {"fields": ("name", "is_default")}),
        ("Answers", {"fields": ("max_output_tokens", "context_token_budget")}),
        (
            "Budget",
            {
                "fields": (
                    "daily_budget",
                    "monthly_budget",
                    "soft_limit_percent",
                    "min_output_tokens",
                    "hard_limit_policy",
                    "downgrade_endpoint",
                    "downgrade_model",
                )
            },
        ),
        ("Rate limits", {"fields": ("questions_per_hour", "questions_per_day")}),
        ("A/B split", {"fields": ("ab_endpoint", "ab_model", "ab_percent")}),
        ("Cache", {"fields": ("semantic_cache_enabled", "cache_hits_count_toward_quota")}),
    )

    @admin.display(description="models (in order)")
    def chain_display(self, obj: Tier) -> str:
        steps = [str(step) for step in obj.chain.all()]
        return " → ".join(steps) if steps else "extractive only"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("chain__endpoint")


@admin.register(Workspace)
class WorkspaceAdmin(ModelAdmin):
    """Slack workspaces and Discord guilds (created on first contact): default tier, the
    knowledge sets their unbound channels and members' direct messages read, and whether
    those read every set when there are no default sets (otherwise they are refused)."""

    list_display = ("name", "platform", "external_id", "default_tier", "unbound_scope")
    list_filter = ("platform", "default_tier", "answers_from_every_set")
    search_fields = ("name", "external_id")
    filter_horizontal = ("default_knowledge_sets",)
    fieldsets = (
        (None, {"fields": ("platform", "external_id", "name", "default_tier")}),
        (
            "Knowledge sets",
            {
                "fields": ("default_knowledge_sets", "answers_from_every_set"),
                "description": "A bound channel always reads its binding's sets (Channel "
                "bindings). Channels without a binding read these default sets; direct "
                "messages read the member's own sets, else their workspace's default sets. "
                "With no default sets those questions are refused, unless “answer from "
                "every set” is on.",
            },
        ),
    )

    @admin.display(description="unbound channels and DMs read")
    def unbound_scope(self, obj: Workspace) -> str:
        names = [s.name for s in obj.default_knowledge_sets.all()]
        if names:
            return ", ".join(names)
        return "every set (admin's choice)" if obj.answers_from_every_set else "nothing: refused"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("default_knowledge_sets")


class IdentityInline(TabularInline):
    model = Identity
    extra = 0
    fields = ("platform", "workspace_id", "user_id", "created_at")
    readonly_fields = ("created_at",)


@admin.register(Member)
class MemberAdmin(ModelAdmin):
    list_display = ("display_name", "tier", "workspace", "is_active", "created_at")
    list_filter = (EvaluationFilter, "tier", "workspace", "is_active")
    search_fields = ("display_name", "identities__user_id")
    filter_horizontal = ("knowledge_sets",)
    inlines = [IdentityInline]
