"""Picks a parser by file extension, sniffing content when the extension is unknown.

The size limit is checked from the file's metadata before anything is read, so an
oversize upload costs one stat call, not a read of the whole file. Every parser takes the
same `DocumentLimits` and checks them as early as its format allows (text as it
accumulates; paragraphs of a DOCX before walking them); the result is checked once more
here, whatever the parser.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from types import MappingProxyType

from ragengine.retrieval.parsers.base import (
    DEFAULT_LIMITS,
    DocumentLimits,
    ParsedDocument,
    ParseError,
    too_large_error,
)
from ragengine.retrieval.parsers.encoding import EMPTY_MESSAGE, decode_text, looks_binary
from ragengine.retrieval.parsers.htmldoc import parse_html
from ragengine.retrieval.parsers.markdown import parse_markdown
from ragengine.retrieval.parsers.pdf import parse_pdf
from ragengine.retrieval.parsers.plaintext import parse_plain_text
from ragengine.retrieval.parsers.records import (
    RECORD_EXTENSIONS,
    RecordsResult,
    parse_records,
    parse_records_as_document,
)
from ragengine.retrieval.parsers.word import parse_docx

logger = logging.getLogger(__name__)

Parser = Callable[..., ParsedDocument]  # (data, *, filename, limits) -> ParsedDocument

_PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        ".md": parse_markdown,
        ".markdown": parse_markdown,
        ".txt": parse_plain_text,
        ".text": parse_plain_text,
        ".rst": parse_plain_text,
        ".html": parse_html,
        ".htm": parse_html,
        ".pdf": parse_pdf,
        ".docx": parse_docx,
        **dict.fromkeys(RECORD_EXTENSIONS, parse_records_as_document),
    }
)
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_PARSERS)

_CONVERT_HINTS: Mapping[str, str] = MappingProxyType(
    {
        ".doc": "save it as .docx",
        ".rtf": "save it as .docx",
        ".odt": "save it as .docx",
        ".ppt": "save it as PDF",
        ".pptx": "save it as PDF",
        ".xls": "export the sheets as PDF",
        ".xlsx": "export the sheets as PDF",
    }
)
_HTML_STARTS = ("<!doctype html", "<html")


def parse_file(
    path: Path, *, max_bytes: int, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Parse the file at `path`, refusing it before reading if it exceeds `max_bytes`."""
    data = read_limited(path, max_bytes=max_bytes)
    return parse_bytes(data, filename=path.name, max_bytes=max_bytes, limits=limits)


def parse_bytes(
    data: bytes, *, filename: str, max_bytes: int, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Parse an upload held in memory; `filename` picks the format."""
    if len(data) > max_bytes:
        raise too_large_error(size=len(data), max_bytes=max_bytes)
    if not data:
        raise ParseError(EMPTY_MESSAGE)
    extension = PurePath(filename).suffix.lower()
    parser = _PARSERS.get(extension) or _sniff(data, extension=extension)
    return limits.check_document(parser(data, filename=filename, limits=limits))


def parse_records_file(
    path: Path, *, max_bytes: int, limits: DocumentLimits = DEFAULT_LIMITS
) -> RecordsResult:
    """`parse_records` for a file on disk, with the same size check as `parse_file`."""
    data = read_limited(path, max_bytes=max_bytes)
    return parse_records(data, filename=path.name, limits=limits)


def read_limited(path: Path, *, max_bytes: int) -> bytes:
    """The file's bytes, or a ParseError if it is missing, unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise too_large_error(size=size, max_bytes=max_bytes)
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)  # the file may have grown since stat()
    except FileNotFoundError as exc:
        raise ParseError("The file could not be found.") from exc
    except IsADirectoryError as exc:
        raise ParseError("This is a folder, not a file.") from exc
    except OSError as exc:
        raise ParseError(f"The file could not be read: {exc.strerror or exc}.") from exc
    if len(data) > max_bytes:
        raise too_large_error(size=len(data), max_bytes=max_bytes)
    return data


def _sniff(data: bytes, *, extension: str) -> Parser:
    """Format from content for unknown extensions: PDF, DOCX, HTML, else plain text."""
    shown = extension or "(no extension)"
    if extension in _CONVERT_HINTS:
        raise ParseError(
            f"Unsupported file type {shown}; {_CONVERT_HINTS[extension]} and upload it again."
        )
    if data.startswith(b"%PDF-"):
        return parse_pdf
    if data.startswith(b"PK") and _is_docx(data):
        return parse_docx
    if looks_binary(data):
        raise ParseError(f"Unsupported file type {shown}: the content is not text.")
    try:
        text = decode_text(data)
    except ParseError as exc:
        if exc.message == EMPTY_MESSAGE:
            raise
        raise ParseError(f"Unsupported file type {shown}: the content is not text.") from exc
    logger.info("Unknown extension %s; content sniffed as text", shown)
    if text.lstrip()[:20].lower().startswith(_HTML_STARTS):
        return parse_html
    return parse_plain_text


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
