"""The web process: gunicorn serving `adminsite.wsgi`, its static files through WhiteNoise.

One command line for every way Arandu runs its web server (`serve`, `runweb`, the Docker
image), so a setting such as ARANDU_WEB_WORKERS means the same everywhere.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>\d{1,5})$")

# Seconds a request may take before gunicorn restarts its worker (an upload being parsed,
# a slow model behind /slack/events), and seconds given to requests in flight on SIGTERM:
# less than the 10 s `serve` waits before it kills a child.
REQUEST_TIMEOUT_S = 120
GRACEFUL_TIMEOUT_S = 8


def web_address(value: str) -> str:
    """`value` if gunicorn can bind it (host:port, [ipv6]:port or unix:/path), else a
    ValueError saying what is expected."""
    value = value.strip()
    if value.startswith("unix:") and len(value) > len("unix:"):
        return value
    match = _HOST_PORT.match(value)
    if not match or not 0 < int(match["port"]) < 65536:
        raise ValueError(
            f"{value!r} is not an address to listen on: expected host:port such as "
            "127.0.0.1:8000 or 0.0.0.0:8000 (port 1-65535), [::1]:8000, or unix:/path.sock"
        )
    return value


def static_files_missing() -> str | None:
    """Why the admin cannot be served styled (static files never collected), or None.
    With hashed names every admin page needs the manifest: without it they would fail."""
    from django.conf import settings
    from django.contrib.staticfiles.storage import ManifestFilesMixin
    from django.core.files.storage import storages

    storage = storages["staticfiles"]
    if isinstance(storage, ManifestFilesMixin) and not storage.exists(storage.manifest_name):
        return (
            f"The static files are not collected in {settings.STATIC_ROOT}: run "
            "`manage.py collectstatic --noinput` first."
        )
    return None


def gunicorn_argv(*, address: str, workers: int, threads: int) -> list[str]:
    """The gunicorn command line. No access log (the app logs what matters, one line per
    event); errors go to stderr. GUNICORN_CMD_ARGS adds any other gunicorn option.

    No control socket: unused here, and its default path (one per user, in $HOME) would be
    shared by every gunicorn the user runs, and may not be writable in a container."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "adminsite.wsgi:application",
        "--bind",
        address,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        str(REQUEST_TIMEOUT_S),
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT_S),
        "--error-logfile",
        "-",
        "--no-control-socket",
        # child_exit: a dead worker's live gauges leave the /metrics sum.
        "--config",
        "python:adminsite.gunicorn_hooks",
    ]


def metrics_process_dir(root: Path, *, create: bool = False) -> Path:
    """Where this host's processes keep their metric files: one folder per host under
    `root`, so containers sharing a data volume never write one file for two processes
    that happen to have the same pid. A scrape reads every host's folder."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"
    path = root / host
    if create:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def metrics_dir_reset() -> Path | None:
    """Empty this process's metrics folder (PROMETHEUS_MULTIPROC_DIR) before the processes
    that write it start: files left by an earlier run would be added to the new one's
    figures, or taken over by a new process reusing a pid. Only launchers call it
    (`serve`, `runweb`), before gunicorn forks its workers."""
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not value:
        return None
    path = Path(value)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in path.glob("*.db"):
        stale.unlink(missing_ok=True)
    return path
