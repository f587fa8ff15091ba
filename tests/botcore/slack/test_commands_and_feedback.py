"""/ask and the 👍/👎 buttons and comment modal, through the real endpoint and Bolt app."""

from __future__ import annotations

import pytest

from botcore.feedback import THANKS_DOWN, THANKS_UP
from ragengine.models import Feedback, Identity
from ragengine.services.feedback import COMMENT_MAX_CHARS
from tests.botcore.slack.conftest import CHANNEL_ID, QUESTION, USER_ID, mention
from tests.botcore.slack.fake_slack import TEAM_ID
from tests.botcore.slack.test_http_events import actions_blocks, all_text

# Door work calls close_old_connections(), which ends a test-wrapping transaction on
# PostgreSQL: these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def answered_request_id(slack, fake_slack) -> str:
    slack.event(mention())
    (update,) = fake_slack.calls("chat.update")
    (actions,) = actions_blocks(update.body["blocks"])
    fake_slack.clear()
    return actions["elements"][0]["value"]


def clicker_feedback(request_id: str) -> Feedback:
    member = Identity.objects.get(platform="slack", workspace_id=TEAM_ID, user_id=USER_ID).member
    return Feedback.objects.get(member=member, request_id=request_id)


def test_thumbs_up_records_feedback_linked_to_the_usage_row(
    slack, fake_slack, handbook, team_reads_every_set
):
    request_id = answered_request_id(slack, fake_slack)

    response = slack.click("feedback_up", request_id)

    assert response.status_code == 200
    feedback = clicker_feedback(request_id)
    assert feedback.value == 1
    assert feedback.usage is not None and feedback.usage.request_id == request_id
    assert feedback.platform == "slack" and CHANNEL_ID in feedback.channel
    (reply,) = fake_slack.calls("response")
    assert reply.path == "/response/click"
    assert reply.body["text"] == THANKS_UP
    assert reply.body["response_type"] == "ephemeral"
    assert reply.body["replace_original"] is False
    assert fake_slack.calls("views.open") == []


def test_thumbs_down_opens_the_comment_modal_and_saves_the_comment(
    slack, fake_slack, handbook, team_reads_every_set
):
    request_id = answered_request_id(slack, fake_slack)

    slack.click("feedback_down", request_id)

    assert clicker_feedback(request_id).value == -1
    (opened,) = fake_slack.calls("views.open")
    assert opened.body["trigger_id"] == "1337.99.trigger"
    view = opened.body["view"]
    assert view["callback_id"] == "feedback_comment"
    assert view["private_metadata"] == request_id
    (field,) = view["blocks"]
    assert field["type"] == "input" and field["optional"] is True
    assert field["element"]["type"] == "plain_text_input" and field["element"]["multiline"]
    (reply,) = fake_slack.calls("response")
    assert reply.body["text"] == THANKS_DOWN

    response = slack.submit_comment(request_id, "The number of days is outdated.")

    assert response.status_code == 200
    assert response.json()["response_action"] == "update"
    assert "saved" in all_text(response.json()["view"]["blocks"])
    assert clicker_feedback(request_id).comment == "The number of days is outdated."


def test_too_long_comment_is_shown_as_an_error_in_the_modal(
    slack, fake_slack, handbook, team_reads_every_set
):
    request_id = answered_request_id(slack, fake_slack)
    slack.click("feedback_down", request_id)

    response = slack.submit_comment(request_id, "x" * (COMMENT_MAX_CHARS + 1))

    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert str(COMMENT_MAX_CHARS) in body["errors"]["comment"]
    assert clicker_feedback(request_id).comment == ""


def test_comment_without_a_vote_explains_what_to_do(slack, fake_slack):
    response = slack.submit_comment("abc123", "hello")

    assert response.json()["response_action"] == "update"
    assert "click 👍 or 👎" in all_text(response.json()["view"]["blocks"])
    assert not Feedback.objects.exists()


def test_ask_command_acks_with_placeholder_and_answers_through_response_url(
    slack, fake_slack, handbook, team_reads_every_set
):
    response = slack.command(QUESTION)

    assert response.status_code == 200
    ack = response.json()
    assert "Looking that up" in ack["text"]
    assert ack["response_type"] == "ephemeral"
    (answer,) = fake_slack.calls("response")
    assert answer.path == "/response/cmd"
    assert answer.body["replace_original"] is True
    assert answer.body["response_type"] == "ephemeral"
    blocks = answer.body["blocks"]
    assert "25 working days" in all_text(blocks) and "[1]" in all_text(blocks)
    assert actions_blocks(blocks)
    # nothing public was posted
    assert fake_slack.calls("chat.postMessage") == [] == fake_slack.calls("chat.update")


@pytest.mark.parametrize("text", ["", "help", "  HELP "])
def test_ask_help_and_empty_ask_show_usage(slack, fake_slack, text):
    response = slack.command(text)

    assert response.status_code == 200
    assert "/ask sets" in response.json()["text"]
    assert fake_slack.requests == []


def test_ask_sets_lists_the_channel_binding(slack, fake_slack):
    from tests.factories import ChannelBindingFactory, KnowledgeSetFactory

    ChannelBindingFactory(
        channel_id=CHANNEL_ID,
        sets=[KnowledgeSetFactory(name="hr-policies"), KnowledgeSetFactory(name="it-security")],
    )

    response = slack.command("sets")

    assert response.status_code == 200
    (reply,) = fake_slack.calls("response")
    text = all_text(reply.body["blocks"])
    assert "*hr-policies*" in text and "*it-security*" in text
    assert "bound" in text
    assert reply.body["response_type"] == "ephemeral"


def test_ask_sets_explains_refusal_workspace_defaults_and_all_sets(slack, fake_slack):
    from tests.factories import KnowledgeSetFactory, WorkspaceFactory

    slack.command("sets", channel_id="C0OTHER", response="nothing")
    workspace = WorkspaceFactory(platform="slack", external_id=TEAM_ID)
    workspace.answers_from_every_set = True
    workspace.save()
    slack.command("sets", channel_id="C0OTHER", response="all")
    workspace.default_knowledge_sets.set([KnowledgeSetFactory(name="handbook")])
    slack.command("sets", channel_id="C0OTHER", response="workspace")

    by_path = {r.path: all_text(r.body["blocks"]) for r in fake_slack.calls("response")}
    assert "can't answer here yet" in by_path["/response/nothing"]
    assert "Channel bindings" in by_path["/response/nothing"]
    assert "Workspaces" in by_path["/response/nothing"]
    assert "all knowledge sets" in by_path["/response/all"]
    assert "an admin chose" in by_path["/response/all"]
    assert "*handbook*" in by_path["/response/workspace"]
    assert "workspace defaults" in by_path["/response/workspace"]
