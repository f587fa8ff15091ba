"""A member's API token never inherits their workspace's "answers from every set" switch:
it reads the member's own sets, else the workspace's default sets, else it is refused —
for asking, listing, documents and evaluation alike. The switch is for a chat workspace's
channels (an admin's choice for that team), not a way for any token to read every set."""

from __future__ import annotations

import pytest

from ragengine.models import ApiTokenKind
from tests.adminsite.api.conftest import QUESTION, client_for
from tests.factories import KnowledgeSetFactory, MemberFactory, WorkspaceFactory


@pytest.fixture
def open_workspace(db):
    """A workspace whose admin switched on "answers from every set", with no defaults."""
    return WorkspaceFactory(answers_from_every_set=True)


@pytest.fixture
def member_token(issue, open_workspace, handbook):
    KnowledgeSetFactory(name="salaries")  # a set nobody gave this member
    member = MemberFactory(workspace=open_workspace)  # no sets of their own
    return issue(member=member, scopes=["ask", "documents", "evaluation"])


def test_listing_is_refused_not_widened_to_every_set(member_token):
    response = client_for(member_token).get("/api/v1/knowledge-sets")
    assert response.status_code == 403
    assert response.json()["error"] == "no_knowledge_sets"


@pytest.mark.parametrize("requested", [None, ["handbook"], ["salaries"]])
def test_asking_is_refused_whatever_sets_the_request_names(member_token, requested):
    body = {"question": QUESTION} | ({"knowledge_sets": requested} if requested else {})
    response = client_for(member_token).post("/api/v1/ask", body, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == "no_knowledge_sets"


def test_documents_are_out_of_reach(member_token, handbook):
    document = handbook.documents.first()
    response = client_for(member_token).get(f"/api/v1/documents/{document.pk}")
    assert response.status_code == 403


def test_with_workspace_defaults_the_member_reads_those_only(member_token, open_workspace):
    open_workspace.default_knowledge_sets.set([KnowledgeSetFactory(name="policies")])
    response = client_for(member_token).get("/api/v1/knowledge-sets")
    assert response.status_code == 200
    body = response.json()
    assert [s["name"] for s in body["knowledge_sets"]] == ["policies"]
    assert body["origin"] == "workspace"
    asked = client_for(member_token).post(
        "/api/v1/ask", {"question": QUESTION, "knowledge_sets": ["handbook"]}, format="json"
    )
    assert asked.status_code == 403
    assert asked.json()["error"] == "knowledge_sets_not_allowed"


def test_the_members_own_sets_win_over_the_workspace(issue, open_workspace, handbook):
    member = MemberFactory(workspace=open_workspace)
    member.knowledge_sets.set([handbook])
    issued = issue(member=member)
    body = client_for(issued).get("/api/v1/knowledge-sets").json()
    assert [s["name"] for s in body["knowledge_sets"]] == ["handbook"]
    assert body["origin"] == "member"


def test_a_service_account_reads_only_its_chosen_sets(issue, open_workspace, handbook):
    KnowledgeSetFactory(name="salaries")
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[handbook])
    body = client_for(issued).get("/api/v1/knowledge-sets").json()
    assert [s["name"] for s in body["knowledge_sets"]] == ["handbook"]
