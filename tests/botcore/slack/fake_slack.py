"""A local stand-in for the Slack Web API (and response_url endpoints) on 127.0.0.1:0.

It records every request and answers in Slack's real JSON format, keeping the messages
posted into threads so conversations.replies returns them, like Slack would.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T0001"


@dataclass
class Recorded:
    method: str  # Web API method ("chat.update") or "response" for a response_url POST
    http_method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.errors: dict[str, str] = {}  # method → Slack error code to answer with
        self._ts = itertools.count(1)
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # a short poll interval: stop() waits up to one interval for the loop to notice
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- life cycle ------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.url}/response/{name}"

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- what tests read -------------------------------------------------------------
    def calls(self, method: str) -> list[Recorded]:
        with self._changed:
            return [r for r in self.requests if r.method == method]

    def clear(self) -> None:
        with self._changed:
            self.requests.clear()

    def wait_for(self, predicate: Callable[[FakeSlack], bool], timeout: float = 10.0) -> bool:
        """Wait until `predicate(self)` holds (re-checked after every request)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout=timeout)

    def add_thread_message(self, channel: str, thread_ts: str, message: dict[str, Any]) -> None:
        with self._changed:
            self.threads.setdefault((channel, thread_ts), []).append(
                {"type": "message", "thread_ts": thread_ts, **message}
            )

    # -- the API ---------------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"1700000{next(self._ts):03d}.000100"

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        if method in self.errors:
            return {"ok": False, "error": self.errors[method]}
        handler = getattr(self, "_api_" + method.replace(".", "_"), None)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        return handler(body)

    def _api_auth_test(self, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://acme.slack.com/",
            "team": "Acme",
            "user": "arandu",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_chat_postMessage(self, body: dict[str, Any]) -> dict[str, Any]:
        channel = body.get("channel", "")
        ts = self._next_ts()
        message = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": body.get("text", ""),
            "blocks": body.get("blocks") or [],
            "ts": ts,
        }
        thread_ts = body.get("thread_ts")
        if thread_ts:
            message["thread_ts"] = thread_ts
            self.threads.setdefault((channel, thread_ts), []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _api_chat_update(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = body.get("channel", ""), body.get("ts", "")
        for messages in self.threads.values():
            for message in messages:
                if message.get("ts") == ts:
                    message["text"] = body.get("text", "")
                    message["blocks"] = body.get("blocks") or []
        return {"ok": True, "channel": channel, "ts": ts, "text": body.get("text", "")}

    def _api_conversations_replies(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("channel", ""), body.get("ts", ""))
        if key not in self.threads:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": list(self.threads[key]), "has_more": False}

    def _api_views_open(self, body: dict[str, Any]) -> dict[str, Any]:
        view = body.get("view")
        if isinstance(view, str):
            view = json.loads(view)
        return {"ok": True, "view": {"id": "V0001", **(view or {})}}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                body = _parse(raw, self.headers.get("Content-Type", ""), parts.query)
                if parts.path.startswith("/response/"):
                    method, status, payload = "response", 200, "ok"
                elif parts.path.startswith("/api/"):
                    method = parts.path.removeprefix("/api/")
                    with fake._changed:
                        answer = fake._answer(method, body)
                    status, payload = 200, json.dumps(answer)
                else:
                    method, status, payload = "unknown", 404, "not found"
                # recorded before answering: once a client has its answer, tests see the call
                with fake._changed:
                    fake.requests.append(
                        Recorded(method, self.command, parts.path, body, dict(self.headers))
                    )
                    fake._changed.notify_all()
                data = payload.encode()
                self.send_response(status)
                self.send_header(
                    "Content-Type",
                    "application/json; charset=utf-8" if method != "response" else "text/html",
                )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _parse(raw: str, content_type: str, query: str) -> dict[str, Any]:
    body: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query).items()}
    if "json" in content_type and raw:
        body.update(json.loads(raw))
    elif raw:
        for key, values in parse_qs(raw).items():
            value = values[-1]
            if key in ("blocks", "view") and value.startswith(("[", "{")):
                value = json.loads(value)
            body[key] = value
    return body
