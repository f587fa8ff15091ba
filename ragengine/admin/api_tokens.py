"""Django admin for API tokens: create (the plain token is shown once), scope, revoke.

The plain token is rendered straight into the response to the creating request, never
kept in a message, the session or a cookie; only its hash is stored.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from unfold.admin import ModelAdmin

from ragengine.models import ApiScope, ApiToken, ApiTokenKind
from ragengine.services.api_tokens import api_token_issue, api_tokens_revoke


class ApiTokenForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[ApiScope.ASK],
        help_text="What the token may do.",
    )

    class Meta:
        model = ApiToken
        fields = ["name", "kind", "member", "scopes", "knowledge_sets", "rate_limit"]


@admin.register(ApiToken)
class ApiTokenAdmin(ModelAdmin):
    form = ApiTokenForm
    list_display = (
        "name",
        "kind",
        "member",
        "scopes_display",
        "display_prefix",
        "last_used_at",
        "state",
    )
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "lookup", "member__display_name")
    list_select_related = ("member",)
    filter_horizontal = ("knowledge_sets",)
    readonly_fields = ("display_prefix", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.display(description="scopes")
    def scopes_display(self, obj: ApiToken) -> str:
        return ", ".join(obj.scopes) or "none"

    @admin.display(description="token")
    def display_prefix(self, obj: ApiToken) -> str:
        return obj.display_prefix

    @admin.display(description="state")
    def state(self, obj: ApiToken) -> str:
        return f"revoked {obj.revoked_at:%Y-%m-%d %H:%M}" if obj.revoked_at else "live"

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        request._arandu_plain_token = api_token_issue(token=obj, created_by=request.user)

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue=None):
        plain = getattr(request, "_arandu_plain_token", None)
        if plain is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"API token “{obj.name}” created",
            "token": obj,
            "plain": plain,
            "is_service": obj.kind == ApiTokenKind.SERVICE,
        }
        response = TemplateResponse(request, "admin/ragengine/apitoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        live = list(queryset.filter(revoked_at__isnull=True))
        if request.POST.get("confirm") == "yes":
            count = api_tokens_revoke(tokens=live)
            self.message_user(
                request, f"{count} API token(s) revoked: requests with them are refused now."
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Revoke API tokens?",
            "tokens": live,
            "queryset": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/ragengine/apitoken/revoke_confirmation.html", context
        )
