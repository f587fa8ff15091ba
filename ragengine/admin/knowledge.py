"""Admin for knowledge: knowledge sets, documents and their chunks. Deletes go through
services so the vector store never keeps chunks of a deleted document."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline

from ragengine.models import Chunk, Document, KnowledgeSet
from ragengine.services.knowledge import documents_delete, knowledge_set_delete


@admin.register(KnowledgeSet)
class KnowledgeSetAdmin(ModelAdmin):
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


class ChunkInline(TabularInline):
    model = Chunk
    fields = ("ordinal", "heading_path", "page", "token_count", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(ModelAdmin):
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
