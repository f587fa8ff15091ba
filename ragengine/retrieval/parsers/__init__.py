"""Document parsers: bytes of many formats -> sections that remember heading path or page.

Use `parse_file` / `parse_bytes` for single documents. JSON/JSONL exports hold many records
and should go through `parse_records` / `parse_records_file`, which ingest the valid records
and report the bad ones individually (`is_record_format` tells which files those are).
Every parser takes `DocumentLimits`; a `ParseWorker` runs the same parses in a separate
process under a time budget, for files nobody has vetted.
"""

from ragengine.retrieval.parsers.base import (
    DocumentLimits,
    ParsedDocument,
    ParsedRecord,
    ParseError,
    RecordsResult,
    Section,
)
from ragengine.retrieval.parsers.dispatch import (
    SUPPORTED_EXTENSIONS,
    parse_bytes,
    parse_file,
    parse_records_file,
    read_limited,
)
from ragengine.retrieval.parsers.isolation import ParseWorker, ParseWorkerError
from ragengine.retrieval.parsers.records import (
    RECORD_EXTENSIONS,
    is_record_format,
    parse_records,
)

__all__ = [
    "RECORD_EXTENSIONS",
    "SUPPORTED_EXTENSIONS",
    "DocumentLimits",
    "ParseError",
    "ParseWorker",
    "ParseWorkerError",
    "ParsedDocument",
    "ParsedRecord",
    "RecordsResult",
    "Section",
    "is_record_format",
    "parse_bytes",
    "parse_file",
    "parse_records",
    "parse_records_file",
    "read_limited",
]
