"""The command line's output: `ingest` exits 1 when a file failed; log records go to
stderr and INFO ones only with `-v 2`, so they never mix with an answer or progress on
stdout; counts agree with their nouns."""

from __future__ import annotations

import logging
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from ragengine.management.verbosity import command_logging, log_level_for
from ragengine.management.wording import plural
from tests.browser.web_server import server_env

ROOT = Path(__file__).resolve().parents[3]


def info_lines(text: str) -> list[str]:
    """Lines that are INFO log records of the engine, whatever the log format."""
    return [line for line in text.splitlines() if "INFO" in line and "ragengine." in line]


@pytest.mark.parametrize(
    "count, singular, plural_form, expected",
    [
        (0, "chunk", "", "0 chunks"),
        (1, "chunk", "", "1 chunk"),
        (2, "chunk", "", "2 chunks"),
        (1, "knowledge set", "", "1 knowledge set"),
        (3, "entry", "entries", "3 entries"),
    ],
)
def test_counts_agree_with_their_noun(count, singular, plural_form, expected):
    assert plural(count, singular, plural_form) == expected


def test_verbosity_chooses_the_log_level():
    assert [log_level_for(v) for v in (0, 1, 2, 3)] == [
        logging.ERROR,
        logging.WARNING,
        logging.INFO,
        logging.DEBUG,
    ]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_info_records_are_emitted_only_at_verbosity_two_and_levels_come_back():
    root = logging.getLogger()
    handler = Collect()
    root.addHandler(handler)
    before = root.level
    log = logging.getLogger("ragengine.services.ingest")
    try:
        with command_logging(1):
            log.info("hidden")
            log.warning("shown")
        with command_logging(2):
            log.info("shown with -v 2")
        with command_logging(0):
            log.warning("hidden at -v 0")
    finally:
        root.removeHandler(handler)
    assert handler.messages == ["shown", "shown with -v 2"]
    assert root.level == before and handler.level == logging.NOTSET


@pytest.mark.django_db
def test_ingest_exits_with_status_one_when_a_file_failed(embedder, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nYou get 25 days of vacation.\n")
    (docs / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 document could not be ingested") as raised:
        call_command("ingest", str(docs), "-k", "scratch", stdout=out, stderr=err)

    assert raised.value.returncode == 1
    assert "1 ingested, 0 unchanged, 1 failed." in out.getvalue()
    assert "scan.pdf" in err.getvalue() and "failed: " not in out.getvalue()


@pytest.mark.django_db
def test_ingest_exits_cleanly_and_says_1_chunk(embedder, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nYou get 25 days of vacation.\n")
    out, err = StringIO(), StringIO()

    call_command("ingest", str(docs), "-k", "scratch", stdout=out, stderr=err)
    call_command("ingest", str(docs), "-k", "scratch", stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    assert lines[0].endswith("leave.md: 1 chunk")
    assert "1 chunks" not in out.getvalue()
    assert "0 ingested, 1 unchanged, 0 failed." in lines[-1]
    assert err.getvalue() == ""


# --- the real command line -------------------------------------------------------------


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """`python manage.py ...` on a fresh SQLite data dir, the settings a server has."""
    base = tmp_path_factory.mktemp("cli")
    env = server_env()
    env.update(ARANDU_DATA_DIR=str(base / "data"), DJANGO_SETTINGS_MODULE="adminsite.settings")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    assert run("migrate", "-v", "0").returncode == 0
    good, broken = base / "good", base / "broken"
    good.mkdir()
    broken.mkdir()
    (good / "leave.md").write_text("# Leave\n\nEmployees get 25 days of vacation a year.\n")
    (broken / "scan.pdf").write_bytes(b"%PDF-1.4 garbage")
    return run, good, broken


@pytest.mark.slow
def test_the_exit_status_tells_a_script_whether_every_file_ingested(cli):
    run, good, broken = cli

    ok = run("ingest", str(good), "-k", "cli")
    failed = run("ingest", str(broken), "-k", "cli")

    assert ok.returncode == 0, ok.stderr
    assert failed.returncode == 1
    assert "0 ingested, 0 unchanged, 1 failed." in failed.stdout
    assert "scan.pdf" in failed.stderr and "could not be ingested" in failed.stderr


@pytest.mark.slow
def test_logs_go_to_stderr_and_info_only_with_v2(cli):
    run, good, _ = cli

    quiet = run("ingest", str(good), "-k", "logs")
    verbose = run("ingest", str(good), "-k", "logs-v2", "-v", "2")
    answer = run("ask", "How many days of vacation do employees get?", "-k", "logs")
    answer_v2 = run("ask", "How many days of vacation do employees get?", "-k", "logs", "-v", "2")

    assert quiet.returncode == verbose.returncode == answer.returncode == 0, verbose.stderr
    assert "1 chunk" in quiet.stdout and not info_lines(quiet.stdout + quiet.stderr)
    assert any("ingest finished" in line for line in info_lines(verbose.stderr))
    assert not info_lines(verbose.stdout)
    assert "25 days" in answer.stdout and "25 days" in answer_v2.stdout
    assert not info_lines(answer.stdout + answer.stderr)
    assert info_lines(answer_v2.stderr) and not info_lines(answer_v2.stdout)
