"""Which knowledge sets a chat channel reads: binding (by channel id, whatever team asks),
member, the right workspace's defaults, every set only by an admin's choice, else none."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from ragengine.ask_types import AnswerMode, Channel
from ragengine.models import UsageRecord
from ragengine.selectors.channels import (
    UNKNOWN_CHANNEL_MESSAGE,
    UNSCOPED_CHANNEL_MESSAGE,
    UNSCOPED_DIRECT_MESSAGE,
    ScopeOrigin,
    channel_scope,
)
from ragengine.services.ask import INACTIVE_MESSAGE, ask
from tests.factories import (
    ChannelBindingFactory,
    KnowledgeSetFactory,
    MemberFactory,
    WorkspaceFactory,
)

pytestmark = pytest.mark.django_db


def workspace_with(external_id: str, *names: str, every_set: bool = False, platform="slack"):
    workspace = WorkspaceFactory(
        platform=platform, external_id=external_id, answers_from_every_set=every_set
    )
    workspace.default_knowledge_sets.set([KnowledgeSetFactory(name=n) for n in names])
    return workspace


def test_an_unbound_channel_without_workspace_defaults_is_refused_never_every_set():
    unknown = channel_scope(platform="slack", workspace_id="T1", channel_id="C1")
    workspace_with("T1")
    known = channel_scope(platform="slack", workspace_id="T1", channel_id="C1")

    for scope in (unknown, known):
        assert scope.origin == ScopeOrigin.NONE
        assert scope.channel == Channel("slack", "C1", (), refusal=UNSCOPED_CHANNEL_MESSAGE)


def test_every_set_is_an_explicit_workspace_choice_and_defaults_still_come_first():
    workspace = workspace_with("T1", every_set=True)

    everything = channel_scope(platform="slack", workspace_id="T1", channel_id="C1")
    workspace.default_knowledge_sets.set([KnowledgeSetFactory(name="public")])
    defaults = channel_scope(platform="slack", workspace_id="T1", channel_id="C1")

    assert everything.origin == ScopeOrigin.ALL and everything.channel.knowledge_sets is None
    assert defaults.origin == ScopeOrigin.WORKSPACE
    assert defaults.channel.knowledge_sets == ("public",)


def test_binding_wins_and_a_thread_follows_its_parent_channel():
    hr, eng = KnowledgeSetFactory(name="hr"), KnowledgeSetFactory(name="eng")
    ChannelBindingFactory(platform="discord", channel_id="100", sets=[hr, eng])
    workspace_with("G1", "public", platform="discord")

    direct = channel_scope(platform="discord", workspace_id="G1", channel_id="100")
    thread = channel_scope(
        platform="discord",
        workspace_id="G1",
        channel_id="555",
        parent_channel_id="100",
        is_thread=True,
    )
    other = channel_scope(platform="discord", workspace_id="G1", channel_id="200")

    assert direct.origin == thread.origin == ScopeOrigin.BINDING
    assert direct.channel.knowledge_sets == thread.channel.knowledge_sets == ("eng", "hr")
    assert thread.channel.channel_id == "555"
    assert other.origin == ScopeOrigin.WORKSPACE and other.channel.knowledge_sets == ("public",)


@pytest.mark.parametrize("asking_team", ["T1", "T2-partner", ""])
def test_a_binding_matches_by_channel_id_whatever_team_asks(asking_team):
    ChannelBindingFactory(channel_id="C9", workspace_id="T1", sets=[KnowledgeSetFactory(name="b")])
    workspace_with("T2-partner", "partner-public", every_set=True)

    scope = channel_scope(platform="slack", workspace_id=asking_team, channel_id="C9")

    assert scope.origin == ScopeOrigin.BINDING
    assert scope.channel == Channel("slack", "C9", ("b",))


def test_one_binding_per_channel_id_the_database_refuses_a_second_one():
    ChannelBindingFactory(channel_id="C9", workspace_id="T1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChannelBindingFactory(channel_id="C9", workspace_id="T2")
    ChannelBindingFactory(platform="discord", channel_id="C9")  # another platform is fine


def test_an_unbound_channel_uses_the_asking_workspaces_defaults_not_anothers():
    workspace_with("T1", "home-public")
    workspace_with("T2")  # a partner team seen on first contact: no defaults

    home = channel_scope(platform="slack", workspace_id="T1", channel_id="C1")
    partner = channel_scope(platform="slack", workspace_id="T2", channel_id="C1")
    nobody = channel_scope(platform="slack", workspace_id="", channel_id="C1")

    assert home.channel.knowledge_sets == ("home-public",)
    assert partner.origin == nobody.origin == ScopeOrigin.NONE


def test_direct_messages_use_the_members_sets_then_their_own_workspaces_defaults():
    workspace = workspace_with("G1", "public", platform="discord")
    workspace_with("G2", "other-guild", platform="discord", every_set=True)
    member = MemberFactory(workspace=workspace)

    def dm(workspace_id: str):
        return channel_scope(
            platform="discord",
            workspace_id=workspace_id,
            channel_id="D1",
            is_direct=True,
            member=member,
        )

    # a Discord DM carries no guild id; a request naming another guild changes nothing
    before = [dm(""), dm("G2")]
    member.knowledge_sets.set([KnowledgeSetFactory(name="mine")])
    after = dm("")

    for scope in before:
        assert (scope.origin, scope.channel.knowledge_sets) == (ScopeOrigin.WORKSPACE, ("public",))
    assert (after.origin, after.channel.knowledge_sets) == (ScopeOrigin.MEMBER, ("mine",))


@pytest.mark.parametrize("case", ["no member", "unsaved member", "no workspace", "no defaults"])
def test_a_direct_message_without_any_scope_is_refused(case):
    workspace_with("T1", "public", every_set=True)  # the request's team: must not be used
    member = {
        "no member": None,
        "unsaved member": MemberFactory.build(),
        "no workspace": MemberFactory(workspace=None),
        "no defaults": MemberFactory(workspace=workspace_with("T9")),
    }[case]

    scope = channel_scope(
        platform="slack", workspace_id="T1", channel_id="D1", is_direct=True, member=member
    )

    assert scope.origin == ScopeOrigin.NONE
    assert scope.channel == Channel("slack", "D1", (), refusal=UNSCOPED_DIRECT_MESSAGE)


def test_a_direct_message_reads_every_set_only_if_the_members_workspace_chose_it():
    member = MemberFactory(workspace=workspace_with("T1", every_set=True))

    scope = channel_scope(
        platform="slack", workspace_id="T1", channel_id="D1", is_direct=True, member=member
    )

    assert scope.origin == ScopeOrigin.ALL and scope.channel.knowledge_sets is None


def test_a_binding_on_a_dm_channel_id_applies_like_any_binding():
    """A binding is matched by channel id before anything else; binding a DM's id is an
    admin's explicit choice (a DM id never collides with a channel's)."""
    ChannelBindingFactory(channel_id="D1", sets=[KnowledgeSetFactory(name="bound")])
    member = MemberFactory(workspace=workspace_with("T1", "public"))
    member.knowledge_sets.set([KnowledgeSetFactory(name="mine")])

    scope = channel_scope(
        platform="slack", workspace_id="T1", channel_id="D1", is_direct=True, member=member
    )

    assert (scope.origin, scope.channel.knowledge_sets) == (ScopeOrigin.BINDING, ("bound",))


@pytest.mark.parametrize(
    ("channel_id", "parent", "is_thread"),
    [("T55", "", True), ("", "", False), ("", "", True)],
    ids=["thread without parent", "no channel id", "nothing known"],
)
def test_a_channel_the_door_could_not_identify_is_refused(channel_id, parent, is_thread):
    workspace_with("G1", "public", every_set=True, platform="discord")

    scope = channel_scope(
        platform="discord",
        workspace_id="G1",
        channel_id=channel_id,
        parent_channel_id=parent,
        is_thread=is_thread,
    )

    assert scope.origin == ScopeOrigin.NONE
    assert scope.channel.knowledge_sets == () and scope.channel.refusal == UNKNOWN_CHANNEL_MESSAGE


def test_a_bound_thread_needs_no_parent():
    ChannelBindingFactory(
        platform="discord", channel_id="T55", sets=[KnowledgeSetFactory(name="t")]
    )

    scope = channel_scope(platform="discord", workspace_id="G1", channel_id="T55", is_thread=True)

    assert (scope.origin, scope.channel.knowledge_sets) == (ScopeOrigin.BINDING, ("t",))


def test_ask_refuses_an_unscoped_question_with_its_reason_and_no_ledger_row():
    scope = channel_scope(platform="slack", workspace_id="T1", channel_id="C1")
    member = MemberFactory()

    answer = ask(member=member, question="How many vacation days?", channel=scope.channel)

    assert answer.mode == AnswerMode.REFUSED and answer.text == UNSCOPED_CHANNEL_MESSAGE
    assert answer.sources == [] and not UsageRecord.objects.exists()


def test_a_binding_without_sets_switches_the_bot_off_in_that_channel():
    ChannelBindingFactory(channel_id="C2", sets=[])
    scope = channel_scope(platform="slack", workspace_id="T1", channel_id="C2")
    assert scope.origin == ScopeOrigin.BINDING and scope.channel.knowledge_sets == ()

    answer = ask(member=MemberFactory(), question="How many vacation days?", channel=scope.channel)

    assert answer.mode == AnswerMode.REFUSED
    assert "No knowledge sets are bound to this channel" in answer.text


def test_the_cli_channel_still_reads_every_set(handbook):
    """The server operator's terminal is trusted: no workspace, no binding, every set."""
    answer = ask(member=None, question="How many vacation days do I get?", channel=Channel())

    assert answer.mode == AnswerMode.EXTRACTIVE and answer.sources


def test_an_inactive_member_is_refused_without_a_ledger_row():
    member = MemberFactory(is_active=False)
    answer = ask(member=member, question="How many vacation days?", channel=Channel())
    assert answer.mode == AnswerMode.REFUSED and answer.text == INACTIVE_MESSAGE
    assert not member.usage.exists()
