"""Cut parsed sections into chunks no longer than the embedder's token window.

A chunk never mixes two heading paths or pages, so every chunk cites exactly one place.
Within a section, whole paragraphs are packed up to `max_tokens`; a longer paragraph is
split at sentence ends (and line breaks), a longer sentence at words, and a single huge
"word" (a URL, base64) at characters. Consecutive chunks of one section share about
`overlap_tokens` of trailing whole sentences so a fact cut at a boundary is still whole in
one of them.

Tokens of each sentence (and word, when a sentence must be split) are counted once, cached
per call, and summed; only the final text of each chunk is counted again, because tokenizers
are not exactly additive. If that recount exceeds the limit (rare: it needs a tokenizer
that merges across separators) the chunk is re-cut with exact counts, so
`token_count <= max_tokens` always.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

from ragengine.retrieval.parsers.base import Section

logger = logging.getLogger(__name__)

CountTokens = Callable[[str], int]

PARAGRAPH_SEP = "\n\n"
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
# A sentence ends at . ! ? … (plus closing quotes/brackets) before whitespace and an
# upper-case letter, digit or opening quote; a line break always ends one.
_SENTENCE_BREAK = re.compile(
    r"(?<=[.!?…])[\"'”’»)\]]*(?P<gap>[ \t]+)(?=[\"'“‘«(\[¿¡]?[A-ZÀ-ÖØ-Þ0-9])"
    r"|(?P<line>[ \t]*\n)"  # the next line's indentation stays with it (code, YAML)
)
# Words whose trailing period does not end a sentence (pt + en).
_ABBREVIATIONS = frozenset(
    {
        "sr", "sra", "srta", "srs", "sras", "dr", "dra", "drs", "dras", "prof", "profa",
        "eng", "av", "art", "arts", "fig", "figs", "cap", "pág", "pag", "p", "pp", "vol",
        "núm", "num", "no", "nos", "nº", "tel", "ex", "mr", "mrs", "ms", "jr", "st", "vs",
        "inc", "ltda", "cia", "dept", "depto", "al", "cf", "e.g", "i.e", "aprox", "approx",
    }
)  # fmt: skip
_LIST_NUMBER = re.compile(r"\(?\d{1,3}[.)]?$")
_MAX_CHARS_PER_TOKEN = 32


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A chunk ready to embed; provenance is metadata, never injected into `text`."""

    ordinal: int
    text: str
    token_count: int
    heading_path: tuple[str, ...]
    page: int | None


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece that fits alone: a sentence, or a fragment of an over-long sentence."""

    text: str
    tokens: int
    sep: str  # what joins it to the previous unit: paragraph, line or space
    sentence: bool  # a whole sentence (only those are repeated as overlap)


def chunk_sections(
    sections: Sequence[Section],
    *,
    count_tokens: CountTokens,
    max_tokens: int = 256,
    overlap_tokens: int = 32,
) -> list[ChunkDraft]:
    """Chunks of every section in order, ordinals 0..n-1, each <= `max_tokens` tokens."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be >= 0 and smaller than max_tokens")
    counter = _Counter(count_tokens)
    drafts: list[ChunkDraft] = []
    for (heading_path, page), group in groupby(sections, key=lambda s: (s.heading_path, s.page)):
        text = PARAGRAPH_SEP.join(section.text for section in group)
        packer = _Packer(counter=counter, max_tokens=max_tokens, overlap_tokens=overlap_tokens)
        for paragraph in _paragraphs(text):
            packer.add_paragraph(list(_units(paragraph, counter=counter, max_tokens=max_tokens)))
        for chunk_text, tokens in packer.finish():
            drafts.append(
                ChunkDraft(
                    ordinal=len(drafts),
                    text=chunk_text,
                    token_count=tokens,
                    heading_path=heading_path,
                    page=page,
                )
            )
    logger.debug("Chunked %d sections into %d chunks", len(sections), len(drafts))
    return drafts


class _Counter:
    """Token counts cached per string for one call; separator costs measured once."""

    def __init__(self, count_tokens: CountTokens) -> None:
        self._count = count_tokens
        self._cache: dict[str, int] = {}
        base = count_tokens("a") * 2
        self._sep_cost = {
            sep: max(0, count_tokens(f"a{sep}a") - base) for sep in (PARAGRAPH_SEP, "\n", " ")
        }

    def __call__(self, text: str) -> int:
        tokens = self._cache.get(text)
        if tokens is None:
            tokens = self._cache[text] = self._count(text)
        return tokens

    def exact(self, text: str) -> int:
        """Uncached: for chunk texts, which are counted once and never repeat."""
        return self._count(text)

    def sep(self, sep: str) -> int:
        return self._sep_cost.get(sep, 0)


def _paragraphs(text: str) -> Iterator[str]:
    for paragraph in _PARAGRAPH_BREAK.split(text):
        if paragraph.strip():
            yield paragraph.strip("\n").rstrip()


def split_sentences(paragraph: str) -> list[tuple[str, str]]:
    """(sentence, separator before it) pairs; the first separator is ""."""
    pieces: list[tuple[str, str]] = []
    start, sep = 0, ""
    for match in _SENTENCE_BREAK.finditer(paragraph):
        group = "gap" if match.group("gap") is not None else "line"
        gap_start, gap_end = match.span(group)
        if group == "gap" and _is_abbreviation(paragraph, start, gap_start):
            continue
        sentence = paragraph[start:gap_start].rstrip()
        if sentence.strip():
            pieces.append((sentence, sep if pieces else ""))
            sep = "\n" if group == "line" else " "
        start = gap_end
    tail = paragraph[start:].rstrip()
    if tail.strip():
        pieces.append((tail, sep if pieces else ""))
    return pieces


def _is_abbreviation(text: str, start: int, end: int) -> bool:
    """Whether the period before `end` belongs to an abbreviation or a list number.

    "Sr. Silva", "art. 5", "J. Silva" and "1. Introdução" do not end a sentence.
    """
    before = text[start:end].rstrip("\"'”’»)]")
    if not before.endswith("."):
        return False
    word = before[:-1].rsplit(maxsplit=1)[-1] if before[:-1].strip() else ""
    if before[:-1].strip() == word and _LIST_NUMBER.match(word):
        return True  # the sentence so far is only a list number: "1. Introdução"
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())


def _units(paragraph: str, *, counter: _Counter, max_tokens: int) -> Iterator[_Unit]:
    """A paragraph as pieces that each fit in one chunk; the first carries the paragraph sep.

    Always split into sentences (each counted once) so overlap can reuse whole sentences;
    the packer still keeps a paragraph that fits in one chunk together.
    """
    for index, (sentence, sep) in enumerate(split_sentences(paragraph)):
        sep = PARAGRAPH_SEP if index == 0 else sep
        tokens = counter(sentence)
        if tokens <= max_tokens:
            yield _Unit(sentence, tokens, sep, sentence=True)
            continue
        for position, (piece, piece_tokens) in enumerate(
            _split_words(sentence, counter=counter, max_tokens=max_tokens)
        ):
            yield _Unit(piece, piece_tokens, sep if position == 0 else " ", sentence=False)


def _split_words(sentence: str, *, counter: _Counter, max_tokens: int) -> Iterator[tuple[str, int]]:
    """Greedy word packing: estimate by summed word counts, then confirm with one count."""
    words = sentence.split()
    space = counter.sep(" ")
    index = 0
    while index < len(words):
        if counter(words[index]) > max_tokens:
            yield from _split_chars(words[index], counter=counter, max_tokens=max_tokens)
            index += 1
            continue
        end, estimate = index + 1, counter(words[index])
        while end < len(words) and estimate + space + counter(words[end]) <= max_tokens:
            estimate += space + counter(words[end])
            end += 1
        piece = " ".join(words[index:end])
        tokens = counter.exact(piece)
        while tokens > max_tokens:  # the sum under-counted: back off word by word
            end -= 1
            piece = " ".join(words[index:end])
            tokens = counter.exact(piece)
        yield piece, tokens
        index = end


def _split_chars(word: str, *, counter: _Counter, max_tokens: int) -> Iterator[tuple[str, int]]:
    """Longest prefixes within the limit, by binary search on length.

    The search window is capped (a token rarely spans more than a few dozen characters) so
    a megabyte-long blob costs linear, not quadratic, counting.
    """
    start = 0
    while start < len(word):
        low, high = 1, min(len(word) - start, max_tokens * _MAX_CHARS_PER_TOKEN)
        while low < high:
            middle = (low + high + 1) // 2
            if counter.exact(word[start : start + middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        piece = word[start : start + low]
        tokens = counter.exact(piece)
        if tokens > max_tokens:
            raise ValueError(f"max_tokens={max_tokens} cannot hold even one character")
        yield piece, tokens
        start += low


def _join(units: Iterable[_Unit]) -> str:
    parts: list[str] = []
    for unit in units:
        if parts:
            parts.append(unit.sep)
        parts.append(unit.text)
    return "".join(parts)


class _Packer:
    """Packs one section's units into chunks, carrying trailing sentences as overlap."""

    def __init__(self, *, counter: _Counter, max_tokens: int, overlap_tokens: int) -> None:
        self._counter = counter
        self._max = max_tokens
        self._overlap = overlap_tokens
        self._units: list[_Unit] = []
        self._carried = 0  # how many leading units are overlap from the previous chunk
        self._estimate = 0
        self._chunks: list[tuple[str, int]] = []

    def add_paragraph(self, units: list[_Unit]) -> None:
        if not units:
            return
        size = self._size(units)
        if size <= self._max:
            # Whole paragraph: keep it in one chunk, starting a new one when it does not fit.
            if self._estimate + self._counter.sep(units[0].sep) + size > self._max:
                self._emit()
                self._make_room(units[0].sep, size)
            self._append(units)
            return
        for unit in units:
            if self._estimate + self._counter.sep(unit.sep) + unit.tokens > self._max:
                self._emit()
                self._make_room(unit.sep, unit.tokens)
            self._append([unit])

    def finish(self) -> list[tuple[str, int]]:
        self._emit()
        return self._chunks

    def _size(self, units: Sequence[_Unit]) -> int:
        return sum(unit.tokens for unit in units) + sum(
            self._counter.sep(unit.sep) for unit in units[1:]
        )

    def _append(self, units: list[_Unit]) -> None:
        for unit in units:
            if self._units:
                self._estimate += self._counter.sep(unit.sep)
            self._estimate += unit.tokens
            self._units.append(unit)

    def _make_room(self, sep: str, tokens: int) -> None:
        """Drop carried overlap from the front until the next piece fits after it."""
        while self._units and self._estimate + self._counter.sep(sep) + tokens > self._max:
            self._units.pop(0)
            self._carried -= 1
            self._estimate = self._size(self._units)

    def _emit(self) -> None:
        if len(self._units) > self._carried:  # something new beyond the carried overlap
            self._store(self._units, carried=self._carried)
            tail = self._overlap_tail(self._units)
        else:
            tail = self._units  # nothing new: keep what was carried for the next chunk
        self._units = list(tail)
        self._carried = len(self._units)
        self._estimate = self._size(self._units)

    def _store(self, units: list[_Unit], *, carried: int) -> None:
        """Count the final text; re-cut exactly in the rare case the estimate was short."""
        if not units:
            return
        text = _join(units)
        tokens = self._counter.exact(text)
        if tokens <= self._max:
            self._chunks.append((text, tokens))
            return
        logger.debug("Chunk estimate was short (%d > %d tokens); re-cutting", tokens, self._max)
        if carried:
            self._store(units[carried:], carried=0)
            return
        if len(units) == 1:  # cannot happen: every unit was counted alone within the limit
            raise RuntimeError("count_tokens is not deterministic")
        low, high = 1, len(units) - 1  # the longest prefix that fits (one unit always fits)
        while low < high:
            middle = (low + high + 1) // 2
            if self._counter.exact(_join(units[:middle])) <= self._max:
                low = middle
            else:
                high = middle - 1
        self._store(units[:low], carried=0)
        self._store(units[low:], carried=0)

    def _overlap_tail(self, units: list[_Unit]) -> list[_Unit]:
        """Trailing whole sentences totalling at most `overlap_tokens`."""
        tail: list[_Unit] = []
        total = 0
        for unit in reversed(units):
            cost = unit.tokens + (self._counter.sep(tail[0].sep) if tail else 0)
            if not unit.sentence or total + cost > self._overlap:
                break
            tail.insert(0, unit)
            total += cost
        return tail
