"""Token counting for prompt packing: exact for OpenAI model families, a safe estimate
for everything else.

OpenAI models are counted with their real BPE encoding (o200k_base or cl100k_base). The
encodings come from `bpe-openai`, whose wheels embed OpenAI's published rank files (the
same bytes tiktoken downloads: their sha256 equals tiktoken's expected hashes), so
counting never touches the network. tiktoken itself fetches those files from the internet
on first use, which fails in the test suite and behind production firewalls; it is used
only as a fallback, and only when its file is already in its local cache.

Other models (Ollama's llama/qwen/mistral/gemma, Anthropic or Gemini behind an
OpenAI-compatible URL, unknown names) get `safe_estimate`, which errs high: a prompt
packed with it may waste some context but never overflows the model's window.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Final

logger = logging.getLogger(__name__)

TokenCounter = Callable[[str], int]

O200K: Final = "o200k_base"
CL100K: Final = "cl100k_base"

# Model-name prefixes per encoding (after lower-casing and dropping a "provider/" or "ft:"
# prefix and an Ollama ":tag"). o200k is checked first: "gpt-4o" also starts with "gpt-4".
# gpt-oss uses o200k_harmony, which only adds special tokens: plain text counts the same.
_O200K_MODELS: Final = re.compile(
    r"(?:gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-oss|o[1-9](?:-|$)|omni-moderation)"
)
_CL100K_MODELS: Final = re.compile(
    r"(?:gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada-002|davinci-002|babbage-002)"
)

# tiktoken's download URL (its cache key) and published sha256 per encoding; a cached file
# is trusted only if its hash matches, since a mismatch makes tiktoken download again.
_TIKTOKEN_FILES: Final = MappingProxyType(
    {
        CL100K: (
            "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        ),
        O200K: (
            "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        ),
    }
)

# --- the estimate -------------------------------------------------------------------------

_RUN: Final = re.compile(
    r"(?P<latin>[A-Za-z\u00c0-\u024f]+)"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<newline>[ \t]*[\r\n]\s*)"
    r"|(?P<space>[ \t]+)"
    r"|(?P<other>.)",
    re.DOTALL,
)
# A natural word: an optional capital, then lower-case letters (or a single capital).
# Anything else in a letter run (ACRONYMS, camelCase, base64) splits into short pieces.
_WORD_LIKE: Final = re.compile(r"[A-Z\u00c0-\u00de]?[a-z\u00df-\u024f]+|[A-Z\u00c0-\u00de]")
# UTF-8 bytes per token: for a natural word (accented letters weigh 2, because BPE
# vocabularies often split at them), for other letter runs and for characters outside the
# ASCII/Latin ranges (Cyrillic, CJK, emoji, symbols).
_WORD_BYTES_PER_TOKEN: Final = 3.0
_ODD_RUN_BYTES_PER_TOKEN: Final = 1.25
_OTHER_BYTES_PER_TOKEN: Final = 1.5
_SPACES_PER_TOKEN: Final = 4


def safe_estimate(text: str) -> int:
    """A token count that is at least the real one for the tokenizers we can measure.

    Chosen over a flat `chars/3` (or words x 1.6) because those undercount exactly the text
    a knowledge base holds besides prose: IDs, numbers, code and other scripts. Measured
    against cl100k, o200k and a 30k-vocabulary WordPiece (the small-vocabulary worst case
    for Portuguese): a UUID list is 739 real tokens and chars/3 says 247; Japanese 165 vs
    55. Here each run is priced separately: a word 1 token per 3 UTF-8 bytes, each digit
    1 (Llama, Mistral and Qwen split numbers into digits), each punctuation mark 1, other
    letter runs and non-Latin characters 1 per 1.5 bytes. Capped at UTF-8 bytes + 1, the
    most any byte-level BPE (plus a leading-space piece) can produce.

    On the example handbook it is 1.3x the real o200k/cl100k count for Portuguese and
    1.6-1.75x for English, the price of never overflowing a local model's context.
    """
    if not text:
        return 0
    total = 0.0
    for match in _RUN.finditer(text):
        run = match.group()
        kind = match.lastgroup
        if kind == "latin":
            size = len(run.encode())
            per_token = (
                _WORD_BYTES_PER_TOKEN if _WORD_LIKE.fullmatch(run) else _ODD_RUN_BYTES_PER_TOKEN
            )
            total += math.ceil(size / per_token)
        elif kind == "digits":
            total += len(run)
        elif kind == "newline":
            total += 1
        elif kind == "space":
            following = text[match.end() : match.end() + 1]
            # One space before a word merges with it; before anything else it often stands
            # alone.
            if run != " " or not following.isalpha():
                total += math.ceil(len(run) / _SPACES_PER_TOKEN)
        else:
            size = len(run.encode())
            total += 1 if size == 1 else size / _OTHER_BYTES_PER_TOKEN
    return min(math.ceil(total), len(text.encode()) + 1)


# --- model families -----------------------------------------------------------------------


def encoding_for(model: str) -> str | None:
    """The OpenAI encoding `model` uses, or None when its tokenizer is unknown here.

    Accepts the spellings that reach us from configuration: "gpt-4o-mini",
    "openai/gpt-4.1", "ft:gpt-4o-mini:org::id", "gpt-oss:20b" (an Ollama tag).
    """
    name = model.strip().lower().rsplit("/", 1)[-1]
    name = name.removeprefix("ft:").split(":", 1)[0]
    if _O200K_MODELS.match(name):
        return O200K
    if _CL100K_MODELS.match(name):
        return CL100K
    return None


def count_tokens(text: str, *, model: str) -> int:
    """Tokens `text` costs for `model` (exact for OpenAI families, a safe estimate else)."""
    return tokenizer_for(model)(text)


def tokenizer_for(model: str) -> TokenCounter:
    """A text -> token-count function for `model`, shared by every model of its family."""
    return _counter_for_encoding(encoding_for(model))


@cache  # keyed by encoding name: at most three entries
def _counter_for_encoding(encoding: str | None) -> TokenCounter:
    if encoding is None:
        return safe_estimate
    counter = _bpe_openai_counter(encoding) or _cached_tiktoken_counter(encoding)
    if counter is None:
        logger.warning(
            "no offline tokenizer for %s (install bpe-openai); using a safe estimate", encoding
        )
        return safe_estimate
    return counter


def _exact(encode: Callable[[str], list[int]]) -> TokenCounter:
    def count(text: str) -> int:
        if not text:
            return 0
        try:
            return len(encode(text))
        except ValueError:
            # bpe-openai refuses inputs over 1M characters or 200k tokens; no prompt is
            # that large, and the estimate is still an upper bound.
            return safe_estimate(text)

    return count


def _bpe_openai_counter(encoding: str) -> TokenCounter | None:
    """Exact counter from bpe-openai's embedded rank files (no network, ever)."""
    try:
        with warnings.catch_warnings():
            # bpe-openai 0.1.4 reads its data (at import) with the deprecated
            # importlib.resources.open_binary.
            warnings.simplefilter("ignore", DeprecationWarning)
            import bpe_openai

            return _exact(bpe_openai.get_encoding(encoding).encode_ordinary)
    except ImportError:
        return None
    except Exception:
        logger.warning("bpe-openai could not load %s", encoding, exc_info=True)
        return None


def tiktoken_cache_file(encoding: str) -> Path | None:
    """Where tiktoken caches `encoding`'s rank file (its own lookup order), or None if
    caching is disabled (TIKTOKEN_CACHE_DIR="") or the encoding is not one we know."""
    if encoding not in _TIKTOKEN_FILES:
        return None
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        cache_dir = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        cache_dir = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        cache_dir = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not cache_dir:
        return None
    url = _TIKTOKEN_FILES[encoding][0]
    return Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()


def _cached_tiktoken_counter(encoding: str) -> TokenCounter | None:
    """tiktoken's counter, but only when its rank file is already cached and intact:
    otherwise tiktoken would download it, which fails (or hangs) without internet."""
    path = tiktoken_cache_file(encoding)
    if path is None or not path.is_file():
        return None
    try:
        if hashlib.sha256(path.read_bytes()).hexdigest() != _TIKTOKEN_FILES[encoding][1]:
            logger.warning("tiktoken cache file %s is corrupt; not using it", path)
            return None
        import tiktoken

        return _exact(tiktoken.get_encoding(encoding).encode_ordinary)
    except Exception:
        logger.warning("tiktoken could not load %s from its cache", encoding, exc_info=True)
        return None
