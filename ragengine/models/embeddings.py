"""Embedding cache: the same chunk text is never embedded twice by the same model."""

from __future__ import annotations

from django.db import models


class EmbeddingCacheEntry(models.Model):
    embedder = models.CharField(max_length=200)
    content_hash = models.CharField(max_length=64)
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["embedder", "content_hash"], name="embedding_unique_per_model"
            )
        ]
        verbose_name_plural = "embedding cache entries"

    def __str__(self) -> str:
        return f"{self.embedder}:{self.content_hash[:12]}"
