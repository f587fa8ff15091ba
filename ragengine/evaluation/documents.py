"""Expected documents are named, not linked: `employee-handbook.md` or
`faq-export.jsonl#faq-0101` (a file name, a tail of its path, or a record of a JSON
export), so a case survives re-ingestion and moves between machines. This resolves those
names to the documents of an evaluation set's knowledge sets, and lists the ones that no
longer resolve."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ragengine.models import Document, DocumentStatus, EvalSet


@dataclass(frozen=True, slots=True)
class KnownDocument:
    id: int
    source: str
    title: str
    ready: bool


class DocumentIndex:
    """Documents of some knowledge sets by every name a case may use for them: the full
    source, each tail of its path (`handbook/leave.md`, `leave.md`) and the title."""

    def __init__(self, documents: Iterable[KnownDocument]) -> None:
        self._by_name: dict[str, list[KnownDocument]] = defaultdict(list)
        for document in documents:
            for name in _names(document):
                self._by_name[name].append(document)

    @classmethod
    def for_sets(cls, set_ids: Iterable[int]) -> DocumentIndex:
        rows = Document.objects.filter(knowledge_set_id__in=list(set_ids)).values_list(
            "pk", "source", "title", "status"
        )
        return cls(
            KnownDocument(pk, source, title, status == DocumentStatus.READY)
            for pk, source, title, status in rows
        )

    def resolve(self, reference: str) -> list[KnownDocument]:
        """The documents `reference` names (several when a name is shared), by id."""
        found = {d.id: d for d in self._by_name.get(_clean(reference), [])}
        return [found[i] for i in sorted(found)]

    def ids(self, references: Sequence[str]) -> list[int]:
        """Ids of the ready documents the references name (what retrieval can find)."""
        return sorted({d.id for ref in references for d in self.resolve(ref) if d.ready})


def _clean(name: str) -> str:
    return name.strip().replace("\\", "/").lstrip("./").casefold()


def _names(document: KnownDocument) -> set[str]:
    source = _clean(document.source)
    parts = source.split("/")
    names = {"/".join(parts[i:]) for i in range(len(parts))} - {""}
    if document.title.strip():
        names.add(_clean(document.title))
    return names


@dataclass(frozen=True, slots=True)
class DocumentProblem:
    case_id: int
    question: str
    reference: str
    problem: str  # "missing" | "not ready"


def expected_documents_check(*, eval_set: EvalSet) -> list[DocumentProblem]:
    """Every expected document of the set's cases that no longer resolves to a ready
    document in the set's knowledge sets (deleted, renamed, or failed to ingest)."""
    index = DocumentIndex.for_sets(eval_set.knowledge_sets.values_list("pk", flat=True))
    problems = []
    for case in eval_set.cases.order_by("position", "pk"):
        for reference in case.expected_documents:
            found = index.resolve(reference)
            if not found:
                problem = "missing"
            elif not any(d.ready for d in found):
                problem = "not ready"
            else:
                continue
            problems.append(DocumentProblem(case.pk, case.question, reference, problem))
    return problems
