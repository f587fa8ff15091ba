"""What the parser worker and its parent exchange: length-prefixed frames of JSON.

Every message is a frame: an 8-byte big-endian length, then that many bytes. On start the
worker sends `{"ready": true}`. A request is two frames, a JSON header `{"task": NAME,
"args": {...}}` and the file's raw bytes; the reply is one JSON frame, `{"ok": RESULT}` or
`{"error": SENTENCE}` (plus `"unexpected": TRACEBACK` when the parser itself broke). Results
are JSON, never pickle, so nothing a hostile file influences is ever unpickled by the parent.
"""

from __future__ import annotations

import os
import struct
from typing import Any

from ragengine.retrieval.parsers.base import (
    ParsedDocument,
    ParsedRecord,
    RecordsResult,
    Section,
)

HEADER = struct.Struct("!Q")


def write_frame(fd: int, payload: bytes) -> None:
    view = memoryview(HEADER.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view) :]


def document_to_json(document: ParsedDocument) -> dict[str, Any]:
    return {
        "title": document.title,
        "mime_type": document.mime_type,
        "sections": [[s.text, list(s.heading_path), s.page] for s in document.sections],
    }


def document_from_json(value: dict[str, Any]) -> ParsedDocument:
    return ParsedDocument(
        title=value["title"],
        mime_type=value["mime_type"],
        sections=[
            Section(text=text, heading_path=tuple(path), page=page)
            for text, path, page in value["sections"]
        ],
    )


def records_to_json(result: RecordsResult) -> dict[str, Any]:
    return {
        "records": [
            {
                "record_id": r.record_id,
                "title": r.title,
                "source": r.source,
                "metadata": r.metadata,
                "document": document_to_json(r.document),
            }
            for r in result.records
        ],
        "failures": result.failures,
    }


def records_from_json(value: dict[str, Any]) -> RecordsResult:
    return RecordsResult(
        records=[
            ParsedRecord(
                record_id=r["record_id"],
                title=r["title"],
                source=r["source"],
                metadata=r["metadata"],
                document=document_from_json(r["document"]),
            )
            for r in value["records"]
        ],
        failures=[(locator, message) for locator, message in value["failures"]],
    )
