"""The REST API's scope comes from trusted data only: a service token's chosen sets, a
member's own sets, else their workspace's defaults, else a refusal (never every set)."""

from __future__ import annotations

import pytest

from ragengine.models import ApiTokenKind
from ragengine.selectors.api_scope import (
    TokenScope,
    TokenScopeOrigin,
    api_channel,
    api_scope,
    api_scope_narrow,
)
from ragengine.services.api_tokens import api_token_create
from tests.factories import KnowledgeSetFactory, MemberFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def member_token(member):
    return api_token_create(name=f"t-{member.pk}", member=member).token


def test_a_service_token_reads_exactly_its_chosen_sets():
    a, b = KnowledgeSetFactory(name="b-set"), KnowledgeSetFactory(name="a-set")
    KnowledgeSetFactory(name="other")
    token = api_token_create(name="svc", kind=ApiTokenKind.SERVICE, knowledge_sets=[a, b]).token

    assert api_scope(token=token) == TokenScope(("a-set", "b-set"), TokenScopeOrigin.TOKEN)


def test_a_service_token_with_no_sets_is_refused_even_if_its_member_has_sets():
    member = MemberFactory()
    member.knowledge_sets.set([KnowledgeSetFactory(name="hr")])
    token = api_token_create(name="svc", kind=ApiTokenKind.SERVICE, member=member).token

    scope = api_scope(token=token)

    assert scope.knowledge_sets == () and "svc" in scope.refusal


def test_a_member_token_reads_the_member_s_own_sets_before_workspace_defaults():
    workspace = WorkspaceFactory()
    workspace.default_knowledge_sets.set([KnowledgeSetFactory(name="general")])
    member = MemberFactory(workspace=workspace)
    member.knowledge_sets.set([KnowledgeSetFactory(name="engineering")])

    assert api_scope(token=member_token(member)) == TokenScope(
        ("engineering",), TokenScopeOrigin.MEMBER
    )


def test_a_member_token_without_own_sets_reads_the_workspace_defaults():
    workspace = WorkspaceFactory()
    workspace.default_knowledge_sets.set([KnowledgeSetFactory(name="general")])
    member = MemberFactory(workspace=workspace)

    assert api_scope(token=member_token(member)).knowledge_sets == ("general",)


@pytest.mark.parametrize("with_workspace", [False, True])
def test_with_neither_the_member_token_is_refused_not_widened(with_workspace):
    KnowledgeSetFactory(name="everything-else")
    member = MemberFactory(
        display_name="Bo", workspace=WorkspaceFactory() if with_workspace else None
    )

    scope = api_scope(token=member_token(member))

    assert scope.knowledge_sets == ()
    assert "Bo" in scope.refusal and "admin → Workspaces" in scope.refusal


def test_narrowing_keeps_a_subset_and_refuses_unknown_and_forbidden_alike():
    KnowledgeSetFactory(name="finance")
    scope = TokenScope(("handbook", "it"), TokenScopeOrigin.TOKEN)

    assert api_scope_narrow(scope=scope, requested=None) == scope
    assert api_scope_narrow(scope=scope, requested=["it", "it"]).knowledge_sets == ("it",)
    forbidden = api_scope_narrow(scope=scope, requested=["it", "finance"])
    unknown = api_scope_narrow(scope=scope, requested=["it", "nope"])
    assert forbidden.knowledge_sets == unknown.knowledge_sets == ()
    assert forbidden.refusal.replace("finance", "?") == unknown.refusal.replace("nope", "?")


def test_the_channel_names_the_token_and_carries_only_the_scope():
    member = MemberFactory()
    member.knowledge_sets.set([KnowledgeSetFactory(name="hr")])
    token = member_token(member)

    channel = api_channel(token=token, scope=api_scope(token=token))

    assert (channel.platform, channel.channel_id) == ("api", f"token:{token.pk}")
    assert channel.knowledge_sets == ("hr",)
    with pytest.raises(ValueError):
        api_channel(token=token, scope=TokenScope(refusal="no"))
