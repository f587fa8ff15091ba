"""API tokens in the admin: created with the plain token shown once (never stored or put
in a message), service accounts get their own member, revocation asks first."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ragengine.models import ApiToken, ApiTokenKind
from tests.adminsite.api.conftest import client_for
from tests.factories import KnowledgeSetFactory, MemberFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:ragengine_apitoken_add")
CHANGELIST = reverse("admin:ragengine_apitoken_changelist")


def plain_token_in(html: str) -> str:
    match = re.search(r'value="(ak_[0-9a-f]{12}_[A-Za-z0-9_-]+)"', html)
    assert match, html
    return match.group(1)


def test_creating_a_member_token_shows_it_once_and_it_works(admin_client):
    member = MemberFactory(display_name="Ana")
    member.knowledge_sets.set([KnowledgeSetFactory(name="handbook")])

    response = admin_client.post(
        ADD, {"name": "Ana's laptop", "kind": "member", "member": member.pk, "scopes": ["ask"]}
    )

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    plain = plain_token_in(html)
    assert "shown only once" in html
    token = ApiToken.objects.get(name="Ana's laptop")
    assert token.member == member and token.scopes == ["ask"]
    assert token.created_by.username == "admin"
    assert plain not in str(ApiToken.objects.values().get(pk=token.pk))
    # never again: not on the change page, not in the list, not in a stored message
    for page in (reverse("admin:ragengine_apitoken_change", args=[token.pk]), CHANGELIST):
        assert plain not in admin_client.get(page).content.decode()
    assert client_for(plain).get(reverse("api:knowledge-sets")).status_code == 200


def test_a_service_account_without_a_member_gets_one_and_its_chosen_sets(admin_client):
    handbook = KnowledgeSetFactory(name="handbook")

    response = admin_client.post(
        ADD,
        {
            "name": "wiki sync",
            "kind": "service",
            "scopes": ["ask", "documents"],
            "knowledge_sets": [handbook.pk],
            "rate_limit": "120/min",
        },
    )

    plain = plain_token_in(response.content.decode())
    token = ApiToken.objects.get(name="wiki sync")
    assert token.kind == ApiTokenKind.SERVICE and token.member.display_name == "api:wiki sync"
    assert list(token.knowledge_sets.values_list("name", flat=True)) == ["handbook"]
    body = client_for(plain).get(reverse("api:knowledge-sets")).json()
    assert body["origin"] == "token" and [s["name"] for s in body["knowledge_sets"]] == ["handbook"]


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"name": "x", "kind": "member", "scopes": ["ask"]}, "member"),
        ({"name": "x", "kind": "service", "scopes": []}, "scopes"),
        ({"name": "x", "kind": "service", "scopes": ["root"]}, "scopes"),
        ({"name": "x", "kind": "service", "scopes": ["ask"], "rate_limit": "fast"}, "rate_limit"),
    ],
)
def test_invalid_forms_show_the_field_error_and_create_nothing(admin_client, form, field):
    response = admin_client.post(ADD, form)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not ApiToken.objects.exists()


def test_revoking_asks_first_then_refuses_the_token(admin_client, issue):
    issued = issue(sets=["handbook"])
    selected = {"action": "revoke", "_selected_action": [issued.token.pk]}

    confirm = admin_client.post(CHANGELIST, selected)
    assert confirm.status_code == 200 and "can't be undone" in confirm.content.decode()
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is None

    done = admin_client.post(CHANGELIST, {**selected, "confirm": "yes"}, follow=True)
    assert "1 API token(s) revoked" in done.content.decode()
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
    assert client_for(issued).get(reverse("api:knowledge-sets")).status_code == 401


def test_the_list_shows_prefix_scopes_and_state(admin_client, issue):
    issued = issue(sets=["handbook"], scopes=["ask", "reports"])

    html = admin_client.get(CHANGELIST).content.decode()

    assert issued.token.display_prefix in html
    assert "ask, reports" in html and "live" in html
