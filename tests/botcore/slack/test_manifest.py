"""The app manifest the README tells admins to paste must match what the door handles."""

from __future__ import annotations

from pathlib import Path

import yaml

import botcore.slack

MANIFEST = Path(botcore.slack.__file__).with_name("manifest.yml")


def test_manifest_routes_everything_to_slack_events_and_asks_for_what_we_use():
    manifest = yaml.safe_load(MANIFEST.read_text())
    settings = manifest["settings"]
    (command,) = manifest["features"]["slash_commands"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        command["url"],
    ]
    assert all(url.endswith("/slack/events") for url in urls)
    assert command["command"] == "/ask"
    assert settings["interactivity"]["is_enabled"] is True
    assert {"app_mention", "message.im", "message.channels"} <= set(
        settings["event_subscriptions"]["bot_events"]
    )
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history", "channels:history"} <= (
        scopes
    )
    assert settings["socket_mode_enabled"] is True  # the README's default path
