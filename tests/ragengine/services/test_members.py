"""Platform accounts → members: created on first contact, one member per person."""

from __future__ import annotations

import pytest

from ragengine.models import Identity, Member, Tier
from ragengine.services.members import member_resolve
from ragengine.services.routing import tier_for_member
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_first_contact_creates_a_member_in_the_workspace_with_its_default_tier():
    tier = Tier.objects.create(name="Guild tier")
    WorkspaceFactory(platform="discord", external_id="G1", default_tier=tier)

    member = member_resolve(platform="discord", user_id="42", workspace_id="G1", display_name="ana")

    assert member.display_name == "ana" and member.workspace.external_id == "G1"
    assert tier_for_member(member) == tier
    assert member_resolve(platform="discord", user_id="42", workspace_id="G1") == member


def test_the_same_account_in_a_dm_or_another_guild_stays_one_member():
    first = member_resolve(platform="discord", user_id="42", workspace_id="G1")
    in_dm = member_resolve(platform="discord", user_id="42", workspace_id="")
    elsewhere = member_resolve(platform="discord", user_id="42", workspace_id="G2")

    assert first == in_dm == elsewhere and Member.objects.count() == 1
    assert set(Identity.objects.values_list("workspace_id", flat=True)) == {"G1", "", "G2"}
    # another platform's account with the same id is someone else, and Slack ids are
    # only unique within a workspace
    slack_one = member_resolve(platform="slack", user_id="42", workspace_id="T1")
    slack_two = member_resolve(platform="slack", user_id="42", workspace_id="T2")
    assert len({first.pk, slack_one.pk, slack_two.pk}) == 3


def test_a_member_first_seen_in_a_dm_joins_the_first_guild_they_ask_in_and_keeps_it():
    in_dm = member_resolve(platform="discord", user_id="42", workspace_id="")
    assert in_dm.workspace is None  # a DM names no guild: nothing to belong to yet

    in_guild = member_resolve(platform="discord", user_id="42", workspace_id="G1", display_name="")
    elsewhere = member_resolve(platform="discord", user_id="42", workspace_id="G2")

    assert in_dm == in_guild == elsewhere
    in_dm.refresh_from_db()
    assert in_dm.workspace.external_id == "G1"  # the first guild, not the latest one


def test_an_admins_workspace_choice_is_never_overwritten():
    chosen = WorkspaceFactory(platform="discord", external_id="G-chosen")
    member = member_resolve(platform="discord", user_id="42", workspace_id="G1")
    member.workspace = chosen
    member.save()

    member_resolve(platform="discord", user_id="42", workspace_id="G2")

    member.refresh_from_db()
    assert member.workspace == chosen


def test_names_from_the_platform_are_stored_without_control_characters():
    from ragengine.models import Workspace

    member = member_resolve(
        platform="discord",
        user_id="43",
        workspace_id="G9",
        display_name="ana\x00\x1b[31m \ud83d",
        workspace_name="Acme\x00 Guild",
    )

    member.refresh_from_db()
    assert member.display_name == "ana[31m \ufffd"
    assert Workspace.objects.get(external_id="G9").name == "Acme Guild"
