"""Embeddings from the OpenAI API or any OpenAI-compatible `/v1/embeddings` endpoint.

Token counts come from `ragengine.llm.tokens`: exact (cl100k, offline via bpe-openai) for
OpenAI's embedding models, a safe over-estimate for other models behind a compatible URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import openai

from ragengine.llm.providers.openai_provider import OpenAIClients
from ragengine.llm.tokens import tokenizer_for
from ragengine.retrieval.embedders.remote import RemoteEmbedder

# OpenAI accepts up to 2048 inputs per request; 256 keeps each request (and a retry of it)
# small enough to finish well inside the timeout.
MAX_BATCH_SIZE = 256


class OpenAIEmbedder(RemoteEmbedder):
    """`Embedder` over `/v1/embeddings`, returning L2-normalised float32 vectors.

    text-embedding-3 models are asked for `dimension` directly (they support shortening);
    other models must natively produce `dimension` values or the call fails loudly.
    """

    kind = "openai"
    clients_type = OpenAIClients
    default_batch_size = max_batch_size = MAX_BATCH_SIZE

    @property
    def _asks_for_dimension(self) -> bool:
        # text-embedding-3 models shorten their vectors to any requested size.
        return self._model.startswith("text-embedding-3")

    @property
    def name(self) -> str:
        # Shortened text-embedding-3 vectors differ from full ones: the size is part of the
        # identity (the embedding cache and knowledge sets are keyed by this name).
        if self._asks_for_dimension:
            return f"openai:{self._model}@{self._dimension}"
        return f"openai:{self._model}"

    def count_tokens(self, text: str) -> int:
        # Resolved per call (the counter is cached by encoding) so that building an
        # embedder never loads a BPE table.
        return tokenizer_for(self._model)(text)

    def _send(self, client: openai.OpenAI, texts: list[str]) -> Sequence[Sequence[float]]:
        extra: dict[str, Any] = {"dimensions": self._dimension} if self._asks_for_dimension else {}
        response = client.embeddings.create(
            model=self._model,
            # The API rejects empty strings; a space embeds as "nothing" just as well.
            input=[t if t.strip() else " " for t in texts],
            encoding_format="float",
            **extra,
        )
        # The API may list items in any order; `index` says which input each belongs to.
        return [row.embedding for row in sorted(response.data, key=lambda row: row.index)]
