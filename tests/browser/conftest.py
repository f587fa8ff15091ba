"""Browser tests drive Debian's chromium through Playwright (never a downloaded browser).

Without chromium or Playwright they skip with the reason; under CI (env var CI set) the
same absence is a failure, so a CI machine can never pass them by skipping."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.web_server import prepare, served, server_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: browser tests must run here)")
    pytest.skip(reason)


@pytest.fixture
def browser():
    """A headless Debian chromium, closed after the test."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is missing: pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshots() -> Path:
    """Where screenshots go (git-ignored), for a person to look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


ROOT = Path(__file__).resolve().parents[2]
HANDBOOK = ROOT / "examples" / "handbook"


@dataclass(frozen=True)
class LiveArandu:
    """A running Arandu web server on a fresh data dir (see `start_arandu`)."""

    base: str
    user: str
    password: str
    env: dict[str, str]
    docs: Path

    def manage(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """Run `manage.py ARGS` against the same data dir, as an operator on the server."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def login(self, page) -> None:
        page.goto(self.base + "/admin/login/?next=/admin/")
        page.fill("#id_username", self.user)
        page.fill("#id_password", self.password)
        page.click("#login-form button[type=submit]")
        page.wait_for_url(self.base + "/admin/")


@pytest.fixture
def start_arandu(tmp_path):
    """Start `manage.py COMMAND` (runweb: gunicorn only; serve: gunicorn + the django-q2
    worker) on a fresh data dir, after one setup process (migrate, admin user, static
    files, the given handbook files ingested into "handbook", then `extra` lines of
    Python), with `env` added to its environment. Stopped after the test."""
    with ExitStack() as running:

        def start(
            command: str,
            *,
            handbook: tuple[str, ...] = (),
            extra: Sequence[str] = (),
            env: dict[str, str] | None = None,
        ) -> LiveArandu:
            password = secrets.token_urlsafe(12)
            environment = server_env(
                ARANDU_DATA_DIR=str(tmp_path / "data"),
                ARANDU_ADMIN_PASSWORD=password,
                **(env or {}),
            )
            docs = tmp_path / "docs"
            docs.mkdir(exist_ok=True)
            for name in handbook:
                (docs / name).write_bytes((HANDBOOK / name).read_bytes())
            setup = [
                "run('migrate', interactive=False, verbosity=0)",
                "run('ensure_admin')",
                "run('collectstatic', interactive=False, verbosity=0)",
            ]
            if handbook:
                setup.append(f"run('ingest', {str(docs)!r}, knowledge_set='handbook')")
            prepare(environment, [*setup, *extra])
            base = running.enter_context(
                served(environment, log=tmp_path / f"{command}.log", command=command, timeout_s=120)
            )
            return LiveArandu(
                base=base, user="admin", password=password, env=environment, docs=docs
            )

        yield start
