"""`/ask`, the 👍/👎 buttons and the comment modal, routed by discord.py itself
(CommandTree, DynamicItem, modal store) from INTERACTION_CREATE payloads."""

from __future__ import annotations

import asyncio

import pytest

from botcore.feedback import THANKS_UP
from botcore.models import HandledEvent
from ragengine.models import Feedback, Identity, UsageRecord
from tests.botcore.discord import payloads
from tests.botcore.discord.harness import Door, replay

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How many vacation days do I get?"
EPHEMERAL = 64


def callbacks(discord_api, interaction_id: int):
    return discord_api.calls("POST", rf"/interactions/{interaction_id}/[^/]+/callback")


def followups(discord_api):
    return discord_api.calls("POST", rf"/webhooks/{payloads.APP_ID}/[^/]+")


def test_setup_hook_syncs_the_ask_command(discord_api):
    replay(discord_api)

    (sync,) = discord_api.calls("PUT", rf"/applications/{payloads.APP_ID}/commands")
    (command,) = sync.body
    assert command["name"] == "ask"
    assert [(o["name"], o["type"], o["required"]) for o in command["options"]] == [
        ("question", 3, True)
    ]


def test_ask_command_defers_then_follows_up_with_the_answer(
    discord_api, handbook, guild_reads_every_set, asked
):
    interaction_id = discord_api.next_id()

    replay(discord_api, interactions=[payloads.ask_command(id=interaction_id, question=QUESTION)])

    (deferred,) = callbacks(discord_api, interaction_id)
    assert deferred.body["type"] == 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE ("thinking…")
    (followup,) = followups(discord_api)
    assert discord_api.requests.index(deferred) < discord_api.requests.index(followup)
    assert followup.path.endswith(f"/token-{interaction_id}")
    body = followup.body
    assert body["content"].startswith(f"> {QUESTION}\n")
    assert "25 working days" in body["content"] and "[1]" in body["content"]
    (embed,) = body["embeds"]
    assert embed["title"] == "Sources" and "[1]" in embed["description"]
    assert body["allowed_mentions"] == {"parse": []}
    ((incoming, outcome),) = asked
    custom_ids = [c["custom_id"] for row in body["components"] for c in row["components"]]
    assert custom_ids == [
        f"arandu:fb:up:{outcome.request_id}",
        f"arandu:fb:down:{outcome.request_id}",
    ]
    assert incoming.text == QUESTION and incoming.user_id == str(payloads.USER_ID)
    assert incoming.channel_id == str(payloads.CHANNEL_ID)
    assert incoming.workspace_id == str(payloads.GUILD_ID) and not incoming.is_direct


def test_an_ask_command_the_gateway_delivers_again_is_answered_once(
    discord_api, handbook, asked, caplog, deliveries, guild_reads_every_set
):
    """A replayed `/ask` is acknowledged and answered once: the copy doesn't try to
    respond to an interaction Discord already has (40060), nor ask the engine again."""
    interaction_id = discord_api.next_id()
    command = payloads.ask_command(id=interaction_id, question=QUESTION)

    async def scenario():
        async with Door(discord_api) as door:
            await door.start()
            for copies in deliveries:
                await door.interaction(command, copies=copies)

    asyncio.run(scenario())

    (deferred,) = callbacks(discord_api, interaction_id)
    assert deferred.body["type"] == 5
    (followup,) = followups(discord_api)
    assert "25 working days" in followup.body["content"]
    assert len(asked) == 1
    assert not [r for r in caplog.records if r.getMessage() == "discord reply failed"]
    assert HandledEvent.objects.filter(platform="discord").count() == 1


def _answer_with_buttons(discord_api) -> tuple[dict, str]:
    """Ask in a channel; returns the answer message (as Discord stores it) and its rid."""
    question_id = discord_api.next_id()

    replay(discord_api, messages=[payloads.mention_message(id=question_id, content=QUESTION)])
    (answer,) = discord_api.state.messages[question_id]
    up, down = [c["custom_id"] for row in answer["components"] for c in row["components"]]
    return answer, up.rsplit(":", 1)[1]


def test_feedback_buttons_vote_comment_and_survive_a_restart(
    discord_api, handbook, guild_reads_every_set
):
    answer, rid = _answer_with_buttons(discord_api)
    ben = payloads.user(payloads.OTHER_USER_ID, "ben")
    thread = payloads.thread_channel(
        id=int(answer["channel_id"]),
        parent_id=payloads.CHANNEL_ID,
        owner_id=payloads.BOT_ID,
        name=QUESTION,
    )
    up_click, down_click, later_click = (discord_api.next_id() for _ in range(3))

    async def click_and_comment(door: Door) -> None:
        await door.start()
        await door.interaction(
            payloads.button_click(
                id=up_click,
                custom_id=f"arandu:fb:up:{rid}",
                message_data=answer,
                clicker=ben,
                channel=thread,
            )
        )
        await door.interaction(
            payloads.button_click(
                id=down_click,
                custom_id=f"arandu:fb:down:{rid}",
                message_data=answer,
                channel=thread,
            )
        )

    async def scenario():
        async with Door(discord_api) as door:
            await click_and_comment(door)
            (modal_callback,) = callbacks(discord_api, down_click)
            modal = modal_callback.body["data"]
            text_input = modal["components"][0]["components"][0]
            await door.interaction(
                payloads.modal_submit(
                    id=discord_api.next_id(),
                    custom_id=modal["custom_id"],
                    values={text_input["custom_id"]: "It ignored part-time staff."},
                )
            )
        async with Door(discord_api) as restarted:  # a brand-new client: nothing in memory
            await restarted.start()
            await restarted.interaction(
                payloads.button_click(
                    id=later_click,
                    custom_id=f"arandu:fb:up:{rid}",
                    message_data=answer,
                    channel=thread,
                )
            )
        return modal_callback

    modal_callback = asyncio.run(scenario())

    usage = UsageRecord.objects.get(request_id=rid)
    ben_member = Identity.objects.get(
        platform="discord", workspace_id=str(payloads.GUILD_ID), user_id=str(ben["id"])
    ).member
    ana_member = Identity.objects.get(
        platform="discord", workspace_id=str(payloads.GUILD_ID), user_id=str(payloads.USER_ID)
    ).member
    ben_vote = Feedback.objects.get(member=ben_member, request_id=rid)
    assert (ben_vote.value, ben_vote.usage, ben_vote.platform) == (1, usage, "discord")
    assert ben_vote.channel == f"discord:{answer['channel_id']}"  # the answer's thread
    (up_reply,) = callbacks(discord_api, up_click)
    assert up_reply.body["type"] == 4
    assert up_reply.body["data"]["content"] == THANKS_UP
    assert up_reply.body["data"]["flags"] & EPHEMERAL

    # 👎: the modal is the response, the vote was recorded on the click
    assert modal_callback.body["type"] == 9
    text_input = modal_callback.body["data"]["components"][0]["components"][0]
    assert text_input["style"] == 2 and text_input["required"] is False
    assert text_input["max_length"] == 2000
    ana_vote = Feedback.objects.get(member=ana_member, request_id=rid)
    assert ana_vote.comment == "It ignored part-time staff."
    submits = discord_api.calls("POST", r"/interactions/\d+/[^/]+/callback")
    comment_reply = submits[-2]  # before the restarted client's click
    assert comment_reply.body["data"]["content"] == "Thanks, your comment was saved."
    assert comment_reply.body["data"]["flags"] & EPHEMERAL

    # after the restart the click still routed: the vote changed back to 👍
    assert ana_vote.value == 1
    (later_reply,) = callbacks(discord_api, later_click)
    assert later_reply.body["data"]["content"] == THANKS_UP
    assert Feedback.objects.count() == 2


def test_click_on_an_old_answer_without_ledger_row_still_records_the_vote(discord_api):
    """A message from a process long gone: routed by its custom_id alone."""
    answer = payloads.message(
        id=discord_api.next_id(),
        channel_id=payloads.CHANNEL_ID,
        author=payloads.user(payloads.BOT_ID, "arandu", bot=True),
        content="An answer from long ago",
        components=[
            {
                "type": 1,
                "components": [{"type": 2, "style": 2, "custom_id": "arandu:fb:down:abcdef123456"}],
            }
        ],
        guild_id=payloads.GUILD_ID,
    )
    click = discord_api.next_id()

    replay(
        discord_api,
        interactions=[
            payloads.button_click(
                id=click, custom_id="arandu:fb:down:abcdef123456", message_data=answer
            )
        ],
    )

    (reply,) = callbacks(discord_api, click)
    assert reply.body["type"] == 9  # the comment modal
    vote = Feedback.objects.get(request_id="abcdef123456")
    assert vote.value == -1 and vote.usage is None


def test_clicks_and_comments_the_gateway_delivers_again_are_handled_once(
    discord_api, handbook, caplog, deliveries, guild_reads_every_set
):
    answer, rid = _answer_with_buttons(discord_api)
    click = discord_api.next_id()
    submit = discord_api.next_id()

    async def scenario():
        async with Door(discord_api) as door:
            await door.start()
            down = payloads.button_click(
                id=click, custom_id=f"arandu:fb:down:{rid}", message_data=answer
            )
            for copies in deliveries:
                await door.interaction(down, copies=copies)
            (modal_callback,) = callbacks(discord_api, click)
            modal = modal_callback.body["data"]
            text_input = modal["components"][0]["components"][0]
            comment = payloads.modal_submit(
                id=submit,
                custom_id=modal["custom_id"],
                values={text_input["custom_id"]: "It ignored part-time staff."},
            )
            for copies in deliveries:
                await door.interaction(comment, copies=copies)

    asyncio.run(scenario())

    (saved,) = callbacks(discord_api, submit)
    assert saved.body["data"]["content"] == "Thanks, your comment was saved."
    vote = Feedback.objects.get(request_id=rid)
    assert vote.value == -1 and vote.comment == "It ignored part-time staff."
    assert not [r for r in caplog.records if r.getMessage() == "discord reply failed"]
    claimed = HandledEvent.objects.filter(platform="discord").values_list("event_id", flat=True)
    assert {f"interaction:{click}", f"interaction:{submit}"} <= set(claimed)
