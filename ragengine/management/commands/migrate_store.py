"""`manage.py migrate_store --to weaviate [--knowledge-set NAME] [--verify] [--batch-size N]`.

Copies chunks and their stored vectors from the database into Weaviate, resumably, and
with `--verify` compares counts and sample top-k results with the local store; fails
when Weaviate is incomplete or the mean top-k overlap is below `--min-overlap`.
`--to local` rebuilds the local store from the database the same way (rollback, repair).
The work is done by `ragengine.services.store_migration`; this command parses arguments,
prints progress and the report to stdout, and exits non-zero on failure.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import CommandError, CommandParser

from ragengine.management.verbosity import LoggedCommand
from ragengine.management.wording import plural
from ragengine.models import KnowledgeSet
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.stores.weaviate_store import WeaviateStore, WeaviateStoreError
from ragengine.retrieval.types import VectorStore
from ragengine.services.store_migration import (
    DEFAULT_MIN_OVERLAP,
    SampleResult,
    SetCheck,
    SetCopy,
    StoreMigrationError,
    knowledge_set_migrate,
    knowledge_set_verify,
    migration_knowledge_sets,
    migration_reference,
    migration_target_open,
)


def describe(store: VectorStore) -> str:
    if isinstance(store, WeaviateStore):
        return f"Weaviate at {store.config.url}, collection {store.config.collection!r}"
    if isinstance(store, LocalStore):
        return f"local store at {store.path}"
    return type(store).__name__


class Command(LoggedCommand):
    help = (
        "Copy chunks and vectors from the database into Weaviate (resumable); --verify "
        "compares with the local store. --to local rebuilds the local store (rollback)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to",
            required=True,
            choices=["weaviate", "local"],
            help="weaviate: copy into WEAVIATE_URL; local: rebuild the local store.",
        )
        parser.add_argument("--knowledge-set", "-k", help="Only this set (default: all).")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Chunks per write; whole documents are kept together (default 500).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Rewrite every document, even those the target already holds unchanged.",
        )
        parser.add_argument(
            "--verify",
            action="store_true",
            help="Then compare counts, and for weaviate sample top-k results, with the "
            "local store.",
        )
        parser.add_argument("--samples", type=int, default=20, help="Queries per set.")
        parser.add_argument(
            "--min-overlap",
            type=float,
            default=DEFAULT_MIN_OVERLAP,
            help=f"Fail --verify below this mean top-k overlap (default {DEFAULT_MIN_OVERLAP}).",
        )

    def handle(self, *args, **options) -> None:
        if options["batch_size"] <= 0:
            raise CommandError("--batch-size must be positive.")
        kind = options["to"]
        try:
            sets = migration_knowledge_sets(name=options.get("knowledge_set"))
            with migration_target_open(kind=kind, batch_size=options["batch_size"]) as target:
                self.stdout.write(
                    f"Target: {describe(target)}; {plural(len(sets), 'knowledge set')}."
                )
                for knowledge_set in sets:
                    self._copy(knowledge_set, target, options)
                if options["verify"]:
                    reference = migration_reference(kind=kind)
                    self._verify(sets, target, options, label=kind, reference=reference)
        except StoreMigrationError as exc:
            raise CommandError(str(exc)) from exc
        except WeaviateStoreError as exc:
            raise CommandError(
                f"{exc}\nThe database was not changed; run the command again to resume."
            ) from exc

    def _copy(self, knowledge_set: KnowledgeSet, target: VectorStore, options: dict) -> None:
        started = time.monotonic()
        verbosity = options.get("verbosity", 1)

        def progress(state: SetCopy, done: int, total: int) -> None:
            if verbosity >= 1 and total:
                self.stdout.write(
                    f"  [{knowledge_set.name}] {done}/{plural(total, 'chunk')} "
                    f"({plural(state.copied_documents, 'document')} written)"
                )

        result = knowledge_set_migrate(
            knowledge_set=knowledge_set,
            target=target,
            batch_size=options["batch_size"],
            force=options["force"],
            on_progress=progress,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Knowledge set {result.name!r}: {plural(result.copied_documents, 'document')} "
                f"({plural(result.copied_chunks, 'chunk')}) copied, {result.skipped_documents} "
                f"already up to date, {result.removed_documents} removed "
                f"[{time.monotonic() - started:.1f}s]."
            )
        )

    def _verify(
        self,
        sets: list[KnowledgeSet],
        target: VectorStore,
        options: dict,
        *,
        label: str,
        reference: VectorStore | None,
    ) -> None:
        """One row per set; the samples that differ most; fail on any problem."""
        top_k = settings.ARANDU_TOP_K
        self.stdout.write(
            "\nVerification against the database"
            + (f"; {describe(reference)} vs {describe(target)}" if reference else "")
            + f" (top_k={top_k}, alpha={settings.ARANDU_HYBRID_ALPHA}, "
            f"fusion={settings.ARANDU_FUSION}, min_similarity={settings.ARANDU_MIN_SIMILARITY})"
        )
        self.stdout.write(
            f"{'knowledge set':<24} {'database':>9} {'local':>9} {label:>9} "
            f"{'samples':>8} {'overlap@' + str(top_k):>10} {'top-1':>6}  result"
        )
        problems: list[str] = []
        worst: list[tuple[str, SampleResult]] = []
        for knowledge_set in sets:
            check = knowledge_set_verify(
                knowledge_set=knowledge_set,
                reference=reference,
                target=target,
                samples=options["samples"],
                top_k=top_k,
                alpha=settings.ARANDU_HYBRID_ALPHA,
                fusion=settings.ARANDU_FUSION,
                min_similarity=settings.ARANDU_MIN_SIMILARITY,
                min_overlap=options["min_overlap"],
            )
            problems.extend(self._problems(check, label, top_k))
            self.stdout.write(self._row(check, label))
            worst.extend((check.name, s) for s in check.samples if s.overlap < 1.0)
        if worst:
            self.stdout.write("Samples that differ most (set, chunk, overlap, query):")
            for name, sample in sorted(worst, key=lambda item: item[1].overlap)[:5]:
                self.stdout.write(
                    f"  {name}  {sample.chunk}  {sample.overlap:.2f}  {sample.query[:60]!r}"
                )
        if problems:
            raise CommandError("Verification failed: " + "; ".join(problems))
        self.stdout.write(self.style.SUCCESS("Verification passed."))

    @staticmethod
    def _problems(check: SetCheck, label: str, top_k: int) -> list[str]:
        problems = []
        if not check.counts_ok:
            problems.append(f"{check.name}: {check.target} in {label}, {check.database} in DB")
        if check.low_overlap:
            problems.append(f"{check.name}: mean overlap@{top_k} {check.mean_overlap:.2f}")
        return problems

    @staticmethod
    def _row(check: SetCheck, label: str) -> str:
        notes = []
        if not check.counts_ok:
            notes.append(f"{label} count differs from the database")
        if check.local_stale:
            notes.append("local store differs from the database")
        if check.nothing_to_compare:
            notes.append("no local records to compare")
        if check.low_overlap:
            notes.append("low overlap")
        mean = f"{check.mean_overlap:.2f}" if check.mean_overlap is not None else "-"
        top1 = f"{check.top1_rate:.0%}" if check.top1_rate is not None else "-"
        return (
            f"{check.name[:24]:<24} {check.database:>9} {check.local:>9} "
            f"{check.target:>9} {len(check.samples):>8} {mean:>10} {top1:>6}  "
            + ("; ".join(notes) or "ok")
        )
