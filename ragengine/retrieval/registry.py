"""Build the configured embedder and vector store once per process.

Instances are cached per configuration (not in module globals set at import time), so a
test or a second instance pointing `ARANDU_DATA_DIR` elsewhere gets its own store.
"""

from __future__ import annotations

import atexit
import os
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from ragengine.key_policy import KeyEnvPolicy, configured_key_policy
from ragengine.retrieval.stores.weaviate_config import WeaviateConfig
from ragengine.retrieval.types import Embedder, VectorStore

if TYPE_CHECKING:
    from ragengine.retrieval.parsers import ParseWorker


# ARANDU_EMBEDDER=local: ARANDU_EMBEDDER_MODEL picks one of the models shipped as
# packages (blank: DEFAULT_LOCAL_MODEL). docs/PERFORMANCE.md compares them.
LOCAL_MODELS = ("all-minilm-l6-v2", "use-multilingual-v3", "e5-small", "e5-small-enpt")
# USE-multilingual: a Portuguese question finds the English passage and the reverse;
# docs/PERFORMANCE.md section 19 (it won on the labelled set, and ingests faster).
DEFAULT_LOCAL_MODEL = "use-multilingual-v3"


def local_embedder(model: str) -> Embedder:
    """A local embedder by its ARANDU_EMBEDDER_MODEL name (blank: the default)."""
    model = (model or DEFAULT_LOCAL_MODEL).lower()
    if model == "all-minilm-l6-v2":
        from ragengine.retrieval.embedders.local import LocalOnnxEmbedder

        return LocalOnnxEmbedder()
    if model == "use-multilingual-v3":
        from ragengine.retrieval.embedders.use_multilingual import UseMultilingualEmbedder

        return UseMultilingualEmbedder()
    if model in ("e5-small", "e5-small-enpt"):
        from ragengine.retrieval.embedders.multilingual import MultilingualE5Embedder

        return MultilingualE5Embedder(variant="enpt" if model.endswith("enpt") else "original")
    raise ValueError(f"Unknown local embedding model {model!r}; expected one of {LOCAL_MODELS}")


@lru_cache(maxsize=4)
def _embedder(
    kind: str, model: str, url: str, key_env: str, dimension: int, key_policy: KeyEnvPolicy
) -> Embedder:
    if kind == "local":
        return local_embedder(model)
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


@lru_cache(maxsize=4)
def _local_embedder_named(name: str) -> Embedder | None:
    from ragengine.retrieval.embedders import local, multilingual, use_multilingual

    if name == local.EMBEDDER_NAME:
        return local.LocalOnnxEmbedder()
    if name == use_multilingual.EMBEDDER_NAME:
        return use_multilingual.UseMultilingualEmbedder()
    for variant, spec in multilingual.VARIANTS.items():
        if name == spec.name:
            return multilingual.MultilingualE5Embedder(variant=variant)
    return None


def embedder_named(name: str) -> Embedder | None:
    """The embedder that `name` (a knowledge set's `embedder`) stands for: the configured
    one, or a local model shipped as a package; None when it cannot be rebuilt from its
    name (a remote model no longer configured). Sets built with it are then searched by
    keyword only until their re-embed switches them."""
    configured = get_embedder()
    if name == configured.name:
        return configured
    return _local_embedder_named(name)


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


def space_name(embedder_name: str) -> str:
    """A vector space's name for an embedder: usable as a directory name and as a
    Weaviate collection suffix ("local:all-MiniLM-L6-v2" -> "local_all_minilm_l6_v2")."""
    slug = re.sub(r"[^a-z0-9]+", "_", embedder_name.lower()).strip("_")
    return slug[:100] or "default"


def _checked_space(space: str) -> str:
    if space and space != space_name(space):
        raise ValueError(f"Not a vector space name: {space!r}")
    return space


def space_store_dir(*, space: str = "") -> Path:
    """Where the local store of a vector space lives: `ARANDU_STORE_DIR` for the main
    one, `ARANDU_STORE_DIR/spaces/<name>` for another."""
    path = Path(settings.ARANDU_STORE_DIR)
    return path / "spaces" / space if _checked_space(space) else path


def space_weaviate_config(*, space: str = "") -> WeaviateConfig:
    """The Weaviate collection of a vector space: the configured one for the main space,
    `<collection>_<name>` for another (a ValueError when Weaviate is not configured)."""
    _checked_space(space)
    config = weaviate_config()
    if space:
        config = replace(config, collection=f"{config.collection}_{space}")
    return config


def get_vector_store(*, space: str = "") -> VectorStore:
    """The store of one vector space: "" the main one (`ARANDU_STORE_DIR`, or the
    configured Weaviate collection); another name a store beside it
    (`ARANDU_STORE_DIR/spaces/<name>`, or the collection `<collection>_<name>`). Each
    space holds the vectors of one embedder only."""
    if settings.ARANDU_VECTOR_STORE == "weaviate":
        return _weaviate_store(space_weaviate_config(space=space))
    return _store(settings.ARANDU_VECTOR_STORE, str(space_store_dir(space=space)))
