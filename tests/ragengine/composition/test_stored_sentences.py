"""The answerer's sentence vectors: stored ones first, the embedder for the rest."""

from __future__ import annotations

import numpy as np
import pytest

from ragengine.composition.extractive import Passage, answer_extractively
from ragengine.composition.stored_sentences import sentence_embed
from ragengine.retrieval.types import SentenceVectors, sentence_key


def stored(texts: dict[str, list[float]]) -> SentenceVectors:
    return SentenceVectors(
        keys=np.array([sentence_key(t) for t in texts], dtype=np.uint64),
        vectors=np.array(list(texts.values()), dtype=np.float16),
    )


class Recorder:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, texts):
        self.asked.extend(texts)
        return np.tile(np.array([0.0, 0.0, 1.0], np.float32), (len(texts), 1))


def test_stored_vectors_are_used_and_only_the_others_are_embedded() -> None:
    fallback = Recorder()
    embed = sentence_embed(
        [stored({"Alpha.": [1, 0, 0]}), None, stored({"Beta.": [0, 1, 0]})], fallback=fallback
    )

    vectors = embed(["Beta.", "Gamma.", "Alpha."])

    assert fallback.asked == ["Gamma."]
    assert vectors.tolist() == [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert (embed.stored, embed.embedded) == (2, 1)


def test_without_a_fallback_a_missing_vector_is_an_error_not_a_guess() -> None:
    embed = sentence_embed([stored({"Alpha.": [1, 0, 0]})], fallback=None)
    assert embed(["Alpha."]).shape == (1, 3)
    with pytest.raises(LookupError):
        embed(["Unknown."])


def test_the_answerer_reads_them_without_embedding_anything() -> None:
    text = "Employees get 25 vacation days per year. The office opens at 9."
    vacation, office = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]
    embed = sentence_embed(
        [
            stored(
                {
                    "Employees get 25 vacation days per year.": vacation,
                    "The office opens at 9.": office,
                }
            )
        ],
        fallback=None,
    )
    answer = answer_extractively(
        question="How many days of holiday do I have?",
        passages=[Passage(number=1, text=text, score=1.0, similarity=0.8)],
        embed=embed,
        query_vector=np.array(vacation, dtype=np.float32),
    )
    assert answer.found and "25 vacation days" in answer.text
    assert "office" not in answer.text
    assert embed.embedded == 0 and embed.stored == 2
