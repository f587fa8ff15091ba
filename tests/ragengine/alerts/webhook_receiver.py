"""A webhook receiver on 127.0.0.1 (a free port) that checks what a real one should: the
HMAC-SHA256 signature over "<timestamp>.<body>" with its secret, and that the timestamp is
fresh. It can fail the first N requests (503), or answer every request with one status."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_S = 300


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, secret: str, *, fail_first: int = 0, status: int = 200) -> None:
        self.secret = secret.encode()
        self.fail_first = fail_first
        self.status = status
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def verify(self, headers: dict[str, str], body: bytes) -> bool:
        timestamp = headers.get("X-Arandu-Timestamp", "")
        signature = headers.get("X-Arandu-Signature", "")
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_S:
            return False
        expected = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        return hmac.compare_digest(signature, "sha256=" + expected.hexdigest())

    def _handle(self, headers: dict[str, str], body: bytes) -> int:
        verified = self.verify(headers, body)
        with self._lock:
            if not verified:
                status = 401
            elif len(self.received) < self.fail_first:
                status = 503
            else:
                status = self.status
            self.received.append(Received(headers, body, verified, status))
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver._handle(dict(self.headers.items()), body)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                payload = b'{"ok": true}' if status < 300 else b'{"error": "no"}'
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
