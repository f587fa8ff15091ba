"""Tokens in front of every endpoint: 401 without a live token, 403 without the scope or
with a switched-off member, 429 past the token's rate, each with a JSON body saying why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from ragengine.models import ApiToken
from ragengine.services.api_tokens import api_tokens_revoke
from tests.adminsite.api.conftest import client_for

pytestmark = pytest.mark.django_db

SETS = reverse("api:knowledge-sets")


def test_no_token_is_401_with_a_bearer_challenge_and_a_json_reason():
    response = client_for(None).get(SETS)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"] == "not_authenticated"
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Token abc",
        "Bearer",
        "Bearer ak_short_x",
        "Bearer ak_0123456789ab_wrong-secret",
        "Basic YWRtaW46YWRtaW4=",
    ],
)
def test_a_malformed_or_unknown_token_is_401(issue, header):
    issue(sets=["handbook"])
    client = client_for(None)
    client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get(SETS)

    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"
    assert "admin → API tokens" in response.json()["detail"]


def test_the_right_lookup_with_a_wrong_secret_is_refused(issue):
    issued = issue(sets=["handbook"])
    forged = issued.plain[:-4] + ("AAAA" if not issued.plain.endswith("AAAA") else "BBBB")

    assert client_for(forged).get(SETS).status_code == 401
    assert client_for(issued).get(SETS).status_code == 200


def test_only_a_hash_of_the_token_is_stored(issue):
    issued = issue(sets=["handbook"])
    row = ApiToken.objects.values().get(pk=issued.token.pk)

    assert all(issued.plain not in str(value) for value in row.values())
    secret = issued.plain.rsplit("_", 1)[1]
    assert all(secret not in str(value) for value in row.values())
    assert issued.plain.startswith(f"ak_{row['lookup']}_")


def test_a_revoked_token_is_refused_with_the_reason(issue):
    issued = issue(sets=["handbook"])
    assert client_for(issued).get(SETS).status_code == 200

    api_tokens_revoke(tokens=[issued.token])
    response = client_for(issued).get(SETS)

    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_missing_scope_is_403_naming_the_scope_and_the_fix(issue):
    issued = issue(sets=["handbook"], scopes=["ask"])

    response = client_for(issued).get(reverse("api:usage"))

    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "scope_missing"
    assert "'reports'" in body["detail"] and issued.token.name in body["detail"]


def test_a_switched_off_member_is_403_on_every_endpoint(issue):
    issued = issue(sets=["handbook"], scopes=["ask", "documents", "reports"])
    issued.token.member.is_active = False
    issued.token.member.save()
    client = client_for(issued)

    for response in (
        client.get(SETS),
        client.get(reverse("api:usage")),
        client.post(reverse("api:ask"), {"question": "How many vacation days?"}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["error"] == "member_inactive"


def test_last_used_is_written_at_most_once_a_minute(issue):
    issued = issue(sets=["handbook"])
    client = client_for(issued)

    client.get(SETS)
    first = ApiToken.objects.get(pk=issued.token.pk).last_used_at
    assert first is not None
    client.get(SETS)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at == first

    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get(SETS)
    assert ApiToken.objects.get(pk=issued.token.pk).last_used_at > first - timedelta(minutes=1)


def test_the_token_rate_gives_429_with_retry_after_and_counts_per_token(issue, settings):
    settings.ARANDU_API_RATE = "3/min"
    busy, other = issue(sets=["handbook"]), issue(sets=["handbook"])
    client = client_for(busy)

    statuses = [client.get(SETS).status_code for _ in range(4)]
    response = client.get(SETS)

    assert statuses == [200, 200, 200, 429]
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "throttled"
    assert 1 <= body["retry_after_s"] <= 60
    assert response["Retry-After"] == str(body["retry_after_s"])
    assert client_for(other).get(SETS).status_code == 200  # another token's own budget


def test_a_token_s_own_rate_overrides_the_default(issue, settings):
    settings.ARANDU_API_RATE = "100/min"
    issued = issue(sets=["handbook"], rate_limit="1/hour")
    client = client_for(issued)

    assert client.get(SETS).status_code == 200
    response = client.get(SETS)
    assert response.status_code == 429
    assert response.json()["retry_after_s"] > 60


def test_unknown_routes_under_the_api_answer_json(issue):
    response = client_for(issue(sets=["handbook"])).get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_revocation_time_is_kept(issue):
    issued = issue(sets=["handbook"])
    before = timezone.now()
    assert api_tokens_revoke(tokens=[issued.token]) == 1
    assert api_tokens_revoke(tokens=[issued.token]) == 0  # already revoked: unchanged
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at >= before
