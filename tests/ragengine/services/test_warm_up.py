"""The local embedder loaded when a serving process starts; a failure only logs."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from ragengine.retrieval import registry
from ragengine.retrieval.embedders.local import EmbedderUnavailable
from ragengine.services.warm_up import embedder_warm_up, embedder_warm_up_in_background


class CountingEmbedder:
    name = "local:counting"
    dimension = 3

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.queries: list[str] = []

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        if self.error is not None:
            raise self.error
        return np.ones(3, dtype=np.float32)


@pytest.fixture
def counting(monkeypatch):
    embedder = CountingEmbedder()
    monkeypatch.setattr(registry, "get_embedder", lambda: embedder)
    return embedder


def test_the_local_embedder_is_loaded_and_said_so(counting, caplog):
    with caplog.at_level(logging.INFO, logger="ragengine.services.warm_up"):
        assert embedder_warm_up(role="web") is True

    assert counting.queries == ["warm-up"]
    (record,) = [r for r in caplog.records if r.message == "embedder loaded at start"]
    assert record.role == "web" and record.embedder == "local:counting"


def test_the_default_embedder_really_loads(settings, monkeypatch):
    """USE-multilingual, as configured by default, built through the registry."""
    from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

    settings.ARANDU_EMBEDDER, settings.ARANDU_EMBEDDER_MODEL = "local", ""
    use = UseMultilingualEmbedder()
    monkeypatch.setattr(registry, "local_embedder", lambda model: use)
    registry._embedder.cache_clear()
    try:
        assert use._backend is None
        assert embedder_warm_up(role="worker") is True
        assert use._backend is not None
    finally:
        registry._embedder.cache_clear()


def test_an_unavailable_embedder_only_logs_a_warning(monkeypatch, caplog):
    broken = CountingEmbedder(EmbedderUnavailable("model file missing"))
    monkeypatch.setattr(registry, "get_embedder", lambda: broken)

    with caplog.at_level(logging.INFO, logger="ragengine.services.warm_up"):
        assert embedder_warm_up(role="web") is False

    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "not loaded at start" in record.message and record.role == "web"
    assert "model file missing" in caplog.text


def test_a_remote_embedder_is_not_called(counting, settings, caplog):
    settings.ARANDU_EMBEDDER = "openai"
    with caplog.at_level(logging.INFO, logger="ragengine.services.warm_up"):
        assert embedder_warm_up(role="worker") is False

    assert counting.queries == []  # a call would cost a request to the provider
    assert "embedder warm-up skipped" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_in_the_background_the_caller_does_not_wait(monkeypatch):
    release = threading.Event()
    loaded = []

    class SlowEmbedder(CountingEmbedder):
        def embed_query(self, text):
            release.wait(5)
            loaded.append(text)
            return super().embed_query(text)

    monkeypatch.setattr(registry, "get_embedder", SlowEmbedder)
    thread = embedder_warm_up_in_background(role="web")

    assert thread.daemon and loaded == []  # returned while the load was still going
    release.set()
    thread.join(5)
    assert loaded == ["warm-up"]


def test_a_thread_that_cannot_start_only_logs(monkeypatch, caplog):
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with caplog.at_level(logging.WARNING, logger="ragengine.services.warm_up"):
        assert embedder_warm_up_in_background(role="worker") is None
    assert "warm-up not started" in caplog.text
