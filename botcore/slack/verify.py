"""The checks a POST to `/slack/events` passes before Bolt is imported, the app built
(auth.test) or the body handed on: Slack's signature headers, the body's size, then
the body's shape. A bad request costs microseconds and never an outbound call.

The signature is Slack's v0 scheme (https://api.slack.com/authentication/verifying-
requests-from-slack), the same one `slack_sdk.signature.SignatureVerifier` computes,
here over the raw bytes so a body that is not UTF-8 is refused instead of crashing a
decoder. Bolt verifies again (defence in depth).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
MAX_AGE_S = 5 * 60  # Slack's own replay window
# Slack's largest payloads (a 👍 click carries the whole 50-block answer) stay well under.
MAX_BODY_BYTES = 1024 * 1024
# Slack's deepest payloads (rich text inside a message inside an interaction) nest ~12.
MAX_NESTING = 64

_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Rejection:
    status: int
    reason: str  # a stable code, for the log and the JSON answer
    message: str  # safe to show the sender

    def as_json(self) -> dict[str, str]:
        return {"error": self.reason, "message": self.message}


MISSING_SIGNATURE = Rejection(
    401, "missing_signature", f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required."
)
MALFORMED_TIMESTAMP = Rejection(
    400, "malformed_timestamp", f"{TIMESTAMP_HEADER} must be a Unix time in whole seconds."
)
MALFORMED_SIGNATURE = Rejection(
    400, "malformed_signature", f"{SIGNATURE_HEADER} must look like v0=<64 hex digits>."
)
STALE = Rejection(401, "stale_request", f"{TIMESTAMP_HEADER} is more than five minutes from now.")
MALFORMED_LENGTH = Rejection(400, "malformed_length", "Content-Length must be a number.")
TOO_LARGE = Rejection(
    413, "too_large", f"Slack requests are under {MAX_BODY_BYTES // 1024} KiB; this one is not."
)
UNREADABLE = Rejection(400, "unreadable_body", "The request body could not be read.")
BAD_SIGNATURE = Rejection(401, "bad_signature", "The signature does not match the body.")
MALFORMED_BODY = Rejection(
    400,
    "malformed_body",
    "The body is not a Slack payload (a JSON object, or a form whose payload is one).",
)


def header_rejection(*, headers: Mapping[str, str], now: float) -> Rejection | None:
    """What is wrong with the signature headers, judged without reading the body."""
    timestamp = headers.get(TIMESTAMP_HEADER)
    signature = headers.get(SIGNATURE_HEADER)
    if not timestamp or not signature:
        return MISSING_SIGNATURE
    if not _TIMESTAMP.fullmatch(timestamp):
        return MALFORMED_TIMESTAMP
    if not _SIGNATURE.fullmatch(signature):
        return MALFORMED_SIGNATURE
    if abs(now - int(timestamp)) > MAX_AGE_S:
        return STALE
    return None


def length_rejection(content_length: str | None) -> Rejection | None:
    """413 for a declared body over MAX_BODY_BYTES, before any of it is read."""
    if not content_length:
        return None  # no body at all: the signature check decides
    if not content_length.isascii() or not content_length.isdigit():
        return MALFORMED_LENGTH
    return TOO_LARGE if int(content_length) > MAX_BODY_BYTES else None


def signature_rejection(
    *, secret: str, timestamp: str, signature: str, body: bytes
) -> Rejection | None:
    """Slack's v0 HMAC-SHA256 over `v0:<timestamp>:<body>`, compared in constant time."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else BAD_SIGNATURE


def body_rejection(*, body: bytes, headers: Mapping[str, str], query: str) -> Rejection | None:
    """A signed body Bolt could not turn into a request (broken JSON, a JSON array, a
    form whose `payload` isn't a JSON object, not UTF-8, nested deeper than any Slack
    payload): parsed here exactly as Bolt will parse it, so Bolt never raises on it."""
    from slack_bolt.request import BoltRequest  # signed requests build the app anyway

    try:
        request = BoltRequest(body=body.decode("utf-8"), query=query, headers=dict(headers))
    except (ValueError, TypeError, AttributeError, LookupError, RecursionError):
        return MALFORMED_BODY  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
    if not isinstance(request.body, dict) or nested_deeper_than(request.body, MAX_NESTING):
        return MALFORMED_BODY
    return None


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON-like `value` has containers nested more than `limit` deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class RejectionLog:
    """One warning line per rejection reason per `interval_s`, saying how many were left
    out since: a flood of bad requests can't flood the log (or fill a disk)."""

    def __init__(self, *, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._left_out: dict[str, int] = {}

    def warn(self, rejection: Rejection, *, remote_addr: str) -> bool:
        """Log `rejection` unless its reason was logged less than `interval_s` ago;
        returns whether a line was written."""
        now = self._clock()
        with self._lock:
            last = self._last.get(rejection.reason)
            if last is not None and now - last < self.interval_s:
                self._left_out[rejection.reason] = self._left_out.get(rejection.reason, 0) + 1
                return False
            self._last[rejection.reason] = now
            left_out = self._left_out.pop(rejection.reason, 0)
        logger.warning(
            "slack request rejected",
            extra={
                "platform": "slack",
                "reason": rejection.reason,
                "status": rejection.status,
                "remote_addr": remote_addr,
                "not_logged_since_last": left_out,
            },
        )
        return True
