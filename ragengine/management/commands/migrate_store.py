"""`manage.py migrate_store --to weaviate [--knowledge-set NAME] [--verify] [--batch-size N]`.

Copies chunks and their stored vectors from the database (the source of truth: Chunk rows
keep text and float32 embeddings) into Weaviate, as the same records ingestion writes, so
nothing is re-embedded. Resumable: a document whose chunks Weaviate already holds with the
same ids and the same text hashes is skipped, so an interrupted run, or a second run just
before switching `ARANDU_VECTOR_STORE`, copies only what is missing or changed. Documents
Weaviate holds but the database no longer has are removed.

`--verify` then compares, per knowledge set, the chunk counts (database, local store,
Weaviate) and the top-k results of sample queries (chunk openings with their own vectors)
in the local store and in Weaviate, and fails when Weaviate is incomplete or the mean
top-k overlap is below `--min-overlap`.

`--to local` rebuilds the local store from the database the same way (one snapshot commit
per set): the way back after a period on Weaviate, or a repair of a damaged local store.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from ragengine.models import Chunk, Document, KnowledgeSet
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.stores.weaviate_store import (
    WeaviateConfig,
    WeaviateStore,
    WeaviateStoreError,
)
from ragengine.retrieval.types import Fusion, SearchQuery, StoreRecord, VectorStore
from ragengine.services.embedding import vector_from_bytes
from ragengine.services.ingest import HEADING_SEPARATOR, chunk_record

logger = logging.getLogger(__name__)

# Documents are compared by chunk hashes in groups of at most this many chunks (one read
# each, far below Weaviate's QUERY_MAXIMUM_RESULTS default of 10,000).
HASH_GROUP_CHUNKS = 2000
QUERY_WORDS = 12


@dataclass(slots=True)
class SetCopy:
    """What one knowledge set's copy did."""

    name: str
    documents: int = 0
    copied_documents: int = 0
    copied_chunks: int = 0
    skipped_documents: int = 0
    removed_documents: int = 0


@dataclass(frozen=True, slots=True)
class SampleResult:
    chunk: str
    query: str
    overlap: float
    top1_same: bool


@dataclass(slots=True)
class SetCheck:
    """Verification of one knowledge set."""

    name: str
    database: int
    local: int
    target: int
    samples: list[SampleResult] = field(default_factory=list)

    @property
    def counts_ok(self) -> bool:
        return self.target == self.database

    @property
    def mean_overlap(self) -> float | None:
        if not self.samples:
            return None
        return sum(s.overlap for s in self.samples) / len(self.samples)

    @property
    def top1_rate(self) -> float | None:
        if not self.samples:
            return None
        return sum(s.top1_same for s in self.samples) / len(self.samples)


# --------------------------------------------------------------------------- records


def _documents_with_chunks(knowledge_set: KnowledgeSet) -> list[tuple[Document, int]]:
    documents = (
        Document.objects.filter(knowledge_set=knowledge_set)
        .annotate(chunks_in_db=Count("chunks"))
        .filter(chunks_in_db__gt=0)
        .only("pk", "title", "source", "knowledge_set_id")
        .order_by("pk")
    )
    return [(d, d.chunks_in_db) for d in documents]


def chunk_records(documents: Sequence[Document]) -> list[StoreRecord]:
    """The records ingestion wrote for these documents, rebuilt from their Chunk rows."""
    by_pk = {d.pk: d for d in documents}
    rows = (
        Chunk.objects.filter(document_id__in=list(by_pk))
        .order_by("document_id", "ordinal")
        .values_list("document_id", "ordinal", "text", "heading_path", "page", "embedding")
    )
    records = []
    for document_id, ordinal, text, heading_path, page, embedding in rows.iterator(chunk_size=1000):
        records.append(
            chunk_record(
                document=by_pk[document_id],
                ordinal=ordinal,
                text=text,
                heading_path=heading_path.split(HEADING_SEPARATOR) if heading_path else [],
                page=page,
                vector=vector_from_bytes(embedding),
            )
        )
    return records


def _groups(items: Iterable[tuple[Document, int]], max_chunks: int) -> Iterator[list]:
    """Whole documents, packed until `max_chunks` chunks (a large document goes alone)."""
    group: list[tuple[Document, int]] = []
    size = 0
    for document, chunks in items:
        if group and size + chunks > max_chunks:
            yield group
            group, size = [], 0
        group.append((document, chunks))
        size += chunks
    if group:
        yield group


# --------------------------------------------------------------------------- copy


def _unchanged(target: VectorStore, candidates: list[tuple[Document, int]]) -> set[int]:
    """Documents whose chunks the target already holds, by record id and text hash.

    Stores that cannot report hashes are trusted on matching counts alone."""
    record_hashes = getattr(target, "record_hashes", None)
    if record_hashes is None:
        return {d.pk for d, _ in candidates}
    same: set[int] = set()
    for group in _groups(candidates, HASH_GROUP_CHUNKS):
        expected_total = sum(n for _, n in group)
        held = record_hashes(document_ids=[str(d.pk) for d, _ in group], limit=expected_total)
        if held is None:
            continue
        wanted: dict[int, dict[str, str]] = {d.pk: {} for d, _ in group}
        rows = Chunk.objects.filter(document_id__in=list(wanted)).values_list(
            "document_id", "ordinal", "content_hash"
        )
        for document_id, ordinal, content_hash in rows:
            wanted[document_id][f"{document_id}:{ordinal}"] = content_hash
        for pk, hashes in wanted.items():
            if all(held.get(rid) == digest for rid, digest in hashes.items()):
                same.add(pk)
    return same


def copy_knowledge_set(
    *,
    knowledge_set: KnowledgeSet,
    target: VectorStore,
    batch_size: int,
    force: bool = False,
    progress: Callable[[SetCopy, int, int], None] | None = None,
) -> SetCopy:
    """Bring `target` in line with the database for one knowledge set; resumable."""
    set_id = str(knowledge_set.pk)
    documents = _documents_with_chunks(knowledge_set)
    result = SetCopy(name=knowledge_set.name, documents=len(documents))
    document_counts = getattr(target, "document_counts", None)
    if document_counts is not None:  # one aggregation instead of a count per document
        held = document_counts(knowledge_set=set_id)
    else:
        held = {
            d: target.count(document_ids=[d]) for d in target.document_ids(knowledge_set=set_id)
        }

    in_db = {str(d.pk) for d, _ in documents}
    gone = sorted(set(held) - in_db)
    if gone:
        target.delete_documents(document_ids=gone)
        result.removed_documents = len(gone)

    same_count = [(d, n) for d, n in documents if not force and held.get(str(d.pk)) == n]
    skip = _unchanged(target, same_count) if same_count else set()
    todo = [(d, n) for d, n in documents if d.pk not in skip]
    result.skipped_documents = len(documents) - len(todo)
    total = sum(n for _, n in todo)
    if progress:
        progress(result, 0, total)

    for group in _groups(todo, batch_size):
        records = chunk_records([d for d, _ in group])
        target.replace_documents(document_ids=[str(d.pk) for d, _ in group], records=records)
        result.copied_documents += len(group)
        result.copied_chunks += len(records)
        if progress:
            progress(result, result.copied_chunks, total)
    logger.info(
        "store migration set done",
        extra={
            "knowledge_set": knowledge_set.name,
            "copied_documents": result.copied_documents,
            "copied_chunks": result.copied_chunks,
            "skipped_documents": result.skipped_documents,
            "removed_documents": result.removed_documents,
        },
    )
    return result


# --------------------------------------------------------------------------- verify


def _sample_chunks(knowledge_set: KnowledgeSet, samples: int) -> list[tuple[int, int, str, bytes]]:
    """Evenly spaced chunks of the set (deterministic, so reports can be compared)."""
    pks = list(
        Chunk.objects.filter(document__knowledge_set=knowledge_set)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not pks or samples <= 0:
        return []
    step = max(len(pks) / samples, 1.0)
    chosen = sorted({pks[int(i * step)] for i in range(min(samples, len(pks)))})
    return list(
        Chunk.objects.filter(pk__in=chosen)
        .order_by("pk")
        .values_list("document_id", "ordinal", "text", "embedding")
    )


def overlap(a: Sequence[str], b: Sequence[str]) -> float:
    """Share of common ids in two top-k lists (1.0 when both are empty)."""
    if not a and not b:
        return 1.0
    return len(set(a) & set(b)) / max(len(a), len(b))


def verify_knowledge_set(
    *,
    knowledge_set: KnowledgeSet,
    source: VectorStore,
    target: VectorStore,
    samples: int,
    top_k: int,
    alpha: float,
    fusion: Fusion,
    min_similarity: float,
) -> SetCheck:
    set_id = str(knowledge_set.pk)
    check = SetCheck(
        name=knowledge_set.name,
        database=Chunk.objects.filter(document__knowledge_set=knowledge_set).count(),
        local=source.count(knowledge_sets=[set_id]),
        target=target.count(knowledge_sets=[set_id]),
    )
    if check.local == 0:
        return check  # nothing to compare against
    for document_id, ordinal, text, embedding in _sample_chunks(knowledge_set, samples):
        words = " ".join(text.split()[:QUERY_WORDS])
        search = SearchQuery(
            text=words,
            vector=vector_from_bytes(embedding),
            top_k=top_k,
            knowledge_sets=(set_id,),
            min_similarity=min_similarity,
            alpha=alpha,
            fusion=fusion,
        )
        expected = [h.id for h in source.search(search)]
        found = [h.id for h in target.search(search)]
        check.samples.append(
            SampleResult(
                chunk=f"{document_id}:{ordinal}",
                query=words,
                overlap=overlap(expected, found),
                top1_same=expected[:1] == found[:1],
            )
        )
    return check


# --------------------------------------------------------------------------- command


def _setting(name: str, default: str) -> str:
    """Django setting, else environment: works before and after the settings wiring."""
    value = getattr(settings, name, None)
    if value in (None, ""):
        value = os.environ.get(name, "")
    return str(value) if value not in (None, "") else default


def weaviate_config() -> WeaviateConfig:
    return WeaviateConfig.from_env(
        {
            name: _setting(name, "")
            for name in (
                "WEAVIATE_URL",
                "WEAVIATE_GRPC_PORT",
                "WEAVIATE_GRPC_HOST",
                "WEAVIATE_API_KEY_ENV",
                "WEAVIATE_TIMEOUT_S",
                "WEAVIATE_COLLECTION",
            )
        }
    )


@contextmanager
def open_target(kind: str, *, batch_size: int) -> Iterator[VectorStore]:
    """The store to copy into (the one seam tests replace with another real store)."""
    if kind == "local":
        yield LocalStore(settings.ARANDU_STORE_DIR)
        return
    try:
        config = weaviate_config()
    except ValueError as exc:
        raise CommandError(f"Weaviate is not configured: {exc}") from exc
    with WeaviateStore(config=config, batch_size=batch_size) as store:
        yield store


def describe(store: VectorStore) -> str:
    if isinstance(store, WeaviateStore):
        return f"Weaviate at {store.config.url}, collection {store.config.collection!r}"
    if isinstance(store, LocalStore):
        return f"local store at {store.path}"
    return type(store).__name__


class Command(BaseCommand):
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
            default=0.8,
            help="Fail --verify below this mean top-k overlap (default 0.8).",
        )

    def handle(self, *args, **options) -> None:
        if options["batch_size"] <= 0:
            raise CommandError("--batch-size must be positive.")
        sets = self._knowledge_sets(options.get("knowledge_set"))
        kind = options["to"]
        try:
            with open_target(kind, batch_size=min(options["batch_size"], 500)) as target:
                self.stdout.write(f"Target: {describe(target)}; {len(sets)} knowledge set(s).")
                for knowledge_set in sets:
                    # The local store rewrites a snapshot per commit: one commit per set.
                    batch = getattr(target, "batch", None)
                    with batch() if batch is not None else nullcontext():
                        self._copy(knowledge_set, target, options)
                if options["verify"]:
                    self._verify(sets, target, options, compare_queries=kind == "weaviate")
        except WeaviateStoreError as exc:
            raise CommandError(
                f"{exc}\nThe database was not changed; run the command again to resume."
            ) from exc

    def _knowledge_sets(self, name: str | None) -> list[KnowledgeSet]:
        if name is None:
            return list(KnowledgeSet.objects.order_by("name"))
        try:
            return [KnowledgeSet.objects.get(name=name)]
        except KnowledgeSet.DoesNotExist as exc:
            raise CommandError(f"No knowledge set named {name!r}.") from exc

    def _copy(self, knowledge_set: KnowledgeSet, target: VectorStore, options: dict) -> None:
        started = time.monotonic()
        verbosity = options.get("verbosity", 1)

        def progress(state: SetCopy, done: int, total: int) -> None:
            if verbosity >= 1 and total:
                self.stdout.write(
                    f"  [{knowledge_set.name}] {done}/{total} chunks "
                    f"({state.copied_documents} documents written)"
                )

        result = copy_knowledge_set(
            knowledge_set=knowledge_set,
            target=target,
            batch_size=options["batch_size"],
            force=options["force"],
            progress=progress,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Knowledge set {result.name!r}: {result.copied_documents} documents "
                f"({result.copied_chunks} chunks) copied, {result.skipped_documents} "
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
        compare_queries: bool,
    ) -> None:
        """Counts against the database; with `compare_queries`, sample top-k lists of the
        local store against the target's (the same hybrid settings `ask` uses)."""
        label = "weaviate" if compare_queries else "local"
        source = LocalStore(settings.ARANDU_STORE_DIR) if compare_queries else target
        top_k = settings.ARANDU_TOP_K
        self.stdout.write(
            "\nVerification against the database"
            + (f"; {describe(source)} vs {describe(target)}" if compare_queries else "")
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
            check = verify_knowledge_set(
                knowledge_set=knowledge_set,
                source=source,
                target=target,
                samples=options["samples"] if compare_queries else 0,
                top_k=top_k,
                alpha=settings.ARANDU_HYBRID_ALPHA,
                fusion=settings.ARANDU_FUSION,
                min_similarity=settings.ARANDU_MIN_SIMILARITY,
            )
            notes = []
            if not check.counts_ok:
                notes.append(f"{label} count differs from the database")
                problems.append(f"{check.name}: {check.target} in {label}, {check.database} in DB")
            if compare_queries and check.local != check.database:
                notes.append("local store differs from the database")
            if compare_queries and check.local == 0:
                notes.append("no local records to compare")
            mean = check.mean_overlap
            if mean is not None and mean < options["min_overlap"]:
                notes.append("low overlap")
                problems.append(f"{check.name}: mean overlap@{top_k} {mean:.2f}")
            mean_text = f"{mean:.2f}" if mean is not None else "-"
            top1 = f"{check.top1_rate:.0%}" if check.top1_rate is not None else "-"
            self.stdout.write(
                f"{check.name[:24]:<24} {check.database:>9} {check.local:>9} "
                f"{check.target:>9} {len(check.samples):>8} {mean_text:>10} {top1:>6}  "
                + ("; ".join(notes) or "ok")
            )
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
