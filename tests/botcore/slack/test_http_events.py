"""Events through the real /slack/events view and the real Bolt app, against the fake
Web API. Work runs inline (workers=0), so each POST returns after the answer is posted."""

from __future__ import annotations

import logging
import time

import pytest

from botcore.events import thread_is_ours
from botcore.models import HandledEvent
from botcore.slack import handlers
from ragengine.ask_types import Turn
from ragengine.models import Document, Tier, UsageRecord
from tests.botcore.slack.conftest import (
    CHANNEL_ID,
    QUESTION,
    USER_ID,
    SlackSender,
    mention,
    message,
)
from tests.botcore.slack.fake_slack import BOT_ID, BOT_USER_ID, TEAM_ID

# Door work calls close_old_connections(), which ends a test-wrapping transaction on
# PostgreSQL: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)

MENTION_TS = "1699990000.000100"


def all_text(blocks: list[dict]) -> str:
    parts = []
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        for element in block.get("elements", []):
            text = element.get("text")
            parts.append(text["text"] if isinstance(text, dict) else str(text or ""))
    return "\n".join(parts)


def actions_blocks(blocks: list[dict]) -> list[dict]:
    return [b for b in blocks if b["type"] == "actions"]


def handbook_title() -> str:
    return Document.objects.get(source__endswith="employee-handbook.md").title


def test_mention_posts_a_placeholder_in_thread_then_the_answer_with_sources(
    slack, fake_slack, handbook, team_reads_every_set
):
    response = slack.event(mention())

    assert response.status_code == 200
    posts, updates = fake_slack.calls("chat.postMessage"), fake_slack.calls("chat.update")
    assert len(posts) == 1 and len(updates) == 1
    placeholder = posts[0].body
    assert placeholder["channel"] == CHANNEL_ID
    assert placeholder["thread_ts"] == MENTION_TS
    assert "Looking that up" in placeholder["text"]
    update = updates[0].body
    assert update["channel"] == CHANNEL_ID
    assert update["ts"] == fake_slack.threads[(CHANNEL_ID, MENTION_TS)][0]["ts"]
    blocks = update["blocks"]
    text = all_text(blocks)
    assert "25 working days" in text and "[1]" in text
    sources = [b for b in blocks if b.get("block_id", "").startswith("sources-")]
    assert sources and sources[0]["text"]["text"].startswith("*Sources*")
    assert "[1] *" in sources[0]["text"]["text"]
    assert handbook_title() in sources[0]["text"]["text"]
    (actions,) = actions_blocks(blocks)
    buttons = {e["action_id"]: e["value"] for e in actions["elements"]}
    assert set(buttons) == {"feedback_up", "feedback_down"}
    request_id = buttons["feedback_up"]
    assert buttons["feedback_down"] == request_id
    assert UsageRecord.objects.filter(request_id=request_id).exists()
    assert update["text"] and len(update["text"]) <= 200  # notification fallback
    assert thread_is_ours(platform="slack", channel_id=CHANNEL_ID, thread_id=MENTION_TS)


def test_retried_event_is_answered_once(slack, fake_slack, handbook, team_reads_every_set):
    first = slack.event(mention(), event_id="Ev-retry")
    retry = slack.event(mention(), event_id="Ev-retry", retry=1)

    assert first.status_code == retry.status_code == 200
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert len(fake_slack.calls("chat.update")) == 1
    assert HandledEvent.objects.filter(platform="slack", event_id="Ev-retry").count() == 1


def test_forged_signature_is_rejected_before_anything_runs(slack, fake_slack):
    response = slack.event(mention(), secret="not-the-signing-secret")

    assert response.status_code == 401
    assert fake_slack.requests == []
    assert not HandledEvent.objects.exists()


def test_stale_request_is_rejected(slack, fake_slack):
    response = slack.event(mention(), timestamp=int(time.time()) - 6 * 60)

    assert response.status_code == 401
    assert fake_slack.requests == []
    assert not HandledEvent.objects.exists()


def test_unconfigured_door_answers_404_with_a_clear_message(client, settings):
    settings.SLACK_BOT_TOKEN = ""
    settings.SLACK_SIGNING_SECRET = ""

    response = client.post("/slack/events", data="{}", content_type="application/json")

    assert response.status_code == 404
    assert "SLACK_BOT_TOKEN" in response.json()["message"]


def test_endpoint_is_post_only(slack):
    assert slack.client.get("/slack/events").status_code == 405


def test_url_verification_challenge_is_answered(slack):
    import json

    body = json.dumps({"token": "legacy", "challenge": "abc123", "type": "url_verification"})
    response = slack.post(body, content_type="application/json")

    assert response.status_code == 200
    assert response.json() == {"challenge": "abc123"}


def test_follow_up_in_our_thread_gets_thread_history(
    slack, fake_slack, handbook, team_reads_every_set, monkeypatch
):
    seen: list = []
    real = handlers.answer_incoming

    def spy(incoming, **kwargs):
        seen.append(incoming)
        return real(incoming, **kwargs)

    monkeypatch.setattr(handlers, "answer_incoming", spy)
    fake_slack.add_thread_message(
        CHANNEL_ID,
        MENTION_TS,
        {"user": USER_ID, "text": f"<@{BOT_USER_ID}> {QUESTION}", "ts": MENTION_TS},
    )
    slack.event(mention())
    first_answer_ts = fake_slack.calls("chat.postMessage")[0]
    follow_up_ts = "1699990100.000100"
    follow_up = "Can I carry &amp; keep unused days?"
    fake_slack.add_thread_message(
        CHANNEL_ID, MENTION_TS, {"user": USER_ID, "text": follow_up, "ts": follow_up_ts}
    )
    fake_slack.clear()

    response = slack.event(message(follow_up, ts=follow_up_ts, thread_ts=MENTION_TS))

    assert response.status_code == 200
    assert first_answer_ts
    assert len(seen) == 2
    incoming = seen[1]
    assert incoming.text == "Can I carry &amp; keep unused days?"  # as Slack sent it
    assert [t.role for t in incoming.history] == ["user", "assistant"]
    assert incoming.history[0] == Turn(role="user", text=QUESTION)
    assert "25 working days" in incoming.history[1].text
    assert "Looking that up" not in " ".join(t.text for t in incoming.history)
    (replies,) = fake_slack.calls("conversations.replies")
    assert replies.body["ts"] == MENTION_TS
    (post,) = fake_slack.calls("chat.postMessage")
    assert post.body["thread_ts"] == MENTION_TS
    assert len(fake_slack.calls("chat.update")) == 1


def test_history_keeps_only_the_last_configured_turns(
    slack, fake_slack, handbook, team_reads_every_set, monkeypatch, settings
):
    settings.ARANDU_BOT_HISTORY_TURNS = 1
    seen: list = []
    real = handlers.answer_incoming
    monkeypatch.setattr(
        handlers,
        "answer_incoming",
        lambda incoming, **kw: seen.append(incoming) or real(incoming, **kw),
    )
    slack.event(mention())
    fake_slack.add_thread_message(
        CHANNEL_ID, MENTION_TS, {"user": USER_ID, "text": "more?", "ts": "9.1"}
    )

    slack.event(message("What about sick days?", ts="9.2", thread_ts=MENTION_TS))

    assert [t.role for t in seen[-1].history] == ["user"]
    assert seen[-1].history[0].text == "more?"


def test_follow_up_in_a_thread_that_is_not_ours_posts_nothing(
    slack, fake_slack, handbook, team_reads_every_set
):
    response = slack.event(
        message("What about sick days?", ts="2.2", thread_ts="1699000000.000001")
    )

    assert response.status_code == 200
    assert fake_slack.requests == []
    assert not HandledEvent.objects.exists()


def test_direct_message_is_answered(slack, fake_slack, handbook, team_reads_every_set):
    response = slack.event(message(QUESTION, channel="D0DIRECT", channel_type="im"))

    assert response.status_code == 200
    (post,) = fake_slack.calls("chat.postMessage")
    assert post.body["channel"] == "D0DIRECT"
    (update,) = fake_slack.calls("chat.update")
    assert "25 working days" in all_text(update.body["blocks"])


@pytest.mark.parametrize(
    "event",
    [
        # the bot's own message (Bolt and the door both drop it)
        message(QUESTION, channel="D0DIRECT", channel_type="im", user=BOT_USER_ID, bot_id=BOT_ID),
        # another bot
        message(QUESTION, channel="D0DIRECT", channel_type="im", user="U0OTHERBOT", bot_id="B9"),
        message(
            QUESTION, channel="D0DIRECT", channel_type="im", subtype="bot_message", bot_id="B9"
        ),
        # a channel message mentioning the bot: the app_mention event answers it
        message(f"<@{BOT_USER_ID}> {QUESTION}"),
        message(f"<@{BOT_USER_ID}> {QUESTION}", thread_ts=MENTION_TS),
        # edits and deletions
        message(QUESTION, channel_type="im", subtype="message_changed"),
        message(QUESTION, channel_type="im", subtype="message_deleted"),
        # a plain channel message, not in a thread
        message(QUESTION),
        # "im" on a channel id: the id says it is a channel, so no answer without a mention
        message(QUESTION, channel_type="im"),
    ],
    ids=[
        "own",
        "other-bot",
        "bot_message",
        "mention-as-message",
        "mention-in-thread",
        "changed",
        "deleted",
        "plain",
        "im-type-on-a-channel-id",
    ],
)
def test_messages_the_bot_must_not_answer(slack, fake_slack, event):
    from botcore.events import thread_remember

    thread_remember(platform="slack", channel_id=CHANNEL_ID, thread_id=MENTION_TS)

    response = slack.event(event)

    assert response.status_code == 200
    assert fake_slack.requests == []


def test_empty_mention_and_help_get_the_help_text(slack, fake_slack):
    slack.event(mention(""))
    slack.event(mention("help", ts="1699990000.000900"))

    posts = fake_slack.calls("chat.postMessage")
    assert len(posts) == 2
    assert all("numbered sources" in p.body["text"] for p in posts)
    assert fake_slack.calls("chat.update") == []


def test_channel_bound_to_one_set_never_cites_another(
    slack, fake_slack, handbook, team_reads_every_set, tmp_path
):
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create
    from tests.factories import ChannelBindingFactory

    other_dir = tmp_path / "contractors"
    other_dir.mkdir()
    (other_dir / "contractor-terms.md").write_text(
        "# Contractor Terms\n\n## Vacation days\n\n"
        "How many vacation days do I get? Contractors get 40 vacation days per year.\n"
    )
    contractors = knowledge_set_get_or_create(name="contractors")
    documents_ingest_paths(paths=[other_dir], knowledge_set=contractors)
    ChannelBindingFactory(channel_id=CHANNEL_ID, sets=[handbook])

    slack.event(mention())
    slack.event(mention(channel="C0UNBOUND", ts="1699990000.000500"))

    bound, unbound = (u.body["blocks"] for u in fake_slack.calls("chat.update"))
    assert handbook_title() in all_text(bound)
    assert "Contractor Terms" not in all_text(bound)
    assert "40 vacation days" not in all_text(bound)
    # the same question elsewhere does find the other set, so the binding made the difference
    assert "Contractor Terms" in all_text(unbound)


@pytest.mark.parametrize(
    "question",
    ["How many vacation days \ud83d do I get?", "How many vacation\x00 days do I get?"],
    ids=["half-an-emoji", "nul"],
)
def test_unreadable_characters_get_the_validation_message_not_an_apology(
    slack, fake_slack, handbook, question
):
    response = slack.event(mention(question))  # JSON carries "\ud83d" / "\u0000" escapes

    assert response.status_code == 200
    (update,) = fake_slack.calls("chat.update")
    text = all_text(update.body["blocks"])
    assert "can't be read" in text and "Please retype it" in text
    assert "Sorry" not in text
    assert actions_blocks(update.body["blocks"]) == []
    assert not UsageRecord.objects.exists()


def test_rate_limited_answer_is_friendly_text_without_buttons(slack, fake_slack, handbook):
    from tests.factories import WorkspaceFactory

    limited = Tier.objects.create(name="limited", questions_per_hour=0)
    WorkspaceFactory(
        platform="slack", external_id=TEAM_ID, default_tier=limited, answers_from_every_set=True
    )

    slack.event(mention())

    (update,) = fake_slack.calls("chat.update")
    blocks = update.body["blocks"]
    assert "limit of 0 questions per hour" in all_text(blocks)
    assert actions_blocks(blocks) == []
    assert not any(b.get("block_id", "").startswith("sources-") for b in blocks)


def test_unexpected_error_becomes_an_apology_naming_the_logged_request_id(
    slack, fake_slack, monkeypatch, caplog
):
    import botcore.conversation

    def broken(**kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(botcore.conversation, "ask", broken)
    with caplog.at_level(logging.INFO):
        slack.event(mention())

    (update,) = fake_slack.calls("chat.update")
    text = all_text(update.body["blocks"])
    failures = [r for r in caplog.records if r.getMessage() == "door question failed"]
    assert len(failures) == 1
    request_id = failures[0].request_id
    assert request_id and request_id in text
    assert "Sorry" in text
    assert actions_blocks(update.body["blocks"]) == []
    accepted = [r for r in caplog.records if r.getMessage() == "slack event accepted"]
    assert [r.request_id for r in accepted] == [request_id]
    assert accepted[0].event_type == "app_mention" and accepted[0].ack_ms is not None


def test_slack_api_errors_are_logged_and_never_crash_the_job(
    slack, fake_slack, handbook, team_reads_every_set, caplog
):
    fake_slack.errors["chat.postMessage"] = "not_in_channel"

    with caplog.at_level(logging.WARNING):
        response = slack.event(mention())

    assert response.status_code == 200
    # the placeholder failed, so the answer itself is tried once (and fails the same way)
    assert len(fake_slack.calls("chat.postMessage")) == 2
    failures = [r for r in caplog.records if r.getMessage() == "slack api call failed"]
    assert failures and all(r.error == "not_in_channel" and r.request_id for r in failures)


def test_streaming_edits_the_placeholder_then_posts_the_full_answer(
    slack, fake_slack, handbook, team_reads_every_set, monkeypatch
):
    real = handlers.answer_incoming

    def streaming(incoming, *, on_text=None):
        assert on_text is not None
        for text in ("Employees get", "Employees get **25**", "Employees get **25** days [1]"):
            on_text(text)
        return real(incoming, on_text=on_text)

    monkeypatch.setattr(handlers, "answer_incoming", streaming)

    slack.event(mention())

    updates = [u.body for u in fake_slack.calls("chat.update")]
    assert [u.get("text") for u in updates[:3]] == [
        "Employees get …",
        "Employees get *25* …",
        "Employees get *25* days [1] …",
    ]
    assert all(not u.get("blocks") for u in updates[:3])
    assert len(updates) == 4
    assert "25 working days" in all_text(updates[3]["blocks"])
    assert actions_blocks(updates[3]["blocks"])


def test_streaming_edits_are_throttled(
    slack, fake_slack, handbook, team_reads_every_set, monkeypatch, settings
):
    settings.ARANDU_BOT_EDIT_INTERVAL_S = 3600
    real = handlers.answer_incoming

    def streaming(incoming, *, on_text=None):
        for i in range(5):
            on_text(f"part {i}")
        return real(incoming, on_text=on_text)

    monkeypatch.setattr(handlers, "answer_incoming", streaming)

    slack.event(mention())

    (update,) = fake_slack.calls("chat.update")  # only the final answer
    assert update.body["blocks"]


def test_a_rejected_token_answers_503_and_recovers_once_fixed(client, fake_slack, slack_settings):
    from botcore.slack.app import START_RETRY_S, bot_starter

    fake_slack.errors["auth.test"] = "invalid_auth"
    sender = SlackSender(client, fake_slack)
    body = '{"type": "url_verification", "challenge": "c1"}'

    refused = sender.post(body, content_type="application/json")

    assert refused.status_code == 503
    assert "SLACK_BOT_TOKEN" in refused.json()["message"]
    del fake_slack.errors["auth.test"]
    starter = bot_starter()
    failed_at = starter.clock()
    starter.clock = lambda: failed_at + START_RETRY_S + 1  # the failure is remembered that long
    assert sender.post(body, content_type="application/json").json() == {"challenge": "c1"}
