"""Admin for documents: the upload page (files or pasted text, ingested in the
background), live statuses on the change list, and actions that queue re-ingestion, retry
failed ones, move to another set or delete with chunks. Every write goes through the
document services, the same ones behind the CLI and the REST API."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import display_for_value
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from ragengine.admin.confirm import destructive_action
from ragengine.admin.document_forms import DocumentUploadForm, MoveForm
from ragengine.models import Chunk, Document, DocumentKind, DocumentStatus, KnowledgeSet
from ragengine.selectors.knowledge import (
    MAX_POLLED,
    document_label,
    document_notes,
    documents_status,
)
from ragengine.services.document_ingestion import documents_move, documents_reingest
from ragengine.services.document_upload import (
    UploadResult,
    documents_delete_with_files,
    documents_upload,
    text_upload,
)

MOVE_APPLY = "apply_move"


class ChunkInline(TabularInline):
    model = Chunk
    fields = ("ordinal", "heading_path", "page", "token_count", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _when(moment) -> str:
    """A time as the admin's list shows a date-time field (the same text when polled)."""
    return str(display_for_value(moment, "-")) if moment else "-"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _delete_consequence(modeladmin, request: HttpRequest, queryset: QuerySet) -> str:
    n = queryset.count()
    return (
        f"{_plural(n, 'document')} will be deleted with their chunks, which leave the vector "
        "store at once; uploaded files are deleted too, and an export with all its records."
    )


@admin.register(Document)
class DocumentAdmin(ModelAdmin):
    list_display = (
        "title",
        "knowledge_set",
        "status_badge",
        "chunks",
        "size",
        "export",
        "uploaded_by",
        "created_at",
        "ingested",
        "short_error",
    )
    list_filter = ("status", "kind", "knowledge_set", "mime_type")
    search_fields = ("title", "source", "error", "uploaded_by")
    list_select_related = ("knowledge_set", "parent")
    date_hierarchy = "created_at"
    fields = (
        "title",
        "knowledge_set",
        "kind",
        "parent",
        "status",
        "error",
        "source",
        "mime_type",
        "size_bytes",
        "chunk_count",
        "uploaded_by",
        "ingest_attempts",
        "content_hash",
        "indexed_hash",
        "metadata",
        "created_at",
        "updated_at",
        "ingested_at",
    )
    readonly_fields = fields  # ingestion owns them; re-ingest or move with the actions
    inlines = [ChunkInline]
    actions = ["reingest", "retry_failed", "move_to_set", "delete_documents"]

    class Media:
        css = {"all": ["ragengine/documents.css"]}
        js = ["ragengine/document_status.js"]

    # --- list columns -------------------------------------------------------------------
    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Document) -> str:
        return format_html(
            '<span class="doc-status" data-document-status="{}" data-state="{}">{}</span>',
            obj.pk,
            obj.status,
            document_label(status=obj.status, kind=obj.kind, metadata=obj.metadata or {}),
        )

    @admin.display(description="chunks", ordering="chunk_count")
    def chunks(self, obj: Document) -> str:
        return format_html('<span data-document-chunks="{}">{}</span>', obj.pk, obj.chunk_count)

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj: Document) -> str:
        return filesizeformat(obj.size_bytes)

    @admin.display(description="export")
    def export(self, obj: Document) -> str:
        """An export links to its records; a record to its export."""
        changelist = reverse("admin:ragengine_document_changelist")
        if obj.kind == DocumentKind.EXPORT:
            count = (obj.metadata or {}).get("records")
            return format_html(
                '<a href="{}?parent__id__exact={}">{}</a>',
                changelist,
                obj.pk,
                "records" if count is None else f"{count} record{'' if count == 1 else 's'}",
            )
        if obj.parent_id:
            url = reverse("admin:ragengine_document_change", args=[obj.parent_id])
            return format_html('<a href="{}">{}</a>', url, obj.parent.title)
        return ""

    @admin.display(description="ingested at", ordering="ingested_at")
    def ingested(self, obj: Document) -> str:
        return format_html(
            '<span data-document-ingested="{}">{}</span>', obj.pk, _when(obj.ingested_at)
        )

    @admin.display(description="error")
    def short_error(self, obj: Document) -> str:
        error = obj.error or document_notes(kind=obj.kind, metadata=obj.metadata)
        shown = (error[:120] + "…") if len(error) > 120 else error
        return format_html('<span data-document-error="{}">{}</span>', obj.pk, shown)

    # --- pages --------------------------------------------------------------------------
    def get_urls(self):
        own = [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="ragengine_document_upload",
            ),
            path(
                "status/",
                self.admin_site.admin_view(self.status_view),
                name="ragengine_document_status",
            ),
        ]
        return own + super().get_urls()

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """ "Add document" is the upload page: a row without content is never created."""
        url = reverse("admin:ragengine_document_upload")
        query = request.GET.urlencode()
        return HttpResponseRedirect(f"{url}?{query}" if query else url)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = DocumentUploadForm(request.POST, request.FILES)
            if form.is_valid():
                results = self._upload(request, form)
                self._report(request, results)
                knowledge_set = form.cleaned_data["knowledge_set"]
                changelist = reverse("admin:ragengine_document_changelist")
                return HttpResponseRedirect(
                    f"{changelist}?knowledge_set__id__exact={knowledge_set.pk}"
                )
        else:
            initial = {}
            wanted = request.GET.get("knowledge_set", "")
            if wanted.isdigit():
                initial["knowledge_set"] = KnowledgeSet.objects.filter(pk=int(wanted)).first()
            form = DocumentUploadForm(initial=initial)
        return TemplateResponse(
            request,
            "admin/ragengine/document/upload.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Upload documents",
                "form": form,
            },
        )

    def _upload(self, request: HttpRequest, form: DocumentUploadForm) -> list[UploadResult]:
        knowledge_set = form.cleaned_data["knowledge_set"]
        who = request.user.get_username()
        results = documents_upload(
            knowledge_set=knowledge_set,
            files=[(f.name, f) for f in form.cleaned_data["files"]],
            uploaded_by=who,
        )
        if (form.cleaned_data.get("text") or "").strip():
            results.append(
                text_upload(
                    knowledge_set=knowledge_set,
                    title=form.cleaned_data["title"],
                    text=form.cleaned_data["text"],
                    uploaded_by=who,
                )
            )
        return results

    def _report(self, request: HttpRequest, results: list[UploadResult]) -> None:
        queued = [r.filename for r in results if r.outcome == "queued"]
        if queued:
            shown = ", ".join(queued[:10]) + (
                f" and {len(queued) - 10} more" if len(queued) > 10 else ""
            )
            self.message_user(
                request,
                f"Queued {_plural(len(queued), 'file')} for ingestion: {shown}. "
                "Their status updates below as they are parsed and embedded.",
                messages.SUCCESS,
            )
        for result in results:
            if result.outcome == "unchanged":
                self.message_user(request, f"{result.filename}: {result.message}", messages.INFO)
            elif result.outcome == "refused":
                self.message_user(
                    request, f"{result.filename}: not uploaded. {result.message}", messages.ERROR
                )

    def status_view(self, request: HttpRequest) -> JsonResponse:
        """Statuses of the ids in `?ids=1,2,3` (the change list polls this while any is
        in progress); ids that do not exist or are not numbers are left out."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        raw = request.GET.get("ids", "").split(",")[:MAX_POLLED]
        ids = [int(x) for x in raw if x.strip().isdigit() and len(x.strip()) < 19]
        documents = documents_status(document_ids=ids)
        for shown in documents.values():
            shown["ingested_at"] = _when(shown["ingested_at"])
        return JsonResponse({"documents": documents})

    # --- actions ------------------------------------------------------------------------
    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # delete_documents also removes stored files
        return actions

    @admin.action(description="Re-ingest (parse and embed again)", permissions=["change"])
    def reingest(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = documents_reingest(documents=list(queryset))
        self.message_user(
            request, f"Queued {_plural(count, 'document')} for re-ingestion.", messages.SUCCESS
        )

    @admin.action(description="Retry failed documents", permissions=["change"])
    def retry_failed(self, request: HttpRequest, queryset: QuerySet) -> None:
        failed = list(queryset.filter(status=DocumentStatus.FAILED))
        skipped = queryset.count() - len(failed)
        count = documents_reingest(documents=failed) if failed else 0
        note = f" {_plural(skipped, 'selected document')} had not failed." if skipped else ""
        level = messages.SUCCESS if count else messages.WARNING
        self.message_user(
            request, f"Queued {_plural(count, 'failed document')} again.{note}", level
        )

    @admin.action(description="Move to another knowledge set", permissions=["change"])
    def move_to_set(self, request: HttpRequest, queryset: QuerySet):
        form = MoveForm(request.POST if MOVE_APPLY in request.POST else None)
        if form.is_bound and form.is_valid():
            target = form.cleaned_data["knowledge_set"]
            count = documents_move(documents=list(queryset), knowledge_set=target)
            self.message_user(
                request,
                f"Queued {_plural(count, 'document')} to move to “{target.name}” "
                "(re-ingested there; their chunks leave the old set at once).",
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/ragengine/document/move.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Move documents to another knowledge set",
                "form": form,
                "documents": queryset[:50],
                "total": queryset.count(),
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "apply": MOVE_APPLY,
            },
        )

    @destructive_action(
        description="Delete documents with their chunks",
        permissions=["delete"],
        consequence=_delete_consequence,
    )
    def delete_documents(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = documents_delete_with_files(documents=list(queryset))
        self.message_user(
            request, f"Deleted {_plural(count, 'document')} with their chunks.", messages.SUCCESS
        )

    # --- single object delete (the change page's Delete button) ---------------------------
    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        documents_delete_with_files(documents=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        documents_delete_with_files(documents=list(queryset))
