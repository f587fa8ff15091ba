"""The admin sidebar, grouped by what admins do rather than by Django app.

Every registered ModelAdmin belongs in exactly one group (a test holds the sidebar to
that, so a new model cannot be forgotten). Each person sees only the models they may
view; a group with nothing to show is left out.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.text import capfirst

from adminsite.playground.access import playground_allowed

# (group title, ((model label, Material Symbols icon), ...)), in sidebar order; an entry
# "page:<url name>" is a custom admin page (staff only), listed under PAGES' title.
GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Knowledge",
        (
            ("ragengine.KnowledgeSet", "library_books"),
            ("ragengine.Document", "description"),
            ("ragengine.Chunk", "notes"),
            ("ragengine.Source", "folder_open"),
            ("ragengine.SyncRun", "sync"),
        ),
    ),
    (
        "People & tiers",
        (
            ("ragengine.Member", "person"),
            ("ragengine.Workspace", "workspaces"),
            ("ragengine.Tier", "workspace_premium"),
            ("ragengine.ApiToken", "key"),
            ("auth.User", "admin_panel_settings"),
            ("auth.Group", "group"),
        ),
    ),
    (
        "Models & prices",
        (
            ("ragengine.ProviderEndpoint", "hub"),
            ("ragengine.ModelPrice", "sell"),
            ("ragengine.UsageRecord", "receipt_long"),
        ),
    ),
    (
        "Questions",
        (
            ("ragengine.QuestionRecord", "question_answer"),
            ("page:playground", "science"),
        ),
    ),
    (
        "Cache",
        (
            ("ragengine.CacheRule", "rule"),
            ("ragengine.CachedAnswer", "cached"),
            ("ragengine.CacheEvent", "history"),
        ),
    ),
    (
        "Evaluation",
        (
            ("ragengine.EvalSet", "checklist"),
            ("ragengine.EvalCase", "quiz"),
            ("ragengine.EvalRun", "monitoring"),
            ("ragengine.EvalSchedule", "event_repeat"),
            ("ragengine.ReportDelivery", "outgoing_mail"),
        ),
    ),
    (
        "Alerts",
        (
            ("ragengine.AlertRule", "notifications_active"),
            ("ragengine.AlertEvent", "crisis_alert"),
            ("ragengine.AlertDelivery", "send"),
            ("ragengine.Webhook", "webhook"),
            ("ragengine.WebhookAttempt", "sync_alt"),
            ("ragengine.ProviderCircuit", "electrical_services"),
        ),
    ),
    (
        "Chat doors",
        (
            ("ragengine.ChannelBinding", "forum"),
            ("ragengine.Feedback", "thumbs_up_down"),
        ),
    ),
    (
        "System",
        (
            ("ragengine.BlockedPattern", "block"),
            ("ragengine.EmbeddingCacheEntry", "memory"),
            ("django_q.Schedule", "schedule"),
            ("django_q.Success", "task_alt"),
            ("django_q.Failure", "error"),
            # registered by django-q2 only with the ORM broker (not with Redis)
            ("django_q.OrmQ", "pending_actions"),
        ),
    ),
)


def _page(request: HttpRequest, label: str) -> dict[str, Any] | None:
    """A custom page's entry, for those allowed to open it."""
    name = label.removeprefix("page:")
    pages = {"playground": ("Playground", playground_allowed)}
    title, allowed = pages[name]
    if not allowed(request.user):
        return None
    url = reverse(name)
    return {
        "name": title,
        "object_name": name,
        "admin_url": url,
        "add_url": None,
        "view_only": True,
    }


def navigation(request: HttpRequest) -> list[dict[str, Any]]:
    """Unfold's SIDEBAR["navigation"]: the groups, with the models `request.user` may view."""
    groups = []
    for title, entries in GROUPS:
        items = []
        for label, icon in entries:
            if label.startswith("page:"):
                page = _page(request, label)
                if page:
                    items.append({"title": page["name"], "icon": icon, "link": page["admin_url"]})
                continue
            model = apps.get_model(label)
            if not admin.site.is_registered(model):
                continue
            if not admin.site.get_model_admin(model).has_view_or_change_permission(request):
                continue
            opts = model._meta
            items.append(
                {
                    "title": capfirst(opts.verbose_name_plural),
                    "icon": icon,
                    "link": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
                }
            )
        if items:
            groups.append({"title": title, "separator": bool(groups), "items": items})
    return groups
