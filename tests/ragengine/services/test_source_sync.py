"""Folder sources: counts per sync, prune, path rules at save and at sync time, the lock,
the django-q2 schedule and the task."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import Schedule

from ragengine import tasks
from ragengine.models import Chunk, Document, Source, SyncRun, SyncRunStatus
from ragengine.retrieval.types import VectorStoreError
from ragengine.services import source_sync as service
from ragengine.services.ingest_files import OUTSIDE
from ragengine.services.knowledge import knowledge_set_delete, knowledge_set_get_or_create
from ragengine.services.source_sync import (
    EMPTY_FOLDER,
    STOPPED,
    SourcePathError,
    source_delete,
    source_folder,
    source_schedule_sync,
    source_sync,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(settings, tmp_path: Path) -> Path:
    root = tmp_path / "sources"
    root.mkdir()
    settings.ARANDU_SOURCE_ROOTS = [root]
    return root


@pytest.fixture
def folder(root: Path) -> Path:
    folder = root / "policies"
    folder.mkdir()
    (folder / "leave.md").write_text("# Leave\n\nYou get 25 days of vacation a year.\n")
    (folder / "travel.md").write_text("# Travel\n\nHotels up to R$ 450 a night.\n")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    return folder


def make_source(folder: Path, **fields) -> Source:
    knowledge_set = knowledge_set_get_or_create(name="handbook")
    return Source.objects.create(
        name=fields.pop("name", "policies"), knowledge_set=knowledge_set, path=str(folder), **fields
    )


def counts(run: SyncRun) -> tuple[int, int, int, int, int]:
    return (run.added, run.changed, run.unchanged, run.removed, run.failed)


# --- counts and prune -----------------------------------------------------------------


def test_syncs_count_added_changed_unchanged_removed_and_failed(embedder, folder):
    source = make_source(folder)

    first = source_sync(source=source)
    assert counts(first) == (2, 0, 0, 0, 1)
    assert first.status == SyncRunStatus.PARTIAL
    assert first.finished_at >= first.started_at
    assert [f["source"] for f in first.failures] == [str(folder.resolve() / "scan.pdf")]
    assert "PDF" in first.failures[0]["error"]

    (folder / "leave.md").write_text("# Leave\n\nYou get 30 days of vacation a year.\n")
    (folder / "travel.md").unlink()
    (folder / "scan.pdf").unlink()
    (folder / "security.md").write_text("# Security\n\nPasswords have 14 characters.\n")

    second = source_sync(source=source)
    assert counts(second) == (1, 1, 0, 0, 0)  # without prune the deleted files stay
    assert second.status == SyncRunStatus.SUCCEEDED
    assert Document.objects.filter(title="Travel").exists()

    source.prune = True
    third = source_sync(source=source)
    assert counts(third) == (0, 0, 2, 2, 0)  # travel.md and the failed scan.pdf go
    assert sorted(Document.objects.values_list("title", flat=True)) == ["Leave", "Security"]
    assert "30 days" in Chunk.objects.get(document__title="Leave").text

    source.refresh_from_db()
    assert source.syncing_since is None
    assert source.last_synced_at >= third.finished_at - timedelta(seconds=1)
    assert list(source.runs.all()) == [third, second, first]


def test_pruning_an_empty_folder_removes_nothing_and_says_why(embedder, folder):
    source = make_source(folder, prune=True)
    source_sync(source=source)
    for path in folder.iterdir():
        path.unlink()

    run = source_sync(source=source)

    assert run.error == EMPTY_FOLDER
    assert run.removed == 0
    assert Document.objects.count() == 3


def test_links_inside_the_folder_leading_out_of_it_fail_alone(embedder, folder, tmp_path):
    (tmp_path / "secret_key").write_text("TOPSECRET\n")
    (folder / "key.txt").symlink_to(tmp_path / "secret_key")

    run = source_sync(source=make_source(folder))

    assert run.added == 2 and run.failed == 2
    refused = [f for f in run.failures if f["source"].endswith("key.txt")]
    assert refused and refused[0]["error"] == OUTSIDE
    assert not Chunk.objects.filter(text__contains="TOPSECRET").exists()


# --- path rules -------------------------------------------------------------------------


def test_a_folder_under_an_allowed_root_is_accepted_absolute_or_relative(root, folder):
    assert source_folder(path=str(folder)) == folder.resolve()
    assert source_folder(path="policies") == folder.resolve()
    assert source_folder(path=f"  {folder}/  ") == folder.resolve()


@pytest.mark.parametrize(
    "make_path, message",
    [
        (lambda root, tmp: str(tmp / "elsewhere"), "is outside the folders sources may scan"),
        (lambda root, tmp: "/etc", "is outside the folders sources may scan"),
        (lambda root, tmp: str(root / "policies" / ".." / "policies"), "contains '..'"),
        (lambda root, tmp: "../elsewhere", "contains '..'"),
        (lambda root, tmp: str(root / "escape"), "a link leading to"),
        (lambda root, tmp: str(root / "escape" / "inner"), "a link leading to"),
        (lambda root, tmp: str(root / "missing"), "There is no folder at"),
        (lambda root, tmp: str(root / "policies" / "leave.md"), "is a file, not a folder"),
        (lambda root, tmp: "", "Give the folder to scan"),
    ],
    ids=[
        "outside",
        "etc",
        "dotdot",
        "relative-dotdot",
        "link",
        "under-link",
        "missing",
        "file",
        "empty",
    ],
)
def test_folders_breaking_a_rule_are_refused_with_the_reason(
    root, folder, tmp_path, make_path, message
):
    outside = tmp_path / "elsewhere"
    (outside / "inner").mkdir(parents=True)
    (root / "escape").symlink_to(outside)

    with pytest.raises(SourcePathError, match=message):
        source_folder(path=make_path(root, tmp_path))


def test_a_link_within_the_roots_is_followed(root, folder):
    (root / "alias").symlink_to(folder)
    assert source_folder(path=str(root / "alias")) == folder.resolve()


def test_a_root_may_itself_be_a_link(settings, tmp_path, folder, root):
    (tmp_path / "mount").symlink_to(root)
    settings.ARANDU_SOURCE_ROOTS = [tmp_path / "mount"]
    assert source_folder(path=str(tmp_path / "mount" / "policies")) == folder.resolve()


def test_no_roots_means_no_folder(settings, folder):
    settings.ARANDU_SOURCE_ROOTS = []
    with pytest.raises(SourcePathError, match="ARANDU_SOURCE_ROOTS is empty"):
        source_folder(path=str(folder))


def test_rules_are_checked_again_at_sync_time(embedder, folder, tmp_path):
    source = make_source(folder, prune=True)
    source_sync(source=source)
    # The folder is swapped for a link leading out of the allowed roots.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "passwd.md").write_text("# Secrets\n\nroot:x:0:0\n")
    folder.rename(tmp_path / "old-policies")
    folder.symlink_to(outside)

    run = source_sync(source=source)

    assert run.status == SyncRunStatus.FAILED
    assert "a link leading to" in run.error
    assert Document.objects.count() == 3  # nothing pruned, nothing read
    assert not Chunk.objects.filter(text__contains="root:x").exists()


def test_a_vanished_folder_fails_the_run_and_keeps_the_documents(embedder, folder):
    source = make_source(folder, prune=True)
    source_sync(source=source)
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()

    run = source_sync(source=source)

    assert run.status == SyncRunStatus.FAILED and "There is no folder at" in run.error
    assert Document.objects.count() == 3


# --- failures of the run itself ------------------------------------------------------------


def test_a_store_outage_fails_the_run_with_its_reason_and_frees_the_lock(
    embedder, folder, monkeypatch
):
    def down(**kwargs):
        raise VectorStoreError("The vector store is unreachable.")

    monkeypatch.setattr(service, "documents_ingest_paths", down)
    source = make_source(folder)

    run = source_sync(source=source)

    assert (run.status, run.error) == (SyncRunStatus.FAILED, "The vector store is unreachable.")
    source.refresh_from_db()
    assert source.syncing_since is None


def test_an_unexpected_error_never_leaves_a_run_running(embedder, folder, monkeypatch):
    def bug(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "documents_ingest_paths", bug)
    source = make_source(folder)

    run = source_sync(source=source)

    run.refresh_from_db()
    assert run.status == SyncRunStatus.FAILED
    assert "unexpectedly (RuntimeError)" in run.error
    assert Source.objects.get(pk=source.pk).syncing_since is None


def test_old_runs_are_forgotten(embedder, folder, monkeypatch):
    monkeypatch.setattr(service, "RUNS_KEPT", 2)
    source = make_source(folder)
    runs = [source_sync(source=source) for _ in range(3)]
    assert list(source.runs.all()) == [runs[2], runs[1]]


# --- the lock -----------------------------------------------------------------------------


def test_a_sync_while_another_runs_gives_no_second_run(embedder, folder):
    source = make_source(folder)
    Source.objects.filter(pk=source.pk).update(syncing_since=timezone.now())

    assert source_sync(source=source) is None
    assert not SyncRun.objects.exists()
    assert tasks.source_sync_task(source.pk) == "already running"


def test_a_lock_left_by_a_dead_worker_is_taken_over(embedder, folder, settings):
    source = make_source(folder)
    long_ago = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"] + 120)
    Source.objects.filter(pk=source.pk).update(syncing_since=long_ago)
    dead = SyncRun.objects.create(source=source, started_at=long_ago)

    run = source_sync(source=source)

    assert run is not None and run.added == 2
    dead.refresh_from_db()
    assert (dead.status, dead.error) == (SyncRunStatus.FAILED, STOPPED)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the test database on SQLite is one in-memory connection that threads cannot "
    "share; the lock is one conditional UPDATE on every database, raced here on PostgreSQL",
)
def test_concurrent_syncs_of_one_source_give_one_run(embedder, folder, monkeypatch):
    """Eight threads sync at once; the one holding the lock waits in the middle of its
    ingestion until the seven others have returned."""
    source = make_source(folder)
    contenders = 8
    losers_done = threading.Event()
    real_ingest = service.documents_ingest_paths
    results: list[object] = []
    lock = threading.Lock()
    barrier = threading.Barrier(contenders)

    def held_ingest(**kwargs):
        assert losers_done.wait(timeout=60), "the other syncs did not return"
        return real_ingest(**kwargs)

    monkeypatch.setattr(service, "documents_ingest_paths", held_ingest)

    def attempt() -> None:
        try:
            barrier.wait()
            result = source_sync(source=Source.objects.get(pk=source.pk))
            with lock:
                results.append(result)
                if sum(r is None for r in results) == contenders - 1:
                    losers_done.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    runs = [r for r in results if r is not None]
    assert len(results) == contenders and len(runs) == 1
    assert SyncRun.objects.count() == 1
    assert runs[0].added == 2 and runs[0].failed == 1
    assert Document.objects.count() == 3
    assert Chunk.objects.count() == Chunk.objects.values("document", "ordinal").distinct().count()
    assert Source.objects.get(pk=source.pk).syncing_since is None


# --- schedule and task ----------------------------------------------------------------------


def test_saving_a_source_creates_then_updates_its_schedule(folder):
    source = make_source(folder, interval_minutes=30)

    q = source_schedule_sync(source=source)

    assert (q.func, q.args, q.schedule_type, q.minutes, q.repeats) == (
        "ragengine.tasks.source_sync_task",
        str(source.pk),
        Schedule.MINUTES,
        30,
        -1,
    )
    assert q.next_run <= timezone.now()  # a new source is scanned at the next tick
    source.refresh_from_db()
    assert source.q_schedule_id == q.pk

    source.interval_minutes = 15
    source.last_synced_at = timezone.now()
    source.save()
    again = source_schedule_sync(source=source)
    assert again.pk == q.pk and again.minutes == 15
    assert again.next_run > timezone.now() + timedelta(minutes=14)
    assert Schedule.objects.filter(func="ragengine.tasks.source_sync_task").count() == 1


def test_disabling_removes_the_schedule_and_enabling_brings_it_back(folder):
    source = make_source(folder)
    first = source_schedule_sync(source=source)

    source.enabled = False
    assert source_schedule_sync(source=source) is None
    assert not Schedule.objects.filter(pk=first.pk).exists()
    assert Source.objects.get(pk=source.pk).q_schedule_id is None

    source.enabled = True
    assert source_schedule_sync(source=source) is not None
    assert Schedule.objects.filter(func="ragengine.tasks.source_sync_task").count() == 1


def test_deleting_a_source_deletes_its_schedule_and_runs_not_its_documents(embedder, folder):
    source = make_source(folder)
    q = source_schedule_sync(source=source)
    source_sync(source=source)

    source_delete(source=source)

    assert not Schedule.objects.filter(pk=q.pk).exists()
    assert not SyncRun.objects.exists()
    assert Document.objects.count() == 3


def test_the_task_syncs_and_skips_disabled_sources_unless_asked(embedder, folder):
    source = make_source(folder, enabled=False)

    assert tasks.source_sync_task(source.pk) == "disabled"
    assert not SyncRun.objects.exists()
    assert tasks.source_sync_task(source.pk, "manual") == SyncRunStatus.PARTIAL
    assert SyncRun.objects.get().trigger == "manual"


def test_a_schedule_left_by_a_source_deleted_with_its_set_removes_itself(embedder, folder):
    source = make_source(folder)
    q = source_schedule_sync(source=source)
    knowledge_set_delete(knowledge_set=source.knowledge_set)  # cascades to the source
    assert Schedule.objects.filter(pk=q.pk).exists()

    assert tasks.source_sync_task(source.pk) == "missing"
    assert not Schedule.objects.filter(pk=q.pk).exists()


def test_the_folder_check_does_not_follow_a_relative_path_out(root, folder):
    os.symlink("../..", root / "up")
    with pytest.raises(SourcePathError, match="a link leading to"):
        source_folder(path="up")


def test_an_unchanged_folder_is_read_with_a_constant_number_of_queries(
    embedder, root, django_assert_max_num_queries
):
    folder = root / "many"
    folder.mkdir()
    for i in range(40):
        (folder / f"note-{i:02d}.md").write_text(f"# Note {i}\n\nRoom {i} opens at nine.\n")
    source = make_source(folder)
    assert source_sync(source=source).added == 40

    with django_assert_max_num_queries(20):  # not one query per file
        run = source_sync(source=source)

    assert run.unchanged == 40 and run.added + run.changed == 0


def test_the_django_q_scheduler_runs_a_due_source(embedder, folder, monkeypatch):
    from django_q.conf import Conf
    from django_q.scheduler import scheduler

    monkeypatch.setattr(Conf, "SYNC", True)  # read once at import: run the task here
    source = make_source(folder, interval_minutes=10)
    q = source_schedule_sync(source=source)
    Schedule.objects.filter(pk=q.pk).update(next_run=timezone.now() - timedelta(seconds=1))

    scheduler()

    run = SyncRun.objects.get(source=source)
    assert (run.trigger, run.added, run.failed) == ("scheduled", 2, 1)
    q.refresh_from_db()
    assert q.next_run > timezone.now() + timedelta(minutes=9)  # the next one in 10 minutes
