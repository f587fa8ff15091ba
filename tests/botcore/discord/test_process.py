"""`manage.py rundiscordbot` as an operator runs it offline: a real process whose REST
calls and gateway connection both go to local stand-ins because DISCORD_API_URL says so."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import discord
import pytest
from django.db import connection

from tests.botcore.discord import payloads
from tests.botcore.discord.fake_api import FakeDiscordAPI
from tests.botcore.discord.fake_gateway import FakeGateway

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "fake-bot-token"
WAIT_S = 30.0
OP_IDENTIFY, OP_RESUME = 2, 6
QUESTION = "How many vacation days do I get?"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gateway():
    gateway = FakeGateway().start()
    yield gateway
    gateway.stop()


@pytest.fixture
def stand_in_api(gateway):
    api = FakeDiscordAPI(gateway_url=gateway.url).start()
    yield api
    api.stop()


def database_url_for_child(tmp_path: Path) -> str:
    """This test's database for another process: PostgreSQL's test database as it is;
    SQLite's is in memory, so the child gets a copy in a file."""
    connection.ensure_connection()
    if connection.vendor == "sqlite":
        target = tmp_path / "bot.sqlite3"
        with closing(sqlite3.connect(target)) as copy:
            connection.connection.backup(copy)
        return f"sqlite:///{target}"
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    user = f"{quote(db['USER'], safe='')}{password}@" if db["USER"] else ""
    return f"postgres://{user}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def test_rundiscordbot_connects_to_the_gateway_its_api_names_and_answers_once(
    stand_in_api, gateway, handbook, guild_reads_every_set, settings, tmp_path
):
    """The bot is told only DISCORD_API_URL: it asks that API for the gateway, connects
    there, answers a mention from the handbook, and ignores the copy Discord replays after
    the session resumes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARANDU_", "DATABASE_URL", "SLACK_", "DISCORD_"))
    }
    env |= {
        "ARANDU_DATA_DIR": str(settings.ARANDU_DATA_DIR),  # the handbook's local store
        "DATABASE_URL": database_url_for_child(tmp_path),
        "DISCORD_BOT_TOKEN": TOKEN,
        "DISCORD_API_URL": stand_in_api.base_url,  # and nothing about a gateway
    }
    log = tmp_path / "bot.log"
    with log.open("w") as out:
        bot = subprocess.Popen(
            # under the suite's network guard: only loopback can be reached
            [sys.executable, "-m", "tests.network", "manage.py", "rundiscordbot"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def wait(condition):
        """`condition()` once it holds; falsy if it doesn't within WAIT_S or the bot exits
        (re-checked whenever the bot talks to the gateway, and every 0.2 s)."""
        gateway.wait_for(lambda: condition() or bot.poll() is not None, timeout=WAIT_S)
        return condition()

    try:
        assert wait(lambda: gateway.sent_by_client(OP_IDENTIFY)), log.read_text()
        (identify,) = gateway.sent_by_client(OP_IDENTIFY)
        assert identify["token"] == TOKEN
        assert identify["intents"] & discord.Intents(message_content=True).value
        (first_connection,) = gateway.connections
        assert first_connection == (
            "/",
            {"v": "10", "encoding": "json", "compress": "zlib-stream"},
        )
        assert stand_in_api.calls("GET", r"/gateway/bot")

        question_id = stand_in_api.next_id()
        question = payloads.mention_message(id=question_id, content=QUESTION)
        gateway.dispatch("MESSAGE_CREATE", question)
        assert wait(lambda: stand_in_api.posted_messages(question_id)), log.read_text()
        (answer,) = stand_in_api.posted_messages(question_id)  # in the thread it started
        assert "25 working days" in answer.body["content"], log.read_text()
        assert answer.body["embeds"][0]["title"] == "Sources"

        # Discord replays the message after the bot resumes its session
        gateway.reconnect(replay=[("MESSAGE_CREATE", question)])
        assert wait(lambda: "duplicate event ignored" in log.read_text()), log.read_text()
        assert gateway.sent_by_client(OP_RESUME)[0]["session_id"] == "fake-session-1"
        assert [path for path, _ in gateway.connections] == ["/", "/resume"]  # as READY said
    finally:
        bot.send_signal(signal.SIGTERM)
        try:
            exit_code = bot.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            bot.kill()
            raise

    output = log.read_text()
    threads = stand_in_api.calls("POST", r"/channels/\d+/messages/\d+/threads")
    assert [t.path for t in threads] == [
        f"/channels/{payloads.CHANNEL_ID}/messages/{question_id}/threads"
    ]
    assert len(stand_in_api.posted_messages(question_id)) == 1
    assert not stand_in_api.posted_messages(payloads.CHANNEL_ID)
    assert "only loopback is allowed" not in output  # nothing tried to reach discord.com
    assert exit_code == 0, output
