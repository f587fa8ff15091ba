"""Issuing, checking and revoking REST API tokens.

Only the sha256 of a token is stored: a token is 256 random bits, so a fast hash is as
safe as a slow one and keeps every request cheap. The plain token exists once, in the
return value of `api_token_issue`, for the admin to copy.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ragengine.models import ApiToken, ApiTokenKind, KnowledgeSet, Member
from ragengine.models.api_tokens import TOKEN_PREFIX
from ragengine.selectors.plain_rows import api_token_by_lookup

logger = logging.getLogger(__name__)

# `last_used_at` is written at most this often per token: one UPDATE a minute, not one
# per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _hash(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def api_token_issue(*, token: ApiToken, created_by=None) -> str:
    """Save a new (unsaved) token with a fresh secret and return the plain token.

    A service account without a member gets its own member "api:<name>", so its
    questions go through a tier, a budget and the ledger like anyone's.
    """
    if token.pk:
        raise ValueError("api_token_issue takes a new token; revoke and issue another instead.")
    lookup = secrets.token_hex(6)
    plain = f"{TOKEN_PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        if not token.member_id:
            if token.kind != ApiTokenKind.SERVICE:
                raise ValueError("A member token needs its member.")
            token.member = Member.objects.create(display_name=f"api:{token.name}"[:200])
        token.lookup = lookup
        token.secret_hash = _hash(plain)
        token.created_by = created_by
        token.save()
    logger.info(
        "api token issued",
        extra={"token_id": token.pk, "token": token.display_prefix, "kind": token.kind},
    )
    return plain


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: ApiToken
    plain: str


def api_token_create(
    *,
    name: str,
    kind: str = ApiTokenKind.MEMBER,
    member: Member | None = None,
    scopes: Sequence[str] = ("ask",),
    knowledge_sets: Iterable[KnowledgeSet] = (),
    rate_limit: str = "",
    created_by=None,
) -> IssuedToken:
    """Validate, issue and return a token with its plain value (scripts and tests; the
    admin fills the token from its form and calls `api_token_issue`)."""
    token = ApiToken(
        name=name, kind=kind, member=member, scopes=list(scopes), rate_limit=rate_limit
    )
    token.full_clean(exclude=["member", "lookup", "secret_hash"])  # clean() checks member
    with transaction.atomic():
        plain = api_token_issue(token=token, created_by=created_by)
        token.knowledge_sets.set(list(knowledge_sets))
    return IssuedToken(token=token, plain=plain)


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """`token` when the plain token is valid and live, else `problem` says why."""

    token: ApiToken | None = None
    problem: str = ""


INVALID_TOKEN = "The API token is not valid. Ask an admin for a token (admin → API tokens)."


def api_token_authenticate(*, plain: str, now: datetime | None = None) -> TokenCheck:
    """The live token behind `plain`, its `last_used_at` refreshed (at most once a minute)."""
    prefix, _, rest = plain.partition("_")
    lookup, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or len(lookup) != 12 or not secret:
        return TokenCheck(problem=INVALID_TOKEN)
    token = api_token_by_lookup(lookup=lookup)  # one plain query, its member attached
    # Compared in constant time; an unknown lookup costs the same hash as a known one.
    expected = token.secret_hash if token is not None else "0" * 64
    if not hmac.compare_digest(_hash(plain), expected) or token is None:
        return TokenCheck(problem=INVALID_TOKEN)
    if token.revoked_at is not None:
        return TokenCheck(
            problem=f"This API token was revoked on {token.revoked_at:%Y-%m-%d %H:%M} UTC. "
            "Ask an admin for a new one."
        )
    _touch(token, now or timezone.now())
    return TokenCheck(token=token)


def _touch(token: ApiToken, now: datetime) -> None:
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def api_tokens_revoke(*, tokens: Iterable[ApiToken], now: datetime | None = None) -> int:
    """Revoke tokens (their next request is refused); already revoked ones stay as they were."""
    ids = [t.pk for t in tokens]
    count = ApiToken.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now()
    )
    logger.info("api tokens revoked", extra={"tokens": count})
    return count
