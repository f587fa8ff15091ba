"""Each embedder's cosine thresholds are looked up by its stable name."""

from __future__ import annotations

from ragengine.retrieval.embedders.local import EMBEDDER_NAME as MINILM_NAME
from ragengine.retrieval.embedders.use_multilingual import EMBEDDER_NAME as USE_NAME
from ragengine.retrieval.similarity_scale import (
    DEFAULT_SCALE,
    MINILM_SCALE,
    USE_SCALE,
    cache_threshold,
    similarity_scale,
)


def test_the_measured_embedders_have_their_own_scale() -> None:
    assert similarity_scale(MINILM_NAME) == MINILM_SCALE
    assert similarity_scale(USE_NAME) == USE_SCALE
    assert USE_SCALE.sentence_floor < MINILM_SCALE.sentence_floor


def test_an_embedder_never_measured_gets_the_strictest_scale() -> None:
    scale = similarity_scale("openai:text-embedding-3-small")

    assert scale == DEFAULT_SCALE
    assert scale.sentence_floor == max(MINILM_SCALE.sentence_floor, USE_SCALE.sentence_floor)
    assert scale.sentence_margin == max(MINILM_SCALE.sentence_margin, USE_SCALE.sentence_margin)


def test_the_cache_threshold_is_the_embedders_scale() -> None:
    assert cache_threshold(USE_NAME) == USE_SCALE.cache_paraphrase == 0.92
    assert cache_threshold(MINILM_NAME) == MINILM_SCALE.cache_paraphrase == 0.87
