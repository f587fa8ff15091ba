"""The request id (and door) of the work in progress, for logs and error reports.

One id follows a question from where it enters (an HTTP request, a Slack or Discord
event, a background task) to its answer: the entry point binds it here, `ask()` and the
ledger use it, and a logging filter writes it on every line. A `ContextVar`, so threads
and asyncio tasks each see their own; work handed to a thread pool carries it only when
the pool copies the submitter's context (botcore.jobs does).

Bottom layer: the standard library only.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

# What an incoming X-Request-ID may be: letters, digits and - _ . : (a UUID, a hex id,
# a proxy's id), at most 64 characters. Anything else is replaced, never logged as sent.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
# The ledger and `ask()` keep 32 characters of a request id.
MAX_ID_CHARS = 32


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    door: str = ""


_current: ContextVar[RequestContext | None] = ContextVar("arandu_request", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex[:12]


def sane_request_id(value: str | None) -> str | None:
    """`value` cut to the length the ledger keeps, if it is a plausible id; else None."""
    value = (value or "").strip()
    if not _SANE_ID.fullmatch(value):
        return None
    return value[:MAX_ID_CHARS]


def current_request_id() -> str:
    """The bound request id, or "" outside any request, event or task."""
    context = _current.get()
    return context.request_id if context else ""


def current_door() -> str:
    context = _current.get()
    return context.door if context else ""


@contextmanager
def request_scope(request_id: str, *, door: str = "") -> Iterator[str]:
    """Bind `request_id` (and the door it came through) for the block; yields the id.
    A door left empty keeps the enclosing one (a Slack event inside an HTTP request)."""
    door = door or current_door()
    token = _current.set(RequestContext(request_id=request_id[:MAX_ID_CHARS], door=door))
    try:
        yield request_id[:MAX_ID_CHARS]
    finally:
        _current.reset(token)


def enter_request(request_id: str, *, door: str = "") -> Token:
    """Bind where no `with` block spans the work (a task between django-q2's pre- and
    post-execute signals); `leave_request(token)` restores what was bound before."""
    return _current.set(RequestContext(request_id=request_id[:MAX_ID_CHARS], door=door))


def leave_request(token: Token) -> None:
    _current.reset(token)
