"""The document admin: the upload page (many files or pasted text, bad files reported one
by one), live statuses, re-ingest / retry / move / delete actions, and the knowledge set's
ingestion summary. Tasks run in django-q2's sync mode once the request commits."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ragengine.models import Chunk, Document, DocumentKind, DocumentStatus
from ragengine.retrieval.registry import get_vector_store
from ragengine.services.knowledge import knowledge_set_get_or_create
from tests.factories import ChannelBindingFactory, DocumentFactory, KnowledgeSetFactory
from tests.ragengine.admin.test_cache import act, confirm, staff

pytestmark = pytest.mark.django_db

UPLOAD = "admin:ragengine_document_upload"
STATUS = "admin:ragengine_document_status"
PARKING = b"# Parking\n\nBicycles go to the basement rack next to the lift.\n"
LEAVE = b"# Leave\n\nEveryone gets 25 days of paid vacation a year.\n"


@pytest.fixture(autouse=True)
def _media_and_sync_tasks(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    # django-q2 reads `sync` once at import: tasks queued here run in the test's process.
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)


@pytest.fixture
def handbook(embedder):
    return knowledge_set_get_or_create(name="handbook")


def upload(client: Client, knowledge_set, *files, capture, **fields):
    data = {"knowledge_set": knowledge_set.pk, "files": list(files), **fields}
    with capture(execute=True):
        return client.post(reverse(UPLOAD), data, follow=True)


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def messages_now(client: Client) -> list[str]:
    """The messages an action left for the next page."""
    return page_messages(client.get(reverse("admin:ragengine_document_changelist")))


# --- the upload page ------------------------------------------------------------------------


def test_the_upload_page_shows_the_size_limit_and_preselects_the_set(
    admin_client, handbook, settings
):
    settings.ARANDU_MAX_FILE_MB = 7.5
    page = admin_client.get(reverse(UPLOAD) + f"?knowledge_set={handbook.pk}")

    assert page.status_code == 200
    text = page.content.decode()
    assert "7.5 MB" in text and "ARANDU_MAX_FILE_MB" in text
    assert 'type="file"' in text and "multiple" in text
    assert page.context["form"]["knowledge_set"].value() == handbook.pk


def test_add_document_leads_to_the_upload_page_and_never_makes_an_empty_row(admin_client):
    response = admin_client.get(reverse("admin:ragengine_document_add"))
    assert response.status_code == 302 and response.url == reverse(UPLOAD)
    response = admin_client.post(reverse("admin:ragengine_document_add"), {"title": "empty"})
    assert response.status_code == 302 and not Document.objects.exists()


def test_files_are_queued_ingested_and_each_bad_one_reported_alone(
    admin_client, handbook, settings, django_capture_on_commit_callbacks
):
    settings.ARANDU_MAX_FILE_MB = 0.001  # about 1 KB
    response = upload(
        admin_client,
        handbook,
        SimpleUploadedFile("parking.md", PARKING),
        SimpleUploadedFile("broken.pdf", b"%PDF-1.4 this is not a real pdf"),
        SimpleUploadedFile("huge.txt", b"x" * 5000),
        SimpleUploadedFile("setup.exe", b"MZ\x90\x00"),
        SimpleUploadedFile("empty.md", b""),
        capture=django_capture_on_commit_callbacks,
    )

    assert response.status_code == 200  # redirected to the set's documents
    shown = page_messages(response)
    assert any("Queued 2 files for ingestion: parking.md, broken.pdf" in m for m in shown)
    assert any(m.startswith("huge.txt: not uploaded") and "limit is 0.001 MB" in m for m in shown)
    assert any(m.startswith("setup.exe: not uploaded") and "Unsupported" in m for m in shown)
    assert any(m.startswith("empty.md: not uploaded") and "empty" in m for m in shown)
    ready = Document.objects.get(title="Parking")
    failed = Document.objects.get(title="broken")
    assert ready.status == DocumentStatus.READY and ready.chunk_count >= 1
    assert ready.uploaded_by == "admin" and ready.size_bytes == len(PARKING)
    assert failed.status == DocumentStatus.FAILED and "PDF" in failed.error
    assert Document.objects.count() == 2  # nothing half-written for the refused ones
    assert get_vector_store().count(document_ids=[str(failed.pk)]) == 0
    assert 'data-state="queued"' in response.content.decode()  # rendered before the tasks ran
    listing = admin_client.get(reverse("admin:ragengine_document_changelist")).content.decode()
    assert 'data-state="ready"' in listing and 'data-state="failed"' in listing


def test_a_jsonl_export_becomes_an_export_whose_records_are_listed_as_documents(
    admin_client, handbook, django_capture_on_commit_callbacks
):
    export = (
        b'{"id": "wifi", "text": "The guest wifi password is on the reception badge."}\n'
        b'{"id": "lunch", "text": "Lunch is served from 12:00 to 14:00."}\n'
        b"{not json\n"
    )
    response = upload(
        admin_client,
        handbook,
        SimpleUploadedFile("faq.jsonl", export),
        SimpleUploadedFile("broken.json", b'[{"text": "a"}, {"text": '),
        capture=django_capture_on_commit_callbacks,
    )

    assert any("Queued 2 files for ingestion: faq.jsonl, broken.json" in m
               for m in page_messages(response))  # fmt: skip
    faq = Document.objects.get(title="faq")
    broken = Document.objects.get(title="broken")
    assert faq.kind == DocumentKind.EXPORT and faq.status == DocumentStatus.READY
    assert broken.status == DocumentStatus.FAILED and "not valid JSON" in broken.error
    records = Document.objects.filter(parent=faq)
    assert records.count() == 2 and all(r.status == DocumentStatus.READY for r in records)

    listing = admin_client.get(reverse("admin:ragengine_document_changelist")).content.decode()
    assert "Ready (2 records, 1 skipped)" in listing
    assert "1 record skipped: Line 3 is not valid JSON" in listing
    assert f'href="/admin/ragengine/document/?parent__id__exact={faq.pk}">2 records</a>' in listing
    assert all(r.uploaded_by == "admin" for r in records)  # as the export was
    only_records = admin_client.get(
        reverse("admin:ragengine_document_changelist") + f"?parent__id__exact={faq.pk}"
    )
    assert only_records.status_code == 200
    assert list(only_records.context["cl"].result_list) == list(records.order_by("title"))
    polled = json.loads(admin_client.get(reverse(STATUS) + f"?ids={faq.pk}").content)
    assert polled["documents"][str(faq.pk)]["label"] == "Ready (2 records, 1 skipped)"


def test_deleting_an_export_in_the_admin_deletes_its_records(
    admin_client, handbook, django_capture_on_commit_callbacks
):
    upload(
        admin_client,
        handbook,
        SimpleUploadedFile("faq.jsonl", b'{"id": "a", "text": "Lunch is at noon."}\n'),
        capture=django_capture_on_commit_callbacks,
    )
    export = Document.objects.get(kind=DocumentKind.EXPORT)
    record = Document.objects.get(parent=export)

    page = act(admin_client, "document", "delete_documents", [export.pk])
    assert "an export with all its records" in page.content.decode()
    confirm(admin_client, "document", page)

    assert not Document.objects.exists()
    assert get_vector_store().count(document_ids=[str(record.pk)]) == 0


def test_pasted_text_becomes_a_document(admin_client, handbook, django_capture_on_commit_callbacks):
    response = upload(
        admin_client,
        handbook,
        capture=django_capture_on_commit_callbacks,
        title="Office hours",
        text="The office opens at 8:30 and closes at 18:00.",
    )
    assert response.status_code == 200
    document = Document.objects.get()
    assert document.title == "Office hours" and document.status == DocumentStatus.READY
    assert "8:30" in Chunk.objects.get(document=document).text


def test_an_empty_form_or_text_without_title_is_refused(admin_client, handbook):
    nothing = admin_client.post(reverse(UPLOAD), {"knowledge_set": handbook.pk})
    no_title = admin_client.post(reverse(UPLOAD), {"knowledge_set": handbook.pk, "text": "hi"})
    assert "Choose at least one file" in nothing.content.decode()
    assert "needs a title" in no_title.content.decode()
    assert not Document.objects.exists()


def test_duplicates_are_refused_and_a_changed_file_replaces_its_chunks(
    admin_client, handbook, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    upload(admin_client, handbook, SimpleUploadedFile("parking.md", PARKING), capture=capture)
    first = Document.objects.get()
    old_chunks = set(Chunk.objects.filter(document=first).values_list("pk", flat=True))

    same = upload(
        admin_client, handbook, SimpleUploadedFile("parking.md", PARKING), capture=capture
    )
    renamed = upload(
        admin_client, handbook, SimpleUploadedFile("copy.md", PARKING), capture=capture
    )
    assert any("Unchanged" in m for m in page_messages(same))
    assert any("copy.md: not uploaded. Duplicate" in m for m in page_messages(renamed))
    assert Document.objects.count() == 1

    upload(admin_client, handbook, SimpleUploadedFile("parking.md", LEAVE), capture=capture)
    document = Document.objects.get()
    chunks = list(Chunk.objects.filter(document=document))
    assert document.pk == first.pk and document.status == DocumentStatus.READY
    assert chunks and not old_chunks & {c.pk for c in chunks}
    assert all("vacation" in c.text for c in chunks)
    assert get_vector_store().count(document_ids=[str(document.pk)]) == len(chunks)


# --- permissions -----------------------------------------------------------------------------


def test_only_staff_with_add_permission_may_upload(handbook, django_capture_on_commit_callbacks):
    anonymous = Client().get(reverse(UPLOAD))
    assert anonymous.status_code == 302 and "/login/" in anonymous.url

    viewer = staff("view_document")
    assert viewer.get(reverse(UPLOAD)).status_code == 403
    posted = viewer.post(
        reverse(UPLOAD),
        {"knowledge_set": handbook.pk, "files": [SimpleUploadedFile("a.md", PARKING)]},
    )
    assert posted.status_code == 403 and not Document.objects.exists()


def test_a_foreign_or_missing_knowledge_set_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse(UPLOAD),
        {"knowledge_set": 999999, "files": [SimpleUploadedFile("a.md", PARKING)]},
    )
    assert response.status_code == 200 and response.context["form"].errors["knowledge_set"]
    assert not Document.objects.exists()


# --- live status -----------------------------------------------------------------------------


def test_the_status_endpoint_answers_only_for_existing_ids(admin_client):
    queued = DocumentFactory(status=DocumentStatus.PARSING, chunk_count=0)
    failed = DocumentFactory(status=DocumentStatus.FAILED, error="No text could be extracted.")

    response = admin_client.get(
        reverse(STATUS) + f"?ids={queued.pk},{failed.pk},999999,abc,-1,{'9' * 40}"
    )

    body = json.loads(response.content)["documents"]
    assert set(body) == {str(queued.pk), str(failed.pk)}
    assert body[str(queued.pk)] == {
        "status": "parsing", "label": "Parsing", "chunks": 0, "error": "", "done": False,
        "ingested_at": "-",
    }  # fmt: skip
    assert body[str(failed.pk)]["done"] and "No text" in body[str(failed.pk)]["error"]


def test_the_status_endpoint_needs_staff_with_view_permission():
    document = DocumentFactory()
    assert Client().get(reverse(STATUS) + f"?ids={document.pk}").status_code == 302
    no_permission = staff()
    assert no_permission.get(reverse(STATUS) + f"?ids={document.pk}").status_code == 403


def test_the_change_list_polls_while_anything_is_in_progress(admin_client):
    document = DocumentFactory(status=DocumentStatus.EMBEDDING)
    page = admin_client.get(reverse("admin:ragengine_document_changelist")).content.decode()
    assert "ragengine/document_status.js" in page and 'data-state="embedding"' in page
    assert f'<span data-document-ingested="{document.pk}">-</span>' in page


def test_the_polled_time_of_ingestion_reads_as_the_list_shows_it(admin_client):
    when = timezone.make_aware(datetime(2026, 3, 4, 5, 6, 7))
    document = DocumentFactory(status=DocumentStatus.READY, ingested_at=when)
    page = admin_client.get(reverse("admin:ragengine_document_changelist")).content.decode()
    polled = json.loads(admin_client.get(reverse(STATUS) + f"?ids={document.pk}").content)

    shown = polled["documents"][str(document.pk)]["ingested_at"]
    assert "2026" in shown
    assert f'<span data-document-ingested="{document.pk}">{shown}</span>' in page


# --- actions ---------------------------------------------------------------------------------


@pytest.fixture
def uploaded(admin_client, handbook, django_capture_on_commit_callbacks):
    upload(
        admin_client,
        handbook,
        SimpleUploadedFile("parking.md", PARKING),
        SimpleUploadedFile("broken.pdf", b"%PDF-1.4 not a pdf"),
        capture=django_capture_on_commit_callbacks,
    )
    return Document.objects.get(title="Parking"), Document.objects.get(title="broken")


def test_reingest_queues_and_parses_again(
    admin_client, uploaded, django_capture_on_commit_callbacks
):
    ready, _ = uploaded
    before = set(Chunk.objects.filter(document=ready).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        act(admin_client, "document", "reingest", [ready.pk])
    assert len(queued) == 1
    assert "Queued 1 document for re-ingestion." in messages_now(admin_client)
    ready.refresh_from_db()
    assert ready.status == DocumentStatus.READY and ready.ingest_attempts == 1
    assert not before & set(Chunk.objects.filter(document=ready).values_list("pk", flat=True))


def test_retry_failed_queues_only_failed_ones(
    admin_client, uploaded, django_capture_on_commit_callbacks
):
    ready, failed = uploaded
    with django_capture_on_commit_callbacks(execute=False) as queued:
        act(admin_client, "document", "retry_failed", [ready.pk, failed.pk])
    assert len(queued) == 1
    shown = messages_now(admin_client)
    assert "Queued 1 failed document again. 1 selected document had not failed." in shown
    assert Document.objects.get(pk=failed.pk).status == DocumentStatus.QUEUED
    assert Document.objects.get(pk=ready.pk).status == DocumentStatus.READY


def test_move_asks_for_the_target_then_moves_chunks_with_the_document(
    admin_client, uploaded, django_capture_on_commit_callbacks
):
    ready, _ = uploaded
    target = knowledge_set_get_or_create(name="facilities")
    store = get_vector_store()

    page = act(admin_client, "document", "move_to_set", [ready.pk])
    assert page.status_code == 200 and "Move to knowledge set" in page.content.decode()
    assert Document.objects.get(pk=ready.pk).knowledge_set.name == "handbook"

    with django_capture_on_commit_callbacks(execute=True):
        act(
            admin_client, "document", "move_to_set", [ready.pk],
            knowledge_set=target.pk, apply_move="1",
        )  # fmt: skip
    assert any("to move to “facilities”" in m for m in messages_now(admin_client))
    moved = Document.objects.get(pk=ready.pk)
    assert moved.knowledge_set == target and moved.status == DocumentStatus.READY
    hits = store.count(document_ids=[str(moved.pk)])
    assert hits == moved.chunk_count > 0
    assert store.count(knowledge_sets=[str(target.pk)]) == hits


def test_move_to_a_missing_set_changes_nothing(admin_client, uploaded):
    ready, _ = uploaded
    response = act(
        admin_client, "document", "move_to_set", [ready.pk], knowledge_set=999999, apply_move="1"
    )
    assert response.status_code == 200  # the page again, with the form's error
    assert Document.objects.get(pk=ready.pk).knowledge_set.name == "handbook"


def test_delete_asks_then_removes_chunks_from_the_store_and_the_file(admin_client, uploaded):
    ready, failed = uploaded
    store = get_vector_store()
    page = act(admin_client, "document", "delete_documents", [ready.pk, failed.pk])
    assert "confirm-action" in page.content.decode()
    assert Document.objects.count() == 2  # nothing before the confirmation

    confirm(admin_client, "document", page)

    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert store.count(document_ids=[str(ready.pk)]) == 0
    from pathlib import Path

    assert not Path(ready.source).exists()


def test_actions_on_missing_ids_do_nothing(admin_client, uploaded):
    response = act(admin_client, "document", "reingest", [999999])
    assert response.status_code == 302
    assert Document.objects.filter(status=DocumentStatus.QUEUED).count() == 0


def test_a_view_only_user_has_no_document_actions(uploaded):
    ready, _ = uploaded
    viewer = staff("view_document")
    response = act(viewer, "document", "reingest", [ready.pk])
    assert Document.objects.get(pk=ready.pk).ingest_attempts == 1  # not queued again
    page = viewer.get(reverse("admin:ragengine_document_changelist")).content.decode()
    assert "reingest" not in page and response.status_code in (200, 302)


# --- the knowledge set page ------------------------------------------------------------------


def test_the_knowledge_set_page_sums_up_its_documents_and_channels(admin_client, uploaded):
    ready, _ = uploaded
    handbook = ready.knowledge_set
    DocumentFactory(knowledge_set=handbook, status=DocumentStatus.QUEUED)
    DocumentFactory(knowledge_set=handbook, status=DocumentStatus.EMBEDDING)
    DocumentFactory(knowledge_set=KnowledgeSetFactory(), status=DocumentStatus.READY)
    channel = ChannelBindingFactory(name="#people")
    channel.knowledge_sets.add(handbook)

    response = admin_client.get(reverse("admin:ragengine_knowledgeset_change", args=[handbook.pk]))

    text = response.content.decode()
    summary = text[text.index('id="knowledge-set-summary"') :]
    for key, count in (("ready", 1), ("failed", 1), ("queued", 1), ("in_progress", 1)):
        assert f'data-count="{key}"><span class="doc-status" data-state=' in summary
        assert f'data-count="{key}">' in summary
        cell = summary[summary.index(f'data-count="{key}"') :]
        assert f">{count}</span>" in cell[:120], key
    assert f'data-count="chunks">{ready.chunk_count}<' in summary
    assert "#people" in summary and "local:" in summary
    assert f"?knowledge_set={handbook.pk}" in summary  # the upload link
