"""Sentry events, received by a fake Sentry on a loopback port from a process started
with SENTRY_DSN: release, environment, request id and door tags, and no question text."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from adminsite.sentry import SCRUBBED, release_name, scrub_event

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Is Maria Souza's salary of 9,300 reais above the band?"

SCRIPT = textwrap.dedent(
    """
    import logging, sys
    import django
    django.setup()
    import sentry_sdk
    from adminsite import task_signals
    from ragengine.request_context import request_scope

    question = sys.argv[1]

    def answer_it(question):
        raise ValueError("the model endpoint returned garbage")

    with request_scope("sentry-req-1", door="slack"):
        try:
            answer_it(question)
        except ValueError:
            logging.getLogger("botcore.conversation").exception(
                "door question failed", extra={"question": question, "channel": "C1"}
            )
    # a background task that failed in the worker (its traceback kept as its result)
    task = {"id": "f" * 32, "func": "ragengine.tasks.document_ingest_task", "success": False,
            "result": "RuntimeError: disk full : Traceback (most recent call last): ..."}
    task_signals.on_post_execute_in_worker(None, func=None, task=task)
    sentry_sdk.flush(timeout=10)
    """
)


class FakeSentry(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.events: list[dict] = []
        self.raw: list[bytes] = []

    @property
    def dsn(self) -> str:
        return f"http://public0key@127.0.0.1:{self.server_address[1]}/42"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        self.server.raw.append(body)
        lines = body.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                self.server.events.append(json.loads(payload))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def fake_sentry():
    server = FakeSentry()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_with_sentry(dsn: str, **env: str) -> None:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SENTRY_DSN": dsn,
        "ARANDU_RELEASE": "arandu@test-1234",
        "ARANDU_ENVIRONMENT": "staging",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, QUESTION],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_events_carry_release_environment_tags_and_no_question(fake_sentry):
    run_with_sentry(fake_sentry.dsn)

    assert len(fake_sentry.events) == 2, fake_sentry.raw
    failed, task = fake_sentry.events
    for event in (failed, task):
        assert event["release"] == "arandu@test-1234"
        assert event["environment"] == "staging"
    assert failed["tags"]["request_id"] == "sentry-req-1"
    assert failed["tags"]["door"] == "slack"
    assert failed["exception"]["values"][-1]["type"] == "ValueError"
    assert failed["extra"]["question"] == SCRUBBED
    assert task["tags"]["task"] == "ragengine.tasks.document_ingest_task"
    assert "disk full" in task["extra"]["traceback"]
    everything = b"".join(fake_sentry.raw).decode()
    assert "Maria Souza" not in everything and "9,300" not in everything
    assert "salary" not in everything


def test_questions_are_sent_only_when_the_setting_allows(fake_sentry):
    run_with_sentry(fake_sentry.dsn, ARANDU_SENTRY_SEND_QUESTIONS="true")

    assert "Maria Souza" in b"".join(fake_sentry.raw).decode()


def test_scrub_event_removes_bodies_variables_and_private_fields():
    event = {
        "request": {"url": "/api/v1/ask", "data": {"question": QUESTION}, "query_string": "q=x"},
        "extra": {"answer": "the band is ...", "nested": {"history": ["a"]}, "channel": "C1"},
        "exception": {
            "values": [{"stacktrace": {"frames": [{"vars": {"question": QUESTION, "n": 1}}]}}]
        },
        "breadcrumbs": {"values": [{"message": "question answered", "data": {"text": "x"}}]},
    }
    event["extra"]["sys.argv"] = ["manage.py", "ask", QUESTION, "--json"]

    scrubbed = json.dumps(scrub_event(event))

    assert "Maria" not in scrubbed and "the band" not in scrubbed
    assert event["extra"]["channel"] == "C1"
    assert event["extra"]["sys.argv"] == ["manage.py", "ask", SCRUBBED]
    assert event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["n"] == 1
    assert event["breadcrumbs"]["values"][0]["message"] == "question answered"


def test_release_is_the_git_commit_or_the_declared_version(tmp_path):
    assert release_name(base_dir=ROOT).startswith("arandu@")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "arandu"\nversion = "9.8.7"\n')
    no_git = release_name(base_dir=tmp_path)
    assert no_git in {"arandu@9.8.7", "arandu@0.1.0"}  # 0.1.0 when the package is installed
