"""The real web server for browser tests: a fresh data dir prepared in one Django process,
then `manage.py runweb` (or `serve`, with the worker) until it answers /healthz."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def server_env(**env: str) -> dict[str, str]:
    """This process's environment without Arandu's, Django's, the database's and the
    chat doors' settings (a developer's own never leak in), plus `env`."""
    prefixes = ("ARANDU_", "DATABASE_URL", "SLACK_", "DISCORD_", "DJANGO_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)} | env


def prepare(env: dict[str, str], statements: Sequence[str]) -> None:
    """Run `statements` (Python, `run` = call_command) in one `manage.py shell`: each
    Django start costs seconds on a busy machine."""
    setup = "; ".join(["from django.core.management import call_command as run", *statements])
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", setup],
        cwd=ROOT, env=env, check=True, timeout=300, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(
    env: dict[str, str], *, log: Path, command: str = "runweb", timeout_s: float = 60
) -> Iterator[str]:
    """`manage.py <command>` on a free port, its output in `log`; yields its base URL
    once /healthz answers, and stops it with SIGTERM afterwards."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "manage.py", command, "--address", f"127.0.0.1:{port}"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
