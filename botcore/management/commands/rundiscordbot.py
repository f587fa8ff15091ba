"""`manage.py rundiscordbot`: run the Discord bot until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import logging

import discord
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from botcore.discord.api import GatewayUnavailable, api_base_apply, gateway_apply
from botcore.discord.client import MESSAGE_CONTENT_HINT, AranduDiscordClient, client_run

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run the Discord bot (gateway connection): answers mentions, DMs, /ask and its own "
        "threads. Needs DISCORD_BOT_TOKEN and the Message Content intent."
    )

    def handle(self, *args, **options) -> None:
        token = settings.DISCORD_BOT_TOKEN.strip()
        if not token:
            raise CommandError(
                "DISCORD_BOT_TOKEN is not set. Create a bot in the Discord Developer Portal "
                "and put its token in the DISCORD_BOT_TOKEN environment variable."
            )
        # before any request or connection: see botcore.discord.api
        api_base_apply(settings.DISCORD_API_URL)
        gateway_url = settings.DISCORD_GATEWAY_URL
        if gateway_url:
            gateway_apply(gateway_url)
        client = AranduDiscordClient(gateway_from_api=not gateway_url)
        logger.info(
            "discord bot starting",
            extra={
                "platform": "discord",
                "api": settings.DISCORD_API_URL,
                "gateway": gateway_url or "from the api",
            },
        )
        try:
            asyncio.run(client_run(client, token=token))
        except discord.LoginFailure as exc:
            raise CommandError(f"Discord refused DISCORD_BOT_TOKEN: {exc}") from exc
        except GatewayUnavailable as exc:
            raise CommandError(str(exc)) from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise CommandError(MESSAGE_CONTENT_HINT) from exc
        logger.info("discord bot stopped", extra={"platform": "discord"})
