"""Django admin for knowledge: lists, filters and search; deletes go through services so
the vector store never keeps chunks of a deleted document."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from ragengine.models import (
    BlockedPattern,
    Chunk,
    Document,
    EmbeddingCacheEntry,
    Identity,
    KnowledgeSet,
    Member,
    ModelPrice,
    ProviderEndpoint,
    Tier,
    TierModel,
    UsageRecord,
    Workspace,
)
from ragengine.selectors.usage import usage_summary
from ragengine.services.knowledge import documents_delete, knowledge_set_delete


@admin.register(KnowledgeSet)
class KnowledgeSetAdmin(admin.ModelAdmin):
    list_display = ("name", "document_count", "index_version", "embedder", "updated_at")
    search_fields = ("name", "description")
    readonly_fields = ("embedder", "index_version", "created_at", "updated_at")
    prepopulated_fields = {"slug": ("name",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(_documents=Count("documents"))

    @admin.display(description="documents", ordering="_documents")
    def document_count(self, obj: KnowledgeSet) -> int:
        return obj._documents

    def delete_model(self, request: HttpRequest, obj: KnowledgeSet) -> None:
        knowledge_set_delete(knowledge_set=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for knowledge_set in queryset:
            knowledge_set_delete(knowledge_set=knowledge_set)


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ("ordinal", "heading_path", "page", "token_count", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "knowledge_set",
        "status",
        "mime_type",
        "size_bytes",
        "chunk_count",
        "ingested_at",
        "short_error",
    )
    list_filter = ("status", "knowledge_set", "mime_type")
    search_fields = ("title", "source", "error")
    date_hierarchy = "created_at"
    readonly_fields = (
        "source",
        "mime_type",
        "size_bytes",
        "content_hash",
        "indexed_hash",
        "status",
        "error",
        "chunk_count",
        "metadata",
        "created_at",
        "updated_at",
        "ingested_at",
    )
    inlines = [ChunkInline]

    @admin.display(description="error")
    def short_error(self, obj: Document) -> str:
        return (obj.error[:80] + "…") if len(obj.error) > 80 else obj.error

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        documents_delete(documents=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        documents_delete(documents=list(queryset))


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ("document", "ordinal", "heading_path", "page", "token_count")
    list_filter = ("document__knowledge_set",)
    search_fields = ("text", "heading_path", "document__title")
    list_select_related = ("document",)
    exclude = ("embedding",)
    readonly_fields = (
        "document",
        "ordinal",
        "text",
        "token_count",
        "heading_path",
        "page",
        "content_hash",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Chunks go with their document (whose delete cascades here and needs this
        # permission); deleting one by one would leave the vector store out of step.
        match = request.resolver_match
        return bool(match) and not (match.url_name or "").startswith("ragengine_chunk_")


@admin.register(EmbeddingCacheEntry)
class EmbeddingCacheEntryAdmin(admin.ModelAdmin):
    list_display = ("embedder", "content_hash", "created_at")
    list_filter = ("embedder",)
    search_fields = ("content_hash",)
    exclude = ("vector",)
    readonly_fields = ("embedder", "content_hash", "created_at")


# --- tiers, providers, money ------------------------------------------------------------


@admin.register(ProviderEndpoint)
class ProviderEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "base_url", "api_key_env", "timeout_s", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "base_url")


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = ("model", "provider_kind", "input_per_million", "output_per_million", "currency")
    list_editable = ("input_per_million", "output_per_million")
    list_filter = ("provider_kind", "currency")
    search_fields = ("model",)


class TierModelInline(admin.TabularInline):
    model = TierModel
    extra = 1
    fields = ("position", "endpoint", "model")


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
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
    list_filter = ("is_default", "hard_limit_policy")
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
class WorkspaceAdmin(admin.ModelAdmin):
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


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0
    fields = ("platform", "workspace_id", "user_id", "created_at")
    readonly_fields = ("created_at",)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):
    """The ledger, read-only; the change list shows totals for the current filters."""

    change_list_template = "admin/ragengine/usagerecord/change_list.html"
    list_display = (
        "created_at",
        "member",
        "tier",
        "mode",
        "provider",
        "model",
        "arm",
        "tokens_in",
        "tokens_out",
        "cost",
        "cost_saved",
        "status",
    )
    list_filter = ("mode", "status", "tier", "provider", "model", "arm")
    search_fields = ("member__display_name", "request_id", "model")
    date_hierarchy = "created_at"
    list_select_related = ("member", "tier")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["totals"] = usage_summary(rows=changelist.queryset)
        return response


@admin.register(Member)
class MemberAdmin(admin.ModelAdmin):
    list_display = ("display_name", "tier", "workspace", "is_active", "created_at")
    list_filter = ("tier", "workspace", "is_active")
    search_fields = ("display_name", "identities__user_id")
    filter_horizontal = ("knowledge_sets",)
    inlines = [IdentityInline]


@admin.register(BlockedPattern)
class BlockedPatternAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "pattern", "enabled")
    list_filter = ("kind", "enabled")
    list_editable = ("enabled",)
    search_fields = ("name", "pattern")


import ragengine.admin_cache  # noqa: E402, F401
import ragengine.admin_doors  # noqa: E402, F401
