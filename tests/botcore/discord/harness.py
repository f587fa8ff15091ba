"""Drive a real `AranduDiscordClient` the way the gateway would, against the fake API."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from botcore.discord.client import AranduDiscordClient
from tests.botcore.discord import payloads
from tests.botcore.discord.fake_api import FakeDiscordAPI

SETTLE_TIMEOUT_S = 30.0


async def settle(timeout: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until every task the dispatched event started (handlers, view callbacks,
    command invocations) has finished; fails the test after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            current = asyncio.current_task()
            pending = [
                t
                for t in asyncio.all_tasks()
                if t is not current and not t.done() and not _is_view_timer(t)
            ]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)


def _is_view_timer(task: asyncio.Task) -> bool:
    """discord.py's per-view expiry timer (a modal's 15 minutes): idle, not work."""
    return getattr(task.get_coro(), "__name__", "") == "__timeout_task_impl"


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Door:
    """A logged-in client (the fake API answers login and the command sync) that knows
    the guilds given to `start`.

    discord.py logs (and swallows) exceptions raised in event handlers and view callbacks;
    `close()` fails the test if any was logged, so a crashing handler can't pass unseen.
    """

    def __init__(self, api: FakeDiscordAPI) -> None:
        self.api = api
        self.client: AranduDiscordClient | None = None
        self._errors = _ErrorRecords()

    async def start(self, *, guilds: list[dict[str, Any]] | None = None) -> AranduDiscordClient:
        logging.getLogger("discord").addHandler(self._errors)
        client = AranduDiscordClient()
        await client.login("fake-bot-token")
        state = client._connection
        for guild in guilds if guilds is not None else [payloads.guild_create()]:
            state.parse_guild_create(guild)
        self.client = client
        await settle()
        return client

    async def message(self, data: dict[str, Any], *, copies: int = 1) -> None:
        """MESSAGE_CREATE: stored in the fake (for later history) and dispatched.

        `copies` > 1 delivers the same event that many times back to back, as the gateway
        does when it replays events after a resume: the handlers then run concurrently.
        """
        assert self.client is not None
        self.api.remember(data)
        for _ in range(copies):
            self.client._connection.parse_message_create(data)
        await settle()

    async def thread_create(self, data: dict[str, Any]) -> None:
        assert self.client is not None
        self.client._connection.parse_thread_create(data | {"newly_created": True})
        await settle()

    async def interaction(self, data: dict[str, Any], *, copies: int = 1) -> None:
        """INTERACTION_CREATE, routed by discord.py (CommandTree, DynamicItem, modals);
        `copies` as for `message`."""
        assert self.client is not None
        for _ in range(copies):
            self.client._connection.parse_interaction_create(data)
        await settle()

    async def close(self, *, check: bool = True) -> None:
        """Close the client (a "restart" is `close()` then `start()` again)."""
        if self.client is not None:
            await self.client.close()
            self.client = None
        logging.getLogger("discord").removeHandler(self._errors)
        errors = [r.getMessage() for r in self._errors.records]
        self._errors.records.clear()
        assert not check or not errors, f"discord.py logged errors: {errors}"

    async def __aenter__(self) -> Door:
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close(check=exc_type is None)


def replay(
    api: FakeDiscordAPI,
    *,
    messages: Sequence[dict[str, Any]] = (),
    interactions: Sequence[dict[str, Any]] = (),
    guilds: list[dict[str, Any]] | None = None,
) -> None:
    """Start a client knowing `guilds`, dispatch the MESSAGE_CREATE payloads, then the
    INTERACTION_CREATE ones, and close it (failing on any error discord.py logged)."""

    async def scenario() -> None:
        async with Door(api) as door:
            await door.start(guilds=guilds)
            for data in messages:
                await door.message(data)
            for data in interactions:
                await door.interaction(data)

    asyncio.run(scenario())
