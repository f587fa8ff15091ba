"""The knowledge set page's counts: an uploaded export is counted through its records."""

from __future__ import annotations

import pytest

from ragengine.models import DocumentKind, DocumentStatus
from ragengine.selectors.knowledge import knowledge_set_summary
from tests.factories import DocumentFactory, KnowledgeSetFactory

pytestmark = pytest.mark.django_db


def test_an_export_with_records_counts_as_its_records_only() -> None:
    knowledge_set = KnowledgeSetFactory()
    export = DocumentFactory(
        knowledge_set=knowledge_set,
        source="/up/faq.jsonl",
        kind=DocumentKind.EXPORT,
        status=DocumentStatus.READY,
        size_bytes=300,
    )
    for n, status in enumerate([DocumentStatus.READY, DocumentStatus.READY, DocumentStatus.FAILED]):
        DocumentFactory(
            knowledge_set=knowledge_set,
            source=f"/up/faq.jsonl#{n}",
            kind=DocumentKind.RECORD,
            parent=export,
            status=status,
            chunk_count=1 if status == DocumentStatus.READY else 0,
            size_bytes=100,
        )
    DocumentFactory(knowledge_set=knowledge_set, status=DocumentStatus.QUEUED, size_bytes=50)

    summary = knowledge_set_summary(knowledge_set=knowledge_set)

    assert (summary.ready, summary.failed, summary.queued) == (2, 1, 1)
    assert summary.documents == 4
    assert summary.chunks == 2
    assert summary.size_bytes == 350


def test_an_export_that_failed_as_a_whole_counts_once() -> None:
    knowledge_set = KnowledgeSetFactory()
    DocumentFactory(
        knowledge_set=knowledge_set,
        source="/up/broken.json",
        kind=DocumentKind.EXPORT,
        status=DocumentStatus.FAILED,
    )
    other_set_export = DocumentFactory(kind=DocumentKind.EXPORT, status=DocumentStatus.READY)
    DocumentFactory(
        knowledge_set=other_set_export.knowledge_set,
        kind=DocumentKind.RECORD,
        parent=other_set_export,
        status=DocumentStatus.READY,
    )

    summary = knowledge_set_summary(knowledge_set=knowledge_set)

    assert (summary.ready, summary.failed, summary.queued, summary.documents) == (0, 1, 0, 1)
