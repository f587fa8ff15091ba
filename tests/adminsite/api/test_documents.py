"""Knowledge sets and documents through the API: list, upload (queued, 202), status,
delete; a document outside the token's sets is never found."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ragengine.models import ApiTokenKind, Chunk, Document, KnowledgeSet
from ragengine.retrieval.registry import get_vector_store
from tests.adminsite.api.conftest import client_for
from tests.factories import DocumentFactory, KnowledgeSetFactory

pytestmark = pytest.mark.django_db

DOCUMENTS = reverse("api:documents")
POLICY = b"# Parking\n\n## Bicycles\n\nBicycles are parked in the basement rack, level -2.\n"


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """POST a file; the queued ingestion runs when the request's work commits."""

    def send(issued, *, knowledge_set: str, name: str = "parking.md", content: bytes = POLICY):
        with django_capture_on_commit_callbacks(execute=True):
            return client_for(issued).post(
                DOCUMENTS,
                {"knowledge_set": knowledge_set, "file": SimpleUploadedFile(name, content)},
                format="multipart",
            )

    return send


def documents_token(issue, *sets, kind=ApiTokenKind.SERVICE):
    return issue(kind=kind, sets=list(sets), scopes=["ask", "documents"])


def test_knowledge_sets_lists_only_the_token_s_sets_with_ready_documents(issue):
    allowed, other = KnowledgeSetFactory(name="handbook"), KnowledgeSetFactory(name="finance")
    DocumentFactory(knowledge_set=allowed, status="ready")
    DocumentFactory(knowledge_set=allowed, status="failed")
    DocumentFactory(knowledge_set=other, status="ready")
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[allowed])

    body = client_for(issued).get(reverse("api:knowledge-sets")).json()

    assert body == {
        "knowledge_sets": [{"name": "handbook", "description": "", "documents": 1}],
        "origin": "token",
    }


def test_an_upload_is_queued_ingested_and_answerable(issue, embedder, upload, settings):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))

    response = upload(issued, knowledge_set="facilities")

    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["url"].endswith(f"/api/v1/documents/{body['id']}")
    assert body["filename"] == "parking.md" and body["knowledge_set"] == "facilities"
    assert body["status"] == "queued"  # queued: the task runs once the request commits
    status = client_for(issued).get(body["url"]).json()
    assert status["status"] == "ready" and status["chunk_count"] >= 1
    assert status["ingested_at"] and status["title"] == "Parking"
    document = Document.objects.get(pk=body["id"])
    assert Path(document.source).read_bytes() == POLICY
    assert Path(document.source).is_relative_to(Path(settings.MEDIA_ROOT))
    assert document.uploaded_by == f"api:token:{issued.token.pk}"

    answer = client_for(issued).post(
        reverse("api:ask"), {"question": "Where do I park my bicycle?"}, format="json"
    )
    assert "basement" in answer.json()["answer"]


def test_uploading_the_same_name_again_replaces_the_document(issue, embedder, upload):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))

    first = upload(issued, knowledge_set="facilities").json()
    second = upload(
        issued, knowledge_set="facilities", content=POLICY.replace(b"level -2", b"level -3")
    ).json()

    assert first["id"] == second["id"]
    assert Document.objects.filter(knowledge_set__name="facilities").count() == 1
    assert "level -3" in Chunk.objects.get(document_id=second["id"]).text


def test_a_file_that_can_t_be_read_ends_failed_with_its_reason(issue, embedder, upload):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))

    body = upload(issued, knowledge_set="facilities", name="scan.pdf", content=b"%PDF-1.4 junk")

    assert body.status_code == 202
    status = client_for(issued).get(body.json()["url"]).json()
    assert status["status"] == "failed" and "PDF" in status["error"]


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.md", b"", "empty"),
        ("***.md", POLICY, "needs a name"),
    ],
)
def test_uploads_that_can_t_be_taken_are_400_and_store_nothing(issue, upload, name, content, words):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))

    response = upload(issued, knowledge_set="facilities", name=name, content=content)

    assert response.status_code == 400, response.content
    assert "file" in response.json()["fields"]
    assert words in str(response.json()["fields"]["file"])
    assert not Document.objects.exists()


def test_a_file_name_can_t_escape_the_upload_folder(
    issue, embedder, settings, django_capture_on_commit_callbacks
):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))
    boundary = "XyZ"
    raw = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="knowledge_set"\r\n\r\nfacilities\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; '
            'filename="../../../etc/cron.d/evil.md"\r\n'
            "Content-Type: text/markdown\r\n\r\n"
        ).encode()
        + POLICY
        + f"\r\n--{boundary}--\r\n".encode()
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(issued).generic(
            "POST", DOCUMENTS, raw, content_type=f"multipart/form-data; boundary={boundary}"
        )

    body = response.json()
    assert response.status_code == 202, body
    source = Path(Document.objects.get(pk=body["id"]).source)
    assert source.parent == Path(settings.MEDIA_ROOT).resolve() / "facilities"
    assert source.name == "evil.md"


def test_too_large_uploads_are_refused(issue, upload, settings):
    settings.ARANDU_MAX_FILE_MB = 0.001  # ~1 KB
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))

    small_envelope = upload(issued, knowledge_set="facilities", content=b"x" * 2000)
    huge = upload(issued, knowledge_set="facilities", content=b"x" * 200_000)

    assert small_envelope.status_code == 400 and "MB" in small_envelope.json()["detail"]
    assert huge.status_code == 413 and huge.json()["error"] == "too_large"
    assert not Document.objects.exists()


def test_uploading_into_a_set_outside_the_scope_is_403_like_an_unknown_set(issue, upload):
    KnowledgeSetFactory(name="finance")
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))

    forbidden = upload(issued, knowledge_set="finance")
    unknown = upload(issued, knowledge_set="nope")

    assert forbidden.status_code == unknown.status_code == 403
    assert forbidden.json()["error"] == unknown.json()["error"] == "knowledge_sets_not_allowed"
    assert not Document.objects.exists()


def test_documents_need_the_documents_scope(issue):
    issued = issue(kind=ApiTokenKind.SERVICE, sets=["facilities"], scopes=["ask"])
    document = DocumentFactory(knowledge_set=KnowledgeSet.objects.get(name="facilities"))

    assert client_for(issued).get(reverse("api:document", args=[document.pk])).status_code == 403
    assert client_for(issued).delete(reverse("api:document", args=[document.pk])).status_code == 403


def test_a_document_in_another_set_is_not_found_and_not_deleted(issue):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))
    elsewhere = DocumentFactory(knowledge_set=KnowledgeSetFactory(name="finance"))
    client = client_for(issued)

    for response in (
        client.get(reverse("api:document", args=[elsewhere.pk])),
        client.delete(reverse("api:document", args=[elsewhere.pk])),
        client.get(reverse("api:document", args=[elsewhere.pk + 1000])),
        client.get(f"/api/v1/documents/{10**30}"),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"
    assert Document.objects.filter(pk=elsewhere.pk).exists()


def test_delete_removes_the_document_its_chunks_and_its_file(issue, embedder, upload):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))
    body = upload(issued, knowledge_set="facilities").json()
    source = Path(Document.objects.get(pk=body["id"]).source)
    assert get_vector_store().count(document_ids=[str(body["id"])]) > 0

    response = client_for(issued).delete(body["url"])

    assert response.status_code == 204
    assert not Document.objects.filter(pk=body["id"]).exists()
    assert get_vector_store().count(document_ids=[str(body["id"])]) == 0
    assert not source.exists()
    assert client_for(issued).get(body["url"]).status_code == 404


# --- JSON / JSONL exports --------------------------------------------------------------------

EXPORT = (
    b'{"id": "bikes", "text": "Bicycles are parked in the basement rack B7."}\n'
    b'{"id": "lunch", "text": "Lunch is served in the canteen from noon."}\n'
    b'{"id": "no-text", "title": "empty"}\n'
)


def test_an_export_is_202_with_its_url_and_shows_its_records(issue, embedder, upload):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))

    response = upload(issued, knowledge_set="facilities", name="faq.jsonl", content=EXPORT)

    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == body["url"]
    assert body["kind"] == "export" and body["status"] == "queued"
    status = client_for(issued).get(body["url"]).json()
    assert status["status"] == "ready" and status["error"] == ""
    assert status["records"] == {
        "total": 2, "ready": 2, "failed": 0, "in_progress": 0, "skipped": 1,
        "in_file": 2, "done": 2,
    }  # fmt: skip
    assert status["skipped_reasons"] == ['Line 3 has no "text" or "content" field.']
    record = Document.objects.get(source__endswith="#bikes")
    shown = client_for(issued).get(reverse("api:document", args=[record.pk])).json()
    assert shown["kind"] == "record" and shown["parent"] == body["url"]
    assert shown["records"] is None and shown["status"] == "ready"
    answer = client_for(issued).post(
        reverse("api:ask"), {"question": "Where are bicycles parked?"}, format="json"
    )
    assert "B7" in answer.json()["answer"]
    sets = client_for(issued).get(reverse("api:knowledge-sets")).json()
    assert sets["knowledge_sets"][0]["documents"] == 2  # the records, not the export


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("faq.json", b'[{"text": "a"}, {"text": ', "The file is not valid JSON"),
        ("faq.json", b"[]", "The file contains no records."),
        ("faq.jsonl", b"\n\n", "The file is empty."),
        ("faq.jsonl", b'{"title": "a"}\n', "None of the 1 records could be used"),
    ],
)
def test_a_bad_export_ends_failed_with_the_reason(issue, embedder, upload, name, content, reason):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))
    kept = upload(issued, knowledge_set="facilities").json()

    body = upload(issued, knowledge_set="facilities", name=name, content=content).json()

    status = client_for(issued).get(body["url"]).json()
    assert status["status"] == "failed" and reason in status["error"]
    assert status["records"]["total"] == 0
    assert client_for(issued).get(kept["url"]).json()["status"] == "ready"


def test_deleting_an_export_deletes_all_its_records(issue, embedder, upload):
    issued = documents_token(issue, KnowledgeSetFactory(name="facilities"))
    body = upload(issued, knowledge_set="facilities", name="faq.jsonl", content=EXPORT).json()
    records = [
        str(pk) for pk in Document.objects.filter(parent_id=body["id"]).values_list("pk", flat=True)
    ]
    assert len(records) == 2

    assert client_for(issued).delete(body["url"]).status_code == 204

    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert get_vector_store().count(document_ids=records) == 0
    assert client_for(issued).get(body["url"]).status_code == 404
