from __future__ import annotations

import pytest
from django.db import connection

from botcore.discord.api import api_base_apply
from tests.botcore.discord.fake_api import FakeDiscordAPI


@pytest.fixture
def discord_api():
    """A fake Discord HTTP API for this test; discord.py's Route.BASE points at it."""
    api = FakeDiscordAPI().start()
    previous = api_base_apply(api.base_url)
    try:
        yield api
    finally:
        api_base_apply(previous)
        api.stop()


@pytest.fixture
def asked(monkeypatch):
    """Spy on the conversation layer: every (Incoming, Outcome) the door produced."""
    from botcore import conversation

    real = conversation.answer_incoming
    calls: list[tuple] = []

    def spy(incoming, **kwargs):
        outcome = real(incoming, **kwargs)
        calls.append((incoming, outcome))
        return outcome

    monkeypatch.setattr(conversation, "answer_incoming", spy)
    return calls


@pytest.fixture(params=[(1, 1), (2,)], ids=["replayed-later", "replayed-at-once"])
def deliveries(request) -> tuple[int, ...]:
    """How the gateway delivers one event again: `copies` per burst, bursts in order
    (a burst's handlers run concurrently)."""
    if max(request.param) > 1 and connection.vendor == "sqlite":
        pytest.skip(
            "needs PostgreSQL: SQLite's in-memory test database refuses a second writer "
            "at once instead of queueing it, so there is no fair race"
        )
    return request.param
