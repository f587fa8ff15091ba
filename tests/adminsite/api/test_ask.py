"""POST /api/v1/ask through DRF's test client: the same ask() as every door, scoped to
the token's knowledge sets, with field-level 400s for bad input."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from ragengine.models import ApiTokenKind, KnowledgeSet, Tier, UsageRecord
from ragengine.services.ingest import documents_ingest_paths
from ragengine.services.knowledge import knowledge_set_get_or_create
from tests.adminsite.api.conftest import QUESTION, client_for
from tests.factories import MemberFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

ASK = reverse("api:ask")


def post(issued, body: dict, **extra):
    """JSON as a client sends it (escaped, so a lone surrogate arrives as `\\ud800`)."""
    return client_for(issued).post(ASK, json.dumps(body), content_type="application/json", **extra)


def test_a_member_token_gets_an_answer_with_sources_from_its_sets(issue, handbook):
    issued = issue(sets=[handbook])

    response = post(issued, {"question": QUESTION})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mode"] == "extractive"
    assert "25 working days" in body["answer"]
    assert body["sources"][0]["number"] == 1 and body["sources"][0]["title"]
    assert {"answer", "mode", "sources", "cost", "timings_ms", "request_id"} <= set(body)
    row = UsageRecord.objects.get(member=issued.token.member)
    assert row.channel == f"api:token:{issued.token.pk}"
    assert row.request_id == body["request_id"]


def test_the_second_identical_question_is_served_from_the_cache(issue, handbook):
    issued = issue(sets=[handbook])

    first = post(issued, {"question": QUESTION}).json()
    second = post(issued, {"question": QUESTION}).json()

    assert first["mode"] == "extractive"
    assert second["mode"] == "cached"
    assert second["sources"] == first["sources"]


@pytest.fixture
def two_sets(embedder, tmp_path):
    """ "handbook" (vacation) and "secret" (a salary table nobody else may read)."""
    (tmp_path / "hb").mkdir()
    (tmp_path / "hb" / "leave.md").write_text(
        "# Leave\n\n## Vacation\n\nEmployees get 25 working days of paid vacation per year.\n"
    )
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "salaries.md").write_text(
        "# Salaries\n\n## Executive pay\n\nThe executive salary band tops at 900000 zorkmids.\n"
    )
    for name in ("handbook", "secret"):
        documents_ingest_paths(
            paths=[tmp_path / ("hb" if name == "handbook" else name)],
            knowledge_set=knowledge_set_get_or_create(name=name),
        )
    return KnowledgeSet.objects.get(name="handbook"), KnowledgeSet.objects.get(name="secret")


def test_answers_never_use_a_set_outside_the_token_scope(issue, two_sets):
    handbook, _secret = two_sets
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[handbook])

    body = post(issued, {"question": "What does the executive salary band top at?"}).json()

    assert "900000" not in body["answer"]
    assert all("Salaries" not in s["title"] for s in body["sources"])


def test_unknown_and_forbidden_sets_get_the_same_403(issue, two_sets):
    handbook, _secret = two_sets
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[handbook])

    forbidden = post(issued, {"question": QUESTION, "knowledge_sets": ["secret"]})
    unknown = post(issued, {"question": QUESTION, "knowledge_sets": ["no-such-set"]})

    assert forbidden.status_code == unknown.status_code == 403
    assert forbidden.json()["error"] == unknown.json()["error"] == "knowledge_sets_not_allowed"
    assert forbidden.json()["detail"].replace("secret", "X") == unknown.json()["detail"].replace(
        "no-such-set", "X"
    )
    assert "knowledge_sets" in forbidden.json()["fields"]
    assert not UsageRecord.objects.exists()  # refused before ask(): nothing charged


def test_a_request_may_narrow_its_scope_to_some_allowed_sets(issue, two_sets):
    handbook, secret = two_sets
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[handbook, secret])

    narrowed = post(
        issued,
        {"question": "What does the executive salary band top at?", "knowledge_sets": ["handbook"]},
    ).json()
    full = post(issued, {"question": "What does the executive salary band top at?"}).json()

    assert "900000" not in narrowed["answer"]
    assert "900000" in full["answer"]


def test_a_member_token_falls_back_to_the_workspace_defaults(issue, two_sets):
    handbook, _secret = two_sets
    workspace = WorkspaceFactory()
    workspace.default_knowledge_sets.set([handbook])
    member = MemberFactory(workspace=workspace)
    issued = issue(member=member)

    body = post(issued, {"question": "What does the executive salary band top at?"}).json()

    assert "900000" not in body["answer"]
    assert client_for(issued).get(reverse("api:knowledge-sets")).json()["origin"] == "workspace"


def test_a_member_without_sets_or_defaults_is_refused_never_given_every_set(issue, two_sets):
    issued = issue(member=MemberFactory(display_name="Ana"))

    response = post(issued, {"question": QUESTION})

    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "no_knowledge_sets"
    assert "Ana" in body["detail"] and "admin → Members" in body["detail"]
    assert not UsageRecord.objects.exists()


def test_a_service_token_without_sets_is_refused(issue, two_sets):
    issued = issue(kind=ApiTokenKind.SERVICE)

    response = post(issued, {"question": QUESTION})

    assert response.status_code == 403
    assert "admin → API tokens" in response.json()["detail"]


def test_a_service_token_is_charged_to_its_own_member_and_tier(issue, handbook):
    tier = Tier.objects.create(name="Integrations", questions_per_hour=1)
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[handbook])
    member = issued.token.member
    assert member.display_name == f"api:{issued.token.name}"
    member.tier = tier
    member.save()

    first = post(issued, {"question": QUESTION}).json()
    second = post(issued, {"question": "Can I carry vacation days over to next year?"}).json()

    assert first["mode"] == "extractive"
    assert second["mode"] == "refused"  # the tier's questions per hour apply
    assert UsageRecord.objects.filter(member=member).count() >= 1


def test_history_makes_a_follow_up_use_the_thread(issue, handbook):
    issued = issue(sets=[handbook])

    body = post(
        issued,
        {
            "question": "and in Portuguese?",
            "history": [
                {"role": "user", "text": QUESTION},
                {"role": "assistant", "text": "25 working days."},
            ],
        },
    ).json()

    assert body["mode"] == "extractive" and body["sources"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "question", "required"),
        ({"question": "hi"}, "question", "at least 3"),
        ({"question": "   hi   "}, "question", "at least 3"),
        ({"question": "x" * 1001}, "question", "under 1000"),
        ({"question": "What is\x00 the policy?"}, "question", "control character"),
        ({"question": "What is\x1b[31m the policy?"}, "question", "control character"),
        ({"question": "Lone \ud800 surrogate?"}, "question", "control character"),
        ({"question": QUESTION, "knowledge_sets": []}, "knowledge_sets", "empty"),
        ({"question": QUESTION, "knowledge_sets": "handbook"}, "knowledge_sets", "list"),
        ({"question": QUESTION, "knowledge_sets": ["a\x00b"]}, "knowledge_sets", "control"),
        ({"question": QUESTION, "history": [{"role": "system", "text": "x"}]}, "history", ""),
        ({"question": QUESTION, "history": [{"role": "user"}]}, "history", "required"),
        ({"question": QUESTION, "stream": "maybe"}, "stream", "boolean"),
    ],
)
def test_bad_input_is_a_400_with_a_field_level_message(issue, body, field, words):
    issued = issue(sets=["handbook"])

    response = post(issued, body)

    assert response.status_code == 400, response.content
    error = response.json()
    assert error["error"] == "invalid"
    assert field in error["fields"]
    assert error["detail"].startswith(field)
    assert words.lower() in str(error["fields"][field]).lower()
    assert not UsageRecord.objects.exists()


def test_question_limits_follow_the_settings(issue, settings):
    settings.ARANDU_QUESTION_MAX_CHARS = 20
    issued = issue(sets=["handbook"])

    response = post(issued, {"question": "What is the wifi password policy?"})

    assert response.status_code == 400
    assert "under 20" in response.json()["detail"]


def test_malformed_json_is_a_400_parse_error(issue):
    response = client_for(issue(sets=["handbook"])).post(
        ASK, data=b'{"question": ', content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["error"] == "parse_error"


def test_a_blocked_question_is_an_answer_refused_like_in_every_door(issue, handbook):
    issued = issue(sets=[handbook])

    body = post(issued, {"question": "What is the admin password for the database?"}).json()

    assert body["mode"] == "refused"
