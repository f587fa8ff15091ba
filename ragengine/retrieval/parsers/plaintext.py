"""Plain text (.txt, .text, .rst): decoded, cleaned, one section.

The chunker splits on blank-line paragraphs itself, so no structure is guessed here,
except one: a text file that is Markdown (notes exported as `.txt`, READMEs) is parsed
as Markdown, so its citations name the section, not only the file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from pathlib import PurePath

from ragengine.retrieval.parsers.base import (
    DEFAULT_LIMITS,
    DocumentLimits,
    ParsedDocument,
    ParseError,
    Section,
)
from ragengine.retrieval.parsers.encoding import EMPTY_MESSAGE, clean_text, decode_text
from ragengine.retrieval.parsers.markdown import parse_markdown

logger = logging.getLogger(__name__)

MIME_TYPE = "text/plain"


# An ATX heading at the start or after a blank line ("# Title", "## Setup").
_HEADING = re.compile(r"(?:\A|\n[ \t]*\n)[ \t]{0,3}#{1,6}[ \t]+\S")
# Markdown that a plain text rarely has: a code fence or a table's delimiter row.
_MARKDOWN_BLOCK = re.compile(r"^[ \t]{0,3}(?:```|~~~)|^\|?[ \t]*:?-{3,}:?[ \t]*\|", re.M)


def looks_like_markdown(text: str) -> bool:
    """Two headings, or one with a code fence or a table: what Markdown looks like and
    a plain note (or a shell comment) does not."""
    headings = len(_HEADING.findall(text))
    return headings >= 2 or (headings == 1 and bool(_MARKDOWN_BLOCK.search(text)))


def parse_plain_text(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Decode `data` as text (UTF-8, else a detected encoding) into a single section."""
    text = clean_text(decode_text(data))
    if not text:
        raise ParseError(EMPTY_MESSAGE)
    limits.check_chars(len(text))
    if looks_like_markdown(text):
        logger.debug("Parsed %s as Markdown in a text file", filename)
        return replace(parse_markdown(data, filename=filename, limits=limits), mime_type=MIME_TYPE)
    logger.debug("Parsed %s as plain text (%d chars)", filename, len(text))
    return ParsedDocument(
        title=PurePath(filename).stem or filename,
        mime_type=MIME_TYPE,
        sections=[Section(text=text)],
    )
