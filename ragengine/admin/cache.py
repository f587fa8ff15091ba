"""Django admin for the answer cache: TTL rules, cached answers (browse and purge) and the
hit/store events. Every delete goes through the cache services, so the Django-cache copies
go with the rows and a purged answer is never served again. Every purge needs delete
permission on cached answers and asks for confirmation first (ragengine/admin_confirm.py).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from unfold.admin import ModelAdmin

from ragengine.admin.confirm import destructive_action
from ragengine.cache import cache_purge, cache_purge_entries
from ragengine.models import CachedAnswer, CacheEvent, CacheRule, KnowledgeSet
from ragengine.selectors.cache import cached_answers_to_purge


def _answers(count: int) -> str:
    return f"{count} cached answer{'s' if count != 1 else ''}"


def _report(modeladmin: admin.ModelAdmin, request: HttpRequest, count: int, what: str) -> None:
    modeladmin.message_user(request, f"Purged {_answers(count)} ({what}).", messages.INFO)


def _may_delete_cached_answers(request: HttpRequest) -> bool:
    opts = CachedAnswer._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('delete', opts)}")


def _set_ids(queryset: QuerySet) -> list[int]:
    return sorted({s for sets in queryset.values_list("scope_sets", flat=True) for s in sets})


def _rule_ids(queryset: QuerySet) -> list[int]:
    return sorted({r for r in queryset.values_list("rule_id", flat=True) if r is not None})


def _names(model, ids: list[int]) -> str:
    names = sorted(str(row) for row in model.objects.filter(pk__in=ids))
    return ", ".join(names) or "none"


def _by_rules(rule_ids: list[int]) -> str:
    count = cached_answers_to_purge(rule_ids=rule_ids)
    return (
        f"All answers stored under the rules {_names(CacheRule, rule_ids)} will be purged: "
        f"{_answers(count)}."
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

    def has_purge_permission(self, request: HttpRequest) -> bool:
        """Purging deletes cached answers: editing rules is not enough."""
        return _may_delete_cached_answers(request)

    @destructive_action(
        description="Purge the answers cached under the selected rules",
        permissions=["purge"],
        consequence=lambda modeladmin, request, queryset: _by_rules(
            sorted(queryset.values_list("pk", flat=True))
        ),
    )
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

    @destructive_action(
        description="Purge the selected cached answers",
        permissions=["delete"],
        consequence=lambda modeladmin, request, queryset: (
            f"{_answers(queryset.count())} will be purged."
        ),
    )
    def purge_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = cache_purge_entries(entry_ids=list(queryset.values_list("pk", flat=True)))
        _report(self, request, count, "selected")

    @destructive_action(
        description="Purge every answer over the selected answers' knowledge sets",
        permissions=["delete"],
        consequence=lambda modeladmin, request, queryset: (
            "All answers built over the knowledge sets "
            f"{_names(KnowledgeSet, _set_ids(queryset))} will be purged: "
            f"{_answers(cached_answers_to_purge(knowledge_set_ids=_set_ids(queryset)))}."
        ),
    )
    def purge_by_set(self, request: HttpRequest, queryset: QuerySet) -> None:
        set_ids = _set_ids(queryset)
        count = sum(cache_purge(knowledge_set_id=s) for s in set_ids)
        _report(self, request, count, f"knowledge sets {', '.join(map(str, set_ids)) or '—'}")

    @destructive_action(
        description="Purge every answer cached under the selected answers' rules",
        permissions=["delete"],
        consequence=lambda modeladmin, request, queryset: (
            _by_rules(_rule_ids(queryset))
            + " Answers cached under the default TTL have no rule and stay."
        ),
    )
    def purge_by_rule(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = sum(cache_purge(rule_id=r) for r in _rule_ids(queryset))
        _report(self, request, count, "by rule; answers under the default TTL have no rule")

    @destructive_action(
        description="Purge ALL cached answers",
        permissions=["delete"],
        consequence=lambda modeladmin, request, queryset: (
            f"ALL {_answers(cached_answers_to_purge(everything=True))} will be purged, "
            "whatever their knowledge sets or rules, not only the selected ones."
        ),
    )
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
