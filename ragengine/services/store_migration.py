"""Copy the database's chunks into a vector store, resumably, and check the copy.

The database is the source of truth: Chunk rows keep text and float32 embeddings, so a
store is rebuilt from them as the same records ingestion writes, and nothing is
re-embedded. Resumable: a document whose chunks the target already holds with the same
ids and the same text hashes is skipped, so an interrupted run, or a second run just
before switching `ARANDU_VECTOR_STORE`, copies only what is missing or changed.
Documents the target holds but the database no longer has are removed.

Verification compares, per knowledge set, the chunk counts (database, reference local
store, target) and the top-k results of sample queries (chunk openings with their own
vectors) in the reference and in the target.

Vector spaces: a knowledge set's vectors live in the store of its space (its
`vector_space`: "" the main store, another name a store beside it that holds another
embedder's vectors, services/vector_spaces.py). A migration copies each space into the
target's store of the same space (`<collection>_<space>` on Weaviate,
`ARANDU_STORE_DIR/spaces/<space>` locally), verifies each against the reference of that
space, and removes from each target space the selected sets that live in another space
now (left there by a re-embed), so searches find every set where the serving store will
look for it.

`manage.py migrate_store` drives this (`store_migrate`): into Weaviate, and back into
the local store (the way back after a period on Weaviate, or a repair of a damaged local
store).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Literal, Protocol

from django.db.models import Count

from ragengine.models import Chunk, Document, KnowledgeSet
from ragengine.retrieval import registry
from ragengine.retrieval.stores.local import LocalStore
from ragengine.retrieval.stores.weaviate_store import WeaviateStore
from ragengine.retrieval.types import Fusion, SearchQuery, StoreRecord, VectorStore
from ragengine.services.chunk_records import HEADING_SEPARATOR, chunk_record
from ragengine.services.embedding import vector_from_bytes

logger = logging.getLogger(__name__)

StoreKind = Literal["weaviate", "local"]

# Documents are compared by chunk hashes in groups of at most this many chunks (one read
# each, far below Weaviate's QUERY_MAXIMUM_RESULTS default of 10,000).
HASH_GROUP_CHUNKS = 2000
# Objects per Weaviate insert request, whatever the migration's own batch size.
MAX_WEAVIATE_BATCH = 500
QUERY_WORDS = 12
DEFAULT_MIN_OVERLAP = 0.8


class StoreMigrationError(ValueError):
    """A readable reason a migration cannot start (no such set, store not configured)."""


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
    """Verification of one knowledge set.

    `local` counts the reference store's records; without a reference (`compared` is
    False) it counts the target's, and no queries are compared.
    """

    name: str
    database: int
    local: int
    target: int
    compared: bool = True
    min_overlap: float = DEFAULT_MIN_OVERLAP
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

    @property
    def low_overlap(self) -> bool:
        """The target ranks too differently from the reference (fails the check)."""
        mean = self.mean_overlap
        return mean is not None and mean < self.min_overlap

    @property
    def local_stale(self) -> bool:
        """The reference itself differs from the database (a note, not a failure)."""
        return self.compared and self.local != self.database

    @property
    def nothing_to_compare(self) -> bool:
        return self.compared and self.local == 0


# --------------------------------------------------------------------------- stores


def migration_knowledge_sets(*, name: str | None) -> list[KnowledgeSet]:
    """Every knowledge set by name, or only the one named."""
    if name is None:
        return list(KnowledgeSet.objects.order_by("name"))
    try:
        return [KnowledgeSet.objects.get(name=name)]
    except KnowledgeSet.DoesNotExist as exc:
        raise StoreMigrationError(f"No knowledge set named {name!r}.") from exc


@dataclass(frozen=True, slots=True)
class SpacePlan:
    """One vector space a migration copies: the selected sets whose vectors live there,
    and the selected sets that live in another space now (removed from this one)."""

    space: str
    embedders: tuple[str, ...]
    knowledge_sets: tuple[KnowledgeSet, ...]
    moved_out: tuple[KnowledgeSet, ...] = ()

    @property
    def label(self) -> str:
        return "the main space" if not self.space else f"space {self.space!r}"


def migration_spaces(*, knowledge_sets: Sequence[KnowledgeSet]) -> list[SpacePlan]:
    """The spaces of `knowledge_sets` (each set's current `vector_space`), the main one
    first and always (a set never ingested belongs to it; with none, it is still opened,
    so an unreachable store is reported, and cleared of sets that moved out)."""
    by_space: dict[str, list[KnowledgeSet]] = {"": []}
    for knowledge_set in knowledge_sets:
        by_space.setdefault(knowledge_set.vector_space, []).append(knowledge_set)
    return [
        SpacePlan(
            space=space,
            embedders=tuple(sorted({s.embedder for s in members if s.embedder})),
            knowledge_sets=tuple(members),
            moved_out=tuple(s for s in knowledge_sets if s.vector_space != space),
        )
        for space, members in sorted(by_space.items())
    ]


@contextmanager
def migration_target_open(
    *, kind: StoreKind, batch_size: int, space: str = ""
) -> Iterator[VectorStore]:
    """The store to copy a space into: the configured Weaviate's collection of that
    space, or the local store of that space to rebuild.

    Weaviate connects (and creates its collection) here, so a down or misconfigured
    server fails before anything was copied into it."""
    if kind == "local":
        yield LocalStore(registry.space_store_dir(space=space))
        return
    try:
        config = registry.space_weaviate_config(space=space)
    except ValueError as exc:
        raise StoreMigrationError(f"Weaviate is not configured: {exc}") from exc
    with WeaviateStore(config=config, batch_size=min(batch_size, MAX_WEAVIATE_BATCH)) as store:
        yield store


def migration_reference(*, kind: StoreKind, space: str = "") -> VectorStore | None:
    """The store a copy's search results are compared with: the local store of the same
    space, which answered until now, for a copy into Weaviate; none for a rebuilt local
    store."""
    return LocalStore(registry.space_store_dir(space=space)) if kind == "weaviate" else None


def space_leftovers_remove(
    *, target: VectorStore, knowledge_sets: Sequence[KnowledgeSet]
) -> list[str]:
    """Remove from `target` the records of these sets (which live in another space now);
    the names of the sets it held."""
    removed = []
    for knowledge_set in knowledge_sets:
        if target.count(knowledge_sets=[str(knowledge_set.pk)]):
            target.delete_knowledge_set(knowledge_set=str(knowledge_set.pk))
            removed.append(knowledge_set.name)
    return removed


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


def knowledge_set_migrate(
    *,
    knowledge_set: KnowledgeSet,
    target: VectorStore,
    batch_size: int,
    force: bool = False,
    on_progress: Callable[[SetCopy, int, int], None] | None = None,
) -> SetCopy:
    """Bring `target` in line with the database for one knowledge set; resumable.

    `on_progress(state, chunks_done, chunks_total)` is called before the first write and
    after each. A store that buffers writes (`batch()`, the local store, which rewrites a
    whole snapshot per commit) gets the set as one commit.
    """
    batch = getattr(target, "batch", None)
    with batch() if batch is not None else nullcontext():
        result = _copy(knowledge_set, target, batch_size, force, on_progress)
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


def _copy(
    knowledge_set: KnowledgeSet,
    target: VectorStore,
    batch_size: int,
    force: bool,
    on_progress: Callable[[SetCopy, int, int], None] | None,
) -> SetCopy:
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
    if on_progress:
        on_progress(result, 0, total)

    for group in _groups(todo, batch_size):
        records = chunk_records([d for d, _ in group])
        target.replace_documents(document_ids=[str(d.pk) for d, _ in group], records=records)
        result.copied_documents += len(group)
        result.copied_chunks += len(records)
        if on_progress:
            on_progress(result, result.copied_chunks, total)
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


def knowledge_set_verify(
    *,
    knowledge_set: KnowledgeSet,
    reference: VectorStore | None,
    target: VectorStore,
    samples: int,
    top_k: int,
    alpha: float,
    fusion: Fusion,
    min_similarity: float,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
) -> SetCheck:
    """Counts against the database; with a `reference`, `samples` top-k lists of the
    reference against the target's, searched with the given hybrid settings (pass the
    ones `ask` uses). The check fails on a count that differs or a low mean overlap."""
    set_id = str(knowledge_set.pk)
    source = reference if reference is not None else target
    check = SetCheck(
        name=knowledge_set.name,
        database=Chunk.objects.filter(document__knowledge_set=knowledge_set).count(),
        local=source.count(knowledge_sets=[set_id]),
        target=target.count(knowledge_sets=[set_id]),
        compared=reference is not None,
        min_overlap=min_overlap,
    )
    if reference is None or check.local == 0:
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
        expected = [h.id for h in reference.search(search)]
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


# --------------------------------------------------------------------------- a whole run


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """How a copy is verified (pass the search settings `ask` uses)."""

    samples: int
    top_k: int
    alpha: float
    fusion: Fusion
    min_similarity: float
    min_overlap: float = DEFAULT_MIN_OVERLAP


def check_problems(check: SetCheck, *, label: str, top_k: int) -> list[str]:
    """Why a set's verification fails, readably ([] when it passes)."""
    problems = []
    if not check.counts_ok:
        problems.append(f"{check.name}: {check.target} in {label}, {check.database} in DB")
    if check.low_overlap:
        problems.append(f"{check.name}: mean overlap@{top_k} {check.mean_overlap:.2f}")
    return problems


@dataclass(slots=True)
class SpaceResult:
    """What a migration did in one vector space."""

    plan: SpacePlan
    copies: list[SetCopy] = field(default_factory=list)
    removed_sets: list[str] = field(default_factory=list)
    checks: list[SetCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class MigrationListener(Protocol):
    """What a migration tells the one who runs it, as it goes (the command prints)."""

    def space_started(
        self, plan: SpacePlan, target: VectorStore, reference: VectorStore | None
    ) -> None: ...

    def set_progress(
        self, knowledge_set: KnowledgeSet, state: SetCopy, done: int, total: int
    ) -> None: ...

    def set_copied(self, result: SetCopy, seconds: float) -> None: ...

    def space_done(self, result: SpaceResult) -> None: ...


def store_migrate(
    *,
    kind: StoreKind,
    knowledge_sets: Sequence[KnowledgeSet],
    batch_size: int,
    force: bool = False,
    verify: VerifyOptions | None = None,
    listener: MigrationListener | None = None,
) -> list[SpaceResult]:
    """Copy every space of `knowledge_sets` into the `kind` store of the same space, and
    with `verify` check each space's sets against its reference. Returns one result per
    space; a space whose verification fails says why in its `problems` (the others are
    still copied and checked). A store that cannot be reached raises."""
    results = []
    for plan in migration_spaces(knowledge_sets=knowledge_sets):
        with migration_target_open(kind=kind, batch_size=batch_size, space=plan.space) as target:
            # only a verification reads it (opening a local store creates its folders)
            reference = migration_reference(kind=kind, space=plan.space) if verify else None
            if listener:
                listener.space_started(plan, target, reference)
            result = SpaceResult(
                plan=plan,
                removed_sets=space_leftovers_remove(target=target, knowledge_sets=plan.moved_out),
            )
            for knowledge_set in plan.knowledge_sets:
                started = time.monotonic()
                copy = knowledge_set_migrate(
                    knowledge_set=knowledge_set,
                    target=target,
                    batch_size=batch_size,
                    force=force,
                    on_progress=partial(listener.set_progress, knowledge_set) if listener else None,
                )
                result.copies.append(copy)
                if listener:
                    listener.set_copied(copy, time.monotonic() - started)
            if verify is not None:
                _space_verify(result, kind=kind, reference=reference, target=target, verify=verify)
        logger.info(
            "store migration space done",
            extra={
                "space": plan.space,
                "embedders": list(plan.embedders),
                "knowledge_sets": len(plan.knowledge_sets),
                "removed_sets": result.removed_sets,
                "problems": len(result.problems),
            },
        )
        if listener:
            listener.space_done(result)
        results.append(result)
    return results


def _space_verify(
    result: SpaceResult,
    *,
    kind: StoreKind,
    reference: VectorStore | None,
    target: VectorStore,
    verify: VerifyOptions,
) -> None:
    for knowledge_set in result.plan.knowledge_sets:
        check = knowledge_set_verify(
            knowledge_set=knowledge_set,
            reference=reference,
            target=target,
            samples=verify.samples,
            top_k=verify.top_k,
            alpha=verify.alpha,
            fusion=verify.fusion,
            min_similarity=verify.min_similarity,
            min_overlap=verify.min_overlap,
        )
        result.checks.append(check)
        result.problems.extend(
            f"{problem} ({result.plan.label})"
            for problem in check_problems(check, label=kind, top_k=verify.top_k)
        )
