from __future__ import annotations

import shutil

import numpy as np
import pytest

from ragengine.retrieval.embedders.local import EmbedderUnavailable, LocalOnnxEmbedder
from ragengine.retrieval.embedders.multilingual import (
    DIMENSION,
    E5Files,
    MultilingualE5Embedder,
)
from ragengine.retrieval.types import Embedder

EN_PASSAGES = [
    "When travelling for work, meals are reimbursed up to EUR 30 per day.",
    "Laptops are encrypted with full-disk encryption before they are handed out.",
    "Employees may work from home up to three days a week.",
    "The office is closed on public holidays.",
]
# Portuguese questions whose answers are the first and third English passages.
PT_QUESTIONS = {
    "Qual é o limite diário para alimentação em viagens a trabalho?": 0,
    "Posso trabalhar de casa quantos dias por semana?": 2,
}


@pytest.fixture(scope="module")
def e5() -> MultilingualE5Embedder:
    return MultilingualE5Embedder()


def test_it_is_an_embedder_with_a_stable_name(e5):
    assert isinstance(e5, Embedder)
    assert e5.name == "local:multilingual-e5-small-q4"
    assert MultilingualE5Embedder(variant="enpt").name == "local:multilingual-e5-small-enpt-q4"
    assert e5.dimension == DIMENSION == 384


def test_vectors_are_unit_length_float32_of_the_model_dimension(e5):
    vectors = e5.embed_documents(["Vacation policy", "Política de férias", "x" * 5000])
    assert vectors.shape == (3, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert e5.embed_documents([]).shape == (0, DIMENSION)


def test_a_portuguese_question_ranks_the_english_answer_first(e5):
    """The reason this embedder exists. The English-only MiniLM puts a Portuguese question
    below cosine 0.2 (ARANDU_MIN_SIMILARITY's default) from its English answer, so the
    hit is dropped; e5 places question and answer in one space, the answer clearly first."""
    passages = e5.embed_documents(EN_PASSAGES)
    minilm = LocalOnnxEmbedder()
    minilm_passages = minilm.embed_documents(EN_PASSAGES)
    for question, answer in PT_QUESTIONS.items():
        cosines = passages @ e5.embed_query(question)
        others = np.delete(cosines, answer)
        assert cosines[answer] - others.max() > 0.02, (question, cosines)
        assert (minilm_passages @ minilm.embed_query(question))[answer] < 0.2


def test_the_enpt_variant_gives_the_same_vectors_for_english_and_portuguese(e5):
    # Pruning the vocabulary to en + pt tokens keeps every weight those tokens use.
    texts = [*EN_PASSAGES, *PT_QUESTIONS]
    np.testing.assert_allclose(
        MultilingualE5Embedder(variant="enpt").embed_documents(texts),
        e5.embed_documents(texts),
        atol=1e-5,
    )


def test_queries_and_passages_are_embedded_differently(e5):
    # e5 is asymmetric: "query: " for questions, "passage: " for documents.
    text = "How many vacation days do I get?"
    query, passage = e5.embed_query(text), e5.embed_documents([text])[0]
    assert not np.allclose(query, passage)
    assert query @ passage > 0.8


def test_batching_and_order_do_not_change_vectors(e5):
    texts = [f"sentence number {i} about topic {i % 3}" for i in range(12)]
    together = e5.embed_documents(texts)
    one_by_one = np.stack([e5.embed_documents([t])[0] for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_count_tokens_counts_the_text_only_and_never_truncates(e5):
    assert e5.count_tokens("") == 0
    assert e5.count_tokens("hello world") == 2
    assert e5.count_tokens("word " * 600) == 600


def test_an_unknown_variant_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown e5 variant"):
        MultilingualE5Embedder(variant="klingon")


def test_a_model_file_with_the_wrong_checksum_is_refused(tmp_path):
    files = E5Files.from_package()
    tampered = tmp_path / "e5.bin"
    shutil.copy(files.model, tampered)
    with tampered.open("ab") as handle:
        handle.write(b"\0")
    embedder = MultilingualE5Embedder(files=E5Files(model=tampered, engine=files.engine))
    with pytest.raises(EmbedderUnavailable, match="sha256"):
        embedder.embed_query("hello")


def test_a_swapped_engine_is_refused(tmp_path):
    files = E5Files.from_package()
    engine = tmp_path / "_engine.so"
    engine.write_bytes(b"not the engine")
    embedder = MultilingualE5Embedder(files=E5Files(model=files.model, engine=engine))
    with pytest.raises(EmbedderUnavailable, match="sha256"):
        embedder.count_tokens("hello")


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    files = E5Files.from_package()
    embedder = MultilingualE5Embedder(
        files=E5Files(model=tmp_path / "missing.bin", engine=files.engine)
    )
    with pytest.raises(EmbedderUnavailable, match="missing"):
        embedder.embed_documents(["hello"])
