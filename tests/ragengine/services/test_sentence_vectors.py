"""Sentence vectors: stored for every chunk after ingestion, read by the answerer instead
of embedding its candidates, and given to data dirs from before by the scheduled task."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.cache import cache
from django_q.models import Schedule

from ragengine.ask_types import Channel
from ragengine.composition.evidence import units
from ragengine.composition.extractive import Passage, answer_extractively
from ragengine.composition.stored_sentences import sentence_embed
from ragengine.models import Document, DocumentStatus, EmbeddingCacheEntry
from ragengine.retrieval import registry
from ragengine.retrieval.embedders.memo import MemoizedEmbeddings
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.types import SearchQuery, sentence_key
from ragengine.services import sentence_vectors
from ragengine.services.ask import ask
from ragengine.services.chunk_records import stored_embedding_texts
from ragengine.services.embedding import cached_sentences
from ragengine.services.sentence_vectors import embed_sentences, store_sentences_backfill
from ragengine.tasks import sentence_vectors_backfill_task
from tests.ragengine.retrieval.stores.test_local_sentences import make_old_format

pytestmark = pytest.mark.django_db

CLI = Channel(platform="cli")
QUESTION = "How many vacation days do employees get per year?"


@pytest.fixture(autouse=True)
def _tasks_run_inline(monkeypatch) -> None:
    """The task an ingestion queues runs at once, as a worker would run it next."""
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)


class CountingEmbed:
    """The answerer's question-time fallback, counting the sentences it embeds."""

    def __init__(self, embedder) -> None:
        self.inner = MemoizedEmbeddings(embedder)
        self.texts: list[str] = []

    def __call__(self, texts):
        self.texts.extend(texts)
        return self.inner(texts)


@pytest.fixture
def fallback(embedder, monkeypatch) -> CountingEmbed:
    counting = CountingEmbed(embedder)
    monkeypatch.setattr(registry, "get_sentence_embeddings", lambda: counting)
    return counting


def store() -> LocalStore:
    found = registry.get_vector_store()
    assert isinstance(found, LocalStore)
    return found


def search_all(vector: np.ndarray, top_k: int = 50):
    return store().search(SearchQuery(text=QUESTION, vector=vector, top_k=top_k))


def test_each_unit_of_the_answerers_splitter_gets_its_own_vector(embedder) -> None:
    text = (
        "# Tokens\n\nThe signing algorithm is set in settings.py:\n\n"
        'ALGORITHM = "HS256"\nACCESS_TTL = 900  # 15 min\n\n'
        "| Plan | Price |\n|---|---|\n| Basic | EUR 10 |\n| Pro | EUR 30 |\n"
    )
    (stored,) = embed_sentences(embedder=embedder, texts=[text])
    answerer_units = [u.text for u in units(text)]
    assert stored.keys.tolist() == [sentence_key(t) for t in dict.fromkeys(answerer_units)]
    alone = embedder.embed_documents(list(dict.fromkeys(answerer_units)))
    # float16 storage: the same vectors to three decimals, so the same answers.
    assert np.abs(stored.vectors.astype(np.float32) - alone).max() < 2e-3


def test_after_ingestion_every_chunk_has_the_vectors_of_its_units(handbook, embedder) -> None:
    hits = search_all(embedder.embed_query(QUESTION))
    assert hits and store().document_ids_without_sentences() == []
    for hit in hits:
        assert hit.sentences is not None
        assert set(hit.sentences.keys.tolist()) == {sentence_key(u.text) for u in units(hit.text)}


def test_ask_embeds_only_the_question_and_answers_as_before(handbook, embedder, fallback) -> None:
    answer = ask(member=None, question=QUESTION, channel=CLI)

    assert answer.sources and "25" in answer.text
    assert fallback.texts == []  # every candidate sentence came from the store


def test_the_answer_equals_the_one_from_question_time_embeddings(handbook, embedder) -> None:
    for question in (QUESTION, "Which algorithm signs the tokens?", "Is there a gym discount?"):
        vector = embedder.embed_query(question)
        hits = store().search(SearchQuery(text=question, vector=vector, top_k=5))
        passages = [
            Passage(number=i, text=h.text, score=h.score, similarity=h.similarity)
            for i, h in enumerate(hits, start=1)
        ]
        stored = sentence_embed((h.sentences for h in hits), fallback=None)
        with_stored = answer_extractively(
            question=question, passages=passages, embed=stored, query_vector=vector, max_embedded=8
        )
        # Stored vectors are all compared (a lookup each): the same as embedding every
        # unit at question time.
        at_question_time = answer_extractively(
            question=question,
            passages=passages,
            embed=MemoizedEmbeddings(embedder),
            query_vector=vector,
            max_embedded=None,
        )
        assert stored.embedded == 0 and (stored.stored > 0 or not hits)
        assert with_stored == at_question_time


def old_data_dir() -> None:
    """What a data dir written before sentence vectors looks like after `migrate`: a
    store snapshot without them and cache entries whose new column is null."""
    make_old_format(store().path)
    registry._store.cache_clear()  # as a process started on that data dir opens it
    EmbeddingCacheEntry.objects.update(sentences=None)


def test_a_data_dir_from_before_gets_them_from_the_scheduled_task(
    handbook, embedder, fallback
) -> None:
    old_data_dir()
    assert len(store().document_ids_without_sentences()) == Document.objects.count()
    vector = embedder.embed_query(QUESTION)
    before = [(h.id, round(h.score, 6)) for h in search_all(vector)]

    # Mid-migration the answerer embeds the candidates itself, as it used to.
    answer = ask(member=None, question=QUESTION, channel=CLI)
    assert answer.sources and fallback.texts

    assert Schedule.objects.filter(func=sentence_vectors.TASK, schedule_type="H").exists()
    assert sentence_vectors_backfill_task() == Document.objects.count()

    assert store().document_ids_without_sentences() == []
    assert [(h.id, round(h.score, 6)) for h in search_all(vector)] == before  # search as before
    assert sentence_vectors_backfill_task() == 0  # nothing left: a no-op
    fallback.texts.clear()
    cache.clear()
    ask(member=None, question="How long is parental leave?", channel=CLI)
    assert fallback.texts == []
    # The cache keeps them (by what each chunk's vector was embedded from), so the next time
    # a chunk with this text is ingested it has them.
    document = Document.objects.select_related("knowledge_set").first()
    chunks = list(document.chunks.order_by("ordinal"))
    embedded = stored_embedding_texts(document=document, chunks=chunks)
    assert all(s is not None for s in cached_sentences(embedder=embedder, texts=embedded))


def test_the_task_leaves_alone_what_it_must_not_rewrite(handbook, embedder) -> None:
    old_data_dir()
    reingesting, other_embedder, *rest = Document.objects.order_by("pk")
    Document.objects.filter(pk=reingesting.pk).update(content_hash="changed-on-disk")
    other_set = other_embedder.knowledge_set
    other_set.embedder = "remote:some-other-model"
    other_set.save()  # every document of the set: the whole handbook
    assert store_sentences_backfill() == 0
    other_set.embedder = embedder.name
    other_set.save()

    done = store_sentences_backfill()

    assert done == len(rest) + 1  # all but the one being re-ingested
    assert store().document_ids_without_sentences() == [str(reingesting.pk)]
    assert store().count(document_ids=[str(reingesting.pk)]) == reingesting.chunk_count


def test_nothing_is_computed_for_a_remote_embedder(handbook, embedder, settings) -> None:
    old_data_dir()
    settings.ARANDU_EMBEDDER = "openai"
    embedder.calls = 0
    assert store_sentences_backfill() == 0
    assert embedder.calls == 0


def test_a_failed_document_is_not_retried_in_a_loop(handbook, embedder) -> None:
    old_data_dir()
    Document.objects.update(status=DocumentStatus.FAILED)
    assert store_sentences_backfill(max_seconds=30) == 0
