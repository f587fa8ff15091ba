"""Admin for scheduled evaluations (kept in step with django-q2 schedules) and the
reports they leave for Slack, Discord and e-mail."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from ragengine.admin.evaluation_forms import EvalScheduleForm
from ragengine.evaluation.deliveries import reports_announce
from ragengine.evaluation.runs import RunError, run_start
from ragengine.evaluation.schedules import schedule_delete, schedule_sync
from ragengine.models import DeliveryStatus, EvalRun, EvalSchedule, ReportDelivery


@admin.register(EvalSchedule)
class EvalScheduleAdmin(ModelAdmin):
    form = EvalScheduleForm
    list_display = (
        "name",
        "eval_set",
        "when",
        "targets_display",
        "destinations",
        "enabled",
        "next_run",
        "last_run",
    )
    list_filter = ("enabled", "frequency", "eval_set")
    search_fields = ("name",)
    list_select_related = ("eval_set", "q_schedule")
    actions = ["run_now"]
    fieldsets = (
        (None, {"fields": ("name", "eval_set", "targets", "enabled")}),
        ("When", {"fields": ("frequency", "cron")}),
        ("How", {"fields": ("use_cache", "budget_cap")}),
        ("Report to", {"fields": ("slack_channel", "discord_channel", "email_to")}),
    )

    @admin.display(description="when")
    def when(self, obj: EvalSchedule) -> str:
        return obj.cron if obj.frequency == "cron" else obj.get_frequency_display()

    @admin.display(description="targets")
    def targets_display(self, obj: EvalSchedule) -> str:
        return ", ".join(obj.targets)

    @admin.display(description="report to")
    def destinations(self, obj: EvalSchedule) -> str:
        parts = []
        if obj.slack_channel:
            parts.append(f"Slack {obj.slack_channel}")
        if obj.discord_channel:
            parts.append(f"Discord {obj.discord_channel}")
        parts += obj.emails
        parts += [f"webhook {hook.name}" for hook in obj.webhooks.all()]  # admin → Webhooks
        return ", ".join(parts) or "nobody (runs only)"

    @admin.display(description="next run")
    def next_run(self, obj: EvalSchedule):
        return obj.q_schedule.next_run if obj.q_schedule else "—"

    @admin.display(description="last run")
    def last_run(self, obj: EvalSchedule) -> str:
        run = EvalRun.objects.filter(schedule=obj).order_by("-created_at").first()
        return f"run {run.pk} ({run.status})" if run else "—"

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        schedule_sync(schedule=obj)

    def delete_model(self, request, obj) -> None:
        schedule_delete(schedule=obj)

    def delete_queryset(self, request, queryset) -> None:
        for schedule in queryset:
            schedule_delete(schedule=schedule)

    @admin.action(description="Run the selected schedules now", permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for schedule in queryset.select_related("eval_set"):
            try:
                run = run_start(
                    eval_set=schedule.eval_set,
                    specs=list(schedule.targets),
                    use_cache=schedule.use_cache,
                    budget_cap=schedule.budget_cap,
                    schedule=schedule,
                    created_by=request.user,
                )
            except RunError as exc:
                self.message_user(request, f"{schedule}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{schedule}: run {run.pk} started.", messages.SUCCESS)


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ModelAdmin):
    """Read-only: which report went where, and why one failed."""

    list_display = ("created_at", "run", "channel", "destination", "status", "attempts", "error")
    list_filter = ("status", "channel")
    search_fields = ("destination", "error")
    list_select_related = ("run",)
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ragengine.change_reportdelivery")

    @admin.action(description="Send the selected reports again", permissions=["resend"])
    def send_again(self, request: HttpRequest, queryset: QuerySet) -> None:
        runs = {d.run for d in queryset.select_related("run")}
        queryset.exclude(status=DeliveryStatus.SENT).update(
            status=DeliveryStatus.PENDING, attempts=0, error=""
        )
        for run in runs:
            reports_announce(run=run)
        self.message_user(request, f"Reports of {len(runs)} run(s) offered again.")
