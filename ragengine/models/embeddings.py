"""Embedding cache: the same chunk text is never embedded twice by the same model."""

from __future__ import annotations

from django.db import models


class EmbeddingCacheEntry(models.Model):
    embedder = models.CharField(max_length=200)
    content_hash = models.CharField(max_length=64)
    vector = models.BinaryField()
    # The chunk's sentence vectors (retrieval.types.SentenceVectors.to_bytes), computed in
    # the same forward pass; null for entries written before them or by an embedder that
    # cannot give them.
    sentences = models.BinaryField(null=True, blank=True)
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
