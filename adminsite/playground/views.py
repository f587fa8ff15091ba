"""The playground page: a form (GET) and its answers with their traces (POST, CSRF
checked). Questions go through `ragengine.services.playground`, which asks through the
same `ask()` as every door; nothing here decides scope, tiers or money."""

from __future__ import annotations

import logging

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from adminsite.playground.access import EVERY_SET_REFUSED, every_set_allowed, playground_allowed
from adminsite.playground.forms import PlaygroundForm
from adminsite.playground.render import answer_html
from adminsite.playground.trace_view import trace_view
from ragengine.admin.history import history_url
from ragengine.services.playground import (
    PlaygroundError,
    PlaygroundResult,
    PlaygroundScope,
    playground_ask,
    playground_scope,
    playground_target,
)

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "POST"])
def playground(request: HttpRequest) -> HttpResponse:
    if not playground_allowed(request.user):
        raise PermissionDenied("The playground needs staff access to the question history.")
    form = PlaygroundForm(request.POST if request.method == "POST" else None)
    columns: list[dict] = []
    error = ""
    refused = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if (
            data["member"] is None
            and data["binding"] is None
            and not every_set_allowed(request.user)
        ):
            refused, error = True, EVERY_SET_REFUSED
        else:
            columns, error = _ask_all(request, data)
    status = 403 if refused else 400 if request.method == "POST" and (form.errors or error) else 200
    context = {
        **admin.site.each_context(request),
        "title": "Playground",
        "form": form,
        "columns": columns,
        "error": error,
        "question": form.cleaned_data.get("question", "") if form.is_bound else "",
        "impersonated": form.cleaned_data.get("member") if form.is_bound else None,
    }
    return TemplateResponse(request, "admin/playground/playground.html", context, status=status)


def _ask_all(request: HttpRequest, data: dict) -> tuple[list[dict], str]:
    """One column per target (two when comparing); a bad target stops before any is
    asked, an engine failure is reported and logged."""
    member, binding = data["member"], data["binding"]
    try:
        scope = playground_scope(member=member, binding=binding)
        specs = [data["target"]] + ([data["compare"]] if data["compare"] else [])
        targets = [playground_target(spec=spec, member=member) for spec in specs]
    except PlaygroundError as exc:
        return [], str(exc)
    columns = []
    for index, target in enumerate(targets):
        try:
            result = playground_ask(
                question=data["question"],
                admin_name=request.user.get_username(),
                scope=scope,
                target=target,
                use_cache=data["use_cache"],
            )
        except PlaygroundError as exc:
            return columns, str(exc)
        except Exception as exc:
            logger.exception("playground question failed", extra={"target": target.spec})
            return columns, f"Asking {target.label} failed ({type(exc).__name__}); see the log."
        columns.append(_column(result, index=index, scope=scope))
    return columns, ""


def _column(result: PlaygroundResult, *, index: int, scope: PlaygroundScope) -> dict:
    answer = result.answer
    prefix = f"a{index}"
    return {
        "label": result.target_label,
        "answer": answer,
        "answer_html": answer_html(answer.text, prefix=prefix),
        "prefix": prefix,
        "scope_label": scope.label,
        "scope_origin": scope.origin,
        "trace": trace_view(result),
        "history_url": history_url(answer.request_id),
        "ledger_url": (
            reverse("admin:ragengine_usagerecord_change", args=[result.ledger.pk])
            if result.ledger is not None
            else ""
        ),
        "ledger": result.ledger,
    }
