"""Where discord.py sends its HTTP requests.

discord.py has no per-client base URL: every REST call, webhook follow-up and interaction
callback builds its URL from the class attribute `discord.http.Route.BASE`. Pointing that
attribute at `settings.DISCORD_API_URL` is the only way to run the bot through a proxy or
against a local fake Discord API (the tests do), so the command calls `api_base_apply()`
before the client makes its first request. The gateway URL follows, because the client
asks the REST API for it (`GET /gateway/bot`).
"""

from __future__ import annotations

import logging

from discord.http import Route
from django.conf import settings

logger = logging.getLogger(__name__)


def api_base_apply(base_url: str | None = None) -> str:
    """Point discord.py's HTTP at `base_url` (default: settings.DISCORD_API_URL).

    Returns the previous base so callers (tests) can restore it.
    """
    previous = Route.BASE
    Route.BASE = (base_url if base_url is not None else settings.DISCORD_API_URL).rstrip("/")
    if previous != Route.BASE:
        logger.info("discord api base set", extra={"platform": "discord", "base": Route.BASE})
    return previous
