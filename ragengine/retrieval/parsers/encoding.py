"""Bytes -> text for the text-like formats, with readable errors for binary or garbage.

UTF-8 (with or without BOM) and UTF-16/32 with a BOM are taken as declared. Anything else
goes to charset-normalizer, which on short Latin-1 Portuguese often ties Windows-1252 with
Central-European code pages; our corpus is Portuguese and English, so a Western code page
wins such a tie ("ação", not "açăo").
"""

from __future__ import annotations

import codecs
import logging
import re
import unicodedata

import charset_normalizer

from ragengine.retrieval.parsers.base import ParseError

logger = logging.getLogger(__name__)

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WESTERN = ("cp1252", "latin_1", "iso8859_15")
# C0 control bytes that never appear in text (tab, newlines, form feed and ESC excluded).
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 11, 12, 13, 27))
_SNIFF_BYTES = 64 * 1024
_MAX_CONTROL_RATIO = 0.05
_CHAOS_TIE = 0.01

_UNWANTED_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\u00ad\u200b\u200e\u200f\ufeff]")
_HORIZONTAL_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")

EMPTY_MESSAGE = "The file is empty."
BINARY_MESSAGE = "This looks like a binary file, not text."
UNDECODABLE_MESSAGE = "The text is not valid UTF-8 or a known encoding."


def looks_binary(data: bytes) -> bool:
    """NUL bytes, or more than a few non-text control bytes, mean this is not text."""
    if b"\x00" in data:
        return True
    sample = data[:_SNIFF_BYTES]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls > _MAX_CONTROL_RATIO * len(sample)


def decode_text(data: bytes) -> str:
    """Decode text bytes, or raise a ParseError saying why they are not usable text."""
    if not data.strip():
        raise ParseError(EMPTY_MESSAGE)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ParseError(UNDECODABLE_MESSAGE) from exc
    if looks_binary(data):
        raise ParseError(BINARY_MESSAGE)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    results = charset_normalizer.from_bytes(data)
    best = results.best()
    if best is None:
        raise ParseError(UNDECODABLE_MESSAGE)
    western = next((match for match in results if match.encoding in _WESTERN), None)
    if western is not None and western.chaos <= best.chaos + _CHAOS_TIE:
        best = western
    logger.info("Decoded non-UTF-8 text as %s", best.encoding)
    return str(best)


def clean_text(text: str) -> str:
    """NFC, Unix newlines, no invisible/control characters, single spaces, <= 1 blank line.

    NFC keeps "férias" typed on macOS (decomposed) equal to the same word typed elsewhere.
    """
    text = _HORIZONTAL_SPACE.sub(" ", _normalize(text))
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def clean_preformatted(text: str) -> str:
    """Like `clean_text` but keeps indentation and inner spacing (code, ASCII tables)."""
    text = "\n".join(line.rstrip() for line in _normalize(text).split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip("\n")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    return _UNWANTED_CHARS.sub("", text)
