"""Store migration: copy the database's chunks into another store, resumably, and verify.

The copy and verification only use the `VectorStore` protocol, so without a server they
run against a second real LocalStore standing in for Weaviate. The command that drives
them (arguments, output, exit codes) is tested in tests/ragengine/management/.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from ragengine.models import Chunk, Document, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.types import SearchQuery
from ragengine.services import store_migration
from ragengine.services.store_migration import StoreMigrationError
from tests.ragengine.retrieval.test_registry import weaviate_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def local(settings) -> LocalStore:
    return LocalStore(settings.ARANDU_STORE_DIR)


@pytest.fixture
def copy_target(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "copy-target")


OTHER_SPACE = "local_other_model"


def moved_to_a_space(tmp_path: Path) -> KnowledgeSet:
    """A second set, "other", whose vectors live in the space OTHER_SPACE (as a re-embed
    to another model leaves it; the vectors are MiniLM's here, which the copy does not
    look at), none left in the main store."""
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "parking.md").write_text(
        "# Parking\n\nParking spots are booked weekly.\n\n# Bikes\n\nBikes go in the yard.\n"
    )
    other = knowledge_set_get_or_create(name="other")
    documents_ingest_paths(paths=[tmp_path / "other"], knowledge_set=other)
    documents = list(Document.objects.filter(knowledge_set=other))
    space = registry.get_vector_store(space=OTHER_SPACE)
    space.replace_documents(
        document_ids=[str(d.pk) for d in documents],
        records=store_migration.chunk_records(documents),
    )
    registry.get_vector_store().delete_knowledge_set(knowledge_set=str(other.pk))
    KnowledgeSet.objects.filter(pk=other.pk).update(vector_space=OTHER_SPACE)
    other.refresh_from_db()
    return other


# --------------------------------------------------------------------------- records


def test_records_rebuilt_from_the_database_are_the_ones_ingestion_indexed(
    handbook: KnowledgeSet, local: LocalStore
) -> None:
    documents = list(Document.objects.filter(knowledge_set=handbook, chunk_count__gt=0))
    records = store_migration.chunk_records(documents)

    assert len(records) == Chunk.objects.filter(document__knowledge_set=handbook).count()
    assert len(records) == local.count(knowledge_sets=[str(handbook.pk)])
    for record in records:
        (hit,) = local.search(
            SearchQuery(
                text="",
                vector=record.vector,
                top_k=1,
                document_ids=(record.document_id,),
                alpha=1.0,
                min_similarity=-1.0,
            )
        )
        assert hit.similarity == pytest.approx(1.0, abs=1e-5)
        assert (hit.id, hit.knowledge_set, hit.ordinal, hit.text) == (
            record.id,
            record.knowledge_set,
            record.ordinal,
            record.text,
        )
        assert dict(hit.metadata) == dict(record.metadata)


# --------------------------------------------------------------------------- copy


def test_copy_is_resumable_and_mirrors_the_database(
    handbook: KnowledgeSet, copy_target: LocalStore
) -> None:
    set_id = str(handbook.pk)
    in_db = Chunk.objects.filter(document__knowledge_set=handbook).count()
    seen: list[tuple[int, int]] = []

    first = store_migration.knowledge_set_migrate(
        knowledge_set=handbook,
        target=copy_target,
        batch_size=7,
        on_progress=lambda state, done, total: seen.append((done, total)),
    )
    assert first.copied_chunks == in_db == copy_target.count(knowledge_sets=[set_id])
    assert first.copied_documents == first.documents and first.skipped_documents == 0
    assert seen[0] == (0, in_db) and seen[-1] == (in_db, in_db)
    assert len(seen) > 2  # several writes of about batch_size chunks

    again = store_migration.knowledge_set_migrate(
        knowledge_set=handbook, target=copy_target, batch_size=7
    )
    assert (again.copied_documents, again.skipped_documents) == (0, first.documents)

    # A document gone from the database leaves the target; a changed one is copied again.
    removed, changed = Document.objects.filter(knowledge_set=handbook, chunk_count__gt=1)[:2]
    removed_id = str(removed.pk)
    removed.delete()
    changed.chunks.order_by("-ordinal").first().delete()
    third = store_migration.knowledge_set_migrate(
        knowledge_set=handbook, target=copy_target, batch_size=500
    )
    assert (third.removed_documents, third.copied_documents) == (1, 1)
    assert removed_id not in copy_target.document_ids(knowledge_set=set_id)
    assert (
        copy_target.count(knowledge_sets=[set_id])
        == Chunk.objects.filter(document__knowledge_set=handbook).count()
    )

    forced = store_migration.knowledge_set_migrate(
        knowledge_set=handbook, target=copy_target, batch_size=500, force=True
    )
    assert forced.copied_documents == forced.documents


def test_a_set_is_copied_into_a_local_store_as_one_commit(
    handbook: KnowledgeSet, copy_target: LocalStore
) -> None:
    """The local store rewrites a whole snapshot per commit: a set costs one, however
    many write batches it takes."""
    store_migration.knowledge_set_migrate(knowledge_set=handbook, target=copy_target, batch_size=3)
    assert (copy_target.path / "CURRENT").read_text().startswith(f"{1:012d}-")
    assert copy_target.count() == Chunk.objects.filter(document__knowledge_set=handbook).count()


# --------------------------------------------------------------------------- verify


def test_verify_compares_counts_and_top_k_overlap(
    handbook: KnowledgeSet, local: LocalStore, copy_target: LocalStore
) -> None:
    store_migration.knowledge_set_migrate(knowledge_set=handbook, target=copy_target, batch_size=50)
    options = {"top_k": 5, "alpha": 0.5, "fusion": "relative", "min_similarity": 0.2}

    check = store_migration.knowledge_set_verify(
        knowledge_set=handbook, reference=local, target=copy_target, samples=8, **options
    )
    assert check.counts_ok and check.local == check.database == check.target
    assert len(check.samples) == 8
    assert check.mean_overlap == 1.0 and check.top1_rate == 1.0
    assert not (check.low_overlap or check.local_stale or check.nothing_to_compare)

    sampled_first = Chunk.objects.order_by("pk").first()  # the first sample's document
    copy_target.delete_documents(document_ids=[str(sampled_first.document_id)])
    partial = store_migration.knowledge_set_verify(
        knowledge_set=handbook, reference=local, target=copy_target, samples=8, **options
    )
    assert not partial.counts_ok
    assert partial.mean_overlap is not None and partial.mean_overlap < 1.0
    assert partial.low_overlap is (partial.mean_overlap < store_migration.DEFAULT_MIN_OVERLAP)
    strict = store_migration.knowledge_set_verify(
        knowledge_set=handbook,
        reference=local,
        target=copy_target,
        samples=8,
        min_overlap=1.0,
        **options,
    )
    assert strict.low_overlap


def test_verify_without_a_reference_checks_counts_only(
    handbook: KnowledgeSet, local: LocalStore
) -> None:
    """A rebuilt local store has nothing else to be compared with: counts, no queries."""
    options = {"top_k": 5, "alpha": 0.5, "fusion": "relative", "min_similarity": 0.2}
    check = store_migration.knowledge_set_verify(
        knowledge_set=handbook, reference=None, target=local, samples=8, **options
    )
    in_db = Chunk.objects.filter(document__knowledge_set=handbook).count()
    assert (check.database, check.local, check.target) == (in_db, in_db, in_db)
    assert check.samples == [] and check.mean_overlap is None and not check.low_overlap

    local.delete_knowledge_set(knowledge_set=str(handbook.pk))
    emptied = store_migration.knowledge_set_verify(
        knowledge_set=handbook, reference=None, target=local, samples=8, **options
    )
    assert not emptied.counts_ok
    assert not emptied.nothing_to_compare  # only a reference store can lack records


def test_a_stale_reference_is_reported_apart_from_the_target(
    handbook: KnowledgeSet, local: LocalStore, copy_target: LocalStore
) -> None:
    store_migration.knowledge_set_migrate(knowledge_set=handbook, target=copy_target, batch_size=50)
    local.delete_knowledge_set(knowledge_set=str(handbook.pk))
    options = {"top_k": 5, "alpha": 0.5, "fusion": "relative", "min_similarity": 0.2}

    check = store_migration.knowledge_set_verify(
        knowledge_set=handbook, reference=local, target=copy_target, samples=8, **options
    )
    assert check.counts_ok  # the target is complete
    assert check.local_stale and check.nothing_to_compare
    assert check.samples == [] and not check.low_overlap


def test_overlap() -> None:
    assert store_migration.overlap([], []) == 1.0
    assert store_migration.overlap(["a", "b"], []) == 0.0
    assert store_migration.overlap(["a", "b", "c", "d"], ["d", "c", "x", "y"]) == 0.5


# --------------------------------------------------------------------------- spaces


def test_a_migration_plans_one_copy_per_space(handbook: KnowledgeSet, tmp_path: Path) -> None:
    other = moved_to_a_space(tmp_path)
    unbuilt = KnowledgeSet.objects.create(name="empty")
    plans = store_migration.migration_spaces(knowledge_sets=[handbook, other, unbuilt])
    assert [(p.space, p.knowledge_sets, p.moved_out) for p in plans] == [
        ("", (handbook, unbuilt), (other,)),
        (OTHER_SPACE, (other,), (handbook, unbuilt)),
    ]
    assert plans[0].embedders == (handbook.embedder,)
    assert [p.label for p in plans] == ["the main space", f"space {OTHER_SPACE!r}"]
    # The main space is always opened: a store that cannot be reached is reported, and
    # sets that moved out are removed from it.
    (alone,) = store_migration.migration_spaces(knowledge_sets=[])
    assert (alone.space, alone.knowledge_sets) == ("", ())
    main, _ = store_migration.migration_spaces(knowledge_sets=[other])
    assert (main.space, main.knowledge_sets, main.moved_out) == ("", (), (other,))


def test_every_space_is_copied_into_its_own_store_and_verified_there(
    handbook: KnowledgeSet, tmp_path: Path, monkeypatch
) -> None:
    other = moved_to_a_space(tmp_path)
    targets: dict[str, LocalStore] = {}

    @contextmanager
    def open_target(*, kind, batch_size, space=""):
        targets[space] = LocalStore(tmp_path / "target" / (space or "main"))
        yield targets[space]

    monkeypatch.setattr(store_migration, "migration_target_open", open_target)
    # The main target still holds "other" from a copy made before its re-embed.
    early = LocalStore(tmp_path / "target" / "main")
    documents = list(Document.objects.filter(knowledge_set=other))
    early.replace_documents(
        document_ids=[str(d.pk) for d in documents],
        records=store_migration.chunk_records(documents),
    )
    verify = store_migration.VerifyOptions(
        samples=4, top_k=5, alpha=0.5, fusion="relative", min_similarity=0.0
    )

    results = store_migration.store_migrate(
        kind="weaviate", knowledge_sets=[handbook, other], batch_size=50, verify=verify
    )

    main, space = results
    assert main.plan.space == "" and space.plan.space == OTHER_SPACE
    assert main.removed_sets == ["other"] and space.removed_sets == []
    assert [c.name for c in main.copies] == ["handbook"]
    assert [c.name for c in space.copies] == ["other"]
    for result, knowledge_set in ((main, handbook), (space, other)):
        in_db = Chunk.objects.filter(document__knowledge_set=knowledge_set).count()
        target = targets[result.plan.space]
        assert target.count(knowledge_sets=[str(knowledge_set.pk)]) == in_db > 0
        assert target.count() == in_db  # nothing of the other space
        (check,) = result.checks
        assert check.name == knowledge_set.name and check.counts_ok
        assert check.local == in_db  # compared with the local store of its own space
        assert check.samples and check.mean_overlap == 1.0
        assert result.problems == []

    # Resumable per space: a second run copies nothing.
    again = store_migration.store_migrate(
        kind="weaviate", knowledge_sets=[handbook, other], batch_size=50
    )
    assert [c.copied_chunks for r in again for c in r.copies] == [0, 0]


def test_a_space_target_and_reference_are_that_space_s_stores(settings) -> None:
    with store_migration.migration_target_open(
        kind="local", batch_size=10, space=OTHER_SPACE
    ) as target:
        assert target.path == settings.ARANDU_STORE_DIR / "spaces" / OTHER_SPACE
    reference = store_migration.migration_reference(kind="weaviate", space=OTHER_SPACE)
    assert reference.path == settings.ARANDU_STORE_DIR / "spaces" / OTHER_SPACE
    weaviate_settings(settings, WEAVIATE_URL="http://127.0.0.1:9", WEAVIATE_COLLECTION="Chunks")
    config = registry.space_weaviate_config(space=OTHER_SPACE)
    assert config.collection == f"Chunks_{OTHER_SPACE}"
    assert registry.space_weaviate_config().collection == "Chunks"


# --------------------------------------------------------------------------- start


def test_the_sets_to_migrate_are_all_or_the_one_named(handbook: KnowledgeSet) -> None:
    other = KnowledgeSet.objects.create(name="a-first")
    assert store_migration.migration_knowledge_sets(name=None) == [other, handbook]
    assert store_migration.migration_knowledge_sets(name="handbook") == [handbook]
    with pytest.raises(StoreMigrationError, match="No knowledge set named 'nope'"):
        store_migration.migration_knowledge_sets(name="nope")


def test_an_unconfigured_weaviate_is_refused_before_anything_is_opened(
    monkeypatch, settings
) -> None:
    monkeypatch.delenv("WEAVIATE_URL", raising=False)
    settings.WEAVIATE_URL = ""
    with (
        pytest.raises(StoreMigrationError, match="Weaviate is not configured: WEAVIATE_URL"),
        store_migration.migration_target_open(kind="weaviate", batch_size=100),
    ):
        pass


def test_the_local_target_and_reference_are_the_configured_local_store(settings) -> None:
    with store_migration.migration_target_open(kind="local", batch_size=100) as target:
        assert isinstance(target, LocalStore) and target.path == settings.ARANDU_STORE_DIR
    reference = store_migration.migration_reference(kind="weaviate")
    assert isinstance(reference, LocalStore) and reference.path == settings.ARANDU_STORE_DIR
    assert store_migration.migration_reference(kind="local") is None


def test_the_migration_reads_weaviate_settings_the_way_the_serving_store_does(
    settings, monkeypatch
) -> None:
    monkeypatch.delenv("WEAVIATE_URL", raising=False)
    weaviate_settings(settings, WEAVIATE_URL="")
    settings.ARANDU_VECTOR_STORE = "weaviate"
    with pytest.raises(ValueError, match="WEAVIATE_URL is not set") as serving:
        registry.get_vector_store()
    with (
        pytest.raises(StoreMigrationError) as migrating,
        store_migration.migration_target_open(kind="weaviate", batch_size=100),
    ):
        pass
    assert str(migrating.value) == f"Weaviate is not configured: {serving.value}"

    def other(**_) -> None:
        raise ValueError("the one reading of the settings")

    monkeypatch.setattr(registry, "weaviate_config", other)
    with (
        pytest.raises(StoreMigrationError, match=": the one reading of the settings"),
        store_migration.migration_target_open(kind="weaviate", batch_size=100),
    ):
        pass
