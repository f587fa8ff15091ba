"""API test helpers: tokens issued through the service, a DRF client per token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from ragengine.models import ApiTokenKind, KnowledgeSet, Member
from ragengine.services.api_tokens import IssuedToken, api_token_create
from tests.factories import KnowledgeSetFactory, MemberFactory
from tests.ragengine.evaluation.conftest import eval_set  # noqa: F401 - the handbook's eval set

QUESTION = "How many vacation days do I get per year?"


@pytest.fixture(autouse=True)
def _tasks_run_synchronously(monkeypatch):
    """django-q2 reads `sync` once at import; tests run queued tasks in-process."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "uploads"


@pytest.fixture
def issue(db) -> Callable[..., IssuedToken]:
    """`issue(sets=[...], scopes=[...], kind=..., member=...)`: a token and its plain value.

    A member token (the default) gets a fresh member whose own sets are `sets`; a service
    token's allowed sets are `sets`.
    """
    counter = iter(range(1, 10_000))

    def make(
        *,
        sets: list[KnowledgeSet | str] = (),
        scopes: list[str] = ("ask",),
        kind: str = ApiTokenKind.MEMBER,
        member: Member | None = None,
        rate_limit: str = "",
    ) -> IssuedToken:
        knowledge_sets = [
            s if isinstance(s, KnowledgeSet) else KnowledgeSetFactory(name=s) for s in sets
        ]
        if kind == ApiTokenKind.MEMBER and member is None:
            member = MemberFactory()
            member.knowledge_sets.set(knowledge_sets)
        return api_token_create(
            name=f"token-{next(counter)}",
            kind=kind,
            member=member,
            scopes=list(scopes),
            knowledge_sets=knowledge_sets if kind == ApiTokenKind.SERVICE else (),
            rate_limit=rate_limit,
        )

    return make


def client_for(issued: IssuedToken | str | None) -> APIClient:
    client = APIClient()
    if issued is not None:
        plain = issued if isinstance(issued, str) else issued.plain
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client
