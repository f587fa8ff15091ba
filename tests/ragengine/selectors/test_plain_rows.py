"""The API's per-request rows in plain SQL: the same instances and names the ORM gives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ragengine.models import ApiToken, ApiTokenKind, Member, Workspace
from ragengine.selectors.plain_rows import api_token_by_lookup, knowledge_set_names
from ragengine.services.api_tokens import api_token_create
from tests.factories import KnowledgeSetFactory, MemberFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def _field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_the_token_and_its_member_are_what_the_orm_returns(django_assert_num_queries):
    member = MemberFactory(display_name="Ana Ç. — ünïcode")
    issued = api_token_create(
        name="intranet", member=member, scopes=["ask", "documents"], rate_limit="30/min"
    )
    ApiToken.objects.filter(pk=issued.token.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=3), revoked_at=timezone.now()
    )
    orm = ApiToken.objects.select_related("member").get(pk=issued.token.pk)

    with django_assert_num_queries(1):
        token = api_token_by_lookup(lookup=orm.lookup)
        attached = token.member  # already there: no second query

    assert _field_values(token) == _field_values(orm)
    assert token.scopes == ["ask", "documents"]  # JSON decoded, not text
    assert token.revoked_at.tzinfo is not None and token.last_used_at < token.revoked_at
    assert _field_values(attached) == _field_values(orm.member)
    assert token._state.adding is False and token._state.db == "default"
    token.save(update_fields=["name"])  # a normal, saved instance
    assert ApiToken.objects.get(pk=token.pk).name == "intranet"


def test_an_unknown_lookup_is_none():
    api_token_create(name="other", member=MemberFactory())

    assert api_token_by_lookup(lookup="0123456789ab") is None
    assert api_token_by_lookup(lookup="' OR 1=1 --") is None  # a parameter, not SQL


@pytest.mark.parametrize(
    ("model", "relation"),
    [
        (Member, "knowledge_sets"),
        (Workspace, "default_knowledge_sets"),
        (ApiToken, "knowledge_sets"),
    ],
)
def test_set_names_match_the_orm_for_each_relation(model, relation):
    sets = [KnowledgeSetFactory(name=n) for n in ("zeta", "alpha", "mid")]
    KnowledgeSetFactory(name="not-theirs")
    if model is Member:
        owner = MemberFactory()
    elif model is Workspace:
        owner = WorkspaceFactory()
    else:
        owner = api_token_create(name="svc", kind=ApiTokenKind.SERVICE).token
    getattr(owner, relation).set(sets[:2] + [sets[2]])
    empty = MemberFactory() if model is Member else None

    names = knowledge_set_names(model=model, pk=owner.pk, relation=relation)

    assert names == tuple(sorted(getattr(owner, relation).values_list("name", flat=True)))
    assert names == ("alpha", "mid", "zeta")
    if empty is not None:
        assert knowledge_set_names(model=Member, pk=empty.pk, relation=relation) == ()


def test_a_relation_that_is_not_knowledge_sets_is_refused():
    member = MemberFactory()

    with pytest.raises(ValueError, match="not a knowledge-set relation"):
        knowledge_set_names(model=Member, pk=member.pk, relation="workspace")
