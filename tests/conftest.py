"""Shared fixtures: a private data directory per test, fast settings, factories."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _fast_and_isolated_settings(settings, tmp_path: Path) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    settings.ARANDU_DATA_DIR = tmp_path / "data"
    settings.ARANDU_STORE_DIR = tmp_path / "data" / "store"
    # Pages render without `collectstatic` (the hashed-name manifest is the web server's
    # business: tests/adminsite/test_serve_process.py checks it live).
    # beside the data dir, not in it: tests check how the data dir gets created
    settings.STATIC_ROOT = tmp_path / "collected-static"
    settings.STATIC_ROOT.mkdir(parents=True)
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from django.core.cache import cache

    cache.clear()  # cached answers never leak between tests
    from ragengine.cache.backend import cache_backend

    cache_backend().reset()  # nor does a cache outage
    from ragengine.services.generation import _steps_cache

    _steps_cache().clear()


@pytest.fixture
def store_dir(settings) -> Path:
    return settings.ARANDU_STORE_DIR


class MemoEmbedder:
    """The real local embedder, remembering vectors for the whole test session.

    Vectors are the model's own; the memo only saves re-running the model for the same
    text in test after test (each test starts with an empty database and store).
    """

    def __init__(self, inner) -> None:
        self.inner = inner
        self.memo: dict[str, object] = {}
        self.calls = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts):
        import numpy as np

        self.calls += 1
        missing = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, self.inner.embed_documents(missing), strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.memo[t] for t in texts])

    def embed_query(self, text: str):
        return self.embed_documents([text])[0]


@pytest.fixture(scope="session")
def _session_embedder():
    from ragengine.retrieval.embedders.local import LocalOnnxEmbedder

    return MemoEmbedder(LocalOnnxEmbedder())


@pytest.fixture
def embedder(_session_embedder, monkeypatch):
    """The embedder every service sees in this test; `.calls` counts embedding calls."""
    from ragengine.retrieval import registry

    _session_embedder.calls = 0
    monkeypatch.setattr(registry, "get_embedder", lambda: _session_embedder)
    return _session_embedder


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def handbook_dir(tmp_path: Path) -> Path:
    """A private copy of examples/handbook that a test may change."""
    import shutil

    target = tmp_path / "handbook"
    shutil.copytree(EXAMPLES / "handbook", target)
    return target


@pytest.fixture
def handbook(embedder, handbook_dir: Path):
    """The example handbook ingested into the knowledge set "handbook" (database and
    local store); every file must ingest."""
    from ragengine.services.ingest import documents_ingest_paths
    from ragengine.services.knowledge import knowledge_set_get_or_create

    knowledge_set = knowledge_set_get_or_create(name="handbook")
    report = documents_ingest_paths(paths=[handbook_dir], knowledge_set=knowledge_set)
    assert report.count("failed") == 0
    return knowledge_set
