"""The platform-neutral conversation layer: member, channel sets, ask(), apologies."""

from __future__ import annotations

import logging

import pytest

from botcore.conversation import (
    Incoming,
    answer_incoming,
    is_help,
    mentions,
    strip_mention,
)
from ragengine.ask_types import AnswerMode, Turn
from ragengine.models import Identity, Tier, UsageRecord
from ragengine.selectors.channels import UNSCOPED_CHANNEL_MESSAGE
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from ragengine.services.routing import tier_for_member
from tests.factories import ChannelBindingFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

QUESTION = "How many vacation days do I get?"


def incoming(**fields) -> Incoming:
    base = {"platform": "slack", "user_id": "U1", "channel_id": "C1", "text": QUESTION}
    return Incoming(**(base | fields))


@pytest.mark.parametrize(
    ("text", "bot", "expected"),
    [
        ("<@U0BOT> how many days?", "U0BOT", "how many days?"),
        ("<@U0BOT|arandu>  hello <@U0BOT>", "U0BOT", "hello"),
        ("ask <@U999> about <@U0BOT> it", "U0BOT", "ask <@U999> about it"),
        ("<@!123> and <@123> hi", "123", "and hi"),
        ("<@&123> role ping stays? no", "123", "role ping stays? no"),
        ("  plain  ", "", "plain"),
    ],
)
def test_strip_mention_removes_only_the_bot(text, bot, expected):
    assert strip_mention(text, bot_user_id=bot) == expected


def test_mentions_and_help():
    assert mentions("hey <@U0BOT>", bot_user_id="U0BOT")
    assert not mentions("hey <@U0BOTX>", bot_user_id="U0BOT")
    assert not mentions("hey <@U0BOT>", bot_user_id="")
    assert is_help("  Help ") and is_help("") and not is_help("help me with vacation")


def test_first_contact_creates_the_member_in_its_workspace_and_answers(handbook):
    tier = Tier.objects.create(name="Guild default")
    WorkspaceFactory(
        platform="discord", external_id="G1", default_tier=tier, answers_from_every_set=True
    )

    outcome = answer_incoming(
        incoming(platform="discord", workspace_id="G1", user_name="ana", request_id="r-door-1")
    )

    assert not outcome.failed and outcome.request_id == "r-door-1"
    assert outcome.answer.mode == AnswerMode.EXTRACTIVE
    assert "25 working days" in outcome.answer.text and outcome.answer.sources
    identity = Identity.objects.select_related("member").get(platform="discord", user_id="U1")
    assert identity.member.display_name == "ana"
    assert tier_for_member(identity.member) == tier
    assert UsageRecord.objects.get().request_id == "r-door-1"

    again = answer_incoming(incoming(platform="discord", workspace_id="G1"))
    assert again.answer is not None
    assert Identity.objects.count() == 1  # the same person, not a new member


def test_a_bound_channel_never_reads_other_sets(handbook, tmp_path):
    other = knowledge_set_get_or_create(name="ops")
    (tmp_path / "ops.md").write_text("# Vacation servers\n\nVacation days are 99 for servers.\n")
    documents_ingest_paths(paths=[tmp_path / "ops.md"], knowledge_set=other)
    ChannelBindingFactory(channel_id="C-ops", sets=[other])

    outcome = answer_incoming(incoming(channel_id="C-ops"))

    assert outcome.answer.sources
    assert {s.title for s in outcome.answer.sources} == {"Vacation servers"}


def test_history_reaches_ask(monkeypatch):
    seen = {}

    def fake_ask(**kwargs):
        seen.update(kwargs)
        from ragengine.ask_types import Answer

        return Answer(text="ok", mode=AnswerMode.EXTRACTIVE, request_id=kwargs["request_id"])

    monkeypatch.setattr("botcore.conversation.ask", fake_ask)
    history = (Turn("user", "vacation days?"), Turn("assistant", "25 [1]"))
    answer_incoming(incoming(text="and for interns?", history=history))
    assert seen["history"] == history and seen["question"] == "and for interns?"


def test_an_unexpected_error_becomes_an_apology_with_the_logged_request_id(monkeypatch, caplog):
    def broken_ask(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("botcore.conversation.ask", broken_ask)
    with caplog.at_level(logging.ERROR, logger="botcore.conversation"):
        outcome = answer_incoming(incoming(request_id="req-err-42"))

    assert outcome.failed and outcome.answer is None
    assert "req-err-42" in outcome.apology and "Sorry" in outcome.apology
    record = next(r for r in caplog.records if r.getMessage() == "door question failed")
    assert record.request_id == "req-err-42" and record.platform == "slack"
    assert record.exc_info is not None


def test_a_question_without_any_scope_is_refused_and_logged_for_the_admins(caplog):
    with caplog.at_level(logging.WARNING, logger="botcore.conversation"):
        outcome = answer_incoming(incoming(workspace_id="T1", request_id="r-unscoped"))

    assert outcome.answer.mode == AnswerMode.REFUSED
    assert outcome.answer.text == UNSCOPED_CHANNEL_MESSAGE and not outcome.answer.sources
    record = next(
        r for r in caplog.records if r.getMessage() == "door question has no knowledge-set scope"
    )
    member = Identity.objects.get(platform="slack", workspace_id="T1", user_id="U1").member
    assert (record.request_id, record.workspace, record.channel) == ("r-unscoped", "T1", "C1")
    assert record.member == member.pk and record.direct is False
    assert not UsageRecord.objects.exists()
