"""Admin for evaluation test sets: sets with their cases edited inline, import/export
(JSONL, CSV), the check that every expected document still exists, and the cases list
(where drafts made from 👎 feedback wait for their expected facts)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import action

from ragengine.admin.evaluation_forms import CaseImportForm, EvalCaseForm
from ragengine.evaluation.cases_io import (
    CaseImportError,
    eval_cases_csv,
    eval_cases_import,
    eval_cases_jsonl,
    parse_cases,
)
from ragengine.evaluation.documents import expected_documents_check
from ragengine.models import EvalCase, EvalSet


class EvalCaseInline(TabularInline):
    model = EvalCase
    form = EvalCaseForm
    extra = 1
    per_page = 25
    fields = (
        "position",
        "question",
        "language",
        "expected_documents",
        "expected_facts",
        "must_refuse",
        "tags",
        "enabled",
    )
    ordering = ("position", "pk")


def page(
    model_admin: admin.ModelAdmin, request: HttpRequest, template: str, title: str, **context
) -> TemplateResponse:
    """A custom admin page in the admin's frame (sidebar, header, theme)."""
    return TemplateResponse(
        request,
        f"admin/ragengine/evaluation/{template}",
        {
            **model_admin.admin_site.each_context(request),
            "opts": model_admin.model._meta,
            "title": title,
            **context,
        },
    )


@admin.register(EvalSet)
class EvalSetAdmin(ModelAdmin):
    list_display = ("name", "case_count", "sets_display", "baseline_run", "updated_at")
    search_fields = ("name", "description")
    filter_horizontal = ("knowledge_sets",)
    inlines = [EvalCaseInline]
    fields = ("name", "description", "knowledge_sets", "baseline_run", "thresholds")
    raw_id_fields = ("baseline_run",)
    actions_detail = [
        "start_run",
        "import_cases",
        {"title": "Export", "icon": "download", "items": ["export_jsonl", "export_csv"]},
        "check_documents",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .annotate(_cases=Count("cases", filter=Q(cases__enabled=True), distinct=True))
            .prefetch_related("knowledge_sets")
        )

    @admin.display(description="enabled cases", ordering="_cases")
    def case_count(self, obj: EvalSet) -> int:
        return obj._cases

    @admin.display(description="knowledge sets")
    def sets_display(self, obj: EvalSet) -> str:
        return ", ".join(s.name for s in obj.knowledge_sets.all()) or "none: runs are refused"

    @action(description="Start a run", icon="play_arrow", permissions=["view"])
    def start_run(self, request: HttpRequest, object_id: str) -> HttpResponse:
        url = reverse("admin:ragengine_evalrun_start_run")
        return HttpResponseRedirect(f"{url}?eval_set={int(object_id)}")

    @action(description="Import cases", icon="upload", permissions=["change"])
    def import_cases(self, request: HttpRequest, object_id: str) -> HttpResponse:
        eval_set = get_object_or_404(EvalSet, pk=object_id)
        form = CaseImportForm(request.POST or None, request.FILES or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                cases = parse_cases(upload.read(), filename=upload.name)
            except CaseImportError as exc:
                problems = exc.problems
            else:
                report = eval_cases_import(
                    eval_set=eval_set, cases=cases, replace=form.cleaned_data["replace"]
                )
                self.message_user(
                    request,
                    f"Imported {report.created} case(s) into {eval_set}"
                    + (f", skipped {report.skipped} already there" if report.skipped else "")
                    + (f", replaced {report.removed}" if report.removed else "")
                    + ".",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:ragengine_evalset_change", args=[eval_set.pk])
                )
        return page(
            self,
            request,
            "import_cases.html",
            f"Import cases into {eval_set}",
            form=form,
            problems=problems,
            eval_set=eval_set,
        )

    @action(description="Export JSONL", icon="download", permissions=["view"])
    def export_jsonl(self, request: HttpRequest, object_id: str) -> HttpResponse:
        eval_set = get_object_or_404(EvalSet, pk=object_id)
        return _download(
            eval_cases_jsonl(eval_set=eval_set), eval_set, "jsonl", "application/jsonl"
        )

    @action(description="Export CSV", icon="download", permissions=["view"])
    def export_csv(self, request: HttpRequest, object_id: str) -> HttpResponse:
        eval_set = get_object_or_404(EvalSet, pk=object_id)
        return _download(eval_cases_csv(eval_set=eval_set), eval_set, "csv", "text/csv")

    @action(description="Check expected documents", icon="fact_check", permissions=["view"])
    def check_documents(self, request: HttpRequest, object_id: str) -> HttpResponse:
        eval_set = get_object_or_404(EvalSet, pk=object_id)
        return page(
            self,
            request,
            "check_documents.html",
            f"Expected documents of {eval_set}",
            eval_set=eval_set,
            problems=expected_documents_check(eval_set=eval_set),
            knowledge_sets=list(eval_set.knowledge_sets.values_list("name", flat=True)),
        )


def _download(text: str, eval_set: EvalSet, extension: str, content_type: str) -> HttpResponse:
    response = HttpResponse(text, content_type=f"{content_type}; charset=utf-8")
    filename = f"{eval_set.name}.{extension}".replace('"', "")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@admin.register(EvalCase)
class EvalCaseAdmin(ModelAdmin):
    """Every case of every set; drafts from 👎 feedback are the disabled ones."""

    form = EvalCaseForm
    list_display = ("question", "eval_set", "language", "must_refuse", "enabled", "origin")
    list_filter = ("eval_set", "enabled", "origin", "must_refuse", "language")
    search_fields = ("question", "notes")
    list_select_related = ("eval_set",)
    readonly_fields = ("origin", "feedback", "created_at", "updated_at")
    fields = (
        "eval_set",
        "position",
        "question",
        "language",
        "expected_documents",
        "expected_facts",
        "reference_answer",
        "must_refuse",
        "tags",
        "enabled",
        "notes",
        "origin",
        "feedback",
        "created_at",
        "updated_at",
    )
