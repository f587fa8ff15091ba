"""PDF (.pdf): one section per page with its 1-based page number, for page citations.

pypdf returns visual lines; wrapped lines are re-flowed into sentences, because the chunker
treats line breaks as sentence boundaries and would otherwise cut sentences mid-way.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import PurePath

from pypdf import PdfReader
from pypdf.errors import DependencyError, PdfReadError

from ragengine.retrieval.parsers.base import (
    DEFAULT_LIMITS,
    DocumentLimits,
    ParsedDocument,
    ParseError,
    Section,
    error_detail,
)
from ragengine.retrieval.parsers.encoding import EMPTY_MESSAGE, clean_text

logger = logging.getLogger(__name__)

MIME_TYPE = "application/pdf"

_HEADER_WINDOW = 1024
_BULLET = re.compile(r"^(?:[-•●▪◦*–]\s|\(?\d{1,3}[.)]\s|\(?[a-z][.)]\s)")
_SENTENCE_END = (".", "!", "?", ":", "…", ";")
_WORD_PREFIX = "Microsoft Word - "
_WRAP_RATIO = 0.6
# Placeholder titles that generators write when the author set none.
_PLACEHOLDER_TITLES = frozenset({"untitled", "untitled document", "sem título", "document"})


def parse_pdf(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Text per page; title from the /Title metadata or the file name.

    The character cap is checked after every page, so a huge PDF stops being read as soon
    as it is passed.
    """
    if not data.strip():
        raise ParseError(EMPTY_MESSAGE)
    if b"%PDF-" not in data[:_HEADER_WINDOW]:
        raise ParseError("The file has a .pdf name but is not a PDF.")
    reader = _open(data)
    sections: list[Section] = []
    failures: list[str] = []
    chars = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            raw = page.extract_text() or ""
        except Exception as exc:  # pypdf raises many types on malformed content streams
            logger.warning("Could not extract page %d of %s: %s", number, filename, exc)
            failures.append(error_detail(exc))
            continue
        text = reflow(raw)
        if text:
            chars += len(text)
            limits.check_chars(chars)
            sections.append(Section(text=text, page=number))
    if not sections:
        if failures:
            raise ParseError(f"The PDF is damaged and could not be read: {failures[0]}")
        raise ParseError(
            "No text could be extracted from the PDF; it may be a scanned image "
            "(text recognition is not supported)."
        )
    logger.debug("Parsed %s as PDF (%d pages with text)", filename, len(sections))
    return ParsedDocument(
        title=_title(reader) or PurePath(filename).stem or filename,
        mime_type=MIME_TYPE,
        sections=sections,
    )


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        if encrypted and not _decrypt_without_password(reader):
            raise ParseError(
                "The PDF is password-protected; remove the password and upload it again."
            )
        if len(reader.pages) == 0:
            raise ParseError("The PDF has no pages.")
    except ParseError:
        raise
    except PdfReadError as exc:
        raise ParseError(f"The PDF is damaged and could not be read: {error_detail(exc)}") from exc
    except Exception as exc:  # malformed files surface as KeyError, ValueError, ...
        logger.info("Unexpected error opening PDF", exc_info=True)
        raise ParseError(f"The PDF is damaged and could not be read: {error_detail(exc)}") from exc
    return reader


def _decrypt_without_password(reader: PdfReader) -> bool:
    """Many PDFs are encrypted only against editing, with an empty user password."""
    try:
        return bool(reader.decrypt(""))
    except DependencyError as exc:
        raise ParseError(
            "The PDF uses an encryption this server cannot open; save an unencrypted copy "
            "and upload it again."
        ) from exc
    except Exception:
        logger.info("Decrypting PDF with an empty password failed", exc_info=True)
        return False


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        raw = metadata.title if metadata is not None else None
    except Exception:
        logger.info("Unreadable PDF metadata", exc_info=True)
        return None
    title = clean_text(str(raw or "")).replace("\n", " ").removeprefix(_WORD_PREFIX).strip()
    if title.lower() in _PLACEHOLDER_TITLES:
        return None
    return title or None


def reflow(raw: str) -> str:
    """Join hard-wrapped lines; keep blank lines, bullets and other intended breaks.

    A wrapped line nearly fills the text width, so a line break is kept after a short line
    (a heading, a table cell, a paragraph's last line) and after sentence punctuation.
    """
    lines = clean_text(raw).split("\n")
    wide = _WRAP_RATIO * _typical_width(lines)
    paragraphs: list[str] = []
    current, previous = "", ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
        elif not current:
            current = line
        elif previous.endswith("-") and previous[-2:-1].isalpha() and line[:1].islower():
            current += line  # hyphen kept: Portuguese compounds ("segunda-feira") are common
        elif len(previous) < wide or previous.endswith(_SENTENCE_END) or _BULLET.match(line):
            current += "\n" + line
        else:
            current += " " + line
        previous = line
    if current:
        paragraphs.append(current)
    return "\n\n".join(paragraphs)


def _typical_width(lines: list[str]) -> int:
    """The 90th-percentile line length: robust to one over-long line (a URL)."""
    lengths = sorted(len(line) for line in lines if line)
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0
