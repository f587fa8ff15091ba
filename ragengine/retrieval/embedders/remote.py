"""What the embedders that call a server share: batching, retries and the circuit breaker,
SDK error mapping, and the shape check and L2 normalisation of what comes back.

Subclasses say how to reach the SDK (`clients_type`) and how to send one batch.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ragengine.llm.providers.base import SdkClients
from ragengine.llm.resilience import CircuitBreaker, RetryPolicy, resilient_call, retrying
from ragengine.llm.types import ProviderConfig, ProviderError


class RemoteEmbedder(ABC):
    """`Embedder` over a server, returning L2-normalised float32 vectors."""

    kind: ClassVar[str]
    clients_type: ClassVar[type[SdkClients[Any, Any]]]
    default_batch_size: ClassVar[int]
    # The most inputs one request may carry, if the server has a limit.
    max_batch_size: ClassVar[int | None] = None

    def __init__(
        self,
        config: ProviderConfig,
        model: str,
        dimension: int,
        *,
        batch_size: int | None = None,
        breaker: CircuitBreaker | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        """`batch_size` defaults to the class's `default_batch_size`."""
        if batch_size is None:
            batch_size = self.default_batch_size
        if config.kind != self.kind:
            raise ValueError(f"{type(self).__name__} needs kind {self.kind!r}, got {config.kind!r}")
        if dimension <= 0:
            raise ValueError(f"dimension must be positive, got {dimension}")
        if self.max_batch_size is not None and not 1 <= batch_size <= self.max_batch_size:
            raise ValueError(
                f"batch_size must be within 1..{self.max_batch_size}, got {batch_size}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._config = config
        self._model = model
        self._dimension = dimension
        self._batch_size = batch_size
        self._breaker = breaker
        self._retry_policy = retry_policy
        self._clients: SdkClients[Any, Any] = self.clients_type(config)
        # Logged under the SDK module's name, as the providers are.
        self._logger = logging.getLogger(type(self).__module__)

    @property
    def dimension(self) -> int:
        return self._dimension

    @abstractmethod
    def _send(self, client: Any, texts: list[str]) -> Sequence[Sequence[float]]:
        """Embed one batch; the rows in input order."""

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
            rows, _ = self._clients.call(
                lambda client: self._send(client, texts), model=self._model
            )
            self._logger.debug(
                "embedded batch",
                extra={"provider": self._config.name, "model": self._model, "inputs": len(texts)},
            )
            return self._normalised(rows, rows_expected=len(texts))

        retry = retrying(
            provider=self._config.name,
            max_retries=self._config.max_retries,
            policy=self._retry_policy,
        )
        return resilient_call(attempt, breaker=self._breaker, retry=retry)

    def _normalised(self, rows: Sequence[Sequence[float]], *, rows_expected: int) -> np.ndarray:
        """`rows` as unit-length float32 vectors; a wrong shape is a configuration error
        (the configured dimension does not match the model), so it is not transient."""
        matrix = np.array(rows, dtype=np.float32)  # a fresh copy: normalised in place below
        expected = (rows_expected, self._dimension)
        if matrix.ndim != 2 or matrix.shape != expected:
            name = self._config.name
            raise ProviderError(
                f"Provider {name!r} ({self._model}) returned embeddings of shape "
                f"{matrix.shape}, expected {expected}; check the configured dimension.",
                provider=name,
                transient=False,
            )
        matrix /= np.clip(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12, None)
        return matrix
