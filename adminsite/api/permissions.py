"""What a token may do: each view names the scope it needs (`required_scope`)."""

from __future__ import annotations

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from ragengine.models import ApiToken


class MemberInactive(PermissionDenied):
    default_detail = "The member this token speaks for is switched off (admin → Members)."
    default_code = "member_inactive"


class ScopeMissing(PermissionDenied):
    default_code = "scope_missing"


class HasTokenScope(BasePermission):
    """A live token whose member is active and whose scopes include the view's scope."""

    def has_permission(self, request: Request, view) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return False  # DRF answers 401 with WWW-Authenticate
        if not token.member.is_active:
            raise MemberInactive()
        required = getattr(view, "required_scope", None)
        if required is not None and required not in token.scopes:
            raise ScopeMissing(
                f"This token lacks the '{required}' scope. Ask an admin to add it "
                f"(admin → API tokens → {token.name} → Scopes)."
            )
        return True
