"""A knowledge set moves to another embedder by a background re-embed: the switch, answers
during it (never a query vector of one model against stored vectors of another), failure
and idempotence. Both embedders are real local models (MiniLM, USE-multilingual)."""

from __future__ import annotations

import numpy as np
import pytest

from ragengine.ask_types import Channel
from ragengine.models import Chunk, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.types import SearchQuery
from ragengine.services import reembed as reembed_service
from ragengine.services.ask import ask
from ragengine.services.chunk_records import embedding_text
from ragengine.services.embedding import vector_from_bytes
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from ragengine.services.reembed import knowledge_set_reembed, knowledge_sets_queue_reembed
from ragengine.services.vector_spaces import documents_search
from tests.conftest import MemoEmbedder
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

TEXT = (
    "# Remote work\n\nEmployees may work from home up to three days per week, "
    "agreed with their manager.\n\n# Travel\n\nThe daily meal allowance when travelling "
    "is EUR 45 per person.\n"
)
QUESTION = "How many days per week can I work from home?"


@pytest.fixture(scope="module")
def use_embedder():
    from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

    return MemoEmbedder(UseMultilingualEmbedder())


@pytest.fixture
def built(embedder, tmp_path):
    """A set built with MiniLM (the `embedder` fixture), holding one document."""
    (tmp_path / "policy.md").write_text(TEXT)
    knowledge_set = knowledge_set_get_or_create(name="policies")
    documents_ingest_paths(paths=[tmp_path / "policy.md"], knowledge_set=knowledge_set)
    knowledge_set.refresh_from_db()
    assert knowledge_set.embedder == embedder.name
    return knowledge_set


@pytest.fixture
def configure(monkeypatch):
    """Make `embedder` the configured one (as a changed ARANDU_EMBEDDER_MODEL would)."""

    def _configure(embedder) -> None:
        monkeypatch.setattr(registry, "get_embedder", lambda: embedder)

    return _configure


@pytest.fixture
def queued_tasks(monkeypatch):
    """Tasks queued (run by the test when it wants, as a worker would)."""
    tasks: list[tuple] = []
    monkeypatch.setattr(reembed_service, "async_task", lambda *args, **kw: tasks.append(args))
    return tasks


@pytest.fixture
def checked_search(monkeypatch, embedder, use_embedder):
    """Every store search checks that its query vector was made by the model whose
    vectors that store holds (by dimension and by value)."""
    models = {embedder.inner.dimension: embedder, use_embedder.inner.dimension: use_embedder}
    searches: list[tuple[str, int]] = []
    original = LocalStore.search

    def search(self, query: SearchQuery):
        snapshot = self._snapshot()
        if query.vector is not None and snapshot.count:
            assert query.vector.shape[0] == snapshot.dim, "query and store of different models"
            model = models[snapshot.dim]
            assert np.allclose(query.vector, model.embed_query(query.text), atol=1e-5)
            searches.append((str(self.path), snapshot.dim))
        return original(self, query)

    monkeypatch.setattr(LocalStore, "search", search)
    return searches


def _search(text: str, knowledge_set: KnowledgeSet):
    vector = registry.get_embedder().embed_query(text)
    query = SearchQuery(text=text, vector=vector, top_k=3, knowledge_sets=(str(knowledge_set.pk),))
    return documents_search(query=query, configured_vector=lambda: vector)


def test_the_switch_moves_the_set_to_the_new_model(
    built, embedder, use_embedder, configure, queued_tasks, django_capture_on_commit_callbacks
):
    version = built.index_version
    configure(use_embedder)
    with django_capture_on_commit_callbacks(execute=True):
        assert knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk]) == [built.pk]
    assert queued_tasks == [(reembed_service.REEMBED_TASK, built.pk)]

    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "done"

    built.refresh_from_db()
    assert built.embedder == use_embedder.name
    assert built.vector_space == registry.space_name(use_embedder.name)
    assert built.reembed_status == "done" and built.reembed_error == ""
    assert built.reembed_done == built.reembed_total == Chunk.objects.count() > 0
    assert built.index_version > version  # cached answers on the old vectors are stale
    for chunk in Chunk.objects.select_related("document"):
        stored = vector_from_bytes(chunk.embedding)
        assert stored.shape == (512,)
        embedded = embedding_text(
            text=chunk.text,
            title=chunk.document.title,
            heading_path=chunk.heading_path,
            vector_text=built.vector_text,
        )
        assert np.allclose(stored, use_embedder.embed_documents([embedded])[0], atol=1e-5)
    set_id = str(built.pk)
    assert registry.get_vector_store().count(knowledge_sets=[set_id]) == 0
    new_store = registry.get_vector_store(space=built.vector_space)
    assert new_store.count(knowledge_sets=[set_id]) == Chunk.objects.count()
    # A Portuguese question now finds the English passage (USE is multilingual).
    hits = _search("Posso trabalhar de casa quantos dias por semana?", built).hits
    assert "three days per week" in hits[0].text


def test_questions_are_answered_from_the_old_vectors_until_the_switch(
    built, embedder, use_embedder, configure, checked_search, monkeypatch
):
    configure(use_embedder)
    before = _search(QUESTION, built)
    assert "three days per week" in before.hits[0].text
    assert before.outdated_set_ids == (built.pk,)
    assert checked_search[-1][1] == embedder.dimension  # MiniLM's store, MiniLM's vector

    during = []
    real_switch = reembed_service._switch

    def switch_later(*args, **kwargs):
        # The new vectors are written, the set not switched yet: a question now.
        during.append(_search(QUESTION, KnowledgeSet.objects.get(pk=built.pk)))
        during.append(
            ask(member=MemberFactory(), question=QUESTION, channel=Channel(platform="cli"))
        )
        during.append(len(checked_search))
        return real_switch(*args, **kwargs)

    monkeypatch.setattr(reembed_service, "_switch", switch_later)
    knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk])
    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "done"

    search, answer, searched = during
    assert "three days per week" in search.hits[0].text
    assert "three days" in answer.text and answer.sources
    # Until the switch, every search was MiniLM's vector against MiniLM's store.
    assert searched >= 3
    assert {dim for _, dim in checked_search[:searched]} == {embedder.dimension}
    after = _search(QUESTION, KnowledgeSet.objects.get(pk=built.pk))
    assert "three days per week" in after.hits[0].text and after.outdated_set_ids == ()
    assert checked_search[-1][1] == use_embedder.dimension


def test_an_outdated_sets_sentence_vectors_are_not_compared_with_the_new_models_question(
    built, embedder, use_embedder, configure
):
    from ragengine.services.sentence_vectors import store_sentences_backfill

    store_sentences_backfill()
    assert all(hit.sentences is not None for hit in _search(QUESTION, built).hits)

    configure(use_embedder)  # the set still holds MiniLM's vectors, sentences included
    hits = _search(QUESTION, built).hits

    assert hits and all(hit.sentences is None for hit in hits)


def test_a_question_that_reaches_an_outdated_set_queues_its_re_embed(
    built, use_embedder, configure, queued_tasks, django_capture_on_commit_callbacks
):
    configure(use_embedder)
    with django_capture_on_commit_callbacks(execute=True):
        answer = ask(member=MemberFactory(), question=QUESTION, channel=Channel(platform="cli"))
        ask(member=MemberFactory(), question=QUESTION, channel=Channel(platform="cli"))
    assert "three days" in answer.text
    assert queued_tasks == [(reembed_service.REEMBED_TASK, built.pk)]  # once
    assert KnowledgeSet.objects.get(pk=built.pk).reembed_status == "queued"


def test_a_failure_keeps_the_old_vectors_and_says_why(
    built, embedder, use_embedder, configure, monkeypatch
):
    configure(use_embedder)
    old_vectors = {c.pk: bytes(c.embedding) for c in Chunk.objects.all()}

    def broken(*, embedder, texts):
        raise MemoryError("model ran out of memory")

    monkeypatch.setattr(reembed_service, "texts_embed_cached", broken)
    knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk])
    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "failed"

    built.refresh_from_db()
    assert built.embedder == embedder.name and built.vector_space == ""
    assert built.reembed_status == "failed"
    assert "model ran out of memory" in built.reembed_error
    assert "previous vectors are still used" in built.reembed_error
    assert {c.pk: bytes(c.embedding) for c in Chunk.objects.all()} == old_vectors
    assert "three days per week" in _search(QUESTION, built).hits[0].text
    # A question does not restart a failing run in a loop; the admin can.
    assert knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk], retry_failed=False) == []
    assert knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk]) == [built.pk]


def test_queued_twice_runs_once(built, use_embedder, configure, queued_tasks):
    configure(use_embedder)
    assert knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk]) == [built.pk]
    assert knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk]) == []
    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "done"
    use_embedder.calls = 0
    # A duplicate task finds nothing queued and does nothing.
    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "done"
    assert use_embedder.calls == 0
    # Built with the configured embedder now: nothing to queue.
    assert knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk]) == []


def test_a_changed_configuration_fails_the_queued_run_readably(
    built, embedder, use_embedder, configure
):
    configure(use_embedder)
    knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk])
    configure(embedder)  # changed back before a worker took it
    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "failed"
    built.refresh_from_db()
    assert "not 'local:universal-sentence-encoder-multilingual-v3'" in built.reembed_error
    assert built.embedder == embedder.name


def test_missing_set_is_reported(db):
    assert knowledge_set_reembed(knowledge_set_id=987654) == "missing"


def test_documents_added_during_the_re_embed_are_in_the_new_space(
    built, embedder, use_embedder, configure, monkeypatch, tmp_path
):
    configure(use_embedder)
    real_write = reembed_service._write
    added = []

    def write_then_ingest(knowledge_set, target, vectors, *args, **kwargs):
        real_write(knowledge_set, target, vectors, *args, **kwargs)
        if not added:  # only in the first pass
            (tmp_path / "new.md").write_text("# Parking\n\nParking spots are booked weekly.\n")
            added.append(
                documents_ingest_paths(paths=[tmp_path / "new.md"], knowledge_set=knowledge_set)
            )

    monkeypatch.setattr(reembed_service, "_write", write_then_ingest)
    knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk])
    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "done"
    built.refresh_from_db()
    store = registry.get_vector_store(space=built.vector_space)
    assert store.count(knowledge_sets=[str(built.pk)]) == Chunk.objects.count()
    hits = _search("Where do I book a parking spot?", built).hits
    assert "Parking spots" in hits[0].text


def test_a_set_re_embedded_into_a_space_gets_its_sentence_vectors(
    built, use_embedder, configure, queued_tasks
):
    """The answerer reads sentence vectors from the set's own space after the switch: the
    background task fills that space too, not only the main store."""
    from ragengine.services.sentence_vectors import store_sentences_backfill

    configure(use_embedder)
    knowledge_sets_queue_reembed(knowledge_set_ids=[built.pk])
    assert knowledge_set_reembed(knowledge_set_id=built.pk) == "done"
    built.refresh_from_db()
    space = registry.get_vector_store(space=built.vector_space)
    assert built.vector_space and space.document_ids_without_sentences()

    assert store_sentences_backfill() == built.documents.count() > 0

    assert space.document_ids_without_sentences() == []
    vector = use_embedder.embed_query(QUESTION)
    hits = space.search(
        SearchQuery(text=QUESTION, vector=vector, top_k=1, knowledge_sets=(str(built.pk),))
    )
    assert hits and hits[0].sentences
