"""Admin for knowledge sets (with their ingestion summary) and chunks; documents are in
`documents`. Deletes go through services so the vector store never keeps chunks of a
deleted document."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from unfold.admin import ModelAdmin

from ragengine.models import Chunk, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.selectors.knowledge import knowledge_set_summary, reembed_state_text
from ragengine.services.chunk_records import configured_vector_text
from ragengine.services.knowledge import knowledge_set_delete
from ragengine.services.reembed import knowledge_sets_queue_reembed

# The set's index: which model built its vectors, where they are, its re-embed.
INDEX_FIELDS = (
    "embedder",
    "vector_text",
    "vector_space",
    "reembed_state",
    "reembed_error",
    "index_version",
    "created_at",
    "updated_at",
)


@admin.register(KnowledgeSet)
class KnowledgeSetAdmin(ModelAdmin):
    list_display = (
        "name",
        "document_count",
        "index_version",
        "embedder",
        "reembed_state",
        "updated_at",
    )
    search_fields = ("name", "description")
    readonly_fields = ("documents_summary", *INDEX_FIELDS)
    actions = ["reembed"]
    prepopulated_fields = {"slug": ("name",)}

    class Media:
        css = {"all": ["ragengine/documents.css"]}

    def get_fieldsets(self, request: HttpRequest, obj: KnowledgeSet | None = None):
        own = (None, {"fields": ("name", "slug", "description")})
        if obj is None:
            return [own]
        return [
            own,
            ("Documents", {"fields": ("documents_summary",)}),
            ("Index", {"fields": INDEX_FIELDS}),
        ]

    @admin.display(description="re-embed")
    def reembed_state(self, obj: KnowledgeSet) -> str:
        """Where a re-embed stands: queued, running with its progress, done or failed;
        "needed" when the configured embedder (or text) is not the one that built the set."""
        return reembed_state_text(
            knowledge_set=obj,
            configured_embedder=registry.get_embedder().name,
            configured_vector_text=configured_vector_text(),
        )

    @admin.action(
        description="Re-embed with the configured embedder (in the background)",
        permissions=["change"],
    )
    def reembed(self, request: HttpRequest, queryset: QuerySet) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        queued = knowledge_sets_queue_reembed(knowledge_set_ids=ids)
        skipped = len(ids) - len(queued)
        note = (
            f" {skipped} already use the configured embedder, were never ingested, or "
            "are being re-embedded."
            if skipped
            else ""
        )
        level = messages.SUCCESS if queued else messages.WARNING
        self.message_user(
            request,
            f"Queued {len(queued)} knowledge set(s) for re-embedding; answers keep coming "
            f"from the current vectors until each one switches.{note}",
            level,
        )

    @admin.display(description="ingestion")
    def documents_summary(self, obj: KnowledgeSet) -> str:
        """Counts by status, chunks, size, last ingestion, embedder and bound channels,
        with links to upload into the set and to its documents."""
        if obj.pk is None:
            return ""
        return render_to_string(
            "admin/ragengine/knowledgeset/summary.html",
            {
                "summary": knowledge_set_summary(knowledge_set=obj),
                "upload_url": reverse("admin:ragengine_document_upload")
                + f"?knowledge_set={obj.pk}",
                "documents_url": reverse("admin:ragengine_document_changelist")
                + f"?knowledge_set__id__exact={obj.pk}",
                "channel_url": "admin:ragengine_channelbinding_change",
            },
        )

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


@admin.register(Chunk)
class ChunkAdmin(ModelAdmin):
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
