"""A local stand-in for Discord's gateway (v10), for a real bot process to connect to.

An aiohttp websocket server on 127.0.0.1 on a free port, in its own thread and event
loop. It speaks the part of the protocol a bot uses: HELLO, heartbeat ACKs, IDENTIFY →
READY (naming its `/resume` path as `resume_gateway_url`) and one GUILD_CREATE per guild,
RESUME → the events to replay, then RESUMED. The test sends any event with `dispatch()` and asks
the client to reconnect and resume (op 7) with `reconnect()`.

Frames are JSON, sent as one zlib stream flushed per message when the client asks for
`compress=zlib-stream` (discord.py does unless a zstd module is installed; then it asks
for `zstd-stream`, which this fake refuses with close code 4012 rather than guess).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import WSMsgType, web

from tests.botcore.discord import payloads

HEARTBEAT_INTERVAL_MS = 41_250
SESSION_ID = "fake-session-1"
# Discord closes with 4012 "Invalid API version"; discord.py gives up instead of retrying.
CLOSE_UNSUPPORTED = 4012


class FakeGateway:
    def __init__(self, *, guilds: list[dict[str, Any]] | None = None) -> None:
        self.guilds = guilds if guilds is not None else [payloads.guild_create()]
        self.connections: list[tuple[str, dict[str, str]]] = []  # (path, query) of each
        self.received: list[dict[str, Any]] = []  # every payload the client sent
        self._changed = threading.Condition()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._current: _Connection | None = None
        self._open: set[web.WebSocketResponse] = set()
        self._sequence = 0
        self._replay: list[tuple[str, dict[str, Any]]] = []

    # --- lifecycle
    @property
    def url(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"ws://{host}:{port}/"

    def start(self) -> FakeGateway:
        self._thread.start()
        self._run(self._serve())
        return self

    def stop(self) -> None:
        self._run(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    # --- for tests
    def sent_by_client(self, op: int) -> list[dict[str, Any]]:
        with self._changed:
            return [p["d"] for p in self.received if p.get("op") == op]

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send one event (op 0) on the current connection."""
        self._run(self._send_event(event, data))

    def reconnect(self, *, replay: Sequence[tuple[str, dict[str, Any]]] = ()) -> None:
        """Ask the client to reconnect (op 7); on its RESUME, send `replay` again."""
        self._replay = list(replay)
        self._run(self._send({"op": 7, "d": None, "s": None, "t": None}))

    def wait_for(self, condition: Callable[[], Any], *, timeout: float) -> Any:
        """Block until `condition()` is truthy (re-checked whenever the client sends
        something, and at least every 0.2 s); returns its value, or its last falsy value
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := condition()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.2))
        return result

    # --- server
    def _run(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._connect)
        app.router.add_get("/resume", self._connect)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def _shutdown(self) -> None:
        for ws in list(self._open):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _connect(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        query = dict(request.query)
        self._record(self.connections, (request.path, query))
        compress = query.get("compress")
        if (
            query.get("v") != "10"
            or query.get("encoding") != "json"
            or compress
            not in (
                None,
                "zlib-stream",
            )
        ):
            await ws.close(code=CLOSE_UNSUPPORTED, message=f"fake gateway: {query}".encode())
            return ws
        connection = _Connection(ws, zlib_stream=compress == "zlib-stream")
        self._current = connection
        self._open.add(ws)
        try:
            await connection.send({"op": 10, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}})
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    await self._receive(connection, json.loads(message.data))
        finally:
            self._open.discard(ws)
        return ws

    async def _receive(self, connection: _Connection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == 1:  # heartbeat
            await connection.send({"op": 11, "d": None})
        elif op == 2:  # identify
            self._sequence = 0
            await self._send_event("READY", self._ready(), connection)
            for guild in self.guilds:
                await self._send_event("GUILD_CREATE", guild, connection)
        elif op == 6:  # resume
            for event, data in self._replay:
                await self._send_event(event, data, connection)
            self._replay = []
            await self._send_event("RESUMED", {}, connection)
        self._record(self.received, payload)  # after answering: waiters see the result

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": payloads.user(payloads.BOT_ID, "arandu", bot=True)
            | {"verified": True, "mfa_enabled": False, "flags": 0},
            "guilds": [{"id": g["id"], "unavailable": True} for g in self.guilds],
            "session_id": SESSION_ID,
            "resume_gateway_url": f"{self.url}resume",
            "shard": [0, 1],
            "application": {"id": str(payloads.APP_ID), "flags": 0},
        }

    async def _send_event(
        self, event: str, data: dict[str, Any], connection: _Connection | None = None
    ) -> None:
        self._sequence += 1
        await self._send({"op": 0, "t": event, "s": self._sequence, "d": data}, connection)

    async def _send(self, payload: dict[str, Any], connection: _Connection | None = None) -> None:
        target = connection or self._current
        assert target is not None, "no client is connected to the fake gateway"
        await target.send(payload)

    def _record(self, into: list, item: Any) -> None:
        with self._changed:
            into.append(item)
            self._changed.notify_all()


class _Connection:
    """One client connection; sends are serialised so the zlib stream stays in order."""

    def __init__(self, ws: web.WebSocketResponse, *, zlib_stream: bool) -> None:
        self.ws = ws
        self._zlib = zlib.compressobj() if zlib_stream else None
        self._lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        payload = {"s": None, "t": None} | payload
        data = json.dumps(payload)
        async with self._lock:
            if self._zlib is None:
                await self.ws.send_str(data)
            else:
                chunk = self._zlib.compress(data.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                await self.ws.send_bytes(chunk)
