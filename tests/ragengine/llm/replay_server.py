"""A local HTTP server that replays recorded provider responses and records requests.

Provider tests point the real SDKs at it (`base_url=server.url`), so the SDKs' own
request building, SSE/NDJSON parsing and error mapping run for real, while the fixtures
under tests/fixtures/providers/ keep the wire format honest. It binds 127.0.0.1 on a free
port and every test gets a fresh one, so tests never share ports or state.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "providers"


# A trickled JSON body goes out in pieces of this many bytes.
TRICKLE_BYTES = 16


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Reply:
    """One scripted response: a JSON `body`, or `sse` events, or `ndjson` lines.

    `delay_s` waits before the response; `trickle_s` waits before each piece of it (each
    event or line, or each `TRICKLE_BYTES` of a JSON body): a server that keeps the
    connection busy without ever tripping a per-read timeout."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    sse: list[Any] | None = None
    ndjson: list[Any] | None = None
    delay_s: float = 0.0
    trickle_s: float = 0.0

    @classmethod
    def from_fixture(cls, name: str, **overrides: Any) -> Reply:
        response = load_fixture(name)["response"]
        reply = cls(
            status=response["status"],
            headers=dict(response.get("headers", {})),
            body=response.get("body"),
            sse=response.get("sse"),
            ndjson=response.get("ndjson"),
        )
        return replace(reply, **overrides)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    json: Any


class ReplayServer:
    """`script(path, *replies)` queues replies for a path; the last one repeats once the
    queue is down to it (a persistently failing server). Unscripted paths get a 404."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = {}
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"replay": self})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping out a scripted delay
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._scripts[path] = deque(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def _next_reply(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            queue = self._scripts.get(request.path)
            if not queue:
                return Reply(status=404, body={"error": f"no reply scripted for {request.path}"})
            return queue.popleft() if len(queue) > 1 else queue[0]

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _Handler(BaseHTTPRequestHandler):
    replay: ReplayServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the tests assert on recorded requests instead."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = RecordedRequest(
            method=self.command,
            path=self.path.split("?", 1)[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            json=body,
        )
        reply = self.replay._next_reply(request)
        if reply.delay_s:
            self.replay._wait(reply.delay_s)
        # The client may have given up already (a timeout test).
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(reply)

    def _send(self, reply: Reply) -> None:
        if reply.sse is not None:
            chunks = [
                f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n".encode()
                for e in reply.sse
            ]
            default_type = "text/event-stream"
        elif reply.ndjson is not None:
            chunks = [(json.dumps(line) + "\n").encode() for line in reply.ndjson]
            default_type = "application/x-ndjson"
        else:
            data = json.dumps(reply.body).encode() if reply.body is not None else b""
            size = TRICKLE_BYTES if reply.trickle_s else max(len(data), 1)
            chunks = [data[i : i + size] for i in range(0, len(data), size)]
            default_type = "application/json"
        self.send_response(reply.status)
        headers = {k.lower(): v for k, v in reply.headers.items()}
        headers.setdefault("content-type", default_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.sse is None and reply.ndjson is None:
            self.send_header("content-length", str(sum(len(c) for c in chunks)))
        self.end_headers()
        for number, chunk in enumerate(chunks):
            if reply.trickle_s and number:
                self.replay._wait(reply.trickle_s)
                if self.replay._stopping.is_set():
                    return
            self.wfile.write(chunk)
            self.wfile.flush()


class FakeSleep:
    """Stands in for `time.sleep` in retry policies: records the waits, sleeps never."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class FakeClock:
    """A monotonic clock the test moves by hand (circuit breaker cool-downs)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
