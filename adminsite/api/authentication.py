"""`Authorization: Bearer ak_…`: the API token in front of every endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from ragengine.models import ApiToken
from ragengine.services.api_tokens import api_token_authenticate

HOW_TO_SEND = "Send the API token as `Authorization: Bearer ak_…` (admin → API tokens)."


@dataclass(frozen=True, slots=True)
class TokenUser:
    """`request.user` for a token: the member it speaks for is `token.member`."""

    token: ApiToken
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False
    pk: None = None

    def __str__(self) -> str:
        return f"api-token:{self.token.pk}"


class ApiTokenAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[TokenUser, ApiToken] | None:
        header = get_authorization_header(request)
        if not header:
            return None
        try:
            scheme, _, credentials = header.decode("ascii").partition(" ")
        except UnicodeDecodeError:
            raise AuthenticationFailed(HOW_TO_SEND) from None
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthenticationFailed(HOW_TO_SEND)
        check = api_token_authenticate(plain=credentials.strip())
        if check.token is None:
            raise AuthenticationFailed(check.problem)
        return TokenUser(check.token), check.token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'
