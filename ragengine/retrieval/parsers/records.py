"""JSON / JSONL exports of the old system: each record is its own logical document.

A record is `{"text" | "content": str, "source": str, "id": str | int, "metadata": {...}}`.
A .json file holds one record or a list of them; .jsonl/.ndjson one per line.

Failure policy: a bad record (invalid JSON on its line, no text, wrong types, duplicate id)
is reported on its own as `(locator, message)` and the valid records still ingest, so one
broken line does not block a 10,000-record migration. The whole file fails with a
ParseError only when nothing in it is usable: empty, not text, a .json that is not valid
JSON as a whole, or no valid record at all.

Optional `metadata.page` (positive int) and `metadata.heading_path` (list of strings) are
carried onto the record's section so old citations keep their precision.

Nesting deeper than MAX_NESTING levels is refused before `json.loads` sees the text: the
decoder recurses once per level, so one record nested 100,000 levels deep raised
RecursionError (and deep values would recurse again wherever they are serialized). A JSONL
line that is too deep fails alone; a .json file is one value, so it fails as a whole.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

import numpy as np

from ragengine.retrieval.parsers.base import (
    DEFAULT_LIMITS,
    DocumentLimits,
    ParsedDocument,
    ParsedRecord,
    ParseError,
    RecordsResult,
    Section,
)
from ragengine.retrieval.parsers.encoding import clean_text, decode_text

logger = logging.getLogger(__name__)

JSON_MIME_TYPE = "application/json"
JSONL_MIME_TYPE = "application/x-ndjson"
JSON_EXTENSIONS = frozenset({".json"})
JSONL_EXTENSIONS = frozenset({".jsonl", ".ndjson"})
RECORD_EXTENSIONS = JSON_EXTENSIONS | JSONL_EXTENSIONS
RECORD_MIME_TYPE = "text/plain"

_TEXT_KEYS = ("text", "content")
_MAX_LISTED_FAILURES = 3
# A record is an object, maybe in a list, with a metadata object: 3 or 4 levels.
MAX_NESTING = 100
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def is_record_format(filename: str) -> bool:
    """True for files that hold many records (ingest them with `parse_records`)."""
    return PurePath(filename).suffix.lower() in RECORD_EXTENSIONS


def parse_records(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> RecordsResult:
    """Every valid record as a ParsedRecord, plus a readable failure per invalid one."""
    text = decode_text(data)
    if PurePath(filename).suffix.lower() in JSONL_EXTENSIONS:
        items = _jsonl_items(text)
    else:
        items = _json_items(text)
    records: list[ParsedRecord] = []
    failures: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    count = 0
    for locator, value in items:
        count += 1
        if count > limits.max_records:
            raise ParseError(
                f"The file holds more than {limits.max_records:,} records, the limit for one "
                "export; split it into smaller files."
            )
        try:
            record = _record(value, locator=locator, limits=limits)
            if record.record_id in seen:
                raise ParseError(
                    f"{locator.capitalize()} repeats id {record.record_id!r} "
                    f"(first used on {seen[record.record_id]})."
                )
        except ParseError as exc:
            failures.append((locator, exc.message))
            continue
        seen[record.record_id] = locator
        records.append(record)
    if count == 0:
        raise ParseError("The file contains no records.")
    if not records:
        raise ParseError(f"None of the {count} records could be used. {_summary(failures)}")
    if failures:
        logger.info("%s: %d records, %d failures", filename, len(records), len(failures))
    return RecordsResult(records=records, failures=failures)


def parse_records_as_document(
    data: bytes, *, filename: str, limits: DocumentLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """All records as one document, a section per record under its title.

    For callers that want one document per file; it refuses partial files rather than
    silently dropping records (use `parse_records` to ingest the valid ones).
    """
    result = parse_records(data, filename=filename, limits=limits)
    if result.failures:
        raise ParseError(
            f"{len(result.failures)} of {len(result.failures) + len(result.records)} records "
            f"could not be used. {_summary(result.failures)}"
        )
    sections = [
        Section(text=s.text, heading_path=(r.title, *s.heading_path), page=s.page)
        for r in result.records
        for s in r.document.sections
    ]
    mime = JSONL_MIME_TYPE if PurePath(filename).suffix.lower() in JSONL_EXTENSIONS else None
    document = ParsedDocument(
        title=PurePath(filename).stem or filename,
        mime_type=mime or JSON_MIME_TYPE,
        sections=sections,
    )
    return limits.check_document(document)


def _summary(failures: list[tuple[str, str]]) -> str:
    shown = " ".join(message for _, message in failures[:_MAX_LISTED_FAILURES])
    hidden = len(failures) - _MAX_LISTED_FAILURES
    return shown + (f" (and {hidden} more)" if hidden > 0 else "")


def _jsonl_items(text: str) -> Iterator[tuple[str, Any]]:
    """(locator, value) per non-blank line; invalid JSON yields the ParseError as value."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        locator = f"line {number}"
        if _nesting_too_deep(line):
            yield (
                locator,
                ParseError(f"Line {number} is nested more than {MAX_NESTING} levels deep."),
            )
            continue
        try:
            yield locator, json.loads(line)
        except json.JSONDecodeError as exc:
            yield locator, ParseError(f"Line {number} is not valid JSON: {exc.msg}.")


def _json_items(text: str) -> Iterator[tuple[str, Any]]:
    if _nesting_too_deep(text):
        offset = _first_too_deep(text)
        line = text.count("\n", 0, offset) + 1
        column = offset - text.rfind("\n", 0, offset)
        raise ParseError(
            f"The file is nested more than {MAX_NESTING} levels deep "
            f"(line {line}, column {column})."
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"The file is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})."
        ) from exc
    if isinstance(value, dict):
        yield "record 1", value
    elif isinstance(value, list):
        for index, item in enumerate(value, start=1):
            yield f"record {index}", item
    else:
        raise ParseError("The JSON file must hold a record object or a list of records.")


def _nesting_too_deep(text: str) -> bool:
    """True if brackets outside strings open more than MAX_NESTING levels; no recursion.

    Strings are cut out and the remaining brackets summed as +1/-1 (in C and numpy), so a
    20 MB export costs milliseconds. Invalid JSON may count wrong here; `json.loads` then
    reports it, and it cannot recurse deeper than what was counted.
    """
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    steps = np.frombuffer(brackets, dtype=np.uint8)
    opens = (steps == ord("[")) | (steps == ord("{"))
    return bool(steps.size) and int(np.cumsum(np.where(opens, 1, -1)).max()) > MAX_NESTING


def _first_too_deep(text: str) -> int:
    """Offset of the first bracket beyond MAX_NESTING levels (only for the error message)."""
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_NESTING:
                return match.start()
        elif token in ("]", "}"):
            depth -= 1
    return 0


def _record(value: Any, *, locator: str, limits: DocumentLimits) -> ParsedRecord:
    where = locator.capitalize()
    if isinstance(value, ParseError):
        raise value
    if not isinstance(value, dict):
        raise ParseError(f"{where} is not a JSON object.")
    key = next((k for k in _TEXT_KEYS if k in value), None)
    if key is None:
        raise ParseError(f'{where} has no "text" or "content" field.')
    if not isinstance(value[key], str):
        raise ParseError(f'{where} has a "{key}" field that is not a string.')
    text = clean_text(value[key])
    if not text:
        raise ParseError(f'{where} has an empty "{key}" field.')
    if len(text) > limits.max_chars:
        raise ParseError(
            f"{where} holds more than {limits.max_chars:,} characters of text, the limit for "
            "one document."
        )
    metadata = value.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ParseError(f'{where} has a "metadata" field that is not an object.')
    source = value.get("source")
    if source is not None and not isinstance(source, str):
        raise ParseError(f'{where} has a "source" field that is not a string.')
    # Without an id, the position is the identity: the source is not unique (one source
    # often had several records in the old system).
    record_id = _record_id(value.get("id"), where=where) or locator.replace(" ", "-")
    title = _first_text(metadata.get("title"), source, record_id)
    section = Section(
        text=text,
        heading_path=_heading_path(metadata.get("heading_path")),
        page=_page(metadata.get("page")),
    )
    document = ParsedDocument(title=title, mime_type=RECORD_MIME_TYPE, sections=[section])
    return ParsedRecord(
        record_id=record_id,
        title=title,
        source=source or "",
        metadata=metadata,
        document=document,
    )


def _record_id(raw: Any, *, where: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ParseError(f'{where} has an "id" that is not a string or integer.')
    return str(raw).strip() or None


def _first_text(*candidates: Any) -> str:
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return " ".join(candidate.split())
    return ""


def _heading_path(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, list) and all(isinstance(part, str) for part in raw):
        return tuple(part.strip() for part in raw if part.strip())
    return ()


def _page(raw: Any) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
        return raw
    return None
