"""Destructive admin actions: declared permissions, and a confirmation page before anything
happens.

`destructive_action` wraps an action so that the post from the change list only shows what
would happen, with a signed token bound to the action, the selection, the change list's
filters and the user. The action runs when that page is posted back with its token within
`CONFIRM_MAX_AGE_S`; a post without it, with a forged or stale one, or with one issued for
another action or selection shows the page again. (Django's own `delete_selected` works the
same way, with a plain `post=yes` instead of a token.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.contrib.admin import helpers
from django.core import signing
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

CONFIRM_FIELD = "confirm"
CONFIRM_MAX_AGE_S = 600
SHOWN_OBJECTS = 20
_SALT = "ragengine.admin.confirm"

Consequence = Callable[[admin.ModelAdmin, HttpRequest, QuerySet], str]


def destructive_action(
    *, description: str, permissions: Sequence[str], consequence: Consequence
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An admin action that needs `permissions` (as `@admin.action(permissions=...)`) and
    runs only once its confirmation page has been posted back. `consequence` says, in one
    sentence for that page, what the action is about to do to `queryset`."""
    if not permissions:
        raise ValueError("A destructive action must declare the permissions it needs.")

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        name = func.__name__

        @functools.wraps(func)
        def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet):
            token = request.POST.get(CONFIRM_FIELD, "")
            if token and _token_matches(token, _binding(request, action=name)):
                return func(modeladmin, request, queryset)
            return _confirmation_page(
                modeladmin,
                request,
                queryset,
                action=name,
                description=description,
                consequence=consequence(modeladmin, request, queryset),
                stale=bool(token),
            )

        action.asks_confirmation = True  # type: ignore[attr-defined]
        return admin.action(description=description, permissions=list(permissions))(action)

    return decorate


def _binding(request: HttpRequest, *, action: str) -> dict[str, Any]:
    """What a confirmation is for: this action, on these rows (or all matching the change
    list's filters), asked by this user."""
    return {
        "action": action,
        "selected": sorted(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)),
        "across": request.POST.get("select_across", "0") == "1",
        "path": request.get_full_path(),
        "user": request.user.pk,
    }


def _token_matches(token: str, binding: dict[str, Any]) -> bool:
    try:
        return signing.loads(token, salt=_SALT, max_age=CONFIRM_MAX_AGE_S) == binding
    except signing.BadSignature:  # tampered, or expired (SignatureExpired is one)
        return False


def _confirmation_page(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    description: str,
    consequence: str,
    stale: bool,
) -> TemplateResponse:
    binding = _binding(request, action=action)
    shown = list(queryset[: SHOWN_OBJECTS + 1])
    total = len(shown) if len(shown) <= SHOWN_OBJECTS else queryset.count()
    request.current_app = modeladmin.admin_site.name
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Are you sure?",
        "opts": modeladmin.model._meta,
        "description": description,
        "consequence": consequence,
        "objects": shown[:SHOWN_OBJECTS],
        "more": max(0, total - SHOWN_OBJECTS),
        "action_name": action,
        "selected": binding["selected"],
        "select_across": "1" if binding["across"] else "0",
        "confirm_field": CONFIRM_FIELD,
        "token": signing.dumps(binding, salt=_SALT),
        "stale": stale,
        "form_url": binding["path"],
    }
    return TemplateResponse(request, "admin/ragengine/confirm_action.html", context)
