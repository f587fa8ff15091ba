"""`manage.py ingest PATH... --knowledge-set NAME`: add or refresh documents.

Progress and the summary go to stdout, each failed file's reason to stderr, log records
to stderr (INFO with `-v 2`). The exit status is 1 when any file failed, so a script or a
CI job can tell; 0 when every file was ingested, unchanged or removed.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError, CommandParser

from ragengine.management.verbosity import LoggedCommand
from ragengine.management.wording import plural
from ragengine.retrieval.types import VectorStoreError
from ragengine.services.ingest import IngestOutcome, documents_ingest_paths
from ragengine.services.knowledge import KnowledgeSetError, knowledge_set_get_or_create

_MARK = {"ingested": "+", "unchanged": "=", "failed": "!", "removed": "-"}
FAILED_EXIT_STATUS = 1


class Command(LoggedCommand):
    help = (
        "Ingest files or folders (recursively) into a knowledge set. Links that point "
        "outside the folder being ingested are refused. Exits with status 1 when any "
        "file failed (each reason is printed to stderr)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="Files or folders.")
        parser.add_argument("--knowledge-set", "-k", default="default", help="Set name.")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Remove documents whose files were deleted from the given folders.",
        )

    def handle(self, *args, paths: list[Path], knowledge_set: str, prune: bool, **options):
        try:
            target = knowledge_set_get_or_create(name=knowledge_set)
        except KnowledgeSetError as exc:
            raise CommandError(str(exc)) from exc
        verbosity = options.get("verbosity", 1)

        def progress(outcome: IngestOutcome, index: int, total: int) -> None:
            if verbosity < 1:
                return
            detail = {
                "ingested": plural(outcome.chunks, "chunk"),
                "unchanged": "unchanged",
                "failed": outcome.error,
                "removed": "removed",
            }[outcome.status]
            style = self.style.ERROR if outcome.status == "failed" else (lambda s: s)
            self.stdout.write(
                style(f"[{index}/{total}] {_MARK[outcome.status]} {outcome.source}: {detail}")
            )

        try:
            report = documents_ingest_paths(
                paths=paths, knowledge_set=target, prune=prune, progress=progress
            )
        except (FileNotFoundError, KnowledgeSetError, VectorStoreError) as exc:
            raise CommandError(str(exc)) from exc
        summary = (
            f"Knowledge set {target.name!r}: {report.count('ingested')} ingested, "
            f"{report.count('unchanged')} unchanged, {report.count('failed')} failed"
        )
        if report.count("removed"):
            summary += f", {report.count('removed')} removed"
        self.stdout.write(self.style.SUCCESS(summary + "."))
        for failure in report.failures:
            self.stderr.write(f"  failed: {failure.source}: {failure.error}")
        if report.failures:
            raise CommandError(
                f"{plural(len(report.failures), 'document')} could not be ingested "
                "(reasons above).",
                returncode=FAILED_EXIT_STATUS,
            )
