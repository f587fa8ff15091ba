"""Fixtures for tests of what the doors deliver (evaluation reports, alerts): the fake
Slack Web API and the fake Discord API, with the settings pointing at them. Test modules
import them by name (a conftest only reaches its own directory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.botcore.discord.fake_api import FakeDiscordAPI
from tests.botcore.slack.fake_slack import FakeSlack


@pytest.fixture
def slack(settings) -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    settings.SLACK_API_URL, settings.SLACK_BOT_TOKEN = fake.api_url, "xoxb-test-token"
    yield fake
    fake.stop()


@pytest.fixture
def discord(settings) -> Iterator[FakeDiscordAPI]:
    fake = FakeDiscordAPI().start()
    settings.DISCORD_API_URL, settings.DISCORD_BOT_TOKEN = fake.base_url, "discord-test-token"
    yield fake
    fake.stop()
