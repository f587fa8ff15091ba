"""Small callbacks settings.UNFOLD names by import path (evaluated per request, after
the app registry and static files storage are ready)."""

from __future__ import annotations

from django.http import HttpRequest
from django.templatetags.static import static


def favicon_url(request: HttpRequest) -> str:
    return static("adminsite/favicon.svg")


def site_url(request: HttpRequest) -> str | None:
    """The "View site" link for people logged in: "/" leads to the admin home. On the
    login page the link would only reload the login page, so it is left out there."""
    return "/" if request.user.is_authenticated else None
