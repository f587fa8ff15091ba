"""`manage.py rundiscordbot`: token check, API base and gateway, intents, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import signal

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route
from django.core.management import call_command
from django.core.management.base import CommandError

from botcore.discord.client import MESSAGE_CONTENT_HINT, AranduDiscordClient
from botcore.management.commands.rundiscordbot import Command

API_URL = "http://127.0.0.1:9/fake-discord/api/v10"
DISCORDS_GATEWAY = "wss://gateway.discord.gg/"


@pytest.fixture(autouse=True)
def _restore_route_base_and_gateway():
    previous, previous_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = previous, previous_gateway


@pytest.fixture
def started(monkeypatch, settings):
    """Patch the network start; records what the client looked like when it started."""
    settings.DISCORD_BOT_TOKEN = "  test-bot-token "
    settings.DISCORD_API_URL = API_URL
    seen: dict = {}

    async def fake_start(self, token, *, reconnect=True):
        seen.update(
            token=token,
            base=Route.BASE,
            gateway=str(DiscordWebSocket.DEFAULT_GATEWAY),
            intents=self.intents,
            client=self,
        )
        behaviour = seen.get("behaviour")
        if behaviour is not None:
            await behaviour(self)

    monkeypatch.setattr(AranduDiscordClient, "start", fake_start)
    return seen


def test_without_a_token_it_exits_with_a_clear_error(settings, capsys):
    settings.DISCORD_BOT_TOKEN = ""

    with pytest.raises(SystemExit) as exit_info:
        Command().run_from_argv(["manage.py", "rundiscordbot"])

    assert exit_info.value.code == 1
    assert "DISCORD_BOT_TOKEN is not set" in capsys.readouterr().err


def test_with_a_token_it_points_discord_py_at_the_api_url_and_starts(started):
    call_command("rundiscordbot")

    assert started["token"] == "test-bot-token"
    assert started["base"] == API_URL
    assert started["intents"].message_content and started["intents"].guilds
    assert started["intents"].messages and started["intents"].dm_messages
    assert not started["intents"].members  # only what the door needs
    assert started["client"].is_closed()  # closed on the way out
    assert started["client"].gateway_from_api  # asks API_URL where the gateway is


def test_discord_gateway_url_points_the_gateway_without_asking_the_api(started, settings):
    settings.DISCORD_GATEWAY_URL = "ws://127.0.0.1:9/fake-gateway"

    call_command("rundiscordbot")

    assert started["gateway"] == "ws://127.0.0.1:9/fake-gateway"
    assert not started["client"].gateway_from_api


def test_at_login_the_gateway_follows_the_configured_api(discord_api):
    """discord.py 2.7 would otherwise connect to wss://gateway.discord.gg whatever
    DISCORD_API_URL says."""
    discord_api.state.gateway_url = "ws://127.0.0.1:9/stand-in-gateway"

    async def log_in() -> None:
        client = AranduDiscordClient(gateway_from_api=True, sync_commands=False)
        async with client:
            await client.login("fake-bot-token")

    asyncio.run(log_in())

    assert discord_api.calls("GET", r"/gateway/bot")
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://127.0.0.1:9/stand-in-gateway"


@pytest.mark.parametrize(
    "answer",
    [pytest.param("", id="no-gateway-route"), pytest.param("https://x.test/", id="not-ws")],
)
def test_an_api_that_does_not_name_its_gateway_stops_the_bot_before_any_connection(
    discord_api, settings, answer
):
    """No falling back to Discord's gateway: a stand-in setup would hand it the token."""
    settings.DISCORD_BOT_TOKEN = "fake-bot-token"
    settings.DISCORD_API_URL = discord_api.base_url
    discord_api.state.gateway_url = answer

    with pytest.raises(CommandError, match="DISCORD_GATEWAY_URL"):
        call_command("rundiscordbot")

    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == DISCORDS_GATEWAY
    assert discord_api.calls("GET", r"/gateway/bot")


def test_refused_message_content_intent_gives_the_portal_hint(started, caplog):
    async def refuse(client):
        raise discord.PrivilegedIntentsRequired(None)

    started["behaviour"] = refuse

    with pytest.raises(CommandError, match="Message Content Intent"):
        call_command("rundiscordbot")

    assert any(r.getMessage() == MESSAGE_CONTENT_HINT for r in caplog.records)


def test_bad_token_is_a_clear_error(started):
    async def reject(client):
        raise discord.LoginFailure("Improper token has been passed.")

    started["behaviour"] = reject

    with pytest.raises(CommandError, match="refused DISCORD_BOT_TOKEN"):
        call_command("rundiscordbot")


def test_sigterm_closes_the_client_cleanly(started):
    async def serve_until_signalled(client):
        loop = asyncio.get_running_loop()
        # only signal once our handler is installed (the default would kill pytest)
        assert signal.SIGTERM in getattr(loop, "_signal_handlers", {})
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.Event().wait()  # a gateway connection that never ends by itself

    started["behaviour"] = serve_until_signalled

    call_command("rundiscordbot")

    assert started["client"].is_closed()
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, signal.default_int_handler)
