"""Mentions, DMs and the bot's threads, through a real discord.py client and the fake API."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import discord
import pytest
from django.db import DatabaseError

from botcore import conversation
from botcore.models import HandledEvent
from ragengine.ask_types import AnswerMode, Turn
from ragengine.models import Identity, Tier
from ragengine.services.routing import tier_for_member
from tests.botcore.discord import payloads
from tests.botcore.discord.harness import Door, replay
from tests.factories import ChannelBindingFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How many vacation days do I get?"


def buttons(body) -> list[str]:
    return [c["custom_id"] for row in body.get("components") or [] for c in row["components"]]


def test_mention_in_channel_answers_in_a_new_thread(
    discord_api, handbook, guild_reads_every_set, asked
):
    question_id = discord_api.next_id()

    replay(discord_api, messages=[payloads.mention_message(id=question_id, content=QUESTION)])

    threads = discord_api.calls(
        "POST", rf"/channels/{payloads.CHANNEL_ID}/messages/{question_id}/threads"
    )
    assert [t.body["name"] for t in threads] == [QUESTION]
    # the thread started on a message has that message's id
    typing = discord_api.calls("POST", rf"/channels/{question_id}/typing")
    (posted,) = discord_api.posted_messages(question_id)
    assert discord_api.requests.index(typing[0]) < discord_api.requests.index(posted)
    body = posted.body
    assert "25 working days" in body["content"] and "[1]" in body["content"]
    (embed,) = body["embeds"]
    assert embed["title"] == "Sources"
    assert re.search(r"^\[1\] .*acation", embed["description"], re.M)
    assert body["allowed_mentions"] == {"parse": []}
    ((incoming, outcome),) = asked
    rid = outcome.request_id
    assert buttons(body) == [f"arandu:fb:up:{rid}", f"arandu:fb:down:{rid}"]
    assert incoming.text == QUESTION  # the mention is gone
    assert incoming.workspace_id == str(payloads.GUILD_ID)
    assert incoming.workspace_name == payloads.GUILD_NAME
    assert incoming.channel_id == str(question_id)
    assert incoming.parent_channel_id == str(payloads.CHANNEL_ID)
    assert not incoming.is_direct and incoming.history == ()
    assert not discord_api.posted_messages(payloads.CHANNEL_ID)


def test_a_message_the_gateway_delivers_again_is_answered_once(
    discord_api, handbook, asked, deliveries, guild_reads_every_set
):
    """Discord re-sends events after a resume. The second delivery must not start a
    second thread (Discord refuses: 160004) and then answer again in the channel, nor ask
    the engine (and spend) twice."""
    question_id = discord_api.next_id()
    question = payloads.mention_message(id=question_id, content=QUESTION)

    async def scenario():
        async with Door(discord_api) as door:
            await door.start()
            for copies in deliveries:
                await door.message(question, copies=copies)

    asyncio.run(scenario())

    threads = discord_api.calls("POST", r"/channels/\d+/messages/\d+/threads")
    assert [t.path for t in threads] == [
        f"/channels/{payloads.CHANNEL_ID}/messages/{question_id}/threads"
    ]
    (answer,) = discord_api.posted_messages(question_id)
    assert "25 working days" in answer.body["content"]
    assert not discord_api.posted_messages(payloads.CHANNEL_ID)
    assert len(asked) == 1
    assert HandledEvent.objects.filter(platform="discord").count() == 1


def test_when_the_claim_fails_the_message_is_still_answered(
    discord_api, handbook, asked, monkeypatch, caplog, guild_reads_every_set
):
    """A database error while claiming must not swallow the question: answering (or
    apologising) beats a possible double answer."""
    from botcore.discord import claims

    def broken(**kwargs):
        raise DatabaseError("database is unavailable")

    monkeypatch.setattr(claims, "event_claim", broken)
    question_id = discord_api.next_id()

    replay(discord_api, messages=[payloads.mention_message(id=question_id, content=QUESTION)])

    (answer,) = discord_api.posted_messages(question_id)
    assert "25 working days" in answer.body["content"] and len(asked) == 1
    (warning,) = [r for r in caplog.records if r.getMessage() == "discord event claim failed"]
    assert warning.event_id == f"message:{question_id}" and warning.platform == "discord"


def test_mention_where_threads_are_not_allowed_replies_in_the_channel(
    discord_api, handbook, guild_reads_every_set
):
    discord_api.state.forbid_threads = True
    question_id = discord_api.next_id()

    replay(discord_api, messages=[payloads.mention_message(id=question_id, content=QUESTION)])

    assert discord_api.calls("POST", rf"/channels/{payloads.CHANNEL_ID}/messages/\d+/threads")
    (posted,) = discord_api.posted_messages(payloads.CHANNEL_ID)
    assert "25 working days" in posted.body["content"]
    assert str(posted.body["message_reference"]["message_id"]) == str(question_id)
    assert posted.body["allowed_mentions"]["replied_user"] is False


def test_direct_message_is_answered_in_the_dm_with_recent_history(
    discord_api, handbook, guild_reads_every_set, asked
):
    dm_id = discord_api.next_id()
    ana = payloads.user(payloads.USER_ID, "ana")
    bot = payloads.user(payloads.BOT_ID, "arandu", bot=True)
    hour_ago = discord.utils.time_snowflake(datetime.now(UTC) - timedelta(hours=1))
    for snowflake, author, text in [
        (hour_ago, ana, "Where is the office?"),  # older than 30 minutes: not history
        (discord_api.next_id(), ana, "What is the vacation policy?"),
        (discord_api.next_id(), bot, "You get 25 working days [1]."),
    ]:
        discord_api.remember(
            payloads.message(id=snowflake, channel_id=dm_id, author=author, content=text)
        )
    question_id = discord_api.next_id()

    replay(
        discord_api,
        messages=[payloads.message(id=question_id, channel_id=dm_id, author=ana, content=QUESTION)],
    )

    (posted,) = discord_api.posted_messages(dm_id)
    assert "25 working days" in posted.body["content"]
    assert buttons(posted.body) and posted.body["embeds"]
    assert discord_api.calls("POST", rf"/channels/{dm_id}/typing")
    assert not discord_api.calls("POST", r"/channels/\d+/messages/\d+/threads")
    ((incoming, _),) = asked
    assert incoming.is_direct and incoming.workspace_id == ""
    assert incoming.history == (
        Turn("user", "What is the vacation policy?"),
        Turn("assistant", "You get 25 working days [1]."),
    )


def test_follow_up_in_the_bots_thread_is_answered_with_the_thread_history(
    discord_api, handbook, guild_reads_every_set, asked
):
    question_id = discord_api.next_id()
    ana = payloads.user(payloads.USER_ID, "ana")

    async def scenario():
        async with Door(discord_api) as door:
            await door.start()
            await door.message(payloads.mention_message(id=question_id, content=QUESTION))
            (thread,) = discord_api.calls("POST", r"/channels/\d+/messages/\d+/threads")
            # the gateway announces the thread the bot just started
            await door.thread_create(
                payloads.thread_channel(
                    id=question_id,
                    parent_id=payloads.CHANNEL_ID,
                    owner_id=payloads.BOT_ID,
                    name=thread.body["name"],
                )
            )
            await door.message(
                payloads.message(
                    id=discord_api.next_id(),
                    channel_id=question_id,
                    author=ana,
                    content="And for part-time staff?",
                    guild_id=payloads.GUILD_ID,
                )
            )

    asyncio.run(scenario())

    first, follow_up = discord_api.posted_messages(question_id)
    assert follow_up.body["content"] and buttons(follow_up.body)
    assert len(asked) == 2
    incoming = asked[1][0]
    assert incoming.text == "And for part-time staff?"
    assert incoming.channel_id == str(question_id)
    assert incoming.parent_channel_id == str(payloads.CHANNEL_ID)
    assert incoming.history == (
        Turn("user", QUESTION),  # the starter message, mention stripped
        Turn("assistant", first.body["content"]),
    )


def test_a_restarted_client_still_answers_in_its_threads(
    discord_api, handbook, guild_reads_every_set, asked
):
    """Ownership comes from Discord (thread.owner_id), not from memory."""
    thread_id = discord_api.next_id()
    thread = payloads.thread_channel(
        id=thread_id, parent_id=payloads.CHANNEL_ID, owner_id=payloads.BOT_ID, name="Vacation"
    )

    replay(
        discord_api,
        messages=[
            payloads.message(
                id=discord_api.next_id(),
                channel_id=thread_id,
                author=payloads.user(payloads.USER_ID, "ana"),
                content=QUESTION,
                guild_id=payloads.GUILD_ID,
            )
        ],
        guilds=[payloads.guild_create(threads=[thread])],
    )

    (posted,) = discord_api.posted_messages(thread_id)
    assert "25 working days" in posted.body["content"]
    assert asked[0][0].history == ()  # the starter isn't a message here (404): no turns


def test_messages_without_mention_outside_the_bots_threads_and_bot_messages_are_ignored(
    discord_api, handbook, asked
):
    someone_elses = discord_api.next_id()
    thread = payloads.thread_channel(
        id=someone_elses, parent_id=payloads.CHANNEL_ID, owner_id=payloads.USER_ID, name="Chat"
    )
    ana = payloads.user(payloads.USER_ID, "ana")
    other_bot = payloads.user(payloads.OTHER_BOT_ID, "helper", bot=True)
    me = payloads.user(payloads.BOT_ID, "arandu", bot=True)

    async def scenario():
        async with Door(discord_api) as door:
            await door.start(guilds=[payloads.guild_create(threads=[thread])])
            before = len(discord_api.requests)
            common = {"guild_id": payloads.GUILD_ID}
            for channel_id, author, content, mentions in [
                (someone_elses, ana, QUESTION, []),  # a thread the bot didn't start
                (payloads.CHANNEL_ID, ana, QUESTION, []),  # plain channel chatter
                (payloads.CHANNEL_ID, other_bot, f"<@{payloads.BOT_ID}> {QUESTION}", [me]),
                (payloads.CHANNEL_ID, me, f"<@{payloads.BOT_ID}> {QUESTION}", [me]),
            ]:
                await door.message(
                    payloads.message(
                        id=discord_api.next_id(),
                        channel_id=channel_id,
                        author=author,
                        content=content,
                        mentions=mentions,
                        **common,
                    )
                )
            return discord_api.requests[before:]

    assert asyncio.run(scenario()) == []
    assert asked == []
    assert not HandledEvent.objects.exists()  # only questions are claimed


def test_mention_inside_someone_elses_thread_is_answered_there(
    discord_api, handbook, guild_reads_every_set
):
    thread_id = discord_api.next_id()
    thread = payloads.thread_channel(
        id=thread_id, parent_id=payloads.CHANNEL_ID, owner_id=payloads.USER_ID, name="Chat"
    )

    replay(
        discord_api,
        messages=[
            payloads.mention_message(
                id=discord_api.next_id(), channel_id=thread_id, content=QUESTION
            )
        ],
        guilds=[payloads.guild_create(threads=[thread])],
    )

    (posted,) = discord_api.posted_messages(thread_id)
    assert "25 working days" in posted.body["content"]
    assert not discord_api.calls("POST", r"/channels/\d+/messages/\d+/threads")


def _mention_in(discord_api, *, channel_id: int, threads=()) -> None:
    replay(
        discord_api,
        messages=[
            payloads.mention_message(
                id=discord_api.next_id(), channel_id=channel_id, content=QUESTION
            )
        ],
        guilds=[payloads.guild_create(threads=list(threads))],
    )


@pytest.fixture
def travel_set(embedder, tmp_path):
    """Set B: a different document that also talks about vacation days."""
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create

    folder = tmp_path / "travel"
    folder.mkdir()
    (folder / "contractor-vacation.md").write_text(
        "# Contractor vacation\n\nContractors get 12 vacation days a year, booked with "
        "their agency. Vacation days for contractors are unpaid.\n"
    )
    ks = knowledge_set_get_or_create(name="contractors")
    documents_ingest_paths(paths=[folder], knowledge_set=ks)
    return ks


def _document_sets(outcome) -> set[str]:
    from ragengine.models import Document

    ids = [s.document_id for s in outcome.answer.sources]
    return set(Document.objects.filter(pk__in=ids).values_list("knowledge_set__name", flat=True))


def test_channel_binding_limits_sources_and_threads_inherit_it(
    discord_api, handbook, travel_set, asked
):
    ChannelBindingFactory(platform="discord", channel_id=str(payloads.CHANNEL_ID), sets=[handbook])
    ChannelBindingFactory(
        platform="discord",
        workspace_id=str(payloads.GUILD_ID),
        channel_id=str(payloads.OTHER_CHANNEL_ID),
        sets=[travel_set],
    )
    thread_id = discord_api.next_id()
    thread = payloads.thread_channel(
        id=thread_id, parent_id=payloads.OTHER_CHANNEL_ID, owner_id=payloads.BOT_ID, name="B"
    )

    _mention_in(discord_api, channel_id=payloads.CHANNEL_ID)
    _mention_in(discord_api, channel_id=thread_id, threads=[thread])

    (in_a, outcome_a), (in_thread, outcome_b) = asked
    assert outcome_a.answer.sources and _document_sets(outcome_a) == {"handbook"}
    assert in_thread.parent_channel_id == str(payloads.OTHER_CHANNEL_ID)
    assert outcome_b.answer.sources and _document_sets(outcome_b) == {"contractors"}
    assert "12 vacation days" in outcome_b.answer.text


def test_first_contact_in_a_guild_gets_the_guild_default_tier(discord_api, handbook):
    tier = Tier.objects.create(name="Guild default")
    WorkspaceFactory(platform="discord", external_id=str(payloads.GUILD_ID), default_tier=tier)
    assert not Identity.objects.exists()

    _mention_in(discord_api, channel_id=payloads.CHANNEL_ID)

    identity = Identity.objects.select_related("member__workspace").get(
        platform="discord", user_id=str(payloads.USER_ID)
    )
    assert identity.workspace_id == str(payloads.GUILD_ID)
    assert identity.member.workspace.external_id == str(payloads.GUILD_ID)
    assert tier_for_member(identity.member) == tier


def test_refused_answer_is_plain_text_without_buttons(discord_api, handbook, asked):
    ChannelBindingFactory(platform="discord", channel_id=str(payloads.CHANNEL_ID), sets=[])

    _mention_in(discord_api, channel_id=payloads.CHANNEL_ID)

    ((_, outcome),) = asked
    assert outcome.answer.mode == AnswerMode.REFUSED
    (posted,) = [r for r in discord_api.calls("POST", r"/channels/\d+/messages")]
    assert posted.body["content"] == outcome.answer.text
    assert "No knowledge sets are bound" in posted.body["content"]
    assert not posted.body.get("components") and not posted.body.get("embeds")


def test_failure_inside_ask_posts_the_apology_with_the_request_id(
    discord_api, handbook, guild_reads_every_set, asked, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(conversation, "ask", broken)

    _mention_in(discord_api, channel_id=payloads.CHANNEL_ID)

    ((incoming, outcome),) = asked
    assert outcome.failed
    (posted,) = discord_api.calls("POST", r"/channels/\d+/messages")
    assert posted.body["content"] == conversation.apology(incoming.request_id)
    assert incoming.request_id in posted.body["content"]
    assert not posted.body.get("components") and not posted.body.get("embeds")


def test_help_is_answered_without_the_engine(discord_api, asked):
    _mention_in(discord_api, channel_id=payloads.CHANNEL_ID)  # "How many…" is not help
    asked.clear()
    discord_api.requests.clear()

    replay(
        discord_api, messages=[payloads.mention_message(id=discord_api.next_id(), content="help")]
    )

    assert asked == []
    (posted,) = discord_api.calls("POST", r"/channels/\d+/messages")
    assert posted.body["content"] == conversation.HELP_TEXT


def test_discord_errors_while_replying_are_logged_not_raised(
    discord_api, handbook, guild_reads_every_set, caplog
):
    discord_api.state.fail_message_posts = True

    _mention_in(discord_api, channel_id=payloads.CHANNEL_ID)  # Door fails on handler errors

    assert discord_api.calls("POST", r"/channels/\d+/messages")
    failures = [r for r in caplog.records if r.getMessage() == "discord reply failed"]
    assert failures and failures[0].platform == "discord" and failures[0].request_id
