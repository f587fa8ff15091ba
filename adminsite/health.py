"""Probes for orchestrators (docker-compose healthchecks, Kubernetes probes).

GET /healthz: liveness. The process answers; it touches nothing else, so a database or
Redis outage never makes an orchestrator restart healthy web processes.
GET /readyz: readiness. 200 when the database, the cache, the vector store and a
background worker all work; else 503 naming the parts that fail and why.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ragengine.selectors.readiness import readiness_checks


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness_checks()
    failing = [c.name for c in checks if not c.ok]
    body = {
        "status": "unavailable" if failing else "ok",
        "failing": failing,
        "checks": {c.name: {"ok": c.ok, "detail": c.detail, "ms": c.ms} for c in checks},
    }
    return JsonResponse(body, status=503 if failing else 200)
