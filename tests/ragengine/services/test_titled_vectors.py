"""Titles and heading paths on the dense side: a chunk's vector is embedded from its
document's title and heading path, then its text, while the text shown and cited stays
the chunk's own; a set embedded the old way answers until a background re-embed (queued
by the hourly schedule, a question or an ingestion) rebuilds it; an unchanged corpus
then costs no embedding."""

from __future__ import annotations

import numpy as np
import pytest
from django_q.models import Schedule

from ragengine.ask_types import Channel
from ragengine.models import Chunk, Document, EmbeddingCacheEntry, KnowledgeSet, VectorText
from ragengine.retrieval import registry
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.types import SearchQuery, text_hash
from ragengine.services import reembed as reembed_service
from ragengine.services.ask import ask
from ragengine.services.chunk_records import HEADING_SEPARATOR, MAX_PREFIX_CHARS, embedding_text
from ragengine.services.embedding import vector_from_bytes
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from ragengine.services.reembed import knowledge_set_reembed
from ragengine.services.vector_spaces import documents_search
from ragengine.tasks import knowledge_sets_reembed_outdated_task
from tests.conftest import MemoEmbedder

pytestmark = pytest.mark.django_db

TEXT = (
    "# Staff handbook\n\n## Remote work\n\n### Days at home\n\nEmployees may work from "
    "home up to three days per week, agreed with their manager.\n\n## Travel\n\nThe daily "
    "meal allowance when travelling is EUR 45 per person.\n"
)
QUESTION = "How many days per week can I work from home?"
CLI = Channel(platform="cli")


class RecordingEmbedder(MemoEmbedder):
    """The test session's real embedder, recording every text it is asked to embed."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.documents: list[str] = []

    def embed_documents(self, texts):
        self.documents.extend(texts)
        return super().embed_documents(texts)

    def embed_query(self, text: str):
        return self.inner.embed_query(text)


@pytest.fixture(autouse=True)
def _titles_on(settings) -> None:
    """Titled vectors (ARANDU_EMBED_TITLES=true; the project's default is off)."""
    settings.ARANDU_EMBED_TITLES = True


@pytest.fixture
def recording(embedder, monkeypatch) -> RecordingEmbedder:
    found = RecordingEmbedder(embedder)
    monkeypatch.setattr(registry, "get_embedder", lambda: found)
    return found


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "policy.md"
    path.write_text(TEXT)
    return path


def _ingest(path, name: str = "policies") -> KnowledgeSet:
    knowledge_set = knowledge_set_get_or_create(name=name)
    report = documents_ingest_paths(paths=[path], knowledge_set=knowledge_set)
    assert report.count("failed") == 0
    knowledge_set.refresh_from_db()
    return knowledge_set


def _titled(chunk: Chunk) -> str:
    return embedding_text(
        text=chunk.text,
        title=chunk.document.title,
        heading_path=chunk.heading_path,
        vector_text=VectorText.TITLED,
    )


def _search(knowledge_set: KnowledgeSet):
    vector = registry.get_embedder().embed_query(QUESTION)
    query = SearchQuery(
        text=QUESTION, vector=vector, top_k=3, knowledge_sets=(str(knowledge_set.pk),)
    )
    return documents_search(query=query, configured_vector=lambda: vector)


def test_embedding_text_puts_title_and_headings_before_the_text() -> None:
    titled = embedding_text(
        text="Up to three days.",
        title="Staff handbook",
        heading_path=["Staff handbook", "Remote work", "Days at home"],
        vector_text=VectorText.TITLED,
    )
    # The title repeated as the first heading is said once.
    assert titled == "Staff handbook › Remote work › Days at home\n\nUp to three days."
    # The stored form of the heading path (joined) gives the same text.
    assert titled == embedding_text(
        text="Up to three days.",
        title="Staff handbook",
        heading_path="Staff handbook › Remote work › Days at home".split(HEADING_SEPARATOR),
        vector_text=VectorText.TITLED,
    )
    assert (
        embedding_text(
            text="Up to three days.", title="T", heading_path=["A"], vector_text=VectorText.TEXT
        )
        == "Up to three days."
    )
    assert (
        embedding_text(text="Alone.", title=" ", heading_path=[], vector_text=VectorText.TITLED)
        == "Alone."
    )
    long = embedding_text(
        text="Body.", title="x" * 1000, heading_path=["y"], vector_text=VectorText.TITLED
    )
    assert long == "x" * MAX_PREFIX_CHARS + "\n\nBody."


def test_titles_are_off_by_default() -> None:
    """Measured no better on the labelled set (docs/PERFORMANCE.md §22)."""
    import adminsite.settings as project

    assert project.ARANDU_EMBED_TITLES is False


def test_the_vector_is_embedded_with_title_and_headings_the_text_stays(recording, policy) -> None:
    knowledge_set = _ingest(policy)
    assert knowledge_set.vector_text == VectorText.TITLED
    chunks = list(Chunk.objects.select_related("document").order_by("ordinal"))
    remote = next(c for c in chunks if "three days" in c.text)
    title = remote.document.title
    assert title and "Remote work" in remote.heading_path
    # What the embedder received: the title and the heading path, then the text.
    expected = _titled(remote)
    assert expected.startswith(f"{title} › ") and "Remote work › Days at home\n\n" in expected
    assert expected.endswith(remote.text)
    assert expected in recording.documents
    assert not any(t == remote.text for t in recording.documents)
    # The stored vector is that text's, and the cache is keyed by it.
    stored = vector_from_bytes(remote.embedding)
    assert np.allclose(stored, recording.inner.embed_documents([expected])[0], atol=1e-5)
    assert EmbeddingCacheEntry.objects.filter(content_hash=text_hash(expected)).exists()
    assert not EmbeddingCacheEntry.objects.filter(content_hash=text_hash(remote.text)).exists()
    assert remote.content_hash == text_hash(remote.text)
    # What is shown and cited is the chunk's own text.
    assert not remote.text.startswith(title)
    hit = _search(knowledge_set).hits[0]
    assert hit.text == remote.text and "three days per week" in hit.text
    answer = ask(member=None, question=QUESTION, channel=CLI)
    assert "three days" in answer.text and title + " › " not in answer.text


def test_titles_off_embeds_the_text_alone(recording, policy, settings) -> None:
    settings.ARANDU_EMBED_TITLES = False
    knowledge_set = _ingest(policy)
    assert knowledge_set.vector_text == VectorText.TEXT
    texts = list(Chunk.objects.order_by("ordinal").values_list("text", flat=True))
    assert recording.documents[: len(texts)] == texts


def test_an_old_set_answers_until_its_background_re_embed_then_costs_nothing(
    recording, policy, settings, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    # A set built before titles reached the dense side (as migration 0026 leaves it).
    settings.ARANDU_EMBED_TITLES = False
    knowledge_set = _ingest(policy)
    old = {c.pk: bytes(c.embedding) for c in Chunk.objects.all()}
    space = knowledge_set.vector_space
    settings.ARANDU_EMBED_TITLES = True

    # Until it is re-embedded it answers from the old vectors, and is known outdated.
    found = _search(knowledge_set)
    assert "three days per week" in found.hits[0].text
    assert found.outdated_set_ids == (knowledge_set.pk,)

    queued: list[tuple] = []
    monkeypatch.setattr(reembed_service, "async_task", lambda *a, **kw: queued.append(a))
    assert Schedule.objects.filter(
        func="ragengine.tasks.knowledge_sets_reembed_outdated_task", schedule_type="H"
    ).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert knowledge_sets_reembed_outdated_task() == 1
        assert knowledge_sets_reembed_outdated_task() == 0  # queued once
    assert queued == [(reembed_service.REEMBED_TASK, knowledge_set.pk)]

    during = []
    real_switch = reembed_service._switch

    def switch_later(*args, **kwargs):
        # New vectors written in place, the set not switched yet: a question now.
        during.append(list(recording.documents))  # what the re-embed embedded
        during.append(ask(member=None, question=QUESTION, channel=CLI))
        return real_switch(*args, **kwargs)

    monkeypatch.setattr(reembed_service, "_switch", switch_later)
    emptied: list[str] = []  # the same space: records replaced, never the set emptied first
    real_delete = LocalStore.delete_knowledge_set

    def delete_knowledge_set(self, *, knowledge_set: str) -> None:
        emptied.append(knowledge_set)
        real_delete(self, knowledge_set=knowledge_set)

    monkeypatch.setattr(LocalStore, "delete_knowledge_set", delete_knowledge_set)
    recording.documents.clear()
    assert knowledge_set_reembed(knowledge_set_id=knowledge_set.pk) == "done"
    assert emptied == []
    embedded, answer = during
    assert "three days" in answer.text and answer.sources

    knowledge_set.refresh_from_db()
    assert knowledge_set.vector_text == VectorText.TITLED
    assert knowledge_set.vector_space == space  # the same model: the same space
    chunks = list(Chunk.objects.select_related("document"))
    assert sorted(embedded) == sorted(_titled(c) for c in chunks)
    for chunk in chunks:
        assert bytes(chunk.embedding) != old[chunk.pk]
        assert np.allclose(
            vector_from_bytes(chunk.embedding),
            recording.inner.embed_documents([_titled(chunk)])[0],
            atol=1e-5,
        )
    store = registry.get_vector_store(space=space)
    assert store.count(knowledge_sets=[str(knowledge_set.pk)]) == len(chunks)
    after = _search(knowledge_set)
    assert "three days per week" in after.hits[0].text and after.outdated_set_ids == ()
    assert knowledge_sets_reembed_outdated_task() == 0

    # Re-ingesting the unchanged corpus embeds nothing; redoing a document whose store
    # write was interrupted finds every vector in the cache.
    recording.documents.clear()
    report = documents_ingest_paths(paths=[policy], knowledge_set=knowledge_set)
    assert report.count("unchanged") == 1
    Document.objects.update(indexed_hash="")
    report = documents_ingest_paths(paths=[policy], knowledge_set=knowledge_set)
    assert report.count("ingested") == 1
    assert recording.documents == []


def test_ingesting_into_an_old_set_keeps_its_kind_and_queues_the_re_embed(
    recording, policy, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    settings.ARANDU_EMBED_TITLES = False
    knowledge_set = _ingest(policy)
    settings.ARANDU_EMBED_TITLES = True
    queued: list[tuple] = []
    monkeypatch.setattr(reembed_service, "async_task", lambda *a, **kw: queued.append(a))
    (tmp_path / "parking.md").write_text("# Parking\n\nParking spots are booked weekly.\n")
    recording.documents.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _ingest(tmp_path / "parking.md")
    # Embedded as the rest of the set still is, until its re-embed switches it.
    assert recording.documents == ["Parking spots are booked weekly."]
    assert queued == [(reembed_service.REEMBED_TASK, knowledge_set.pk)]
    assert KnowledgeSet.objects.get(pk=knowledge_set.pk).vector_text == VectorText.TEXT


def test_the_re_embed_keeps_the_sentence_vectors_the_cache_has(
    recording, policy, settings, monkeypatch
) -> None:
    """Sentence vectors depend on the chunk's text alone: those kept under the old key
    (the text) come with the re-embedded records, so answers never lose them."""
    from ragengine.services.sentence_vectors import store_sentences_backfill

    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)
    settings.ARANDU_EMBED_TITLES = False
    knowledge_set = _ingest(policy)  # its backfill runs at once (SYNC)
    store = registry.get_vector_store(space=knowledge_set.vector_space)
    assert store.document_ids_without_sentences() == []
    settings.ARANDU_EMBED_TITLES = True
    monkeypatch.setattr(reembed_service, "async_task", lambda *a, **kw: None)
    knowledge_sets_reembed_outdated_task()
    assert knowledge_set_reembed(knowledge_set_id=knowledge_set.pk) == "done"
    assert store.document_ids_without_sentences() == []
    recording.documents.clear()
    assert store_sentences_backfill() == 0
    assert recording.documents == []


def test_the_admin_says_a_re_embed_is_needed_for_another_text(recording, policy, settings):
    from ragengine.selectors.knowledge import reembed_state_text

    settings.ARANDU_EMBED_TITLES = False
    knowledge_set = _ingest(policy)
    state = reembed_state_text(
        knowledge_set=knowledge_set,
        configured_embedder=recording.name,
        configured_vector_text=VectorText.TITLED,
    )
    assert state == "needed → title and headings, then the chunk text"
    assert (
        reembed_state_text(
            knowledge_set=knowledge_set,
            configured_embedder=recording.name,
            configured_vector_text=VectorText.TEXT,
        )
        == ""
    )
