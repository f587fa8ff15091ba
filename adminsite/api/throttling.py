"""Per-token request rates: the token's own `rate_limit`, else ARANDU_API_RATE.

Counts live in the Django cache (Redis when REDIS_URL is set, so every web process
shares them; per process with the local-memory cache).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from ragengine.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api-token"

    def __init__(self) -> None:
        """The rate depends on the token, so it is read per request (`allow_request`)."""

    def allow_request(self, request: Request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True  # no token: refused by authentication, never counted
        self.rate = token.rate_limit or settings.ARANDU_API_RATE
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
