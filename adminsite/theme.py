"""Small callbacks settings.UNFOLD names by import path (evaluated per request, after
the app registry and static files storage are ready)."""

from __future__ import annotations

from django.http import HttpRequest
from django.templatetags.static import static


def favicon_url(request: HttpRequest) -> str:
    return static("adminsite/favicon.svg")
