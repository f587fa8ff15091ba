"""Admin for the engine's housekeeping: the blocked question patterns checked before any
spend, and the embedding cache (vectors remembered by embedder and content hash)."""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin

from ragengine.models import BlockedPattern, EmbeddingCacheEntry


@admin.register(BlockedPattern)
class BlockedPatternAdmin(ModelAdmin):
    list_display = ("name", "kind", "pattern", "enabled")
    list_filter = ("kind", "enabled")
    list_editable = ("enabled",)
    search_fields = ("name", "pattern")


@admin.register(EmbeddingCacheEntry)
class EmbeddingCacheEntryAdmin(ModelAdmin):
    list_display = ("embedder", "content_hash", "created_at")
    list_filter = ("embedder",)
    search_fields = ("content_hash",)
    exclude = ("vector",)
    readonly_fields = ("embedder", "content_hash", "created_at")
