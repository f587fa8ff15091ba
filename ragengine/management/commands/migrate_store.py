"""`manage.py migrate_store --to weaviate [--knowledge-set NAME] [--verify] [--batch-size N]`.

Copies chunks and their stored vectors from the database into Weaviate, resumably, and
with `--verify` compares counts and sample top-k results with the local store; fails
when Weaviate is incomplete or the mean top-k overlap is below `--min-overlap`.
`--to local` rebuilds the local store from the database the same way (rollback, repair).
Each vector space (the stores of sets re-embedded with another model) is copied into the
target's store of the same space and verified on its own, with a report per space.
The work is done by `ragengine.services.store_migration`; this command parses arguments,
prints progress and the report to stdout (logs go to stderr), and exits non-zero on
failure.
"""

from __future__ import annotations

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
    SetCheck,
    SetCopy,
    SpacePlan,
    SpaceResult,
    StoreMigrationError,
    VerifyOptions,
    migration_knowledge_sets,
    store_migrate,
)


def describe(store: VectorStore) -> str:
    if isinstance(store, WeaviateStore):
        return f"Weaviate at {store.config.url}, collection {store.config.collection!r}"
    if isinstance(store, LocalStore):
        return f"local store at {store.path}"
    return type(store).__name__


class Command(LoggedCommand):
    help = (
        "Copy chunks and vectors from the database into Weaviate (resumable), every vector "
        "space into its own collection; --verify compares each with the local store. "
        "--to local rebuilds the local stores (rollback)."
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
        verify = None
        if options["verify"]:
            verify = VerifyOptions(
                samples=options["samples"],
                top_k=settings.ARANDU_TOP_K,
                alpha=settings.ARANDU_HYBRID_ALPHA,
                fusion=settings.ARANDU_FUSION,
                min_similarity=settings.ARANDU_MIN_SIMILARITY,
                min_overlap=options["min_overlap"],
            )
        try:
            sets = migration_knowledge_sets(name=options.get("knowledge_set"))
            results = store_migrate(
                kind=kind,
                knowledge_sets=sets,
                batch_size=options["batch_size"],
                force=options["force"],
                verify=verify,
                listener=_Printer(self, kind=kind, verify=verify, verbosity=options["verbosity"]),
            )
        except StoreMigrationError as exc:
            raise CommandError(str(exc)) from exc
        except WeaviateStoreError as exc:
            raise CommandError(
                f"{exc}\nThe database was not changed; run the command again to resume."
            ) from exc
        problems = [problem for result in results for problem in result.problems]
        if problems:
            raise CommandError("Verification failed: " + "; ".join(problems))
        if verify is not None:
            self.stdout.write(self.style.SUCCESS("Verification passed."))


class _Printer:
    """The migration's progress and reports, on the command's stdout."""

    def __init__(
        self, command: Command, *, kind: str, verify: VerifyOptions | None, verbosity: int
    ) -> None:
        self.out, self.style = command.stdout, command.style
        self.kind, self.verify, self.verbosity = kind, verify, verbosity
        self.reference: VectorStore | None = None
        self.target: VectorStore | None = None

    def space_started(
        self, plan: SpacePlan, target: VectorStore, reference: VectorStore | None
    ) -> None:
        self.target, self.reference = target, reference
        models = f" ({', '.join(plan.embedders)})" if plan.embedders else ""
        self.out.write(
            f"\nTarget: {describe(target)}; {plural(len(plan.knowledge_sets), 'knowledge set')} "
            f"in {plan.label}{models}."
        )

    def set_progress(
        self, knowledge_set: KnowledgeSet, state: SetCopy, done: int, total: int
    ) -> None:
        if self.verbosity >= 1 and total:
            self.out.write(
                f"  [{knowledge_set.name}] {done}/{plural(total, 'chunk')} "
                f"({plural(state.copied_documents, 'document')} written)"
            )

    def set_copied(self, result: SetCopy, seconds: float) -> None:
        self.out.write(
            self.style.SUCCESS(
                f"Knowledge set {result.name!r}: {plural(result.copied_documents, 'document')} "
                f"({plural(result.copied_chunks, 'chunk')}) copied, {result.skipped_documents} "
                f"already up to date, {result.removed_documents} removed [{seconds:.1f}s]."
            )
        )

    def space_done(self, result: SpaceResult) -> None:
        plan = result.plan
        if result.removed_sets:
            self.out.write(
                f"Removed from {plan.label} (they live in another space now): "
                + ", ".join(result.removed_sets)
            )
        if self.verify is None:
            return
        self._report(result)
        if result.problems:
            self.out.write(self.style.ERROR(f"Verification of {plan.label} failed."))
        else:
            self.out.write(self.style.SUCCESS(f"Verification of {plan.label} passed."))

    def _report(self, result: SpaceResult) -> None:
        """One row per set; the samples that differ most."""
        verify, label, reference = self.verify, self.kind, self.reference
        top_k = verify.top_k
        self.out.write(
            f"Verification of {result.plan.label} against the database"
            + (f"; {describe(reference)} vs {describe(self.target)}" if reference else "")
            + f" (top_k={top_k}, alpha={verify.alpha}, fusion={verify.fusion}, "
            f"min_similarity={verify.min_similarity})"
        )
        self.out.write(
            f"{'knowledge set':<24} {'database':>9} {'local':>9} {label:>9} "
            f"{'samples':>8} {'overlap@' + str(top_k):>10} {'top-1':>6}  result"
        )
        worst = []
        for check in result.checks:
            self.out.write(_row(check, label))
            worst.extend((check.name, s) for s in check.samples if s.overlap < 1.0)
        if worst:
            self.out.write("Samples that differ most (set, chunk, overlap, query):")
            for name, sample in sorted(worst, key=lambda item: item[1].overlap)[:5]:
                self.out.write(
                    f"  {name}  {sample.chunk}  {sample.overlap:.2f}  {sample.query[:60]!r}"
                )


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
