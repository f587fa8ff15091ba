"""Admin for alerts: rules with their destinations (and a test send), incidents, every
notice delivered, webhooks with every attempt, and the providers' circuits as last seen.
Incidents, deliveries, attempts and circuits are records: read-only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from unfold.admin import ModelAdmin, TabularInline

from ragengine.alerts.deliver import alert_test_send, alerts_announce
from ragengine.alerts.evaluate import alerts_evaluate
from ragengine.models import (
    AlertDelivery,
    AlertDestination,
    AlertEvent,
    AlertRule,
    AlertState,
    DeliveryStatus,
    ProviderCircuit,
    Webhook,
    WebhookAttempt,
)


class _ReadOnly:
    """A record admins look at, never edit (they may delete old ones)."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AlertDestinationInline(TabularInline):
    model = AlertDestination
    extra = 1
    fields = ("channel", "target", "webhook")
    autocomplete_fields = ("webhook",)


@admin.register(AlertRule)
class AlertRuleAdmin(ModelAdmin):
    list_display = (
        "name",
        "kind",
        "condition",
        "tier",
        "destinations_display",
        "enabled",
        "state",
    )
    list_filter = ("enabled", "kind", "tier")
    list_editable = ("enabled",)
    search_fields = ("name",)
    list_select_related = ("tier",)
    inlines = [AlertDestinationInline]
    actions = ["send_test_alert", "evaluate_now"]
    fieldsets = (
        (None, {"fields": ("name", "kind", "enabled")}),
        ("Condition", {"fields": ("threshold", "window_minutes", "min_questions")}),
        ("Scope", {"fields": ("tier", "provider")}),
        ("Noise", {"fields": ("cooldown_minutes",)}),
    )

    @admin.display(description="fires at")
    def condition(self, obj: AlertRule) -> str:
        unit = {
            "spend_daily": "% of the daily budget",
            "spend_monthly": "% of the monthly budget",
            "error_rate": f"% errors over {obj.window_minutes} min",
            "latency_p95": f" ms p95 over {obj.window_minutes} min",
            "ingestion_failures": f" failed documents in {obj.window_minutes} min",
        }.get(obj.kind)
        if unit is None:
            return obj.provider or "any provider" if obj.kind == "circuit_open" else "—"
        value = max(1.0, obj.threshold) if obj.kind == "ingestion_failures" else obj.threshold
        return f"{value:g}{unit}"

    @admin.display(description="sent to")
    def destinations_display(self, obj: AlertRule) -> str:
        return ", ".join(str(d) for d in obj.destinations.all()) or "nobody"

    @admin.display(description="now")
    def state(self, obj: AlertRule) -> str:
        firing = obj.events.filter(state=AlertState.FIRING, is_test=False).first()
        return f"🚨 firing since {firing.started_at:%Y-%m-%d %H:%M}" if firing else "ok"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("destinations__webhook")

    @admin.action(
        description="Send a test alert to the selected rules' destinations", permissions=["change"]
    )
    def send_test_alert(self, request: HttpRequest, queryset: QuerySet) -> None:
        for rule in queryset:
            if not rule.destinations.exists():
                self.message_user(
                    request, f"{rule}: no destinations to test.", level=messages.WARNING
                )
                continue
            event = alert_test_send(rule=rule)
            outcomes = list(event.deliveries.values_list("channel", "destination", "status"))
            failed = [f"{c} {d}" for c, d, s in outcomes if s != DeliveryStatus.SENT]
            level = messages.WARNING if failed else messages.SUCCESS
            summary = f"{rule}: test sent to {len(outcomes) - len(failed)} of {len(outcomes)}"
            if failed:
                summary += f"; not (yet) sent: {', '.join(failed)} — see Alert deliveries"
            self.message_user(request, summary + ".", level=level)

    @admin.action(description="Evaluate every enabled rule now", permissions=["change"])
    def evaluate_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        summary = alerts_evaluate(now=timezone.now())
        self.message_user(
            request,
            f"Fired: {', '.join(summary.fired) or 'none'}; resolved: "
            f"{', '.join(summary.resolved) or 'none'}; held by the cool-down: "
            f"{', '.join(summary.suppressed) or 'none'}"
            + (f"; could not measure: {', '.join(summary.failed)}" if summary.failed else ""),
        )


class AlertDeliveryInline(_ReadOnly, TabularInline):
    model = AlertDelivery
    extra = 0
    hide_title = True
    can_delete = False
    fields = ("notice", "channel", "destination", "status", "attempts", "error", "sent_at")
    readonly_fields = fields


@admin.register(AlertEvent)
class AlertEventAdmin(_ReadOnly, ModelAdmin):
    list_display = (
        "rule",
        "state",
        "started_at",
        "resolved_at",
        "what",
        "last_value",
        "announced",
        "is_test",
    )
    list_filter = ("state", "announced", "is_test", "rule")
    search_fields = ("rule__name", "message")
    list_select_related = ("rule",)
    date_hierarchy = "started_at"
    inlines = [AlertDeliveryInline]
    readonly_fields = (
        "rule",
        "state",
        "started_at",
        "resolved_at",
        "last_checked_at",
        "first_value",
        "last_value",
        "message",
        "announced",
        "is_test",
    )

    @admin.display(description="what")
    def what(self, obj: AlertEvent) -> str:
        return obj.message.splitlines()[0][:140] if obj.message else ""


class WebhookAttemptInline(_ReadOnly, TabularInline):
    model = WebhookAttempt
    fk_name = "alert_delivery"
    extra = 0
    hide_title = True
    can_delete = False
    fields = ("attempt", "status_code", "error", "duration_ms", "created_at")
    readonly_fields = fields


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(_ReadOnly, ModelAdmin):
    list_display = (
        "event",
        "notice",
        "channel",
        "destination",
        "status",
        "attempts",
        "error_short",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "channel", "notice")
    search_fields = ("destination", "error", "event__rule__name")
    list_select_related = ("event__rule",)
    inlines = [WebhookAttemptInline]
    actions = ["retry"]
    readonly_fields = (
        "event",
        "notice",
        "channel",
        "destination",
        "status",
        "attempts",
        "error",
        "created_at",
        "sent_at",
    )

    @admin.display(description="error")
    def error_short(self, obj: AlertDelivery) -> str:
        return obj.error[:120]

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ragengine.view_alertdelivery")

    @admin.action(description="Send the selected failed notices again", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        failed = queryset.exclude(status=DeliveryStatus.SENT)
        events = {d.event for d in failed.select_related("event")}
        count = failed.update(status=DeliveryStatus.PENDING, attempts=0)
        for event in events:
            alerts_announce(event=event)
        self.message_user(request, f"{count} notice(s) offered again.")


class WebhookAttemptsOfWebhook(_ReadOnly, TabularInline):
    model = WebhookAttempt
    fk_name = "webhook"
    extra = 0
    hide_title = True
    can_delete = False
    max_num = 0
    fields = ("created_at", "attempt", "status_code", "error", "duration_ms")
    readonly_fields = fields
    ordering = ("-created_at",)
    verbose_name_plural = "attempts"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        latest = list(queryset.order_by("-created_at", "-pk").values_list("pk", flat=True)[:20])
        return queryset.filter(pk__in=latest)


@admin.register(Webhook)
class WebhookAdmin(ModelAdmin):
    list_display = ("name", "url", "secret_env", "enabled", "last_attempt")
    list_filter = ("enabled",)
    search_fields = ("name", "url")
    filter_horizontal = ("eval_schedules",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [WebhookAttemptsOfWebhook]
    fieldsets = (
        (None, {"fields": ("name", "url", "secret_env", "enabled")}),
        ("Delivery", {"fields": ("max_attempts", "timeout_s")}),
        ("Evaluation reports", {"fields": ("eval_schedules",)}),
    )

    @admin.display(description="last attempt")
    def last_attempt(self, obj: Webhook) -> str:
        attempt = obj.attempts.order_by("-created_at", "-pk").first()
        if attempt is None:
            return "—"
        outcome = attempt.status_code or attempt.error[:60]
        return f"{attempt.created_at:%Y-%m-%d %H:%M}: {outcome}"


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(_ReadOnly, ModelAdmin):
    list_display = (
        "created_at",
        "webhook",
        "attempt",
        "status_code",
        "error_short",
        "duration_ms",
        "alert_delivery",
        "report_delivery",
    )
    list_filter = ("webhook", "status_code")
    search_fields = ("error",)
    list_select_related = ("webhook", "alert_delivery", "report_delivery")
    readonly_fields = (
        "webhook",
        "alert_delivery",
        "report_delivery",
        "attempt",
        "status_code",
        "error",
        "duration_ms",
        "created_at",
    )

    @admin.display(description="error")
    def error_short(self, obj: WebhookAttempt) -> str:
        return obj.error[:120]


@admin.register(ProviderCircuit)
class ProviderCircuitAdmin(_ReadOnly, ModelAdmin):
    list_display = ("name", "state", "changed_at", "failures")
    list_filter = ("state",)
    search_fields = ("name",)
    readonly_fields = ("name", "state", "changed_at", "failures")
