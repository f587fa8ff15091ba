"""Plain text (.txt, .text, .rst): decoded, cleaned, one section.

The chunker splits on blank-line paragraphs itself, so no structure is guessed here.
"""

from __future__ import annotations

import logging
from pathlib import PurePath

from ragengine.retrieval.parsers.base import (
    DEFAULT_LIMITS,
    DocumentLimits,
    ParsedDocument,
    ParseError,
    Section,
)
from ragengine.retrieval.parsers.encoding import EMPTY_MESSAGE, clean_text, decode_text

logger = logging.getLogger(__name__)

MIME_TYPE = "text/plain"


def parse_plain_text(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Decode `data` as text (UTF-8, else a detected encoding) into a single section."""
    text = clean_text(decode_text(data))
    if not text:
        raise ParseError(EMPTY_MESSAGE)
    limits.check_chars(len(text))
    logger.debug("Parsed %s as plain text (%d chars)", filename, len(text))
    return ParsedDocument(
        title=PurePath(filename).stem or filename,
        mime_type=MIME_TYPE,
        sections=[Section(text=text)],
    )
