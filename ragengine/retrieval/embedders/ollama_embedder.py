"""Embeddings from Ollama's `/api/embed` (e.g. nomic-embed-text, bge-m3, all-minilm).

Token counts are `ragengine.llm.tokens.safe_estimate` (never below the real count): the
models' tokenizers live inside Ollama and are not reachable offline.
"""

from __future__ import annotations

from collections.abc import Sequence

import ollama

from ragengine.llm.providers.ollama_provider import OllamaClients
from ragengine.llm.tokens import safe_estimate
from ragengine.retrieval.embedders.remote import RemoteEmbedder

# A local server embeds a batch in one forward pass per input; modest batches keep each
# request inside the timeout on CPU.
DEFAULT_BATCH_SIZE = 64


class OllamaEmbedder(RemoteEmbedder):
    """`Embedder` over Ollama, returning L2-normalised float32 vectors."""

    kind = "ollama"
    clients_type = OllamaClients
    default_batch_size = DEFAULT_BATCH_SIZE

    @property
    def name(self) -> str:
        return f"ollama:{self._model}"

    def count_tokens(self, text: str) -> int:
        return safe_estimate(text)

    def _send(self, client: ollama.Client, texts: list[str]) -> Sequence[Sequence[float]]:
        return client.embed(model=self._model, input=texts).embeddings
