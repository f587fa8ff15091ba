"""Embeddings from the OpenAI API or any OpenAI-compatible `/v1/embeddings` endpoint.

Token counts come from `ragengine.llm.tokens`: exact (cl100k, offline via bpe-openai) for
OpenAI's embedding models, a safe over-estimate for other models behind a compatible URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ragengine.llm.providers.openai_provider import OpenAIClients, map_openai_error
from ragengine.llm.resilience import CircuitBreaker, RetryPolicy, retrying
from ragengine.llm.tokens import tokenizer_for
from ragengine.llm.types import ProviderConfig, ProviderError

logger = logging.getLogger(__name__)

# OpenAI accepts up to 2048 inputs per request; 256 keeps each request (and a retry of it)
# small enough to finish well inside the timeout.
MAX_BATCH_SIZE = 256


class OpenAIEmbedder:
    """`Embedder` over `/v1/embeddings`, returning L2-normalised float32 vectors.

    text-embedding-3 models are asked for `dimension` directly (they support shortening);
    other models must natively produce `dimension` values or the call fails loudly.
    """

    def __init__(
        self,
        config: ProviderConfig,
        model: str,
        dimension: int,
        *,
        batch_size: int = MAX_BATCH_SIZE,
        breaker: CircuitBreaker | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        if config.kind != "openai":
            raise ValueError(f"OpenAIEmbedder needs kind 'openai', got {config.kind!r}")
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, got {dimension}")
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be within 1..{MAX_BATCH_SIZE}, got {batch_size}")
        self._config = config
        self._model = model
        self._dimension = dimension
        self._batch_size = batch_size
        self._breaker = breaker
        self._retry_policy = retry_policy
        self._clients = OpenAIClients(config)
        self._send_dimensions = model.startswith("text-embedding-3")

    @property
    def name(self) -> str:
        # Shortened text-embedding-3 vectors differ from full ones: the size is part of the
        # identity (the embedding cache and knowledge sets are keyed by this name).
        if self._send_dimensions:
            return f"openai:{self._model}@{self._dimension}"
        return f"openai:{self._model}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def count_tokens(self, text: str) -> int:
        # Resolved per call (the counter is cached by encoding) so that building an
        # embedder never loads a BPE table.
        return tokenizer_for(self._model)(text)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            out[start : start + len(batch)] = self._embed_batch(batch)
        return out

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        # The API rejects empty strings; a space embeds as "nothing" just as well.
        inputs = [t if t.strip() else " " for t in texts]
        extra: dict[str, Any] = {"dimensions": self._dimension} if self._send_dimensions else {}

        def attempt() -> np.ndarray:
            key: str | None = None
            try:
                client, key = self._clients.get()
                response = client.embeddings.create(
                    model=self._model, input=inputs, encoding_format="float", **extra
                )
            except Exception as exc:
                raise map_openai_error(
                    exc, config=self._config, model=self._model, api_key=key
                ) from None
            rows = sorted(response.data, key=lambda item: item.index)
            logger.debug(
                "embedded batch",
                extra={"provider": self._config.name, "model": self._model, "inputs": len(texts)},
            )
            return _normalised(
                [row.embedding for row in rows],
                expected=(len(inputs), self._dimension),
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
