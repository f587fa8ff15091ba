"""Markdown (.md, .markdown): headings become heading paths; text is kept plain.

Emphasis markers, link targets and HTML tags are dropped (link and image text kept), list
items and table rows stay one per line, and code blocks are kept verbatim as text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import PurePath

from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.token import Token

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
from ragengine.retrieval.parsers.encoding import clean_preformatted, clean_text, decode_text

logger = logging.getLogger(__name__)

MIME_TYPE = "text/markdown"

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(?P<title>.+?)[ \t]*$", re.M)
_INLINE_TEXT_TYPES = frozenset({"text", "text_special", "code_inline", "image"})


def parse_markdown(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Sections per heading; title from front matter `title:`, the first H1, or the name."""
    source = decode_text(data).replace("\r\n", "\n")
    front_title, source = _split_front_matter(source)
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    walker = _Walker(limits=limits)
    walker.walk(parser.parse(source))
    sections = non_empty_sections(walker.sections)
    if not sections:
        raise ParseError("No text could be extracted from the Markdown file.")
    title = front_title or walker.first_h1 or PurePath(filename).stem or filename
    logger.debug("Parsed %s as Markdown (%d sections)", filename, len(sections))
    return ParsedDocument(title=title, mime_type=MIME_TYPE, sections=sections)


def _split_front_matter(source: str) -> tuple[str | None, str]:
    """YAML front matter would otherwise parse as a rule plus a setext heading."""
    match = _FRONT_MATTER.match(source)
    if match is None:
        return None, source
    title_match = _FRONT_MATTER_TITLE.search(match.group("body"))
    title = title_match.group("title").strip("\"'") if title_match else None
    return (title or None), source[match.end() :]


class _Walker:
    """Walks markdown-it's flat token stream, collecting text blocks under headings."""

    def __init__(self, *, limits: DocumentLimits) -> None:
        self.sections: list[Section] = []
        self.first_h1: str | None = None
        self._trail = HeadingTrail()
        self._blocks: list[tuple[str, bool]] = []  # (text, is a list item)
        self._lists: list[list[int]] = []  # per open list: [next number] or [] when bulleted
        self._item_prefix: str | None = None
        self._limits = limits
        self._chars = 0

    def walk(self, tokens: Sequence[Token]) -> None:
        index = 0
        while index < len(tokens):
            index = self._visit(tokens, index)
        self._flush()

    def _visit(self, tokens: Sequence[Token], index: int) -> int:
        token = tokens[index]
        kind = token.type
        if kind == "heading_open":
            self._heading(int(token.tag[1:]), _inline_text(tokens[index + 1]))
            return index + 3
        if kind == "paragraph_open":
            self._add(clean_text(_inline_text(tokens[index + 1])))
            return index + 3
        if kind == "table_open":
            return self._table(tokens, index)
        if kind in ("fence", "code_block"):
            self._add(clean_preformatted(token.content))
        elif kind == "html_block":
            self._add(clean_text(BeautifulSoup(token.content, "lxml").get_text(" ")))
        elif kind == "bullet_list_open":
            self._lists.append([])
        elif kind == "ordered_list_open":
            self._lists.append([int(token.attrGet("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self._lists.pop()
        elif kind == "list_item_open":
            self._item_prefix = "  " * (len(self._lists) - 1) + self._marker()
        return index + 1

    def _marker(self) -> str:
        counter = self._lists[-1]
        if not counter:
            return "- "
        number = counter[0]
        counter[0] += 1
        return f"{number}. "

    def _add(self, text: str) -> None:
        if not text:
            return
        is_item = self._item_prefix is not None
        if self._item_prefix is not None:
            text = self._item_prefix + text
            self._item_prefix = None
        self._chars += len(text)
        self._limits.check_chars(self._chars)
        self._blocks.append((text, is_item))

    def _heading(self, level: int, text: str) -> None:
        self._flush()
        text = clean_text(text)
        if level == 1 and self.first_h1 is None and text:
            self.first_h1 = text
        self._trail.enter(level, text)

    def _table(self, tokens: Sequence[Token], index: int) -> int:
        rows: list[list[str]] = []
        while tokens[index].type != "table_close":
            token = tokens[index]
            if token.type == "tr_open":
                rows.append([])
            elif token.type == "inline" and rows:
                rows[-1].append(clean_text(_inline_text(token)))
            index += 1
        self._add("\n".join(" | ".join(row) for row in rows if any(row)))
        return index + 1

    def _flush(self) -> None:
        if self._blocks:
            text = join_blocks(self._blocks)
            self.sections.append(Section(text=text, heading_path=self._trail.path))
            self._blocks = []


def _inline_text(token: Token) -> str:
    """Plain text of an inline token: markup dropped, link/image text kept."""
    parts: list[str] = []
    for child in token.children or ():
        if child.type in _INLINE_TEXT_TYPES:
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
    return "".join(parts)
