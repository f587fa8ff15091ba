from __future__ import annotations

import shutil

import numpy as np
import pytest

from ragengine.retrieval.embedders.local import EmbedderUnavailable
from ragengine.retrieval.embedders.use_multilingual import (
    DIMENSION,
    UseFiles,
    UseMultilingualEmbedder,
)
from ragengine.retrieval.types import Embedder
from tests.ragengine.retrieval.embedders.test_multilingual import EN_PASSAGES, PT_QUESTIONS


@pytest.fixture(scope="module")
def use() -> UseMultilingualEmbedder:
    return UseMultilingualEmbedder()


def test_it_is_an_embedder_with_a_stable_name(use):
    assert isinstance(use, Embedder)
    assert use.name == "local:universal-sentence-encoder-multilingual-v3"
    assert use.dimension == DIMENSION == 512


def test_vectors_are_unit_length_float32_of_the_model_dimension(use):
    vectors = use.embed_documents(["Vacation policy", "Política de férias", "x" * 5000])
    assert vectors.shape == (3, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert use.embed_documents([]).shape == (0, DIMENSION)


def test_a_portuguese_question_ranks_the_english_answer_first(use):
    passages = use.embed_documents(EN_PASSAGES)
    for question, answer in PT_QUESTIONS.items():
        cosines = passages @ use.embed_query(question)
        others = np.delete(cosines, answer)
        assert cosines[answer] - others.max() > 0.01, (question, cosines)
        assert cosines[answer] > 0.3


def test_batching_does_not_change_vectors(use):
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(12)]
    together = use.embed_documents(texts)
    one_by_one = np.stack([use.embed_query(t) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_count_tokens_counts_the_text_only(use):
    assert use.count_tokens("") == 0
    assert use.count_tokens("hello world") == 3  # "▁", "hello", "▁world" in its vocabulary
    assert use.count_tokens("word " * 600) == 600


def test_a_weights_file_with_the_wrong_checksum_is_refused(tmp_path):
    files = UseFiles.from_package()
    tampered = tmp_path / "weights.npz"
    shutil.copy(files.weights, tampered)
    with tampered.open("ab") as handle:
        handle.write(b"\0")
    embedder = UseMultilingualEmbedder(files=UseFiles(weights=tampered, tokenizer=files.tokenizer))
    with pytest.raises(EmbedderUnavailable, match="sha256"):
        embedder.embed_query("hello")


def test_a_missing_tokenizer_is_a_clear_error(tmp_path):
    files = UseFiles.from_package()
    embedder = UseMultilingualEmbedder(
        files=UseFiles(weights=files.weights, tokenizer=tmp_path / "sp.model")
    )
    with pytest.raises(EmbedderUnavailable, match="missing"):
        embedder.count_tokens("hello")
