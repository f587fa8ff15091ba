"""Expected documents are names that must keep resolving to documents of the set's
knowledge sets; the ones that no longer do are listed."""

from __future__ import annotations

import pytest

from ragengine.evaluation.cases_io import CaseData, eval_cases_import
from ragengine.evaluation.documents import DocumentIndex, expected_documents_check
from ragengine.models import DocumentStatus, EvalSet
from tests.factories import DocumentFactory, KnowledgeSetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def docs():
    handbook = KnowledgeSetFactory(name="handbook")
    other = KnowledgeSetFactory(name="other")
    ready = DocumentStatus.READY
    return {
        "md": DocumentFactory(knowledge_set=handbook, source="/srv/docs/hr/leave.md", status=ready),
        "faq": DocumentFactory(
            knowledge_set=handbook, source="/srv/docs/faq.jsonl#faq-0101", status=ready
        ),
        "failed": DocumentFactory(
            knowledge_set=handbook, source="/srv/docs/scan.pdf", status=DocumentStatus.FAILED
        ),
        "titled": DocumentFactory(
            knowledge_set=handbook, title="IT Security Policy", source="upload-7f3a", status=ready
        ),
        "elsewhere": DocumentFactory(knowledge_set=other, source="/x/secret.md", status=ready),
        "sets": (handbook, other),
    }


def test_names_resolve_by_file_name_path_tail_record_and_title(docs):
    index = DocumentIndex.for_sets([docs["sets"][0].pk])
    assert index.ids(["leave.md"]) == [docs["md"].pk]
    assert index.ids(["hr/leave.md", "HR\\Leave.md"]) == [docs["md"].pk]
    assert index.ids(["faq.jsonl#faq-0101"]) == [docs["faq"].pk]
    assert index.ids(["it security policy"]) == [docs["titled"].pk]
    assert index.ids(["faq.jsonl#faq-9999", "eave.md", "secret.md"]) == []
    assert index.ids(["scan.pdf"]) == []  # failed to ingest: retrieval can't find it


def test_check_lists_missing_and_not_ready_documents(docs):
    eval_set = EvalSet.objects.create(name="hb")
    eval_set.knowledge_sets.set([docs["sets"][0]])
    eval_cases_import(
        eval_set=eval_set,
        cases=[
            CaseData("Leave?", expected_documents=["leave.md", "secret.md"]),
            CaseData("Scan?", expected_documents=["scan.pdf"]),
            CaseData("Wifi?", expected_documents=["faq.jsonl#faq-0101"]),
        ],
    )
    problems = [
        (p.question, p.reference, p.problem) for p in expected_documents_check(eval_set=eval_set)
    ]
    assert problems == [
        ("Leave?", "secret.md", "missing"),  # in another knowledge set: not found
        ("Scan?", "scan.pdf", "not ready"),
    ]

    docs["md"].delete()
    assert ("Leave?", "leave.md", "missing") in [
        (p.question, p.reference, p.problem) for p in expected_documents_check(eval_set=eval_set)
    ]
