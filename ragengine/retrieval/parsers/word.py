"""Word (.docx): "Title" and "Heading N" paragraphs build heading paths; tables kept.

Body paragraphs and tables are read in document order so a table stays under the heading
it appears under. Table rows become "cell | cell" lines (merged cells counted once).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from pathlib import PurePath

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from ragengine.retrieval.parsers.base import (
    HeadingTrail,
    ParsedDocument,
    ParseError,
    Section,
    error_detail,
    non_empty_sections,
)
from ragengine.retrieval.parsers.encoding import EMPTY_MESSAGE, clean_text

logger = logging.getLogger(__name__)

MIME_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_TITLE_LEVEL = 0


def parse_docx(data: bytes, *, filename: str) -> ParsedDocument:
    """Sections per heading; title from the Title paragraph, core properties, first H1."""
    if not data.strip():
        raise ParseError(EMPTY_MESSAGE)
    if data.startswith(_OLE_MAGIC):
        raise ParseError(
            "This is an old-format Word (.doc) file; save it as .docx and upload it again."
        )
    try:
        document = docx.Document(io.BytesIO(data))
        walker = _Walker()
        for block in document.iter_inner_content():
            walker.visit(block)
        walker.flush()
        core_title = (document.core_properties.title or "").strip()
    except Exception as exc:  # BadZipFile, KeyError, ValueError, lxml errors ...
        logger.info("Unreadable DOCX %s", filename, exc_info=True)
        raise ParseError(
            f"The Word document is damaged and could not be read: {_detail(exc)}"
        ) from exc
    sections = non_empty_sections(walker.sections)
    if not sections:
        raise ParseError("No text could be extracted from the Word document.")
    title = walker.title or core_title or walker.first_h1 or PurePath(filename).stem or filename
    logger.debug("Parsed %s as DOCX (%d sections)", filename, len(sections))
    return ParsedDocument(title=title, mime_type=MIME_TYPE, sections=sections)


def _detail(exc: Exception) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "it is not a valid .docx (zip) package."
    if isinstance(exc, ValueError) and "is not a Word file" in str(exc):
        return "it is another kind of Office file, not a Word document."
    return error_detail(exc)


class _Walker:
    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.title: str | None = None
        self.first_h1: str | None = None
        self._trail = HeadingTrail()
        self._blocks: list[str] = []

    def visit(self, block: Paragraph | Table) -> None:
        if isinstance(block, Table):
            self._add(_table_text(block))
            return
        text = clean_text(block.text)
        level = _heading_level(block)
        if level is None:
            prefix = "- " if _style_name(block).lower().startswith("list") else ""
            self._add(prefix + text if text else "")
            return
        self.flush()
        if text and level == _TITLE_LEVEL and self.title is None:
            self.title = text
        if text and level == 1 and self.first_h1 is None:
            self.first_h1 = text
        self._trail.enter(level, text)

    def _add(self, text: str) -> None:
        if text:
            self._blocks.append(text)

    def flush(self) -> None:
        if self._blocks:
            text = "\n\n".join(self._blocks)
            self.sections.append(Section(text=text, heading_path=self._trail.path))
            self._blocks = []


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


def _heading_level(paragraph: Paragraph) -> int | None:
    name = _style_name(paragraph).strip()
    if name.lower() == "title":
        return _TITLE_LEVEL
    match = _HEADING_STYLE.match(name)
    return int(match.group(1)) if match else None


def _table_text(table: Table) -> str:
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a merged cell repeats once per grid column
                continue
            previous = cell._tc
            cells.append(" ".join(clean_text(cell.text).split()))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
