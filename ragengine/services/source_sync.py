"""Folder sources: which folders may be scanned, scanning one into its knowledge set, and
its django-q2 Schedule.

A scan is `documents_ingest_paths` on the folder, the same service `manage.py ingest
[--prune]` runs, so unchanged files cost a hash and changed ones replace their chunks
atomically, as everywhere else. What a source adds is the record of each run (added /
changed / unchanged / removed / failed), a lock so one source is never scanned twice at
once, and the path rules:

- a source's folder lies under ARANDU_SOURCE_ROOTS, checked on its real path, so a link
  leaving the allowed folders is refused, as is any `..` in what the admin typed;
- the rules are checked when the source is saved and again at every sync, since the
  filesystem changes in between (a folder replaced by a link, a share unmounted);
- inside the folder, links leaving it are refused file by file (`ingest_files`).

A folder that is suddenly empty is most likely an unmounted share: such a sync prunes
nothing and says why.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from ragengine.models import Document, Source, SyncRun, SyncRunStatus, SyncTrigger
from ragengine.retrieval.types import VectorStoreError
from ragengine.services.ingest import IngestReport, documents_ingest_paths
from ragengine.services.knowledge import KnowledgeSetError

logger = logging.getLogger(__name__)

Q_FUNC = "ragengine.tasks.source_sync_task"
RUNS_KEPT = 50  # per source; older runs are deleted as new ones finish
FAILURES_KEPT = 100  # per run; the count is always complete
EMPTY_FOLDER = (
    "The folder is empty, so nothing was removed (an unmounted share looks like this). "
    "Delete the documents from the knowledge set if the folder is meant to be empty."
)
STOPPED = "The worker stopped before this sync finished (it was taken over by a later one)."


class SourcePathError(ValueError):
    """A readable reason a folder may not be (or can no longer be) scanned."""


# --- path rules -------------------------------------------------------------------------


def source_roots() -> list[Path]:
    """The allowed folders, as real paths (a root may itself be a link, e.g. to a share)."""
    return [Path(os.path.realpath(root)) for root in settings.ARANDU_SOURCE_ROOTS]


def _roots_text() -> str:
    roots = [str(root) for root in settings.ARANDU_SOURCE_ROOTS]
    return ", ".join(roots) if roots else "none are set"


def source_folder(*, path: str) -> Path:
    """The real folder `path` names, when it is one and lies under an allowed folder;
    else a SourcePathError saying which rule it breaks."""
    text = (path or "").strip()
    if not text:
        raise SourcePathError("Give the folder to scan.")
    if "\x00" in text:
        raise SourcePathError("A folder name cannot contain a NUL character.")
    if ".." in PurePosixPath(text).parts:
        raise SourcePathError(f"{text!r} contains '..': give the folder's path without it.")
    if not settings.ARANDU_SOURCE_ROOTS:
        raise SourcePathError(
            "No folder may be scanned: ARANDU_SOURCE_ROOTS is empty on this server."
        )
    given = Path(text)
    if not given.is_absolute():
        given = Path(settings.ARANDU_SOURCE_ROOTS[0]) / given
    real = Path(os.path.realpath(given))
    roots = source_roots()
    if not any(real.is_relative_to(root) for root in roots):
        lexical = Path(os.path.normpath(given))
        under_lexically = any(
            lexical.is_relative_to(root) for root in (*roots, *settings.ARANDU_SOURCE_ROOTS)
        )
        if under_lexically:
            raise SourcePathError(
                f"{str(given)!r} is, or lies under, a link leading to {str(real)!r}, outside "
                f"the folders sources may scan (ARANDU_SOURCE_ROOTS: {_roots_text()})."
            )
        raise SourcePathError(
            f"{str(given)!r} is outside the folders sources may scan "
            f"(ARANDU_SOURCE_ROOTS: {_roots_text()})."
        )
    if not real.exists():
        raise SourcePathError(f"There is no folder at {str(given)!r}.")
    if not real.is_dir():
        raise SourcePathError(f"{str(given)!r} is a file, not a folder: a source is a folder.")
    if not os.access(real, os.R_OK | os.X_OK):
        raise SourcePathError(f"The server may not read the folder {str(given)!r}.")
    return real


def source_with_folder(
    *, knowledge_set_id: int, folder: Path, exclude_pk: int | None
) -> Source | None:
    """Another source scanning `folder` into the same set (two would race on its files)."""
    for other in Source.objects.filter(knowledge_set_id=knowledge_set_id).exclude(pk=exclude_pk):
        try:
            if source_folder(path=other.path) == folder:
                return other
        except SourcePathError:
            continue
    return None


# --- syncing ----------------------------------------------------------------------------


def _stale_after() -> timedelta:
    """A lock older than a task may live belongs to a worker that died."""
    return timedelta(seconds=int(settings.Q_CLUSTER.get("timeout") or 3600) + 60)


def _lock(source: Source) -> bool:
    """Take the source's sync lock with one conditional UPDATE (atomic on every database);
    False when another live sync holds it."""
    now = timezone.now()
    free = Q(syncing_since__isnull=True) | Q(syncing_since__lt=now - _stale_after())
    return bool(Source.objects.filter(free, pk=source.pk).update(syncing_since=now))


def _unlock(source: Source, *, finished: bool) -> None:
    changes = {"syncing_since": None}
    if finished:
        changes["last_synced_at"] = timezone.now()
    Source.objects.filter(pk=source.pk).update(**changes)


def source_sync(*, source: Source, trigger: str = SyncTrigger.SCHEDULED) -> SyncRun | None:
    """Scan the source's folder into its knowledge set and record the run. None when
    another sync of this source is running (it gives the one result)."""
    if not _lock(source):
        logger.info("source sync skipped: already running", extra={"source_id": source.pk})
        return None
    # Runs left "running" by a worker that died are over: say so.
    SyncRun.objects.filter(source=source, status=SyncRunStatus.RUNNING).update(
        status=SyncRunStatus.FAILED, error=STOPPED, finished_at=timezone.now()
    )
    run = SyncRun.objects.create(source=source, trigger=trigger, started_at=timezone.now())
    try:
        _scan(source, run)
    except Exception as exc:  # the run must never stay "running"
        logger.exception("source sync failed", extra={"source_id": source.pk})
        run.status = SyncRunStatus.FAILED
        run.error = f"The sync failed unexpectedly ({type(exc).__name__}); try again."
    finally:
        run.finished_at = timezone.now()
        run.save()
        _unlock(source, finished=True)
        _forget_old_runs(source)
    logger.info(
        "source synced",
        extra={
            "source_id": source.pk,
            "status": run.status,
            "added": run.added,
            "changed": run.changed,
            "unchanged": run.unchanged,
            "removed": run.removed,
            "failed": run.failed,
        },
    )
    return run


def _scan(source: Source, run: SyncRun) -> None:
    try:
        folder = source_folder(path=source.path)
    except SourcePathError as exc:
        run.status, run.error = SyncRunStatus.FAILED, str(exc)
        return
    prune = source.prune
    if prune and not _has_visible_entries(folder):
        prune = False
        run.error = EMPTY_FOLDER
    prefix = f"{folder}{os.sep}"
    known = set(
        Document.objects.filter(
            knowledge_set_id=source.knowledge_set_id, source__startswith=prefix
        ).values_list("source", flat=True)
    )
    try:
        report = documents_ingest_paths(
            paths=[folder], knowledge_set=source.knowledge_set, prune=prune
        )
    except (FileNotFoundError, KnowledgeSetError, VectorStoreError) as exc:
        run.status, run.error = SyncRunStatus.FAILED, str(exc)
        return
    _count(run, report, known=known)


def _has_visible_entries(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(not entry.name.startswith(".") for entry in entries)
    except OSError:
        return False


def _count(run: SyncRun, report: IngestReport, *, known: set[str]) -> None:
    for outcome in report.outcomes:
        if outcome.status == "ingested":
            if outcome.source in known:
                run.changed += 1
            else:
                run.added += 1
        elif outcome.status == "unchanged":
            run.unchanged += 1
        elif outcome.status == "removed":
            run.removed += 1
        else:
            run.failed += 1
    run.failures = [{"source": o.source, "error": o.error} for o in report.failures[:FAILURES_KEPT]]
    run.status = SyncRunStatus.PARTIAL if run.failed else SyncRunStatus.SUCCEEDED


def _forget_old_runs(source: Source) -> None:
    keep = SyncRun.objects.filter(source=source).values_list("pk", flat=True)[:RUNS_KEPT]
    SyncRun.objects.filter(source=source).exclude(pk__in=list(keep)).delete()


def source_sync_by_id(*, source_id: int, trigger: str = SyncTrigger.SCHEDULED) -> str:
    """What the task does: sync the source unless it is gone, or disabled and scheduled
    (a Schedule left behind by a source deleted with its knowledge set is removed)."""
    source = Source.objects.select_related("knowledge_set").filter(pk=source_id).first()
    if source is None:
        Schedule.objects.filter(func=Q_FUNC, args=str(source_id)).delete()
        return "missing"
    if not source.enabled and trigger == SyncTrigger.SCHEDULED:
        return "disabled"
    run = source_sync(source=source, trigger=trigger)
    return run.status if run is not None else "already running"


def source_sync_queue(*, source: Source) -> str:
    """Queue a sync now (admin "Sync now"); the django-q2 task id."""
    return async_task(Q_FUNC, source.pk, SyncTrigger.MANUAL.value, group="source-sync")


# --- schedule ---------------------------------------------------------------------------


@transaction.atomic
def source_schedule_sync(*, source: Source) -> Schedule | None:
    """Create, update or remove the django-q2 Schedule behind `source` (none while it is
    disabled). A new or re-enabled source is scanned at the scheduler's next tick; a
    changed interval counts from the last sync."""
    q = Schedule.objects.filter(pk=source.q_schedule_id).first() if source.q_schedule_id else None
    if not source.enabled:
        if q is not None:
            Source.objects.filter(pk=source.pk).update(q_schedule=None)
            source.q_schedule = None
            q.delete()
        return None
    now = timezone.now()
    if q is None:
        q = Schedule(next_run=now)
    elif q.minutes != source.interval_minutes:
        start = source.last_synced_at or now
        q.next_run = max(now, start + timedelta(minutes=source.interval_minutes))
    q.name = f"arandu: source {source.pk} {source.name}"[:100]
    q.func, q.args, q.kwargs = Q_FUNC, str(source.pk), None
    q.schedule_type, q.minutes, q.repeats = Schedule.MINUTES, source.interval_minutes, -1
    q.save()
    if source.q_schedule_id != q.pk:
        Source.objects.filter(pk=source.pk).update(q_schedule=q)
        source.q_schedule = q
    return q


@transaction.atomic
def source_delete(*, source: Source) -> None:
    """Delete the source, its runs and its Schedule. Its documents stay in the knowledge
    set (delete them there if they should go too)."""
    if source.q_schedule_id:
        Schedule.objects.filter(pk=source.q_schedule_id).delete()
    source.delete()
