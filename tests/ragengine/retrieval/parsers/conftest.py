from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ragengine.retrieval.parsers import ParsedDocument, parse_file

MAX_BYTES = 5 * 1024 * 1024

WriteAndParse = Callable[[str, bytes], ParsedDocument]


@pytest.fixture
def parse_as(tmp_path: Path) -> WriteAndParse:
    """Write `data` to tmp_path/`name` and parse it through the public entry point."""

    def run(name: str, data: bytes) -> ParsedDocument:
        path = tmp_path / name
        path.write_bytes(data)
        return parse_file(path, max_bytes=MAX_BYTES)

    return run
