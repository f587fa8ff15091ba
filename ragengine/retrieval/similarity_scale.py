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

    `cache_paraphrase`: the cosine two questions need for one's cached answer to serve
    the other (behind the paraphrase guard): zero wrong hits and the most correct hits on
    the labelled pairs of bench/paraphrase_set.py (bench/bench_cache_threshold.py).
    """

    sentence_floor: float
    sentence_margin: float
    cache_paraphrase: float = 0.87


# all-MiniLM-L6-v2: related English paraphrases 0.44+ with a 0.3+ margin, unrelated
# questions below 0.3 (English) or with a margin near 0.1 (Portuguese).
MINILM_SCALE: Final = SimilarityScale(sentence_floor=0.35, sentence_margin=0.2)
DEFAULT_SCALE: Final = MINILM_SCALE

_SCALES: Final[dict[str, SimilarityScale]] = {
    "local:all-MiniLM-L6-v2-onnx-int8": MINILM_SCALE,
}


# The answer cache's paraphrase thresholds measured apart from the scales above
# (docs/PERFORMANCE.md section 23). USE-multilingual v3 puts "What is a bonus?" / "What
# is my bonus?" at 0.918 and the paraphrases the guard accepts at 0.67-0.99; MiniLM
# (the scale's default, 0.87) puts that pair at 0.866.
_CACHE_THRESHOLDS: Final[dict[str, float]] = {
    "local:universal-sentence-encoder-multilingual-v3": 0.92,
}


def similarity_scale(embedder_name: str) -> SimilarityScale:
    """The thresholds measured for `embedder_name`; MiniLM's for a model never measured
    (a remote or custom embedder), the most conservative of those measured."""
    return _SCALES.get(embedder_name, DEFAULT_SCALE)


def cache_threshold(embedder_name: str) -> float:
    """The cosine a paraphrase needs to be served a cached answer, for questions embedded
    by `embedder_name`: the value measured for it in `_CACHE_THRESHOLDS`, else its
    scale's; MiniLM's 0.87 for a model never measured (an operator measures theirs with
    bench/bench_cache_threshold.py and sets ARANDU_CACHE_SEMANTIC_THRESHOLD)."""
    return _CACHE_THRESHOLDS.get(embedder_name, similarity_scale(embedder_name).cache_paraphrase)
