"""Admin for models and prices: provider endpoints (keys by env-var name only), the
per-model price table, and the usage ledger those prices are charged into (read-only)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from ragengine.admin.history import history_link, stage_timings
from ragengine.key_policy import configured_key_policy
from ragengine.models import ModelPrice, ProviderEndpoint, UsageRecord
from ragengine.selectors.usage import exclude_evaluation, only_evaluation, usage_summary


class SpendFilter(admin.SimpleListFilter):
    """People's questions, evaluation runs (whose ledger channel is eval:run:<id>) or the
    admin's playground (playground:<scope>)."""

    title = "asked by"
    parameter_name = "asked_by"

    def lookups(self, request, model_admin):
        return [
            ("people", "People"),
            ("evaluation", "Evaluation runs"),
            ("playground", "Playground"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "people":
            return exclude_evaluation(queryset).exclude(channel__startswith="playground:")
        if self.value() == "playground":
            return queryset.filter(channel__startswith="playground:")
        if self.value() == "evaluation":
            return only_evaluation(queryset)
        return queryset


@admin.register(ProviderEndpoint)
class ProviderEndpointAdmin(ModelAdmin):
    list_display = ("name", "kind", "base_url", "api_key_env", "timeout_s", "enabled")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "base_url")

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "api_key_env":
            allowed = ", ".join(configured_key_policy().allowed) or "none"
            field.help_text = (
                "Name of the environment variable holding the API key (never the key). "
                f"Allowed names: {allowed} (ARANDU_API_KEY_ENV_ALLOWED); Arandu's own "
                "secrets are never sent to a model server."
            )
        return field


@admin.register(ModelPrice)
class ModelPriceAdmin(ModelAdmin):
    list_display = ("model", "provider_kind", "input_per_million", "output_per_million", "currency")
    list_editable = ("input_per_million", "output_per_million")
    list_filter = ("provider_kind", "currency")
    search_fields = ("model",)


@admin.register(UsageRecord)
class UsageRecordAdmin(ModelAdmin):
    """The ledger, read-only; the change list shows totals for the current filters."""

    list_before_template = "admin/ragengine/usagerecord/totals.html"
    list_display = (
        "created_at",
        "member",
        "tier",
        "mode",
        "provider",
        "model",
        "arm",
        "tokens_in",
        "tokens_out",
        "cost",
        "cost_saved",
        "status",
        "question_link",
    )
    list_filter = (SpendFilter, "mode", "status", "tier", "provider", "model", "arm")
    search_fields = ("member__display_name", "request_id", "model")
    date_hierarchy = "created_at"
    list_select_related = ("member", "tier")

    exclude = ("latencies_ms",)  # shown as a table (latencies), not raw JSON
    readonly_fields = ("question_link", "latencies")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="question")
    def question_link(self, obj: UsageRecord) -> str:
        return history_link(obj.request_id)

    @admin.display(description="latency per stage")
    def latencies(self, obj: UsageRecord) -> str:
        return stage_timings(obj.latencies_ms)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["totals"] = usage_summary(rows=changelist.queryset)
        return response
