"""Where discord.py sends its HTTP requests and opens its gateway connection.

discord.py has no per-client base URL: every REST call, webhook follow-up and interaction
callback builds its URL from the class attribute `discord.http.Route.BASE`. Pointing that
attribute at `settings.DISCORD_API_URL` is the only way to run the bot through a proxy or
against a local fake Discord API (the tests do), so the command calls `api_base_apply()`
before the client makes its first request.

The gateway does not follow by itself: in discord.py 2.7 (read against 2.7.1) a plain
`discord.Client` connects to the class attribute `DiscordWebSocket.DEFAULT_GATEWAY`
(wss://gateway.discord.gg) without asking the REST API, and falls back to it again when
Discord invalidates the session; there is no client option for it. `gateway_apply()`
points that attribute at `DISCORD_GATEWAY_URL`, or at the URL the configured API answers
to `GET /gateway/bot` (`gateway_discover()`, asked by the client at login). Otherwise a
bot pointed at a stand-in would still open the real gateway and send it the token.
"""

from __future__ import annotations

import logging

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import HTTPClient, Route
from django.conf import settings

logger = logging.getLogger(__name__)

GATEWAY_SCHEMES = ("ws", "wss")


class GatewayUnavailable(discord.DiscordException):
    """The configured API did not say where its gateway is."""


def api_base_apply(base_url: str | None = None) -> str:
    """Point discord.py's HTTP at `base_url` (default: settings.DISCORD_API_URL).

    Returns the previous base so callers (tests) can restore it.
    """
    previous = Route.BASE
    Route.BASE = (base_url if base_url is not None else settings.DISCORD_API_URL).rstrip("/")
    if previous != Route.BASE:
        logger.info("discord api base set", extra={"platform": "discord", "base": Route.BASE})
    return previous


def gateway_apply(url: str) -> str:
    """Open discord.py's gateway connections at `url` (a ws:// or wss:// URL): the first
    one and any after an invalidated session. Resumes go where Discord's READY said.

    Returns the previous URL so callers (tests) can restore it.
    """
    gateway = yarl.URL(url)
    if gateway.scheme not in GATEWAY_SCHEMES or not gateway.host:
        raise GatewayUnavailable(f"{url!r} is not a ws:// or wss:// gateway URL.")
    previous = str(DiscordWebSocket.DEFAULT_GATEWAY)
    DiscordWebSocket.DEFAULT_GATEWAY = gateway
    if previous != str(gateway):
        logger.info("discord gateway set", extra={"platform": "discord", "gateway": str(gateway)})
    return previous


async def gateway_discover(http: HTTPClient) -> str:
    """The gateway URL the configured API gives this bot (`GET /gateway/bot`)."""
    try:
        _, url, _ = await http.get_bot_gateway()
    except (discord.GatewayNotFound, aiohttp.ClientError, OSError) as exc:
        cause = exc.__cause__ or exc
        raise GatewayUnavailable(
            f"{Route.BASE} did not answer GET /gateway/bot ({cause}). Set "
            "DISCORD_GATEWAY_URL to the gateway's ws:// or wss:// URL, or point "
            "DISCORD_API_URL at an API that serves /gateway/bot."
        ) from exc
    if yarl.URL(url).scheme not in GATEWAY_SCHEMES:
        raise GatewayUnavailable(
            f"{Route.BASE}/gateway/bot answered {url!r}, not a ws:// or wss:// URL. Set "
            "DISCORD_GATEWAY_URL to the gateway's URL."
        )
    return url
