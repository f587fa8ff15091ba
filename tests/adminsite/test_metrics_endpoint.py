"""GET /metrics: Prometheus text for a bearer token or an allowed network, refused
otherwise; the figures of this process's files and the scrape-time gauges are in it."""

from __future__ import annotations

import ipaddress

import pytest
from django.utils import timezone

from ragengine import metrics
from ragengine.models import Document, DocumentStatus, EvalRun, EvalRunStatus, EvalSet
from ragengine.services.knowledge import knowledge_set_get_or_create
from ragengine.services.workers import worker_heartbeat
from tests.metrics_values import scraped_value

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789abcdef"


def networks(*cidrs: str) -> tuple:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


def test_loopback_may_scrape_by_default_and_gets_prometheus_text(client):
    metrics.record_rate_limited(tier="scrape-tier")

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    assert "# TYPE arandu_rate_limited_total counter" in text
    assert scraped_value(text, "arandu_rate_limited_total", tier="scrape-tier") >= 1


def test_a_client_outside_the_allowed_networks_is_refused_without_a_token(client, settings):
    settings.ARANDU_METRICS_NETWORKS = networks("10.0.0.0/8")
    settings.ARANDU_METRICS_TOKEN = ""

    response = client.get("/metrics", REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 403
    assert "ARANDU_METRICS_ALLOW" in response.json()["detail"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200


def test_the_token_lets_any_network_in_and_a_wrong_token_is_refused(client, settings):
    settings.ARANDU_METRICS_NETWORKS = ()
    settings.ARANDU_METRICS_TOKEN = TOKEN

    ok = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    wrong = client.get("/metrics", REMOTE_ADDR="192.0.2.7", HTTP_AUTHORIZATION="Bearer nope")
    missing = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert ok.status_code == 200 and b"arandu_documents" in ok.content
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert missing.status_code == 401  # no network is allowed: loopback needs it too


def test_a_wrong_token_is_refused_even_from_an_allowed_network(client, settings):
    settings.ARANDU_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert response.status_code == 401


def test_only_get_is_served(client):
    assert client.post("/metrics").status_code == 405


def test_scrape_time_gauges_queue_worker_and_last_evaluation_scores(client):
    knowledge_set = knowledge_set_get_or_create(name="metrics-set")
    for n, status in enumerate(
        [DocumentStatus.QUEUED, DocumentStatus.PARSING, DocumentStatus.EMBEDDING, "failed"]
    ):
        Document.objects.create(
            knowledge_set=knowledge_set, title=f"d{n}", source=f"/tmp/d{n}.md", status=status
        )
    worker_heartbeat()
    eval_set = EvalSet.objects.create(name="metrics-eval")
    summary = {
        "targets": {
            "tier:Pro": {"metrics": {"fact_recall": {"value": 0.75}, "hit_at_k": {"value": None}}}
        }
    }
    EvalRun.objects.create(
        eval_set=eval_set, status=EvalRunStatus.DONE, summary={"targets": {}},
        finished_at=timezone.now() - timezone.timedelta(days=1),
    )  # fmt: skip
    EvalRun.objects.create(
        eval_set=eval_set, status=EvalRunStatus.DONE, summary=summary, finished_at=timezone.now()
    )
    EvalRun.objects.create(eval_set=eval_set, status=EvalRunStatus.RUNNING, summary={})

    text = client.get("/metrics").content.decode()

    assert scraped_value(text, "arandu_ingestion_queue_length") == 3
    assert scraped_value(text, "arandu_documents", status="failed") == 1
    assert scraped_value(text, "arandu_worker_up") == 1
    assert scraped_value(text, "arandu_worker_heartbeat_age_seconds") < 60
    assert scraped_value(text, "arandu_task_queue_length") is not None
    score = dict(eval_set="metrics-eval", target="tier:Pro", metric="fact_recall")
    assert scraped_value(text, "arandu_evaluation_score", **score) == 0.75
    # a metric without a value is left out rather than exported as 0
    assert scraped_value(text, "arandu_evaluation_score", metric="hit_at_k") is None


def test_without_a_worker_the_worker_gauge_says_so(client):
    text = client.get("/metrics").content.decode()
    assert scraped_value(text, "arandu_worker_up") == 0
