"""The Discord client: gateway events and the `/ask` command → `botcore.discord.answering`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import discord
from discord import app_commands

from botcore.discord.answering import answer_interaction, answer_message, message_route
from botcore.discord.api import gateway_apply, gateway_discover
from botcore.discord.claims import message_claim
from botcore.discord.feedback_view import FeedbackButton

logger = logging.getLogger(__name__)

MESSAGE_CONTENT_HINT = (
    "Discord refused the Message Content intent. Enable it for this bot in the Developer "
    "Portal (Applications → your app → Bot → Privileged Gateway Intents → Message Content "
    "Intent); without it the bot can't read questions in channels and threads."
)


def bot_intents() -> discord.Intents:
    """Default intents plus `message_content`.

    `message_content` is a privileged intent: it must be switched on in the Developer
    Portal, otherwise the gateway closes the connection (discord.PrivilegedIntentsRequired).
    Without it message text is empty except in DMs and messages that mention the bot, so
    follow-ups in the bot's threads could not be read.
    """
    intents = discord.Intents.default()
    intents.message_content = True
    return intents


class AranduDiscordClient(discord.Client):
    """Answers mentions, DMs, `/ask` and messages in the threads it started.

    "Its threads" is `thread.owner_id == client.user.id`, which Discord tells us in every
    thread object, so it survives restarts without any bookkeeping of our own.

    With `gateway_from_api` it asks the REST API where the gateway is at login, so the
    gateway follows `DISCORD_API_URL` (see `botcore.discord.api`).
    """

    def __init__(
        self,
        *,
        intents: discord.Intents | None = None,
        sync_commands: bool = True,
        gateway_from_api: bool = False,
        **options,
    ) -> None:
        super().__init__(intents=intents or bot_intents(), **options)
        self.sync_commands = sync_commands
        self.gateway_from_api = gateway_from_api
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="ask", description="Ask a question about the company's documents.")
        @app_commands.describe(question="What do you want to know?")
        async def ask_command(interaction: discord.Interaction, question: str) -> None:
            await answer_interaction(interaction, question)

    async def setup_hook(self) -> None:
        """Find the gateway (logged in, not yet connected), route 👍/👎 clicks on any
        earlier answer, and publish `/ask`.

        Syncing the global command tree at each start keeps Discord's copy in step with the
        code; Discord ignores an unchanged payload.
        """
        if self.gateway_from_api:
            gateway_apply(await gateway_discover(self.http))
        self.add_dynamic_items(FeedbackButton)
        if not self.sync_commands:
            return
        try:
            commands = await self.tree.sync()
        except discord.HTTPException:
            logger.exception("discord command sync failed", extra={"platform": "discord"})
        else:
            logger.info(
                "discord commands synced",
                extra={"platform": "discord", "commands": [c.name for c in commands]},
            )

    async def on_ready(self) -> None:
        logger.info(
            "discord client ready",
            extra={
                "platform": "discord",
                "user": str(self.user.id) if self.user else "",
                "guilds": len(self.guilds),
            },
        )

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None:
            return
        where = message_route(message, bot_user=self.user)
        if where is None or not await message_claim(message):
            return  # not for us, or a copy the gateway delivered again
        await answer_message(self, message, where)


async def client_run(client: discord.Client, *, token: str) -> None:
    """Log in and serve until the gateway stops, Ctrl-C or SIGTERM; then close cleanly
    (the HTTP session and the gateway connection), also on errors."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with client:
            serving = asyncio.create_task(client.start(token), name="discord-client")
            stopping = asyncio.create_task(stop.wait(), name="discord-stop")
            done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if serving in done:
                stopping.cancel()
                serving.result()  # re-raise login / intent errors
            else:
                logger.info("discord client stopping", extra={"platform": "discord"})
                await client.close()
                serving.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serving
    except discord.PrivilegedIntentsRequired:
        logger.error(MESSAGE_CONTENT_HINT, extra={"platform": "discord"})
        raise
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
