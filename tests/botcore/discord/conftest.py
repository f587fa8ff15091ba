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


@pytest.fixture
def guild_reads_every_set():
    """The test guild's admin switched on "answer from every set", and Ana belongs to it
    (as after a first question there), so unbound channels and her DMs read every set.
    Door tests that are not about scope answer from it."""
    from ragengine.services.members import member_resolve
    from tests.botcore.discord import payloads
    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory(
        platform="discord", external_id=str(payloads.GUILD_ID), answers_from_every_set=True
    )
    member_resolve(
        platform="discord", user_id=str(payloads.USER_ID), workspace_id=str(payloads.GUILD_ID)
    )
    return workspace
