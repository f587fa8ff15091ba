"""Embeddings from Ollama's `/api/embed` (e.g. nomic-embed-text, bge-m3, all-minilm).

Token counts are `ragengine.llm.tokens.safe_estimate` (never below the real count): the
models' tokenizers live inside Ollama and are not reachable offline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ragengine.llm.providers.ollama_provider import OllamaClients, map_ollama_error
from ragengine.llm.resilience import CircuitBreaker, RetryPolicy, retrying
from ragengine.llm.tokens import safe_estimate
from ragengine.llm.types import ProviderConfig, ProviderError

logger = logging.getLogger(__name__)

# A local server embeds a batch in one forward pass per input; modest batches keep each
# request inside the timeout on CPU.
DEFAULT_BATCH_SIZE = 64


class OllamaEmbedder:
    """`Embedder` over Ollama, returning L2-normalised float32 vectors."""

    def __init__(
        self,
        config: ProviderConfig,
        model: str,
        dimension: int,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        breaker: CircuitBreaker | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if config.kind != "ollama":
            raise ValueError(f"OllamaEmbedder needs kind 'ollama', got {config.kind!r}")
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, got {dimension}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._config = config
        self._model = model
        self._dimension = dimension
        self._batch_size = batch_size
        self._breaker = breaker
        self._retry_policy = retry_policy
        self._clients = OllamaClients(config)

    @property
    def name(self) -> str:
        return f"ollama:{self._model}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def count_tokens(self, text: str) -> int:
        return safe_estimate(text)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            out[start : start + len(batch)] = self._embed_batch(batch)
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        def attempt() -> np.ndarray:
            key: str | None = None
            try:
                client, key = self._clients.get()
                response = client.embed(model=self._model, input=texts)
            except Exception as exc:
                raise map_ollama_error(
                    exc, config=self._config, model=self._model, api_key=key
                ) from None
            logger.debug(
                "embedded batch",
                extra={"provider": self._config.name, "model": self._model, "inputs": len(texts)},
            )
            return _normalised(
                response.embeddings,
                expected=(len(texts), self._dimension),
                provider=self._config.name,
                model=self._model,
            )

        return retrying(
            provider=self._config.name,
            max_retries=self._config.max_retries,
            policy=self._retry_policy,
        )(_guarded(attempt, self._breaker))


def _guarded(fn: Callable[[], np.ndarray], breaker: CircuitBreaker | None) -> Callable[[], Any]:
    return fn if breaker is None else (lambda: breaker.call(fn))


def _normalised(
    rows: Sequence[Sequence[float]], *, expected: tuple[int, int], provider: str, model: str
) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape != expected:
        raise ProviderError(
            f"Provider {provider!r} ({model}) returned embeddings of shape {matrix.shape}, "
            f"expected {expected}; check the configured dimension.",
            provider=provider,
            transient=False,
        )
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.clip(norms, 1e-12, None)).astype(np.float32)
