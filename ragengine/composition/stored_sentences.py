"""The extractive answerer's sentence vectors: stored at ingest when the hits have them,
embedded at question time when they don't.

`answer_extractively` takes an `embed(texts) -> vectors` function for its candidate units;
this is the one `ask()` passes. A unit whose text was stored with its passage (same
splitter, same text) costs a dictionary lookup; any other (a chunk written before sentence
vectors existed, a store that does not keep them, a unit the splitter cuts differently
since) goes to `fallback`, the embedder behind its in-process memo, so nothing breaks
while a data dir is being migrated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ragengine.retrieval.types import SentenceVectors, sentence_key

logger = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]


class StoredSentenceEmbed:
    """`embed(texts)` that reads stored sentence vectors first. `stored` and `embedded`
    count the units served each way (for logs and benchmarks)."""

    def __init__(self, stored: Iterable[SentenceVectors | None], *, fallback: Embed | None) -> None:
        self._vectors: dict[int, np.ndarray] = {}
        for sentences in stored:
            if sentences is not None:
                self._vectors.update(sentences.lookup())
        self._fallback = fallback
        self.stored = 0
        self.embedded = 0

    def has_vector(self, text: str) -> bool:
        """Whether `text` was stored: comparing it costs a lookup, not an embedding."""
        return sentence_key(text) in self._vectors

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        found = [self._vectors.get(sentence_key(text)) for text in texts]
        missing = [text for text, vector in zip(texts, found, strict=True) if vector is None]
        fresh: dict[str, np.ndarray] = {}
        if missing:
            if self._fallback is None:
                raise LookupError(f"{len(missing)} sentences have no stored vector")
            fresh = dict(zip(missing, self._fallback(missing), strict=True))
        self.stored += len(texts) - len(missing)
        self.embedded += len(missing)
        if missing:
            logger.debug("sentence vectors", extra={"stored": self.stored, "embedded": len(fresh)})
        rows = [
            np.asarray(vector if vector is not None else fresh[text], dtype=np.float32)
            for text, vector in zip(texts, found, strict=True)
        ]
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(rows)


def sentence_embed(
    stored: Iterable[SentenceVectors | None], *, fallback: Embed | None
) -> StoredSentenceEmbed:
    """The `embed` for `answer_extractively` over these hits' stored sentence vectors."""
    return StoredSentenceEmbed(stored, fallback=fallback)
