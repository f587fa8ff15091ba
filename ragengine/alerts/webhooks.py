"""Signed outbound webhooks, for alerts and evaluation reports alike.

The body is JSON; `X-Arandu-Timestamp` carries the Unix time of the attempt and
`X-Arandu-Signature` is `sha256=` + hex HMAC-SHA256 over "<timestamp>.<body>" with the
secret from the environment variable the webhook names, so a receiver can check both who
sent it and that it is fresh. Network errors, 408, 429 and 5xx are retried with
exponential backoff; every attempt is recorded (`WebhookAttempt`) for the admin.
Redirects are not followed: a signed body goes only where the admin pointed it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from ragengine.models import AlertDelivery, ReportDelivery, Webhook, WebhookAttempt

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Arandu-Timestamp"
SIGNATURE_HEADER = "X-Arandu-Signature"
EVENT_HEADER = "X-Arandu-Event"
DELIVERY_HEADER = "X-Arandu-Delivery"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Waits between attempts: `initial_s`, doubling, capped; `sleep` is injectable."""

    initial_s: float = 1.0
    max_s: float = MAX_BACKOFF_S
    sleep: Callable[[float], None] = time.sleep

    def wait_before(self, attempt: int) -> float:
        """The wait before attempt number `attempt` (2, 3, ...)."""
        return min(self.initial_s * 2 ** (attempt - 2), self.max_s)


@dataclass(frozen=True, slots=True)
class WebhookResult:
    ok: bool
    attempts: int
    status_code: int | None
    error: str


def configured_backoff() -> Backoff:
    return Backoff(initial_s=float(getattr(settings, "ARANDU_WEBHOOK_BACKOFF_S", 1.0)))


def webhook_signature(*, secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, sort_keys=True).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # the 3xx is then raised as an HTTPError


def webhook_post(
    *,
    webhook: Webhook,
    payload: dict[str, Any],
    event: str,
    delivery_id: str,
    alert_delivery: AlertDelivery | None = None,
    report_delivery: ReportDelivery | None = None,
    backoff: Backoff | None = None,
    clock: Callable[[], float] = time.time,
) -> WebhookResult:
    """POST `payload` until it is accepted (2xx), a permanent refusal comes back, or the
    webhook's attempts are used up. Never raises for what the receiver does."""
    backoff = backoff or configured_backoff()

    def record(attempt: int, status: int | None, error: str, started: float) -> None:
        WebhookAttempt.objects.create(
            webhook=webhook,
            alert_delivery=alert_delivery,
            report_delivery=report_delivery,
            attempt=attempt,
            status_code=status,
            error=error[:2000],
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    secret = os.environ.get(webhook.secret_env.strip(), "")
    if not webhook.enabled or not secret:
        error = (
            f"Webhook {webhook.name} is disabled."
            if not webhook.enabled
            else f"The signing secret variable {webhook.secret_env} is not set."
        )
        record(1, None, error, time.monotonic())
        return WebhookResult(ok=False, attempts=1, status_code=None, error=error)

    body = webhook_body(payload)
    opener = urllib.request.build_opener(_NoRedirect)
    status: int | None = None
    error = ""
    attempts = max(1, webhook.max_attempts)
    for attempt in range(1, attempts + 1):
        if attempt > 1:
            backoff.sleep(backoff.wait_before(attempt))
        timestamp = int(clock())
        request = urllib.request.Request(
            webhook.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Arandu-Webhook/1",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: webhook_signature(
                    secret=secret.encode(), timestamp=timestamp, body=body
                ),
                EVENT_HEADER: event,
                DELIVERY_HEADER: delivery_id,
            },
        )
        started = time.monotonic()
        status, error, retry = _attempt(opener, request, timeout=webhook.timeout_s)
        record(attempt, status, error, started)
        logger.info(
            "webhook attempt",
            extra={
                "webhook": webhook.name,
                "event": event,
                "attempt": attempt,
                "status_code": status,
                "error": error[:200],
            },
        )
        if not error:
            return WebhookResult(ok=True, attempts=attempt, status_code=status, error="")
        if not retry:
            break
    return WebhookResult(ok=False, attempts=attempt, status_code=status, error=error)


def _attempt(
    opener: urllib.request.OpenerDirector, request: urllib.request.Request, *, timeout: float
) -> tuple[int | None, str, bool]:
    """(status code, error or "", worth retrying)."""
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return response.status, "", False
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace") if exc.fp else ""
        return exc.code, f"HTTP {exc.code}: {detail}".strip(), exc.code in RETRY_STATUSES
    except (OSError, ValueError) as exc:  # refused, reset, timed out, bad address
        return None, f"{type(exc).__name__}: {exc}", True
