"""Word (.docx): "Title" and "Heading N" paragraphs build heading paths; tables kept.

Body paragraphs and tables are read in document order so a table stays under the heading
it appears under. Table rows become "cell | cell" lines (merged cells counted once).

Hostile files: the package's declared unpacked size is checked before python-docx inflates
it (a zip bomb), paragraphs are counted before they are walked (44 KB can hold 100,000
empty ones), and style names are looked up once per style id: python-docx's
`paragraph.style` scans every style of the document on each call, which made a
20,000-paragraph file cost 28 s.
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
    DEFAULT_LIMITS,
    DocumentLimits,
    HeadingTrail,
    ParsedDocument,
    ParseError,
    Section,
    error_detail,
    format_limit,
    format_size,
    non_empty_sections,
)
from ragengine.retrieval.parsers.encoding import EMPTY_MESSAGE, clean_text

logger = logging.getLogger(__name__)

MIME_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_TITLE_LEVEL = 0
# python-docx inflates every part into memory. Text-heavy XML compresses about 10:1 and
# images not at all, so a real document within the file-size limit unpacks far below this.
_MAX_UNPACKED_BYTES = 256 * 1024 * 1024
_KIND = "The Word document"


def parse_docx(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Sections per heading; title from the Title paragraph, core properties, first H1."""
    if not data.strip():
        raise ParseError(EMPTY_MESSAGE)
    if data.startswith(_OLE_MAGIC):
        raise ParseError(
            "This is an old-format Word (.doc) file; save it as .docx and upload it again."
        )
    try:
        _check_unpacked_size(data)
        document = docx.Document(io.BytesIO(data))
        body = document.element.body
        limits.check_paragraphs(int(body.xpath("count(.//w:p)")), kind=_KIND)
        walker = _Walker(limits=limits)
        for block in document.iter_inner_content():
            walker.visit(block)
        walker.flush()
        core_title = (document.core_properties.title or "").strip()
    except ParseError:
        raise
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


def _check_unpacked_size(data: bytes) -> None:
    """Refuse a zip bomb from its directory: zipfile never inflates past a declared size."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    if unpacked > _MAX_UNPACKED_BYTES:
        raise ParseError(
            f"{_KIND} unpacks to {format_size(unpacked, above=_MAX_UNPACKED_BYTES)}, above "
            f"the {format_limit(_MAX_UNPACKED_BYTES)} limit; it is not a normal document."
        )


def _detail(exc: Exception) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "it is not a valid .docx (zip) package."
    if isinstance(exc, ValueError) and "is not a Word file" in str(exc):
        return "it is another kind of Office file, not a Word document."
    return error_detail(exc)


class _Walker:
    def __init__(self, *, limits: DocumentLimits) -> None:
        self.sections: list[Section] = []
        self.title: str | None = None
        self.first_h1: str | None = None
        self._trail = HeadingTrail()
        self._blocks: list[str] = []
        self._limits = limits
        self._chars = 0
        self._style_names: dict[str | None, str] = {}

    def visit(self, block: Paragraph | Table) -> None:
        if isinstance(block, Table):
            self._add(_table_text(block))
            return
        text = clean_text(block.text)
        style_name = self._style_name(block)
        level = _heading_level(style_name)
        if level is None:
            prefix = "- " if style_name.lower().startswith("list") else ""
            self._add(prefix + text if text else "")
            return
        self.flush()
        if text and level == _TITLE_LEVEL and self.title is None:
            self.title = text
        if text and level == 1 and self.first_h1 is None:
            self.first_h1 = text
        self._trail.enter(level, text)

    def _style_name(self, paragraph: Paragraph) -> str:
        """The paragraph style's name, looked up once per style id (None: the default)."""
        style_id = paragraph._p.style  # the raw w:pStyle value; `.style` would resolve it
        if style_id not in self._style_names:
            style = paragraph.style
            self._style_names[style_id] = (style.name or "") if style is not None else ""
        return self._style_names[style_id]

    def _add(self, text: str) -> None:
        if text:
            self._chars += len(text)
            self._limits.check_chars(self._chars)
            self._blocks.append(text)

    def flush(self) -> None:
        if self._blocks:
            text = "\n\n".join(self._blocks)
            self.sections.append(Section(text=text, heading_path=self._trail.path))
            self._blocks = []


def _heading_level(style_name: str) -> int | None:
    name = style_name.strip()
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
