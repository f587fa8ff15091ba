"""HTML (.html, .htm): visible text only, h1-h6 build heading paths.

Page chrome (nav, site header/footer) and non-text elements are dropped. A <header> or
<footer> inside <article>/<main> belongs to the content (often it holds the article's h1),
so only page-level ones are removed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import PurePath
from types import MappingProxyType

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.dammit import EncodingDetector
from bs4.element import PreformattedString

from ragengine.retrieval.parsers.base import (
    DEFAULT_LIMITS,
    DocumentLimits,
    HeadingTrail,
    ParsedDocument,
    ParseError,
    Section,
    join_blocks,
    non_empty_sections,
)
from ragengine.retrieval.parsers.encoding import (
    BINARY_MESSAGE,
    EMPTY_MESSAGE,
    clean_preformatted,
    clean_text,
    decode_text,
    looks_binary,
)

logger = logging.getLogger(__name__)

MIME_TYPE = "text/html"

_DROPPED = (
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "svg",
    "canvas",
    "iframe",
    "object",
    "button",
    "select",
    "head",
)
_CONTENT_ROOTS = ("article", "main")
_HEADINGS: Mapping[str, int] = MappingProxyType({f"h{level}": level for level in range(1, 7)})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
        "header", "hr", "html", "li", "main", "p", "section", "summary",
    }
)  # fmt: skip
_SPACES = re.compile(r"\s+")
_BARE_MARKER = re.compile(r"-|\d+\.")


def parse_html(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Sections per heading; title from <title>, the first <h1>, or the file name."""
    soup = BeautifulSoup(_decode(data), "lxml")
    title = _title(soup) or PurePath(filename).stem or filename
    for tag in soup.find_all(list(_DROPPED)):
        tag.decompose()
    for tag in soup.find_all(["header", "footer"]):
        if tag.find_parent(list(_CONTENT_ROOTS)) is None:
            tag.decompose()
    walker = _Walker(limits=limits)
    walker.walk(soup.body or soup)
    sections = non_empty_sections(walker.sections)
    if not sections:
        raise ParseError("No text could be extracted from the HTML page.")
    logger.debug("Parsed %s as HTML (%d sections)", filename, len(sections))
    return ParsedDocument(title=title, mime_type=MIME_TYPE, sections=sections)


def _decode(data: bytes) -> str:
    """Honour a declared charset (<meta>, XML declaration); otherwise detect like text."""
    if not data.strip():
        raise ParseError(EMPTY_MESSAGE)
    declared = EncodingDetector.find_declared_encoding(data[:4096], is_html=True)
    if declared:
        if looks_binary(data):
            raise ParseError(BINARY_MESSAGE)
        try:
            return data.decode(declared, errors="replace")
        except LookupError:
            logger.info("Unknown declared HTML charset %r; detecting instead", declared)
    return decode_text(data)


def _title(soup: BeautifulSoup) -> str | None:
    for tag in (soup.title, soup.find("h1")):
        if tag is not None:
            text = _collapse(tag.get_text(" "))
            if text:
                return text
    return None


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


class _Walker:
    """Depth-first walk turning block elements into paragraphs under the open headings."""

    def __init__(self, *, limits: DocumentLimits) -> None:
        self.sections: list[Section] = []
        self._limits = limits
        self._chars = 0
        self._trail = HeadingTrail()
        self._blocks: list[tuple[str, bool]] = []  # (text, is a list item)
        self._inline: list[str] = []
        self._inline_is_item = False  # the pending inline text starts with a list marker
        self._lists: list[list[int]] = []  # per open list: [next number] or [] when bulleted

    def walk(self, node: Tag) -> None:
        self._children(node)
        self._end_block()
        self._flush()

    def _children(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA ...
                continue
            if isinstance(child, NavigableString):
                self._inline.append(_SPACES.sub(" ", child))  # source newlines are spaces
            elif isinstance(child, Tag):
                self._element(child)

    def _element(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            self._end_block()
            self._flush()
            self._trail.enter(_HEADINGS[name], _collapse(tag.get_text(" ")))
        elif name == "br":
            self._inline.append("\n")
        elif name == "pre":
            self._end_block()
            self._add(clean_preformatted(tag.get_text()))
        elif name == "table":
            self._end_block()
            self._add(_table_text(tag))
        elif name in ("ul", "ol"):
            self._end_block()
            self._lists.append([_list_start(tag)] if name == "ol" else [])
            self._children(tag)
            self._lists.pop()
        elif name in _BLOCKS:
            self._end_block()
            if name == "li":
                self._inline.append(self._marker())
                self._inline_is_item = True
            self._children(tag)
            self._end_block()
        else:
            self._children(tag)

    def _marker(self) -> str:
        if not self._lists or not self._lists[-1]:
            return "- "
        counter = self._lists[-1]
        counter[0] += 1
        return f"{counter[0] - 1}. "

    def _end_block(self) -> None:
        if self._inline:
            lines = (_collapse(line) for line in "".join(self._inline).split("\n"))
            text = clean_text("\n".join(line for line in lines if line))
            if not _BARE_MARKER.fullmatch(text):  # an item holding only a nested list
                self._add(text, is_item=self._inline_is_item)
        self._inline = []
        self._inline_is_item = False

    def _add(self, text: str, *, is_item: bool = False) -> None:
        if text:
            self._chars += len(text)
            self._limits.check_chars(self._chars)
            self._blocks.append((text, is_item))

    def _flush(self) -> None:
        if self._blocks:
            text = join_blocks(self._blocks)
            self.sections.append(Section(text=text, heading_path=self._trail.path))
            self._blocks = []


def _list_start(ordered_list: Tag) -> int:
    start = str(ordered_list.get("start", "1")).strip()
    return int(start) if start.isdigit() else 1


def _table_text(table: Tag) -> str:
    rows = []
    for row in table.find_all("tr"):
        cells = [_collapse(cell.get_text(" ")) for cell in row.find_all(("th", "td"))]
        if any(cells):
            rows.append(" | ".join(cells))
    return clean_text("\n".join(rows))
