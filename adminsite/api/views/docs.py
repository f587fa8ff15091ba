"""Responses every authenticated endpoint may give, for the OpenAPI schema."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from adminsite.api.serializers import ErrorSerializer

BAD_REQUEST = OpenApiResponse(ErrorSerializer, description="Invalid input, per field.")
UNAUTHORIZED = OpenApiResponse(ErrorSerializer, description="No token, or not a live one.")
FORBIDDEN = OpenApiResponse(
    ErrorSerializer, description="A scope, a knowledge set or the member is not allowed."
)
NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not among this token's sets.")
THROTTLED = OpenApiResponse(
    ErrorSerializer, description="Too many requests: `Retry-After` and `retry_after_s` say when."
)


def errors(*statuses: int) -> dict:
    table = {400: BAD_REQUEST, 401: UNAUTHORIZED, 403: FORBIDDEN, 404: NOT_FOUND, 429: THROTTLED}
    return {status: table[status] for status in statuses}
