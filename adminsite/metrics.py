"""GET /metrics: Prometheus text format, for a bearer token or an allowed network.

The figures of every process (gunicorn workers, the django-q2 worker, the bots; on this
host and on any other sharing the data volume) are added up from their files under
ARANDU_METRICS_DIR (ragengine/metrics.py records them; adminsite/metrics_files.py reads
them). Gauges that live in the database
or elsewhere are read at scrape time by `OperationsCollector`: the ingestion and task
queues, the worker's heartbeat, the answer cache's backend and the last evaluation scores.
"""

from __future__ import annotations

import glob
import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import mark_process_dead

from adminsite.metrics_files import FilesExposition
from ragengine.models import DocumentStatus
from ragengine.selectors.operations import operations_figures
from ragengine.selectors.worker import worker_status

logger = logging.getLogger(__name__)


def metrics_files(root: Path) -> list[str]:
    """Every process's metric files: one folder per host under `root`. Live gauges of
    processes gone from this host are dropped first (a worker killed without notice)."""
    own = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if own:
        _forget_dead_processes(Path(own))
    return sorted(glob.glob(str(root / "*" / "*.db")))


def _forget_dead_processes(folder: Path) -> None:
    for path in folder.glob("gauge_live*_*.db"):
        pid_text = path.stem.rsplit("_", 1)[-1]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            mark_process_dead(int(pid_text), path=str(folder))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


@lru_cache(maxsize=1)
def files_exposition() -> FilesExposition:
    """One per process: it keeps the decoded keys between scrapes."""
    return FilesExposition()


def files_text(root: Path) -> str:
    """Every process's counters, histograms and live gauges, added up."""
    return files_exposition().text(metrics_files(root))


class OperationsCollector:
    """Gauges computed when scraped."""

    def collect(self) -> Iterator[Metric]:
        figures = operations_figures()
        documents = GaugeMetricFamily(
            "arandu_documents",
            "Documents by ingestion status (queued, parsing, embedding, ready, failed).",
            labels=["status"],
        )
        for status, count in sorted(figures.documents_by_status.items()):
            documents.add_metric([status], count)
        yield documents
        yield GaugeMetricFamily(
            "arandu_ingestion_queue_length",
            "Documents waiting for or in ingestion (queued, parsing, embedding).",
            value=sum(figures.documents_by_status.get(s, 0) for s in DocumentStatus.in_progress()),
        )
        if figures.task_queue_length is not None:
            yield GaugeMetricFamily(
                "arandu_task_queue_length",
                "Tasks waiting in the django-q2 broker.",
                value=figures.task_queue_length,
            )
        worker = worker_status()
        yield GaugeMetricFamily(
            "arandu_worker_up",
            "1 when a django-q2 worker's heartbeat is recent.",
            value=int(worker.running),
        )
        if worker.last_seen is not None:
            yield GaugeMetricFamily(
                "arandu_worker_heartbeat_age_seconds",
                "Seconds since a django-q2 worker last reported.",
                value=(timezone.now() - worker.last_seen).total_seconds(),
            )
        scores = GaugeMetricFamily(
            "arandu_evaluation_score",
            "Scores of each evaluation set's latest finished run, per target and metric.",
            labels=["eval_set", "target", "metric"],
        )
        for score in figures.eval_scores:
            scores.add_metric([score.eval_set, score.target, score.metric], score.value)
        yield scores


def operations_text() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OperationsCollector())
    return generate_latest(registry).decode()


def metrics_text() -> str:
    """The whole exposition: the processes' files, then the scrape-time gauges."""
    return files_text(Path(settings.ARANDU_METRICS_DIR)) + operations_text()


def metrics_refusal(request: HttpRequest) -> JsonResponse | None:
    """None when the caller may scrape: the bearer token matches, or the client address
    is in ARANDU_METRICS_ALLOW. Else the 401/403 to send."""
    token = settings.ARANDU_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode()):
            return None
        return _refused(401, "The metrics token is wrong.", bearer=True)
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        client = None
    if client is not None and any(client in net for net in settings.ARANDU_METRICS_NETWORKS):
        return None
    if token:
        return _refused(401, "Send the metrics token: Authorization: Bearer <token>.", bearer=True)
    return _refused(
        403,
        "Metrics are served to the networks in ARANDU_METRICS_ALLOW (or set ARANDU_METRICS_TOKEN).",
    )


def _refused(status: int, detail: str, *, bearer: bool = False) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    if bearer:
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if refusal := metrics_refusal(request):
        logger.warning(
            "metrics scrape refused",
            extra={"client": request.META.get("REMOTE_ADDR", ""), "status": refusal.status_code},
        )
        return refusal
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
