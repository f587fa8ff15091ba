"""Parsing in a worker process under a time budget (audit "Hardening" items 11 and 12)."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from ragengine.retrieval.parsers import (
    DocumentLimits,
    ParseError,
    ParseWorker,
    parse_bytes,
    parse_records,
)
from tests.conftest import EXAMPLES
from tests.ragengine.retrieval.parsers.test_docx import docx_with_paragraphs

MB = 1024 * 1024
LIMITS = DocumentLimits()


def new_worker() -> ParseWorker:
    return ParseWorker(task_modules=["tests.ragengine.retrieval.parsers.worker_tasks"])


@pytest.fixture(scope="module")
def shared_worker():
    """For tests that leave the worker running (starting one costs about half a second)."""
    worker = new_worker()
    yield worker
    worker.close()


@pytest.fixture
def worker():
    worker = new_worker()
    yield worker
    worker.close()


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in (EXAMPLES / "handbook").iterdir() if p.suffix != ".jsonl"),
)
def test_documents_come_back_exactly_as_parsed_in_process(shared_worker, name):
    data = (EXAMPLES / "handbook" / name).read_bytes()
    expected = parse_bytes(data, filename=name, max_bytes=20 * MB, limits=LIMITS)

    parsed = shared_worker.parse_bytes(
        data, filename=name, max_bytes=20 * MB, limits=LIMITS, timeout_s=30
    )

    assert parsed == expected


def test_records_come_back_exactly_as_parsed_in_process(shared_worker):
    data = (EXAMPLES / "handbook" / "faq-export.jsonl").read_bytes() + b"{broken\n"
    expected = parse_records(data, filename="faq.jsonl", limits=LIMITS)

    result = shared_worker.parse_records(data, filename="faq.jsonl", limits=LIMITS, timeout_s=30)

    assert result == expected
    assert result.failures and result.records


def test_a_parse_error_keeps_its_readable_message(shared_worker):
    with pytest.raises(ParseError) as info:
        shared_worker.parse_bytes(b"", filename="a.txt", max_bytes=MB, limits=LIMITS, timeout_s=30)
    assert str(info.value) == "The file is empty."


def test_a_task_over_the_budget_is_killed_and_the_next_file_gets_a_new_worker(worker):
    with pytest.raises(ParseError) as info:
        worker.run("spin", b"", args={"filename": "slow.txt"}, timeout_s=0.2)
    assert str(info.value) == (
        "Reading this file took longer than 0.2 s, the time limit for one file; it may be "
        "damaged or built to be slow to read."
    )
    assert worker.pid is None  # killed, not left spinning

    parsed = worker.parse_bytes(
        b"Still works.", filename="a.txt", max_bytes=MB, limits=LIMITS, timeout_s=30
    )
    assert parsed.sections[0].text == "Still works."


def test_the_audit_docx_with_the_cap_lifted_is_stopped_by_the_budget(worker):
    """Style look-ups are cached now, but the budget must hold whatever the parser does."""
    lifted = DocumentLimits(max_paragraphs=1_000_000, max_chars=5_000_000)
    worker.parse_bytes(b"warm", filename="a.txt", max_bytes=MB, limits=LIMITS, timeout_s=30)
    with pytest.raises(ParseError, match=r"^Reading this file took longer than 0\.05 s"):
        worker.parse_bytes(
            docx_with_paragraphs(100_000),
            filename="bomb.docx",
            max_bytes=MB,
            limits=lifted,
            timeout_s=0.05,
        )


def test_starting_the_worker_does_not_count_against_the_first_file(worker):
    assert worker.pid is None
    parsed = worker.parse_bytes(
        b"Quick.", filename="a.txt", max_bytes=MB, limits=LIMITS, timeout_s=0.5
    )
    assert parsed.sections[0].text == "Quick."


@pytest.mark.parametrize("error", ["RecursionError", "MemoryError"])
def test_any_exception_in_the_worker_becomes_a_readable_error(worker, error):
    worker.run("environment", b"", args={}, timeout_s=30)
    first = worker.pid

    with pytest.raises(ParseError) as info:
        worker.run("raise", b"", args={"error": error}, timeout_s=30)

    message = str(info.value)
    assert message.startswith(f"Unexpected error while reading this file ({error}")
    assert message.endswith(").")
    assert worker.pid is None  # a worker whose parser broke is not trusted with the next file
    worker.run("environment", b"", args={}, timeout_s=30)
    assert worker.pid != first


@pytest.mark.parametrize(
    "how, ended",
    [("killed", "killed by SIGKILL; it may have run out of memory"), ("exits", "exit status 3")],
)
def test_a_worker_that_dies_fails_the_file_not_the_caller(worker, how, ended):
    """A crash in a C extension, or the kernel's out-of-memory killer, ends the worker."""
    with pytest.raises(ParseError) as info:
        worker.run("die", b"", args={"how": how}, timeout_s=30)
    assert str(info.value) == f"The reader stopped abnormally on this file ({ended})."
    assert worker.run("environment", b"", args={}, timeout_s=30)


def test_a_worker_that_died_while_idle_is_replaced(worker):
    worker.run("environment", b"", args={}, timeout_s=30)
    pid = worker.pid  # read once: the worker object forgets it once it sees the death
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # the worker object may reap it first
        os.waitpid(pid, 0)  # gone for sure

    parsed = worker.parse_bytes(
        b"Back.", filename="a.txt", max_bytes=MB, limits=LIMITS, timeout_s=30
    )

    assert parsed.sections[0].text == "Back."


def test_the_worker_gets_no_secrets_from_the_environment(worker, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "test-secret")

    names = worker.run("environment", b"", args={}, timeout_s=30)

    assert "OPENAI_API_KEY" not in names and "DJANGO_SECRET_KEY" not in names
    assert "PATH" in names
