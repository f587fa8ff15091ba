"""One request id per HTTP request: the caller's X-Request-ID when it is a sane id (a
proxy's or a client's, so their logs and ours join), else a new one; bound for the whole
request (ragengine.request_context) and returned in the response's X-Request-ID."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from ragengine.request_context import new_request_id, request_scope, sane_request_id

HEADER = "X-Request-ID"


def _door(path: str) -> str:
    if path.startswith("/slack/"):
        return "slack"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = sane_request_id(request.headers.get(HEADER)) or new_request_id()
        with request_scope(request_id, door=_door(request.path)):
            request.request_id = request_id
            response = self.get_response(request)
        response[HEADER] = request_id
        return response
