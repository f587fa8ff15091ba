"""/healthz says the process answers and touches nothing; /readyz checks the database,
the cache, the vector store and the worker's heartbeat, and names what fails."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from ragengine.retrieval.types import VectorStoreError
from ragengine.services.workers import worker_heartbeat
from tests.ragengine.services.test_ask_cache import closed_port

pytestmark = pytest.mark.django_db

REDIS_DB = "redis://127.0.0.1:6379/12"  # this suite's Redis database


def redis_cache(location: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_readyz_is_200_when_every_part_works(client):
    worker_heartbeat()

    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok" and body["failing"] == []
    assert set(body["checks"]) == {"database", "cache", "vector_store", "worker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_the_worker_when_no_heartbeat_was_ever_seen(client):
    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker"]
    assert "no worker has ever reported" in body["checks"]["worker"]["detail"]


def test_readyz_names_the_worker_when_its_heartbeat_is_stale(client, settings):
    settings.ARANDU_WORKER_STALE_S = 180
    worker_heartbeat(now=timezone.now() - timezone.timedelta(minutes=10))

    body = client.get("/readyz").json()

    assert body["failing"] == ["worker"]
    assert "last heartbeat was 6" in body["checks"]["worker"]["detail"]


def test_readyz_goes_503_when_redis_is_down_and_200_when_it_is_back(client, settings):
    worker_heartbeat()
    settings.CACHES = redis_cache(f"redis://127.0.0.1:{closed_port()}/12")

    down = client.get("/readyz")

    assert down.status_code == 503
    assert down.json()["failing"] == ["cache"]
    assert "ConnectionError" in down.json()["checks"]["cache"]["detail"]

    settings.CACHES = redis_cache(REDIS_DB)
    back = client.get("/readyz")
    assert back.status_code == 200, back.json()


def test_readyz_names_the_vector_store_when_it_fails(client, monkeypatch):
    worker_heartbeat()

    class DownStore:
        def count(self, **kwargs):
            raise VectorStoreError("weaviate at http://weaviate:8080 refused the connection")

    monkeypatch.setattr("ragengine.retrieval.registry.get_vector_store", lambda **_: DownStore())

    body = client.get("/readyz").json()

    assert body["failing"] == ["vector_store"]
    assert "refused the connection" in body["checks"]["vector_store"]["detail"]


def test_readyz_names_the_database_when_it_fails(client, monkeypatch):
    worker_heartbeat()

    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("database is locked")

    monkeypatch.setattr(connection, "cursor", broken_cursor)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert "database" in body["failing"]
    assert "database is locked" in body["checks"]["database"]["detail"]
