"""The knowledge sets a request may read, or the 403 that says why none."""

from __future__ import annotations

from collections.abc import Sequence

from rest_framework.exceptions import PermissionDenied

from ragengine.models import ApiToken
from ragengine.selectors.api_scope import TokenScope, api_scope, api_scope_narrow


class NoKnowledgeSets(PermissionDenied):
    default_code = "no_knowledge_sets"


class KnowledgeSetsNotAllowed(PermissionDenied):
    """Unknown and forbidden sets get this same answer: existence is never revealed."""

    default_code = "knowledge_sets_not_allowed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.extra_body = {"fields": {"knowledge_sets": [detail]}}


def token_scope(*, token: ApiToken, requested: Sequence[str] | None = None) -> TokenScope:
    scope = api_scope(token=token)
    if scope.refusal:
        raise NoKnowledgeSets(scope.refusal)
    narrowed = api_scope_narrow(scope=scope, requested=requested)
    if narrowed.refusal:
        raise KnowledgeSetsNotAllowed(narrowed.refusal)
    return narrowed
