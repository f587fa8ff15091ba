"""Parsing in a separate worker process that is killed when a file runs past its budget.

Why a process, not a deadline checked in the parsers' loops: a hostile file spends its time
where our loops cannot look. pypdf is pure Python with a history of endless and quadratic
loops on malformed content streams and cross-reference tables, all inside one
`page.extract_text()` or `PdfReader()` call; lxml parses in C, zlib inflates in C. A
cooperative check between pages or paragraphs sees the clock only after such a call
returns, if ever. A watchdog raising into the parsing thread (`PyThreadState_SetAsyncExc`,
SIGALRM) cannot interrupt C code either and lands anywhere, locks held included. Only the
kernel stops all of it, so files are parsed in a worker process (`worker`) and the worker
is killed with SIGKILL at the deadline; the next file gets a fresh one. The worker takes
crashes and memory blow-ups with it too: a segfault in a C extension, or the out-of-memory
killer (the worker volunteers to be its first choice), fails that file alone.

Why one long-lived worker, not a fork per file: forking copies the parent's page tables,
which costs time in proportion to its memory (~70 ms on a shared 2-core machine for a
340 MB process with the embedder loaded: more than parsing a typical file, and it took the
test suite from 7 s to 55 s of kernel time), and forking a process that runs threads
(bots, gRPC for Weaviate) can deadlock the child. The worker is started fresh
(`python -m`, about half a second of imports, once per process and after each kill),
never forked from us, and gets no secrets in its environment. Results come back as JSON.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ragengine.retrieval.parsers.base import (
    DocumentLimits,
    ParsedDocument,
    ParseError,
    RecordsResult,
)
from ragengine.retrieval.parsers.protocol import (
    HEADER,
    document_from_json,
    records_from_json,
    write_frame,
)

logger = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parents[3]
_READ_SIZE = 1024 * 1024
# The worker needs no credentials: only the variables that shape Python and the locale.
_ENV_KEPT = ("PATH", "HOME", "LANG", "TMPDIR", "TZ", "LD_LIBRARY_PATH")
_ENV_PREFIXES = ("LC_", "PYTHON")


class ParseWorkerError(RuntimeError):
    """The worker process could not be started: a fault of this machine, not of a file."""


class ParseWorker:
    """A parser process of our own: bytes go in, parsed documents come out.

    Thread-safe (one file at a time per worker). A file that runs past `timeout_s` gets the
    worker killed and a ParseError saying so; the next call starts a new worker, and the
    start-up does not count against that file's budget.
    """

    def __init__(self, *, task_modules: Sequence[str] = (), start_timeout_s: float = 60.0):
        self._task_modules = list(task_modules)
        self._start_timeout_s = start_timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()

    @property
    def pid(self) -> int | None:
        """The running worker's process id, if one is running."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def parse_bytes(
        self,
        data: bytes,
        *,
        filename: str,
        max_bytes: int,
        limits: DocumentLimits,
        timeout_s: float,
    ) -> ParsedDocument:
        """`parse_bytes` in the worker; a ParseError if it fails or takes over `timeout_s`."""
        args = {"filename": filename, "max_bytes": max_bytes, **_limit_args(limits)}
        reply = self.run("parse_bytes", data, args=args, timeout_s=timeout_s)
        return document_from_json(reply)

    def parse_records(
        self, data: bytes, *, filename: str, limits: DocumentLimits, timeout_s: float
    ) -> RecordsResult:
        """`parse_records` in the worker; a ParseError if it fails or takes over `timeout_s`."""
        args = {"filename": filename, **_limit_args(limits)}
        reply = self.run("parse_records", data, args=args, timeout_s=timeout_s)
        return records_from_json(reply)

    def run(self, task: str, data: bytes, *, args: dict[str, Any], timeout_s: float) -> Any:
        """The worker's result for `task`; a ParseError for the file's failures."""
        header = json.dumps({"task": task, "args": args}).encode()
        with self._lock:
            process = self._send(header, data)
            reply = _read_frame(process, deadline=time.monotonic() + timeout_s)
            if reply is None:
                self._stop()
                logger.warning(
                    "parse over budget",
                    extra={"file": args.get("filename"), "timeout_s": timeout_s},
                )
                raise ParseError(
                    f"Reading this file took longer than {timeout_s:g} s, the time limit for "
                    "one file; it may be damaged or built to be slow to read."
                )
            if not reply:
                ended = _how_it_ended(self._stop())
                raise ParseError(f"The reader stopped abnormally on this file ({ended}).")
            answer = json.loads(reply)
            if "unexpected" in answer:
                logger.warning(
                    "parser failed",
                    extra={"file": args.get("filename"), "traceback": answer["unexpected"]},
                )
                self._stop()  # whatever broke may have left the worker's state broken too
        if "error" in answer:
            raise ParseError(answer["error"])
        return answer["ok"]

    def close(self) -> None:
        """Stop the worker (it would also stop on its own when this process ends)."""
        with self._lock:
            self._stop()

    # --- the process -------------------------------------------------------------------
    def _send(self, header: bytes, data: bytes) -> subprocess.Popen[bytes]:
        """A running worker holding the request; a worker that died while idle is replaced."""
        process = self._running()
        try:
            _write_request(process, header, data)
        except OSError:  # BrokenPipeError: it died between two files; one more, fresh
            self._stop()
            process = self._running()
            _write_request(process, header, data)
        return process

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop()
        process = subprocess.Popen(
            [sys.executable, "-m", "ragengine.retrieval.parsers.worker", *self._task_modules],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
            cwd=_PROJECT_ROOT,
            env=_worker_environment(),
        )
        self._process = process
        ready = _read_frame(process, deadline=time.monotonic() + self._start_timeout_s)
        if not ready or json.loads(ready) != {"ready": True}:
            self._stop()
            raise ParseWorkerError("The parser process could not be started.")
        logger.info("parser worker started", extra={"pid": process.pid})
        return process

    def _stop(self) -> int | None:
        """Kill the worker if it runs and reap it; its exit status, if it had one."""
        process, self._process = self._process, None
        if process is None or os.getpid() != self._owner:
            return None  # a process forked from ours must not touch our worker
        if process.poll() is None:
            process.kill()
        status = process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
        return status


def _write_request(process: subprocess.Popen[bytes], header: bytes, data: bytes) -> None:
    write_frame(process.stdin.fileno(), header)
    write_frame(process.stdin.fileno(), data)


def _limit_args(limits: DocumentLimits) -> dict[str, int]:
    return {
        "max_paragraphs": limits.max_paragraphs,
        "max_chars": limits.max_chars,
        "max_records": limits.max_records,
    }


def _worker_environment() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key in _ENV_KEPT or key.startswith(_ENV_PREFIXES)
    }


def _read_frame(process: subprocess.Popen[bytes], *, deadline: float) -> bytes | None:
    """One frame from the worker; b"" if it ended first, None at the deadline."""
    fd = process.stdout.fileno()
    buffer = bytearray()
    expected: int | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while expected is None or len(buffer) < expected:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(fd, _READ_SIZE if expected is None else expected - len(buffer))
            if not chunk:
                return b""
            buffer += chunk
            if expected is None and len(buffer) >= HEADER.size:
                expected = HEADER.size + HEADER.unpack_from(buffer)[0]
    return bytes(buffer[HEADER.size :])


def _how_it_ended(returncode: int | None) -> str:
    if returncode is None:
        return "it ended without a reply"
    if returncode < 0:
        number = -returncode
        name = signal.Signals(number).name if number in signal.valid_signals() else str(number)
        hint = "; it may have run out of memory" if number == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit status {returncode}"
