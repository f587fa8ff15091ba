"""migrate_store: arguments, progress and report output, and exit codes.

The copy and verification logic is tested in tests/ragengine/services/
test_store_migration.py. Here the command writes into a second real LocalStore standing
in for Weaviate; its Weaviate-specific paths (configuration, a down server) are checked
as they are, and the whole command runs against a live Weaviate when WEAVIATE_URL is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from ragengine.models import Chunk, Document, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.stores.weaviate_store import WeaviateStore
from ragengine.retrieval.types import SearchQuery, VectorStore
from ragengine.services import store_migration
from tests.ragengine.retrieval.stores.test_weaviate_store import free_port
from tests.ragengine.services.test_store_migration import OTHER_SPACE, moved_to_a_space

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("migrate_store", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def local(settings) -> LocalStore:
    return LocalStore(settings.ARANDU_STORE_DIR)


@pytest.fixture
def copy_target(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "copy-target")


def db_state() -> tuple[list[tuple], list[tuple]]:
    return (
        list(Document.objects.order_by("pk").values_list("pk", "content_hash", "indexed_hash")),
        list(Chunk.objects.order_by("pk").values_list("pk", "text")),
    )


# --------------------------------------------------------------------------- the command


@pytest.fixture
def into_copy_target(monkeypatch, copy_target: LocalStore) -> LocalStore:
    """The command, writing into a second LocalStore instead of Weaviate."""

    @contextmanager
    def open_target(*, kind: str, batch_size: int, space: str = "") -> Iterator[VectorStore]:
        assert kind == "weaviate"
        yield copy_target if not space else LocalStore(copy_target.path / "spaces" / space)

    monkeypatch.setattr(store_migration, "migration_target_open", open_target)
    return copy_target


def test_command_copies_with_progress_and_prints_a_verification_report(
    handbook: KnowledgeSet, into_copy_target: LocalStore, settings
) -> None:
    output = run("--to", "weaviate", "--knowledge-set", "handbook", "--batch-size", "10")
    assert f"Target: local store at {into_copy_target.path}" in output
    assert "[handbook] 0/" in output
    documents = Document.objects.filter(knowledge_set=handbook, chunk_count__gt=0).count()
    assert f"{documents} documents (" in output and "0 already up to date" in output

    report = run("--to", "weaviate", "--verify", "--samples", "5")
    assert f"0 documents (0 chunks) copied, {documents} already up to date" in report
    chunks = Chunk.objects.filter(document__knowledge_set=handbook).count()
    row = next(line for line in report.splitlines() if line.startswith("handbook"))
    assert row.split()[:7] == [
        "handbook",
        str(chunks),
        str(chunks),
        str(chunks),
        "5",
        "1.00",
        "100%",
    ]
    assert row.endswith("ok")
    assert "Verification passed." in report


def test_verification_fails_when_the_target_is_incomplete(
    handbook: KnowledgeSet, into_copy_target: LocalStore, monkeypatch
) -> None:
    run("--to", "weaviate")
    # A target that loses the set and silently drops writes: the copy step cannot
    # repair it, and the report says so with the numbers.
    into_copy_target.delete_knowledge_set(knowledge_set=str(handbook.pk))
    monkeypatch.setattr(into_copy_target, "replace_documents", lambda **_: None)
    chunks = Chunk.objects.filter(document__knowledge_set=handbook).count()
    with pytest.raises(
        CommandError, match=rf"Verification failed: handbook: 0 in weaviate, {chunks} in DB"
    ):
        run("--to", "weaviate", "--verify", "--samples", "3")


def test_to_local_rebuilds_the_local_store_in_one_commit_per_set(
    handbook: KnowledgeSet, local: LocalStore, settings
) -> None:
    """The rollback path: after a period on Weaviate the local store is stale; it is
    rebuilt from the database without re-embedding anything."""
    set_id = str(handbook.pk)
    chunks = local.count(knowledge_sets=[set_id])
    local.delete_knowledge_set(knowledge_set=set_id)
    generation = int((local.path / "CURRENT").read_text().split("-")[0])

    output = run("--to", "local", "--verify", "--batch-size", "5")

    assert f"Target: local store at {settings.ARANDU_STORE_DIR}" in output
    assert local.count(knowledge_sets=[set_id]) == chunks
    assert int((local.path / "CURRENT").read_text().split("-")[0]) == generation + 1
    row = next(line for line in output.splitlines() if line.startswith("handbook"))
    assert row.split()[:5] == ["handbook", str(chunks), str(chunks), str(chunks), "0"]
    assert "Verification passed." in output


def test_every_space_is_copied_and_verified_with_a_report_each(
    handbook: KnowledgeSet, into_copy_target: LocalStore, tmp_path: Path
) -> None:
    other = moved_to_a_space(tmp_path)
    output = run("--to", "weaviate", "--verify", "--samples", "3")

    assert f"Target: local store at {into_copy_target.path}; 1 knowledge set in the main " in output
    space_target = into_copy_target.path / "spaces" / OTHER_SPACE
    assert (
        f"Target: local store at {space_target}; 1 knowledge set in space '{OTHER_SPACE}'" in output
    )
    assert "Verification of the main space passed." in output
    assert f"Verification of space '{OTHER_SPACE}' passed." in output
    assert output.rstrip().endswith("Verification passed.")
    chunks = Chunk.objects.filter(document__knowledge_set=other).count()
    assert LocalStore(space_target).count(knowledge_sets=[str(other.pk)]) == chunks
    assert into_copy_target.count(knowledge_sets=[str(other.pk)]) == 0


def test_a_space_that_fails_verification_fails_the_command_and_names_the_space(
    handbook: KnowledgeSet, into_copy_target: LocalStore, tmp_path: Path, monkeypatch
) -> None:
    other = moved_to_a_space(tmp_path)
    real_replace = LocalStore.replace_documents

    def lossy(self, *, document_ids, records):  # the other space's target drops writes
        if OTHER_SPACE not in str(self.path):
            real_replace(self, document_ids=document_ids, records=records)

    monkeypatch.setattr(LocalStore, "replace_documents", lossy)
    chunks = Chunk.objects.filter(document__knowledge_set=other).count()
    out = StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("migrate_store", "--to", "weaviate", "--verify", stdout=out, stderr=StringIO())
    assert str(caught.value) == (
        f"Verification failed: other: 0 in weaviate, {chunks} in DB (space '{OTHER_SPACE}'); "
        f"other: mean overlap@5 0.00 (space '{OTHER_SPACE}')"
    )
    assert "Verification of the main space passed." in out.getvalue()
    assert f"Verification of space '{OTHER_SPACE}' failed." in out.getvalue()


def test_to_local_rebuilds_every_space(handbook: KnowledgeSet, local: LocalStore, tmp_path):
    other = moved_to_a_space(tmp_path)
    space_store = LocalStore(registry.space_store_dir(space=OTHER_SPACE))
    chunks = space_store.count(knowledge_sets=[str(other.pk)])
    space_store.delete_knowledge_set(knowledge_set=str(other.pk))
    output = run("--to", "local", "--verify")
    assert space_store.count(knowledge_sets=[str(other.pk)]) == chunks > 0
    assert f"Verification of space '{OTHER_SPACE}' passed." in output


def test_command_needs_a_configured_weaviate(monkeypatch, settings) -> None:
    monkeypatch.delenv("WEAVIATE_URL", raising=False)
    settings.WEAVIATE_URL = ""
    with pytest.raises(CommandError, match="Weaviate is not configured: WEAVIATE_URL is not set"):
        run("--to", "weaviate")
    with pytest.raises(CommandError, match="No knowledge set named 'nope'"):
        run("--to", "weaviate", "--knowledge-set", "nope")


def test_a_down_weaviate_is_a_readable_error_and_changes_nothing(
    handbook: KnowledgeSet, monkeypatch, settings
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("WEAVIATE_URL", url)
    settings.WEAVIATE_URL = url
    settings.WEAVIATE_TIMEOUT_S = 2.0
    before = db_state()

    with pytest.raises(CommandError) as caught:
        run("--to", "weaviate", "--verify")

    message = str(caught.value)
    assert url in message and "unavailable" in message
    assert "The database was not changed; run the command again to resume." in message
    assert db_state() == before


# --------------------------------------------------------------------------- live


@pytest.mark.weaviate
@pytest.mark.skipif(
    not os.environ.get("WEAVIATE_URL"),
    reason="needs a Weaviate server: set WEAVIATE_URL (loopback, e.g. http://127.0.0.1:8080)",
)
def test_live_migration_into_weaviate_verifies_and_resumes(
    handbook: KnowledgeSet, monkeypatch, settings
) -> None:
    collection = f"AranduMigrate{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("WEAVIATE_COLLECTION", collection)
    settings.WEAVIATE_COLLECTION = collection
    try:
        first = run("--to", "weaviate", "--verify", "--samples", "10", "--batch-size", "25")
        assert "Verification passed." in first
        again = run("--to", "weaviate")
        assert "0 documents (0 chunks) copied" in again
        with WeaviateStore(config=registry.weaviate_config()) as store:
            set_id = str(handbook.pk)
            in_db = Chunk.objects.filter(document__knowledge_set=handbook).count()
            assert store.count(knowledge_sets=[set_id]) == in_db
            vectors = Chunk.objects.filter(document__knowledge_set=handbook).values_list(
                "embedding", flat=True
            )
            hit = store.search(
                SearchQuery(text="", vector=np.frombuffer(bytes(vectors[0]), "<f4"), alpha=1.0)
            )[0]
            assert hit.similarity == pytest.approx(1.0, abs=1e-4)
    finally:
        with WeaviateStore(config=registry.weaviate_config()) as store:
            store._client.collections.delete(collection)
