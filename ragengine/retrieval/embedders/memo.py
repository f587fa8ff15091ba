"""An in-process LRU of embeddings for short texts the answerer embeds again and again.

The extractive answerer embeds candidate sentences of the retrieved passages; popular
passages come back question after question, and their sentences need not be re-embedded
(~3.5 ms each on two cores). Bounded, so memory stays flat (~1.6 KB per entry).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ragengine.retrieval.types import Embedder


class MemoizedEmbeddings:
    def __init__(self, embedder: Embedder, *, max_entries: int = 20_000) -> None:
        self._embedder = embedder
        self._max = max_entries
        self._lock = threading.Lock()
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            found = {t: self._memo[t] for t in texts if t in self._memo}
            for text in found:
                self._memo.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = dict(zip(missing, self._embedder.embed_documents(missing), strict=True))
            with self._lock:
                for text, vector in fresh.items():
                    self._memo[text] = vector
                while len(self._memo) > self._max:
                    self._memo.popitem(last=False)
            found.update(fresh)
        if not texts:
            return np.zeros((0, self._embedder.dimension), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    def __len__(self) -> int:
        return len(self._memo)
