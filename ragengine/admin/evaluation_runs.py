"""Admin for evaluation runs: start one (targets, cache bypass, budget), watch its
progress, cancel it, read its page (benchmark, tags, cases), compare two runs, pin a
baseline, and download a target's model card."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin
from unfold.decorators import action

from ragengine.admin.evaluation import page
from ragengine.admin.evaluation_forms import RunStartForm
from ragengine.evaluation.comparison import case_changes, summary_comparison
from ragengine.evaluation.model_card import model_card
from ragengine.evaluation.progress import run_progress
from ragengine.evaluation.run_page import run_page
from ragengine.evaluation.runs import RunError, run_cancel, run_start
from ragengine.models import EvalRun, EvalSet
from ragengine.services.answer_targets import TargetError, target_choices


@admin.register(EvalRun)
class EvalRunAdmin(ModelAdmin):
    list_display = (
        "run_link",
        "eval_set",
        "status",
        "progress_display",
        "targets_display",
        "flagged",
        "created_at",
    )
    list_filter = ("status", "eval_set", "flagged")
    list_select_related = ("eval_set",)
    date_hierarchy = "created_at"
    actions = ["compare_two", "cancel_runs", "pin_as_baseline"]
    actions_list = ["start_run"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("targets")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs start from the start page (they need targets)

    @admin.display(description="run", ordering="pk")
    def run_link(self, obj: EvalRun) -> str:
        url = reverse("admin:ragengine_evalrun_change", args=[obj.pk])
        return format_html('<a class="text-primary-600" href="{}">Run {}</a>', url, obj.pk)

    @admin.display(description="progress")
    def progress_display(self, obj: EvalRun) -> str:
        return run_progress(run=obj).describe()

    @admin.display(description="targets")
    def targets_display(self, obj: EvalRun) -> str:
        return ", ".join(t.spec for t in obj.targets.all())

    # --- the run page -------------------------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        run = get_object_or_404(EvalRun.objects.select_related("eval_set"), pk=object_id)
        report = run_page(run=run, failures_only=request.GET.get("failures") == "1")
        previous = (
            EvalRun.objects.filter(
                eval_set=run.eval_set, status="done", created_at__lt=run.created_at
            )
            .order_by("-created_at")
            .first()
        )
        return page(
            self,
            request,
            "run.html",
            f"Run {run.pk} of {run.eval_set}",
            report=report,
            run=run,
            previous=previous,
            can_change=self.has_change_permission(request),
        )

    def get_urls(self):
        own = [
            path(
                "<int:run_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="ragengine_evalrun_cancel",
            ),
            path(
                "compare/",
                self.admin_site.admin_view(self.compare_view),
                name="ragengine_evalrun_compare",
            ),
            path(
                "model-card/",
                self.admin_site.admin_view(self.model_card_view),
                name="ragengine_evalrun_model_card",
            ),
        ]
        return own + super().get_urls()

    # --- comparing, model cards ------------------------------------------------------------
    def compare_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        a = EvalRun.objects.filter(pk=_int(request.GET.get("a"))).select_related("eval_set").first()
        b = EvalRun.objects.filter(pk=_int(request.GET.get("b"))).select_related("eval_set").first()
        if a is None or b is None:
            self.message_user(request, "Pick two runs to compare.", messages.WARNING)
            return HttpResponseRedirect(reverse("admin:ragengine_evalrun_changelist"))
        if a.created_at > b.created_at:
            a, b = b, a  # before → after
        comparison = summary_comparison(before=a, after=b)
        verdict = request.GET.get("verdict", "")
        changes = case_changes(before=a, after=b)
        counts = Counter(c.verdict for c in changes)
        if verdict:
            changes = [c for c in changes if c.verdict == verdict]
        return page(
            self,
            request,
            "compare.html",
            f"Run {a.pk} → run {b.pk}",
            before=a,
            after=b,
            comparison=comparison,
            changes=changes,
            counts=sorted(counts.items()),
            verdict=verdict,
        )

    @admin.action(description="Compare the two selected runs", permissions=["view"])
    def compare_two(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        ids = list(queryset.order_by("created_at").values_list("pk", flat=True))
        if len(ids) != 2:
            self.message_user(request, "Pick exactly two runs to compare.", messages.WARNING)
            return None
        url = reverse("admin:ragengine_evalrun_compare")
        return HttpResponseRedirect(f"{url}?a={ids[0]}&b={ids[1]}")

    def model_card_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            card = model_card(spec=request.GET.get("target", ""))
        except TargetError as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(reverse("admin:ragengine_evalrun_changelist"))
        markdown = card.to_markdown()
        if request.GET.get("format") == "md":
            response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
            name = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in card.label)
            response["Content-Disposition"] = f'attachment; filename="model-card-{name}.md"'
            return response
        return page(
            self,
            request,
            "model_card.html",
            f"Model card: {card.label}",
            card=card,
            markdown=markdown,
        )

    # --- starting -----------------------------------------------------------------------
    @action(description="Start a run", icon="play_arrow", permissions=["change"])
    def start_run(self, request: HttpRequest) -> HttpResponse:
        eval_set = EvalSet.objects.filter(pk=request.GET.get("eval_set") or 0).first()
        choices = target_choices()
        form = RunStartForm(
            request.POST or None,
            target_choices=choices,
            initial={
                "eval_set": eval_set,
                "targets": ["extractive"],
                "use_cache": False,
                "budget_cap": settings.ARANDU_EVAL_BUDGET_CAP,
                "concurrency": settings.ARANDU_EVAL_CONCURRENCY,
            },
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                run = run_start(
                    eval_set=data["eval_set"],
                    specs=data["specs"],
                    use_cache=data["use_cache"],
                    budget_cap=data["budget_cap"],
                    concurrency=data["concurrency"],
                    judge_tier=data["judge_tier"],
                    created_by=request.user,
                )
            except RunError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, f"Run {run.pk} started.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:ragengine_evalrun_change", args=[run.pk])
                )
        return page(self, request, "run_start.html", "Start an evaluation run", form=form)

    # --- cancelling ---------------------------------------------------------------------
    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        run = get_object_or_404(EvalRun, pk=run_id)
        back = reverse("admin:ragengine_evalrun_change", args=[run.pk])
        if request.method == "POST":
            if run_cancel(run=run):
                self.message_user(request, f"Run {run.pk}: cancel requested.", messages.SUCCESS)
            else:
                self.message_user(request, f"Run {run.pk} had already finished.", messages.WARNING)
            return HttpResponseRedirect(back)
        return page(
            self,
            request,
            "cancel_confirmation.html",
            f"Cancel run {run.pk}?",
            runs=[run],
            back=back,
        )

    @admin.action(description="Cancel the selected runs", permissions=["change"])
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        runs = list(queryset)
        if request.POST.get("post") != "yes":
            return page(
                self,
                request,
                "cancel_confirmation.html",
                "Cancel these runs?",
                runs=runs,
                action="cancel_runs",
                back=reverse("admin:ragengine_evalrun_changelist"),
            )
        cancelled = sum(run_cancel(run=run) for run in runs)
        self.message_user(
            request,
            f"Cancel requested for {cancelled} run(s); {len(runs) - cancelled} had finished.",
            messages.SUCCESS,
        )
        return None

    @admin.action(
        description="Pin as the set's baseline (drift is measured against it)",
        permissions=["change"],
    )
    def pin_as_baseline(self, request: HttpRequest, queryset: QuerySet) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Pick exactly one run to pin.", messages.WARNING)
            return
        run = queryset.get()
        if run.status != "done":
            self.message_user(request, "Only a finished run can be a baseline.", messages.WARNING)
            return
        EvalSet.objects.filter(pk=run.eval_set_id).update(baseline_run=run)
        self.message_user(request, f"Run {run.pk} is now the baseline of {run.eval_set}.")


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
