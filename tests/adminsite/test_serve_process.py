"""`manage.py serve` as a user runs it: real web and worker processes, stopped by SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it has exited all the same
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), b""


def check_styled_admin(base: str) -> None:
    """The login page's stylesheets (unfold's, with hashed names) come from WhiteNoise:
    200 and cached for a year; the unhashed admin CSS is served too."""
    status, _, body = get(f"{base}/admin/login/")
    assert status == 200
    sheets = re.findall(r'<link href="(/static/[^"]+\.css)" rel="stylesheet"', body.decode())
    unfold = [s for s in sheets if s.startswith("/static/unfold/css/styles.")]
    assert unfold and unfold[0] != "/static/unfold/css/styles.css", sheets  # hashed name
    for sheet in sheets:
        status, headers, css = get(base + sheet)
        assert status == 200 and css, sheet
        assert "max-age=315360000" in headers["Cache-Control"], (sheet, headers)
    status, headers, _ = get(f"{base}/static/admin/css/base.css")
    assert status == 200
    assert headers["Content-Type"].startswith("text/css")


def check_ready_and_worker_metrics(base: str) -> None:
    """/readyz turns 200 once the real worker has started (its heartbeat), and the web
    process's /metrics shows the worker process's own figures (the heartbeat task it
    ran): one scrape adds up the processes. django-q2's scheduler first runs about 30-60 s
    after the cluster starts."""
    heartbeat = 'func="ragengine.tasks.worker_heartbeat_task",outcome="success"'
    deadline = time.monotonic() + 150
    ready, text = None, ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=5) as r:
                ready = r.status
        except urllib.error.HTTPError as exc:
            ready = exc.code
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
            text = r.read().decode()
        if ready == 200 and heartbeat in text:
            break
        time.sleep(1)
    assert ready == 200
    assert "arandu_worker_up 1.0" in text
    assert heartbeat in text, text[-2000:]


def test_serve_starts_web_and_worker_and_sigterm_stops_them(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ARANDU_", "DATABASE_URL", "SLACK_", "DISCORD_"))
    }
    env["ARANDU_DATA_DIR"] = str(tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--address", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    status = r.status
            except OSError:
                time.sleep(0.2)
        assert status == 200, log.read_text()
        pids = {
            name: int(pid)
            for name, pid in re.findall(r"started (\w+) \(pid (\d+)\)", log.read_text())
        }
        assert set(pids) == {"web", "worker"}
        web_cmdline = Path(f"/proc/{pids['web']}/cmdline").read_bytes().split(b"\0")
        assert b"gunicorn" in web_cmdline, web_cmdline
        check_styled_admin(f"http://127.0.0.1:{port}")
        check_ready_and_worker_metrics(f"http://127.0.0.1:{port}")
        web_workers = children_of(pids["web"])
        assert web_workers, "gunicorn started no worker"
        # both serving processes loaded the default local embedder as they started
        started = log.read_text()
        for role in ("web", "worker"):
            assert re.search(rf"embedder loaded at start .*role={role}\b", started), started
        pids.update({f"web worker {pid}": pid for pid in web_workers})
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(alive(p) for p in pids.values()):
        time.sleep(0.1)
    assert not any(alive(p) for p in pids.values()), log.read_text()
