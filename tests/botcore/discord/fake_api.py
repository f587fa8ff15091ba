"""A local fake of the Discord HTTP API (REST, interaction callbacks, webhook follow-ups).

It runs on 127.0.0.1 on a free port in its own thread, records every request (method,
path, query, JSON body) and answers with real-format JSON: message objects with snowflake
ids, a thread channel for "start thread from message", 204 for typing, interaction
callback responses, follow-up messages, and where the gateway is (`GET /gateway/bot`, when
a `gateway_url` is given). Like Discord, it refuses a second thread on one message
(160004) and a second response to one interaction (40060). discord.py's own `HTTPClient`
talks to it once `discord.http.Route.BASE` points here
(`botcore.discord.api.api_base_apply`); another process reaches it through
`DISCORD_API_URL`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import discord

from tests.botcore.discord import payloads

API_PREFIX = "/api/v10"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeDiscordState:
    """What the fake knows: messages per channel, and switches for failure cases."""

    messages: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    channels: dict[int, dict[str, Any]] = field(default_factory=dict)  # GET /channels/{id}
    forbid_threads: bool = False
    fail_message_posts: bool = False
    gateway_url: str = ""  # "" = this stand-in doesn't say where a gateway is (404)
    threads_started: set[int] = field(default_factory=set)  # message ids
    interactions_answered: set[int] = field(default_factory=set)
    last_id: int = 0


class FakeDiscordAPI:
    def __init__(self, *, gateway_url: str = "") -> None:
        self.requests: list[Request] = []
        self.state = FakeDiscordState(gateway_url=gateway_url)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # a short poll interval: stop() returns at once instead of after up to 0.5 s
        self._serving = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # --- lifecycle
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def start(self) -> FakeDiscordAPI:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._serving.join(timeout=5)

    # --- helpers for tests
    def next_id(self) -> int:
        """A snowflake for "now", strictly increasing (history order follows ids)."""
        with self._lock:
            now = discord.utils.time_snowflake(datetime.now(UTC))
            self.state.last_id = max(now, self.state.last_id + 1)
            return self.state.last_id

    def remember(self, message: dict[str, Any]) -> None:
        """Store a message the "gateway" delivered, so history requests return it."""
        with self._lock:
            self.state.messages.setdefault(int(message["channel_id"]), []).append(message)

    def calls(self, method: str, pattern: str) -> list[Request]:
        regex = re.compile(pattern)
        with self._lock:
            return [r for r in self.requests if r.method == method and regex.fullmatch(r.path)]

    def posted_messages(self, channel_id: int) -> list[Request]:
        return self.calls("POST", rf"/channels/{channel_id}/messages")

    # --- routing
    def _handle(self, method: str, path: str, query: dict[str, str], body: Any):
        with self._lock:
            self.requests.append(Request(method, path, query, body))
        for route_method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if route_method == method and match:
                return handler(body, query, **match.groupdict())
        return 404, {"message": "Unknown route", "code": 0}

    def _routes(self):
        return [
            (
                "GET",
                r"/users/@me",
                lambda *_: (200, payloads.user(payloads.BOT_ID, "arandu", bot=True)),
            ),
            ("GET", r"/oauth2/applications/@me", lambda *_: (200, payloads.application())),
            ("GET", r"/gateway/bot", self._gateway),
            ("PUT", r"/applications/(?P<app>\d+)/commands", self._commands),
            ("GET", r"/channels/(?P<cid>\d+)", self._get_channel),
            ("POST", r"/channels/(?P<cid>\d+)/typing", lambda *_, **__: (204, None)),
            ("POST", r"/channels/(?P<cid>\d+)/messages", self._post_message),
            ("GET", r"/channels/(?P<cid>\d+)/messages", self._history),
            ("GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._get_message),
            ("POST", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)/threads", self._start_thread),
            ("POST", r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback", self._callback),
            ("POST", r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)", self._followup),
        ]

    def _gateway(self, body, query):
        if not self.state.gateway_url:
            return 404, {"message": "404: Not Found", "code": 0}
        return 200, {
            "url": self.state.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14400000,
                "max_concurrency": 1,
            },
        }

    def _commands(self, body, query, app):
        return 200, [
            {
                "id": str(self.next_id()),
                "application_id": app,
                "version": "1",
                "type": 1,
                **command,
            }
            for command in body
        ]

    def _post_message(self, body, query, cid):
        if self.state.fail_message_posts:
            return 403, {"message": "Missing Permissions", "code": 50013}
        message = self._bot_message(int(cid), body)
        self.remember(message)
        return 200, message

    def _bot_message(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return payloads.message(
            id=self.next_id(),
            channel_id=channel_id,
            author=payloads.user(payloads.BOT_ID, "arandu", bot=True),
            content=body.get("content") or "",
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
        )

    def _history(self, body, query, cid):
        with self._lock:
            stored = list(self.state.messages.get(int(cid), []))
        before = int(query.get("before", 0)) or None
        limit = int(query.get("limit", 50))
        older = [m for m in stored if before is None or int(m["id"]) < before]
        older.sort(key=lambda m: int(m["id"]), reverse=True)  # Discord: newest first
        return 200, older[:limit]

    def _get_channel(self, body, query, cid):
        with self._lock:
            channel = self.state.channels.get(int(cid))
        if channel is None:
            return 404, {"message": "Unknown Channel", "code": 10003}
        return 200, channel

    def _get_message(self, body, query, cid, mid):
        with self._lock:
            stored = list(self.state.messages.get(int(cid), []))
        for message in stored:
            if message["id"] == mid:
                return 200, message
        return 404, {"message": "Unknown Message", "code": 10008}

    def _start_thread(self, body, query, cid, mid):
        if self.state.forbid_threads:
            return 403, {"message": "Missing Permissions", "code": 50013}
        with self._lock:
            taken = int(mid) in self.state.threads_started
            self.state.threads_started.add(int(mid))
        if taken:
            return 400, {
                "message": "A thread has already been created for this message",
                "code": 160004,
            }
        return 201, payloads.thread_channel(
            id=int(mid), parent_id=int(cid), owner_id=payloads.BOT_ID, name=body["name"]
        )

    def _callback(self, body, query, iid, token):
        with self._lock:
            taken = int(iid) in self.state.interactions_answered
            self.state.interactions_answered.add(int(iid))
        if taken:
            return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}
        callback_type = body["type"]
        resource: dict[str, Any] = {"type": callback_type}
        if callback_type == 4:
            data = body.get("data") or {}
            resource["message"] = payloads.message(
                id=self.next_id(),
                channel_id=payloads.CHANNEL_ID,
                author=payloads.user(payloads.BOT_ID, "arandu", bot=True),
                content=data.get("content") or "",
                flags=data.get("flags", 0),
            )
        return 200, {
            "interaction": {
                "id": iid,
                "type": 2,
                "response_message_loading": callback_type == 5,
                "response_message_ephemeral": bool((body.get("data") or {}).get("flags", 0) & 64),
            },
            "resource": resource,
        }

    def _followup(self, body, query, app, token):
        message = self._bot_message(payloads.CHANNEL_ID, body)
        message["webhook_id"] = app
        return 200, message

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path.removeprefix(API_PREFIX)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = _decode_body(raw, self.headers.get("Content-Type", ""))
                try:
                    status, payload = fake._handle(self.command, path, query, body)
                except Exception as exc:  # a bug in the fake: make it visible to the client
                    status, payload = 500, {"message": f"fake API error: {exc!r}", "code": 0}
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                if payload is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        return Handler


def _decode_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if content_type.startswith("application/json"):
        return json.loads(raw)
    if content_type.startswith("multipart/form-data"):  # payload_json part (files unused)
        match = re.search(rb'name="payload_json"\r\n(?:[^\r\n]+\r\n)*\r\n(.*?)\r\n--', raw, re.S)
        return json.loads(match.group(1)) if match else raw.decode(errors="replace")
    return raw.decode(errors="replace")
