"""The parser process: `python -m ragengine.retrieval.parsers.worker [TASK_MODULE...]`.

Reads requests on stdin and writes replies on stdout, one at a time, in the frames of
`protocol`, until stdin closes (its parent is gone). `isolation` says why parsing runs here
and how a file that takes too long is stopped. Nothing imports this module but `-m` and
its tests.

TASK_MODULEs (tests only) add tasks: each module's `TASKS` maps a name to a function
`(args, data) -> JSON value`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from contextlib import suppress
from typing import Any, BinaryIO

from ragengine.retrieval.parsers.base import DocumentLimits, ParseError, unexpected_error
from ragengine.retrieval.parsers.dispatch import parse_bytes
from ragengine.retrieval.parsers.protocol import (
    HEADER,
    document_to_json,
    records_to_json,
    write_frame,
)
from ragengine.retrieval.parsers.records import parse_records

Task = Callable[[dict[str, Any], bytes], Any]


# --- tasks ----------------------------------------------------------------------------
def _limits(args: dict[str, Any]) -> DocumentLimits:
    return DocumentLimits(
        max_paragraphs=args["max_paragraphs"],
        max_chars=args["max_chars"],
        max_records=args.get("max_records", DocumentLimits.max_records),
    )


def _parse_bytes(args: dict[str, Any], data: bytes) -> Any:
    parsed = parse_bytes(
        data, filename=args["filename"], max_bytes=args["max_bytes"], limits=_limits(args)
    )
    return document_to_json(parsed)


def _parse_records(args: dict[str, Any], data: bytes) -> Any:
    return records_to_json(parse_records(data, filename=args["filename"], limits=_limits(args)))


TASKS: dict[str, Task] = {"parse_bytes": _parse_bytes, "parse_records": _parse_records}


def handle(tasks: dict[str, Task], header: dict[str, Any], data: bytes) -> dict[str, Any]:
    """One request's reply; any exception becomes a readable error, never a dead worker."""
    try:
        return {"ok": tasks[header["task"]](header["args"], data)}
    except ParseError as exc:
        return {"error": exc.message}
    except BaseException as exc:  # RecursionError, MemoryError, a library's own bug ...
        return {"error": unexpected_error(exc).message, "unexpected": traceback.format_exc()}


# --- the process ----------------------------------------------------------------------
def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _read_frame(stream: BinaryIO) -> bytes | None:
    head = _read_exact(stream, HEADER.size)
    return None if head is None else _read_exact(stream, HEADER.unpack(head)[0])


def main(task_modules: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's; stdin EOF ends us
    _volunteer_for_the_oom_killer()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    # Frames go to the real stdout; a stray print() from a library goes to stderr instead.
    replies = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    tasks = dict(TASKS)
    for name in task_modules:
        tasks.update(importlib.import_module(name).TASKS)
    requests = sys.stdin.buffer
    write_frame(replies, json.dumps({"ready": True}).encode())
    while (header := _read_frame(requests)) is not None:
        data = _read_frame(requests)
        if data is None:
            return
        reply = handle(tasks, json.loads(header), data)
        write_frame(replies, json.dumps(reply).encode())


def _volunteer_for_the_oom_killer() -> None:
    """If memory runs out, the kernel kills this process rather than the one ingesting."""
    with suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
        handle.write("1000")


if __name__ == "__main__":
    main(sys.argv[1:])
