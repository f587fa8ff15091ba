"""GET /api/v1/knowledge-sets and the document endpoints."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from adminsite.api.scope import KnowledgeSetsNotAllowed, token_scope
from adminsite.api.serializers import (
    DocumentSerializer,
    DocumentUploadSerializer,
    ErrorSerializer,
    KnowledgeSetListSerializer,
)
from adminsite.api.views.docs import errors
from ragengine.models import ApiScope, Document, DocumentKind, DocumentStatus, KnowledgeSet
from ragengine.selectors.api_scope import NOT_ALLOWED
from ragengine.services.document_upload import UploadError, document_delete, document_upload

# Primary keys are 64-bit: a larger id in a URL is simply not found (never a database error).
MAX_ID = 2**63 - 1
# Room for the multipart envelope around a file of ARANDU_MAX_FILE_MB.
MULTIPART_OVERHEAD = 64 * 1024


class FileTooLarge(APIException):
    status_code = 413
    default_code = "too_large"


class KnowledgeSetListView(APIView):
    """Any token may list the sets it reads (to narrow `ask` or to upload into)."""

    @extend_schema(
        operation_id="knowledge_sets_list",
        summary="The knowledge sets this token may use",
        responses={200: KnowledgeSetListSerializer, **errors(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        scope = token_scope(token=request.auth)
        rows = (
            KnowledgeSet.objects.filter(name__in=scope.knowledge_sets)
            .annotate(
                ready=Count(
                    "documents",
                    filter=Q(documents__status=DocumentStatus.READY)
                    & ~Q(documents__kind=DocumentKind.EXPORT),  # no text of its own
                )
            )
            .order_by("name")
        )
        return Response(
            {
                "knowledge_sets": [
                    {"name": s.name, "description": s.description, "documents": s.ready}
                    for s in rows
                ],
                "origin": str(scope.origin),
            }
        )


class DocumentUploadView(APIView):
    required_scope = ApiScope.DOCUMENTS
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="documents_upload",
        summary="Upload a document into a knowledge set",
        description="Stores the file and queues its ingestion: 202 with the document, whose "
        "`url` shows its status (`queued` → `parsing` → `embedding` → `ready`, or `failed` "
        "with `error`). A file with the name of one already in the set replaces it; the same "
        "content under another name is refused as a duplicate. A JSON or JSONL export "
        "becomes an `export` whose records are documents of their own (`records` counts "
        "them; records that could not be used are listed in `skipped_reasons`); deleting "
        "the export deletes its records, uploading it again adds, changes and removes "
        "records to match the file.",
        request={"multipart/form-data": DocumentUploadSerializer},
        responses={
            202: DocumentSerializer,
            413: OpenApiResponse(ErrorSerializer, description="Larger than ARANDU_MAX_FILE_MB."),
            **errors(400, 401, 403, 429),
        },
    )
    def post(self, request: Request) -> Response:
        max_bytes = int(settings.ARANDU_MAX_FILE_MB * 1024 * 1024)
        if _content_length(request) > max_bytes + MULTIPART_OVERHEAD:
            raise FileTooLarge(
                f"The upload is larger than the {settings.ARANDU_MAX_FILE_MB:g} MB limit "
                "(ARANDU_MAX_FILE_MB)."
            )
        serializer = DocumentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["knowledge_set"]
        token_scope(token=request.auth, requested=[name])
        knowledge_set = KnowledgeSet.objects.filter(name=name).first()
        if knowledge_set is None:  # deleted a moment ago
            raise KnowledgeSetsNotAllowed(NOT_ALLOWED.format(names=name))
        upload = serializer.validated_data["file"]
        try:
            document = document_upload(
                knowledge_set=knowledge_set,
                filename=upload.name,
                content=upload,
                uploaded_by=f"api:token:{request.auth.pk}",
            )
        except UploadError as exc:
            raise ValidationError({"file": [str(exc)]}) from exc
        document.refresh_from_db()  # ingested already when tasks run synchronously
        body = DocumentSerializer(document, context={"request": request}).data
        return Response(body, status=202, headers={"Location": body["url"]})


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0  # Django reads such a body as empty


class DocumentView(APIView):
    required_scope = ApiScope.DOCUMENTS

    def _document(self, request: Request, document_id: int) -> Document:
        scope = token_scope(token=request.auth)
        document = (
            Document.objects.select_related("knowledge_set")
            .filter(pk=document_id, knowledge_set__name__in=scope.knowledge_sets)
            .first()
            if document_id <= MAX_ID
            else None
        )
        if document is None:
            raise NotFound(f"No document {document_id} in the knowledge sets of this token.")
        return document

    @extend_schema(
        operation_id="documents_retrieve",
        summary="A document and its ingestion status",
        responses={200: DocumentSerializer, **errors(401, 403, 404, 429)},
    )
    def get(self, request: Request, document_id: int) -> Response:
        document = self._document(request, document_id)
        return Response(DocumentSerializer(document, context={"request": request}).data)

    @extend_schema(
        operation_id="documents_destroy",
        summary="Delete a document with its chunks (an export with all its records)",
        responses={204: None, **errors(401, 403, 404, 429)},
    )
    def delete(self, request: Request, document_id: int) -> Response:
        document_delete(document=self._document(request, document_id))
        return Response(status=204)
