from __future__ import annotations

import shutil

import numpy as np
import pytest

from ragengine.retrieval.embedders.local import (
    DIMENSION,
    EmbedderUnavailable,
    LocalModelFiles,
    LocalOnnxEmbedder,
)


@pytest.fixture(scope="module")
def real() -> LocalOnnxEmbedder:
    return LocalOnnxEmbedder()


def test_vectors_are_unit_length_float32_of_the_model_dimension(real):
    vectors = real.embed_documents(["Vacation policy", "Política de férias", "x" * 5000])
    assert vectors.shape == (3, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_paraphrases_are_closer_than_unrelated_sentences(real):
    question, paraphrase, unrelated = real.embed_documents(
        [
            "How many vacation days do I get?",
            "What is my yearly vacation allowance?",
            "The printer on the fourth floor is out of toner.",
        ]
    )
    assert question @ paraphrase > 0.5
    assert question @ unrelated < 0.2


def test_batching_and_order_do_not_change_vectors(real):
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(40)]
    together = real.embed_documents(texts)
    one_by_one = np.stack([real.embed_query(t) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_count_tokens_uses_the_model_tokenizer_without_special_tokens(real):
    assert real.count_tokens("hello world") == 2
    assert real.count_tokens("word " * 600) == 600  # never truncated for counting


def test_empty_input_gives_an_empty_matrix(real):
    assert real.embed_documents([]).shape == (0, DIMENSION)


def test_a_model_file_with_the_wrong_checksum_is_refused(tmp_path):
    files = LocalModelFiles.from_packages()
    tampered = tmp_path / "model.onnx"
    shutil.copy(files.model, tampered)
    with tampered.open("ab") as handle:
        handle.write(b"\0")
    embedder = LocalOnnxEmbedder(files=LocalModelFiles(model=tampered, tokenizer=files.tokenizer))
    with pytest.raises(EmbedderUnavailable, match="sha256"):
        embedder.embed_query("hello")


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    files = LocalModelFiles.from_packages()
    embedder = LocalOnnxEmbedder(
        files=LocalModelFiles(model=tmp_path / "missing.onnx", tokenizer=files.tokenizer)
    )
    with pytest.raises(EmbedderUnavailable, match="missing"):
        embedder.embed_query("hello")
