"""Value types shared by every parser, plus the few helpers they all need.

Parsers turn bytes into `Section`s that remember where their text came from (heading path
or page), so the chunker can keep that provenance and answers can cite precisely. Every
failure an admin or user could cause is a `ParseError` whose message is a readable sentence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_KB = 1024
_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text with one provenance: a heading path (structured formats) or a page."""

    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """What a parser found in one file: a title, its MIME type and non-empty sections."""

    title: str
    mime_type: str
    sections: list[Section]

    @property
    def text(self) -> str:
        """All section text, paragraph-separated (for hashing or previews)."""
        return "\n\n".join(section.text for section in self.sections)


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One record of a JSON/JSONL export; each becomes its own logical document."""

    record_id: str
    title: str
    source: str
    metadata: dict[str, Any]
    document: ParsedDocument


@dataclass(frozen=True, slots=True)
class RecordsResult:
    """Records that parsed, and `(locator, message)` for each that did not.

    A locator is "line 7" (JSONL) or "record 3" (JSON list); the message is a readable
    sentence that already names it, so it can be shown to an admin as-is.
    """

    records: list[ParsedRecord]
    failures: list[tuple[str, str]]


class ParseError(Exception):
    """A file could not be turned into text; `str(error)` is a sentence for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """What one document may hold; above it the document is refused with a readable error.

    The defaults let every real handbook through (a 2,000-page manual is about 5 million
    characters; a long one has a few thousand paragraphs) and stop files crafted to cost
    minutes of CPU or gigabytes of memory for no useful text. The service passes the
    ARANDU_MAX_DOC_* settings; the defaults here serve direct callers and tests.
    """

    max_paragraphs: int = 50_000
    max_chars: int = 5_000_000
    max_records: int = 100_000  # records in one JSON/JSONL export (each is a document)

    def check_paragraphs(self, count: int, *, kind: str) -> None:
        """`kind` names the document: "The Word document"."""
        if count > self.max_paragraphs:
            raise ParseError(
                f"{kind} has {count:,} paragraphs, above the {self.max_paragraphs:,} paragraph "
                "limit for one document; split it into smaller files."
            )

    def check_chars(self, count: int) -> None:
        """Call as text accumulates, so a parser can stop as soon as the cap is passed."""
        if count > self.max_chars:
            raise ParseError(
                f"The document holds more than {self.max_chars:,} characters of text, the "
                "limit for one document; split it into smaller files."
            )

    def check_document(self, document: ParsedDocument) -> ParsedDocument:
        self.check_chars(sum(len(section.text) for section in document.sections))
        return document


DEFAULT_LIMITS = DocumentLimits()


class HeadingTrail:
    """The stack of open headings: entering level N closes every heading at level >= N."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(text for _, text in self._stack)

    def enter(self, level: int, text: str) -> tuple[str, ...]:
        text = " ".join(text.split())
        if text:
            while self._stack and self._stack[-1][0] >= level:
                self._stack.pop()
            self._stack.append((level, text))
        return self.path


def join_blocks(blocks: Iterable[tuple[str, bool]]) -> str:
    """Blocks as paragraphs (blank line between), but adjacent list items one per line."""
    parts: list[str] = []
    previous_item = False
    for text, is_item in blocks:
        if parts:
            parts.append("\n" if is_item and previous_item else "\n\n")
        parts.append(text)
        previous_item = is_item
    return "".join(parts)


def unexpected_error(exc: BaseException) -> ParseError:
    """Any other exception while reading a file (a library bug, RecursionError, MemoryError),
    as a ParseError naming it, so the file fails alone with a reason."""
    detail = " ".join(str(exc).split())
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return ParseError(f"Unexpected error while reading this file ({what}).")


def error_detail(exc: BaseException) -> str:
    """A library's exception as the tail of a sentence: 'stream has ended unexpectedly.'"""
    text = " ".join(str(exc).strip("'\" ").split()) or type(exc).__name__
    if text[:1].isupper() and not text[1:2].isupper():  # keep acronyms: "EOF marker ..."
        text = text[0].lower() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def non_empty_sections(sections: Iterable[Section]) -> list[Section]:
    """Drops sections whose text is only whitespace."""
    return [section for section in sections if section.text.strip()]


def format_size(size: int, *, above: int | None = None) -> str:
    """'31.2 MB', '512 bytes'; with `above`, rounds up if needed so it reads as larger."""
    if size < _KB:
        return f"{size} bytes"
    unit, scale = ("MB", _MB) if size >= _MB else ("KB", _KB)
    value = size / scale
    if above is not None and round(value, 1) * scale <= above < size:
        value = math.ceil(value * 10) / 10  # "20.0 MB, above the 20 MB limit" reads wrong
    return f"{value:.1f} {unit}"


def format_limit(limit: int) -> str:
    """'20 MB' rather than '20.0 MB' for round limits."""
    text = format_size(limit)
    number, _, unit = text.partition(" ")
    return f"{number.removesuffix('.0')} {unit}"


def too_large_error(*, size: int, max_bytes: int) -> ParseError:
    return ParseError(
        f"The file is {format_size(size, above=max_bytes)}, "
        f"above the {format_limit(max_bytes)} limit."
    )
