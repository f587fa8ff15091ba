"""API tokens: shown once, stored hashed, checked in constant time, revocable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from ragengine.models import ApiToken, ApiTokenKind, Member
from ragengine.services.api_tokens import (
    INVALID_TOKEN,
    api_token_authenticate,
    api_token_create,
    api_token_issue,
    api_tokens_revoke,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_a_token_authenticates_and_only_its_hash_is_kept():
    issued = api_token_create(name="intranet", member=MemberFactory())

    check = api_token_authenticate(plain=issued.plain)

    assert check.token == issued.token and check.problem == ""
    row = ApiToken.objects.get(pk=issued.token.pk)
    assert issued.plain not in (row.secret_hash, row.lookup) and len(row.secret_hash) == 64
    assert row.display_prefix == f"ak_{row.lookup}_…"


def test_two_tokens_never_share_a_secret():
    member = MemberFactory()
    first = api_token_create(name="a", member=member).plain
    second = api_token_create(name="b", member=member).plain
    assert first != second and first.split("_")[1] != second.split("_")[1]


@pytest.mark.parametrize(
    "plain", ["", "ak_", "ak_abc_def", "xx_0123456789ab_secret", "ak_0123456789ab_"]
)
def test_malformed_tokens_are_invalid(plain):
    api_token_create(name="a", member=MemberFactory())
    assert api_token_authenticate(plain=plain).problem == INVALID_TOKEN


def test_a_service_token_gets_its_own_member_for_tier_budget_and_ledger():
    issued = api_token_create(name="wiki sync", kind=ApiTokenKind.SERVICE)

    assert issued.token.member.display_name == "api:wiki sync"
    assert Member.objects.filter(display_name="api:wiki sync").count() == 1


def test_a_member_token_needs_its_member_and_known_scopes_and_rates():
    with pytest.raises(ValidationError):
        api_token_create(name="nobody")
    with pytest.raises(ValidationError):
        api_token_create(name="x", member=MemberFactory(), scopes=["ask", "admin"])
    with pytest.raises(ValidationError):
        api_token_create(name="y", member=MemberFactory(), rate_limit="lots")
    assert not ApiToken.objects.exists()


def test_a_saved_token_is_never_reissued():
    issued = api_token_create(name="a", member=MemberFactory())
    with pytest.raises(ValueError):
        api_token_issue(token=issued.token)


def test_revoked_tokens_are_refused_with_the_date():
    issued = api_token_create(name="a", member=MemberFactory())
    api_tokens_revoke(tokens=[issued.token])

    check = api_token_authenticate(plain=issued.plain)

    assert check.token is None and "revoked on" in check.problem


def test_last_used_moves_at_most_once_a_minute():
    issued = api_token_create(name="a", member=MemberFactory())
    now = timezone.now()

    api_token_authenticate(plain=issued.plain, now=now)
    api_token_authenticate(plain=issued.plain, now=now + timedelta(seconds=30))
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == now

    later = now + timedelta(seconds=61)
    api_token_authenticate(plain=issued.plain, now=later)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == later
