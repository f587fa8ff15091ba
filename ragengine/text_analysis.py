"""Lexical analysis for BM25 and sentence scoring: words, stopwords, stemming (pt + en).

The corpus mixes Portuguese and English, often inside one knowledge set. Each text is
stemmed with the language its stopwords point to; when the evidence is too thin (a short
query such as "vacation days"), both stemmers run and both stems are kept, so a query
still meets documents of either language. Stems are accent-folded last, so "férias" and
"ferias" meet.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Literal

import Stemmer
from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_PORTUGUESE

Language = Literal["en", "pt", "mixed"]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_EN_STOP = frozenset(STOPWORDS_EN) | {"i", "my", "me", "do", "does", "did", "can", "how", "what"}
_PT_STOP = frozenset(STOPWORDS_PORTUGUESE) | {"posso", "pode", "qual", "quais", "quanto", "quantos"}
_EN_ONLY = _EN_STOP - _PT_STOP
_PT_ONLY = _PT_STOP - _EN_STOP
_PT_LETTERS = re.compile(r"[ãõçáéíóúâêôà]")
# Evidence needed before trusting a single language.
_MIN_EVIDENCE = 2


def fold_accents(text: str) -> str:
    """'Férias' -> 'Ferias' (NFKD, combining marks dropped)."""
    if text.isascii():  # most stems: skip the Unicode work (it dominated ingestion CPU)
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def word_tokens(text: str) -> list[str]:
    """Word tokens as written (letters and digits; inner apostrophes kept)."""
    return _WORD.findall(text)


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return [w.lower() for w in word_tokens(text)]


def detect_language(tokens: list[str], text: str = "") -> Language:
    """Cheap stopword vote; 'mixed' when the evidence is thin or balanced."""
    en = sum(1 for t in tokens if t in _EN_ONLY)
    pt = sum(1 for t in tokens if t in _PT_ONLY) + len(_PT_LETTERS.findall(text.lower()))
    if pt >= _MIN_EVIDENCE and pt >= 2 * en:
        return "pt"
    if en >= _MIN_EVIDENCE and en >= 2 * pt:
        return "en"
    return "mixed"


@lru_cache(maxsize=2)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english" if language == "en" else "portuguese")


def analyze(text: str) -> list[str]:
    """Index/query terms for `text`: stopwords dropped, stemmed, accent-folded.

    Deterministic for a given text, so documents and queries meet on the same terms.
    """
    tokens = words(text)
    language = detect_language(tokens, text)
    content = [t for t in tokens if t not in _EN_STOP and t not in _PT_STOP]
    if not content:
        # A question made only of stopwords ("what is it?") still needs terms.
        content = tokens
    if language == "mixed":
        en = _stemmer("en").stemWords(content)
        pt = _stemmer("pt").stemWords(content)
        out: list[str] = []
        for a, b in zip(en, pt, strict=True):
            out.append(fold_accents(a))
            if b != a:
                out.append(fold_accents(b))
        return out
    return [fold_accents(s) for s in _stemmer(language).stemWords(content)]
