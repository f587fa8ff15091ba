"""Which knowledge sets a chat channel reads: binding, member, workspace default, all."""

from __future__ import annotations

import pytest

from ragengine.answers import AnswerMode, Channel
from ragengine.selectors.channels import ScopeOrigin, channel_scope
from ragengine.services.ask import INACTIVE_MESSAGE, ask
from tests.factories import (
    ChannelBindingFactory,
    KnowledgeSetFactory,
    MemberFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db


def test_unbound_channel_without_workspace_defaults_reads_every_set():
    scope = channel_scope(platform="slack", workspace_id="T1", channel_id="C1")
    assert scope.origin == ScopeOrigin.ALL
    assert scope.channel == Channel("slack", "C1", None)


def test_binding_wins_and_a_thread_follows_its_parent_channel():
    hr, eng = KnowledgeSetFactory(name="hr"), KnowledgeSetFactory(name="eng")
    ChannelBindingFactory(platform="discord", channel_id="100", sets=[hr, eng])
    workspace = WorkspaceFactory(platform="discord", external_id="G1")
    workspace.default_knowledge_sets.set([KnowledgeSetFactory(name="public")])

    direct = channel_scope(platform="discord", workspace_id="G1", channel_id="100")
    thread = channel_scope(
        platform="discord", workspace_id="G1", channel_id="555", parent_channel_id="100"
    )
    other = channel_scope(platform="discord", workspace_id="G1", channel_id="200")

    assert direct.origin == thread.origin == ScopeOrigin.BINDING
    assert direct.channel.knowledge_sets == thread.channel.knowledge_sets == ("eng", "hr")
    assert thread.channel.channel_id == "555"
    assert other.origin == ScopeOrigin.WORKSPACE and other.channel.knowledge_sets == ("public",)


def test_a_binding_for_the_exact_workspace_beats_a_workspace_wide_one():
    ChannelBindingFactory(channel_id="C9", workspace_id="", sets=[KnowledgeSetFactory(name="a")])
    ChannelBindingFactory(channel_id="C9", workspace_id="T1", sets=[KnowledgeSetFactory(name="b")])

    assert channel_scope(platform="slack", workspace_id="T1", channel_id="C9").channel == Channel(
        "slack", "C9", ("b",)
    )
    assert channel_scope(platform="slack", workspace_id="T2", channel_id="C9").channel == Channel(
        "slack", "C9", ("a",)
    )


def test_direct_messages_use_the_members_sets_then_the_workspace_defaults():
    workspace = WorkspaceFactory(external_id="T1")
    workspace.default_knowledge_sets.set([KnowledgeSetFactory(name="public")])
    ChannelBindingFactory(channel_id="D1", sets=[KnowledgeSetFactory(name="ignored")])
    member = MemberFactory(workspace=workspace)

    before = channel_scope(
        platform="slack", workspace_id="T1", channel_id="D1", is_direct=True, member=member
    )
    member.knowledge_sets.set([KnowledgeSetFactory(name="mine")])
    after = channel_scope(
        platform="slack", workspace_id="T1", channel_id="D1", is_direct=True, member=member
    )

    assert (before.origin, before.channel.knowledge_sets) == (ScopeOrigin.WORKSPACE, ("public",))
    assert (after.origin, after.channel.knowledge_sets) == (ScopeOrigin.MEMBER, ("mine",))


def test_a_binding_without_sets_switches_the_bot_off_in_that_channel():
    ChannelBindingFactory(channel_id="C2", sets=[])
    scope = channel_scope(platform="slack", workspace_id="T1", channel_id="C2")
    assert scope.origin == ScopeOrigin.BINDING and scope.channel.knowledge_sets == ()

    answer = ask(member=MemberFactory(), question="How many vacation days?", channel=scope.channel)

    assert answer.mode == AnswerMode.REFUSED
    assert "No knowledge sets are bound to this channel" in answer.text


def test_an_inactive_member_is_refused_without_a_ledger_row():
    member = MemberFactory(is_active=False)
    answer = ask(member=member, question="How many vacation days?", channel=Channel())
    assert answer.mode == AnswerMode.REFUSED and answer.text == INACTIVE_MESSAGE
    assert not member.usage.exists()
