"""deploy/healthcheck.py, the web container's probe: healthy only on a 200 from /readyz,
asking with a host the app accepts and as if over HTTPS (behind the TLS proxy)."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import healthcheck  # noqa: E402


@pytest.fixture
def app():
    """A stand-in web process on a free loopback port answering /readyz with `status`."""
    state = {"status": 200, "seen": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            state["seen"].append(dict(self.headers))
            body = b'{"status": "ok"}' if state["status"] == 200 else b'{"failing": ["redis"]}'
            self.send_response(state["status"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/readyz"
    yield state
    server.shutdown()
    server.server_close()


def run(url: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "healthcheck.py"), url],
        env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def test_ready_app_is_healthy_and_is_asked_as_an_allowed_host_over_https(app):
    done = run(app["url"], DJANGO_ALLOWED_HOSTS=".example.com,arandu.example.com")
    assert done.returncode == 0, done.stderr
    assert app["seen"][-1]["Host"] == "example.com"
    assert app["seen"][-1]["X-Forwarded-Proto"] == "https"


def test_a_503_is_unhealthy_and_says_what_failed(app):
    app["status"] = 503
    done = run(app["url"], DJANGO_ALLOWED_HOSTS="localhost")
    assert done.returncode == 1
    assert "503" in done.stderr and "redis" in done.stderr


def test_no_server_is_unhealthy(app):
    url = app["url"].replace("/readyz", "/x").rsplit(":", 1)[0] + ":1/readyz"
    done = run(url)
    assert done.returncode == 1
    assert "no answer" in done.stderr


@pytest.mark.parametrize(
    "allowed, host",
    [("", "localhost"), ("*", "localhost"), ("*, api.example.com", "api.example.com")],
)
def test_probe_host(allowed, host):
    assert healthcheck.probe_host(allowed) == host
