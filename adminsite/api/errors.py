"""One error body for the whole API: `{"error": code, "detail": message, ...}`.

Validation errors add `fields` (DRF's per-field messages); throttling adds
`retry_after_s` (and the `Retry-After` header). Routes under /api/ that match no view, and
unexpected server errors there, answer JSON too (`api_not_found`, `api_server_error`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"error": code, "detail": detail, **extra}


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler (status, WWW-Authenticate, Retry-After) with our body."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response  # unexpected: Django's 500 handling (logging, Sentry) takes over
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", _summary(fields), fields=fields)
    elif isinstance(exc, exceptions.Throttled):
        wait = max(1, int(exc.wait or 1))
        response.data = error_body(
            "throttled",
            f"Too many requests with this API token; retry in {wait} s.",
            retry_after_s=wait,
        )
        response["Retry-After"] = str(wait)
    else:
        code = exc.get_codes()
        response.data = error_body(
            code if isinstance(code, str) else exc.default_code,
            str(exc.detail),
            **getattr(exc, "extra_body", {}),
        )
    return response


def _summary(fields: Any, path: str = "") -> str:
    """The first message, prefixed by where it is (`history[1].text: ...`)."""
    if isinstance(fields, dict):
        for key, value in fields.items():
            if value:
                where = key if not path else f"{path}.{key}"
                return _summary(value, "" if key == "non_field_errors" else where)
    if isinstance(fields, list):
        for index, value in enumerate(fields):
            if isinstance(value, (dict, list)) and value:
                return _summary(value, f"{path}[{index}]")
            if value and not isinstance(value, (dict, list)):
                return f"{path}: {value}" if path else str(value)
    return f"{path}: {fields}" if path else str(fields or "Invalid request.")


def api_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 404 page, but JSON under /api/."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            error_body("not_found", f"No API endpoint at {request.path}; see /api/v1/docs/."),
            status=404,
        )
    return defaults.page_not_found(request, exception)


def api_server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page, but JSON under /api/ (the error itself is logged by Django)."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(
            error_body("internal_error", "Something went wrong on the server; it was logged."),
            status=500,
        )
    return defaults.server_error(request)
