"""Browser tests drive Debian's chromium through Playwright (never a downloaded browser).

Without chromium or Playwright they skip with the reason; under CI (env var CI set) the
same absence is a failure, so a CI machine can never pass them by skipping."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def live_web(
    tmp_path: Path, *, setup: list[str], env_extra: dict[str, str] | None = None
) -> Iterator[tuple[str, str]]:
    """`manage.py runweb` (gunicorn + WhiteNoise, DEBUG off) on a fresh data dir, after
    migrate, ensure_admin, collectstatic and the `setup` statements (Python, run in one
    `manage.py shell`, with `run` = call_command). Yields (base URL, admin password)."""
    password = secrets.token_urlsafe(12)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARANDU_", "DATABASE_URL", "SLACK_", "DISCORD_", "DJANGO_"))
    }
    env.update(ARANDU_DATA_DIR=str(tmp_path / "data"), ARANDU_ADMIN_PASSWORD=password)
    env.update(env_extra or {})
    script = "; ".join(
        [
            "from django.core.management import call_command as run",
            "run('migrate', interactive=False, verbosity=0)",
            "run('ensure_admin')",
            "run('collectstatic', interactive=False, verbosity=0)",
            *setup,
        ]
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    port = free_port()
    log = tmp_path / "web.log"
    with log.open("w") as out:
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runweb", "--address", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                assert web.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield base, password
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
