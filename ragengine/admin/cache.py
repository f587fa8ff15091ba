"""Django admin for the answer cache: TTL rules, cached answers (browse and purge) and the
hit/store events. Every delete goes through the cache services, so the Django-cache copies
go with the rows and a purged answer is never served again."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from unfold.admin import ModelAdmin

from ragengine.cache import cache_purge, cache_purge_entries
from ragengine.models import CachedAnswer, CacheEvent, CacheRule


def _report(modeladmin: admin.ModelAdmin, request: HttpRequest, count: int, what: str) -> None:
    modeladmin.message_user(
        request, f"Purged {count} cached answer{'s' if count != 1 else ''} ({what}).", messages.INFO
    )


@admin.register(CacheRule)
class CacheRuleAdmin(ModelAdmin):
    list_display = (
        "name",
        "category",
        "short_pattern",
        "ttl_seconds",
        "never_cache",
        "semantic_enabled",
        "priority",
        "enabled",
    )
    list_editable = ("ttl_seconds", "never_cache", "semantic_enabled", "priority", "enabled")
    list_filter = ("category", "enabled", "never_cache", "semantic_enabled")
    search_fields = ("name", "pattern")
    ordering = ("priority", "pk")
    actions = ["purge_rule_answers"]

    @admin.display(description="pattern")
    def short_pattern(self, obj: CacheRule) -> str:
        pattern = obj.pattern or f"(built-in {obj.get_category_display().lower()} pattern)"
        return (pattern[:60] + "…") if len(pattern) > 60 else pattern

    @admin.action(description="Purge the answers cached under the selected rules")
    def purge_rule_answers(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(cache_purge(rule_id=rule.pk) for rule in queryset)
        _report(self, request, count, "by rule")


class LiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "Live"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "live":
            return queryset.filter(expires_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(CachedAnswer)
class CachedAnswerAdmin(ModelAdmin):
    list_display = (
        "question",
        "model_family",
        "sets",
        "hits",
        "cost",
        "rule",
        "created_at",
        "expires_at",
        "last_hit_at",
    )
    list_filter = (LiveFilter, "model_family", "rule", "semantic_enabled")
    search_fields = ("question", "normalized_question")
    date_hierarchy = "created_at"
    list_select_related = ("rule",)
    exclude = ("embedding",)
    readonly_fields = (
        "key",
        "scope_digest",
        "question",
        "normalized_question",
        "scope_sets",
        "index_versions",
        "model_family",
        "semantic_enabled",
        "answer",
        "cost",
        "rule",
        "hits",
        "created_at",
        "expires_at",
        "last_hit_at",
    )
    actions = ["purge_selected", "purge_by_set", "purge_by_rule", "purge_all"]

    @admin.display(description="knowledge sets")
    def sets(self, obj: CachedAnswer) -> str:
        return ", ".join(str(s) for s in obj.scope_sets) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would leave Django-cache copies behind
        return actions

    def delete_model(self, request: HttpRequest, obj: CachedAnswer) -> None:
        cache_purge_entries(entry_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        cache_purge_entries(entry_ids=list(queryset.values_list("pk", flat=True)))

    @admin.action(description="Purge the selected cached answers", permissions=["delete"])
    def purge_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = cache_purge_entries(entry_ids=list(queryset.values_list("pk", flat=True)))
        _report(self, request, count, "selected")

    @admin.action(
        description="Purge every answer over the selected answers' knowledge sets",
        permissions=["delete"],
    )
    def purge_by_set(self, request: HttpRequest, queryset: QuerySet) -> None:
        rows = queryset.values_list("scope_sets", flat=True)
        set_ids = sorted({s for sets in rows for s in sets})
        count = sum(cache_purge(knowledge_set_id=s) for s in set_ids)
        _report(self, request, count, f"knowledge sets {', '.join(map(str, set_ids)) or '—'}")

    @admin.action(
        description="Purge every answer cached under the selected answers' rules",
        permissions=["delete"],
    )
    def purge_by_rule(self, request: HttpRequest, queryset: QuerySet) -> None:
        rule_ids = {r for r in queryset.values_list("rule_id", flat=True) if r is not None}
        count = sum(cache_purge(rule_id=r) for r in sorted(rule_ids))
        _report(self, request, count, "by rule; answers under the default TTL have no rule")

    @admin.action(description="Purge ALL cached answers", permissions=["delete"])
    def purge_all(self, request: HttpRequest, queryset: QuerySet) -> None:
        _report(self, request, cache_purge(everything=True), "all")


@admin.register(CacheEvent)
class CacheEventAdmin(ModelAdmin):
    """Read-only: the hit and store events the cache statistics come from."""

    list_display = ("created_at", "kind", "rule_name", "scope_sets", "cost_saved", "similarity")
    list_filter = ("kind", "rule_name")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
