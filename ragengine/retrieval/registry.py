"""Build the configured embedder and vector store once per process.

Instances are cached per configuration (not in module globals set at import time), so a
test or a second instance pointing `ARANDU_DATA_DIR` elsewhere gets its own store.
"""

from __future__ import annotations

import atexit
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from ragengine.llm.key_policy import KeyEnvPolicy, configured_key_policy
from ragengine.retrieval.stores.weaviate_config import WeaviateConfig
from ragengine.retrieval.types import Embedder, VectorStore

if TYPE_CHECKING:
    from ragengine.retrieval.parsers import ParseWorker


@lru_cache(maxsize=4)
def _embedder(
    kind: str, model: str, url: str, key_env: str, dimension: int, key_policy: KeyEnvPolicy
) -> Embedder:
    if kind == "local":
        from ragengine.retrieval.embedders.local import LocalOnnxEmbedder

        return LocalOnnxEmbedder()
    from ragengine.llm.types import ProviderConfig

    config = ProviderConfig(
        name=f"{kind}-embeddings",
        kind=kind,
        base_url=url,
        api_key_env=key_env,
        key_policy=key_policy,
    )
    if kind == "openai":
        from ragengine.retrieval.embedders.openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(config, model, dimension)
    if kind == "ollama":
        from ragengine.retrieval.embedders.ollama_embedder import OllamaEmbedder

        return OllamaEmbedder(config, model, dimension)
    raise ValueError(f"Unknown embedder {kind!r}")


@lru_cache(maxsize=8)
def _store(kind: str, path: str) -> VectorStore:
    if kind == "local":
        from ragengine.retrieval.stores.local import LocalStore

        return LocalStore(Path(path))
    raise ValueError(f"Unknown vector store {kind!r}")


@lru_cache(maxsize=4)
def _sentence_embeddings(embedder: Embedder):
    from ragengine.retrieval.embedders.memo import MemoizedEmbeddings

    return MemoizedEmbeddings(embedder)


def get_sentence_embeddings():
    """The configured embedder behind an in-process LRU (for the extractive answerer)."""
    return _sentence_embeddings(get_embedder())


@lru_cache(maxsize=1)
def _parse_worker(pid: int) -> ParseWorker:
    from ragengine.retrieval.parsers import ParseWorker

    worker = ParseWorker()
    atexit.register(worker.close)
    return worker


def get_parse_worker() -> ParseWorker:
    """This process's parser worker process (started on first use); a process forked from
    this one gets its own."""
    return _parse_worker(os.getpid())


def get_embedder() -> Embedder:
    return _embedder(
        settings.ARANDU_EMBEDDER,
        settings.ARANDU_EMBEDDER_MODEL,
        settings.ARANDU_EMBEDDER_URL,
        settings.ARANDU_EMBEDDER_API_KEY_ENV,
        settings.ARANDU_EMBEDDER_DIMENSION,
        configured_key_policy(),
    )


_WEAVIATE_SETTINGS = (
    "WEAVIATE_URL",
    "WEAVIATE_GRPC_PORT",
    "WEAVIATE_GRPC_HOST",
    "WEAVIATE_API_KEY_ENV",
    "WEAVIATE_TIMEOUT_S",
    "WEAVIATE_COLLECTION",
)


def weaviate_config() -> WeaviateConfig:
    """The Weaviate connection the settings describe: the serving store and
    `migrate_store` both build it here. Blank values take the defaults
    `WeaviateConfig.from_env` documents; a missing URL or a bad value is a readable
    ValueError."""
    values = {name: getattr(settings, name, None) for name in _WEAVIATE_SETTINGS}
    return WeaviateConfig.from_env(
        {name: "" if value is None else str(value) for name, value in values.items()}
    )


@lru_cache(maxsize=4)
def _weaviate_store(config: WeaviateConfig) -> VectorStore:
    # Not cached when it raises: a store that could not connect is retried next call.
    from ragengine.retrieval.stores.weaviate_store import WeaviateStore

    return WeaviateStore(config=config)


def get_vector_store() -> VectorStore:
    if settings.ARANDU_VECTOR_STORE == "weaviate":
        return _weaviate_store(weaviate_config())
    return _store(settings.ARANDU_VECTOR_STORE, str(settings.ARANDU_STORE_DIR))
