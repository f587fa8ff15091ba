"""Where each embedder's cosines mean "close".

Cosines are not comparable across models: all-MiniLM-L6-v2 gives two unrelated
Portuguese sentences 0.4-0.5, USE-multilingual v3 spreads related and unrelated pairs
differently again. Every threshold that reads a cosine (the extractive answerer's
"semantically close" test, the answer cache's paraphrase threshold) is a property of the
embedder that produced it, measured on the labelled set (docs/PERFORMANCE.md), and is
looked up here by the embedder's stable name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_SCALE", "SimilarityScale", "cache_threshold", "similarity_scale"]


@dataclass(frozen=True, slots=True)
class SimilarityScale:
    """An embedder's cosine thresholds.

    `sentence_floor` and `sentence_margin`: an evidence unit sharing no word with the
    question still counts as evidence when its cosine to the question is at least the
    floor and stands the margin above the median cosine of the candidates.
    `weak_relevance`: when a word of the question is in no passage, the best unit must be
    more relevant than this (relevance mixes word overlap with the cosine's margin, so
    its scale is the embedder's too) or close by embedding.

    `cache_paraphrase`: the cosine two questions need for one's cached answer to serve
    the other (behind the paraphrase guard): zero wrong hits and the most correct hits on
    the labelled pairs of bench/paraphrase_set.py (bench/bench_cache_threshold.py).
    """

    sentence_floor: float
    sentence_margin: float
    weak_relevance: float
    cache_paraphrase: float


# all-MiniLM-L6-v2: related English paraphrases 0.44+ with a 0.3+ margin, unrelated
# questions below 0.3 (English) or with a margin near 0.1 (Portuguese).
# Weak relevance: the unanswerable questions that slipped through quoted units at
# 0.07-0.27, answerable ones rarely below 0.2. Cache: "What is a bonus?" / "What is my
# bonus?" at 0.866 (docs/PERFORMANCE.md section 23).
MINILM_SCALE: Final = SimilarityScale(
    sentence_floor=0.35, sentence_margin=0.2, weak_relevance=0.15, cache_paraphrase=0.87
)
# USE-multilingual v3 spreads cosines lower: on the labelled set (188 questions), the unit
# holding the expected fact has a median cosine of 0.38 and a median margin of 0.22, other
# units 0.14 and -0.01. At 0.3 / 0.12, 119 of 168 expected units count as close (91 at
# MiniLM's 0.35 / 0.2) and 7 % of the other units do (3 % at MiniLM's). Weak relevance
# 0.1: from 0.15 down to 0.1, 6 answerable questions (5 of them cross-language: their
# words match only through the term map) stop being refused and every unanswerable one
# stays refused; below 0.1 nothing changes (docs/PERFORMANCE.md section 24). Cache: it
# puts "What is a bonus?" / "What is my bonus?" at 0.918 and the paraphrases the guard
# accepts at 0.67-0.99 (section 23).
USE_SCALE: Final = SimilarityScale(
    sentence_floor=0.3, sentence_margin=0.12, weak_relevance=0.1, cache_paraphrase=0.92
)
DEFAULT_SCALE: Final = MINILM_SCALE

_SCALES: Final[dict[str, SimilarityScale]] = {
    "local:all-MiniLM-L6-v2-onnx-int8": MINILM_SCALE,
    "local:universal-sentence-encoder-multilingual-v3": USE_SCALE,
}


def similarity_scale(embedder_name: str) -> SimilarityScale:
    """The thresholds measured for `embedder_name`; MiniLM's for a model never measured
    (a remote or custom embedder): the strictest sentence thresholds of those measured.
    An operator measures their model with bench/bench_answers.py and
    bench/bench_cache_threshold.py (and may set ARANDU_CACHE_SEMANTIC_THRESHOLD)."""
    return _SCALES.get(embedder_name, DEFAULT_SCALE)


def cache_threshold(embedder_name: str) -> float:
    """The cosine a paraphrase needs to be served a cached answer, for questions embedded
    by `embedder_name`."""
    return similarity_scale(embedder_name).cache_paraphrase
