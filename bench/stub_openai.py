"""A local OpenAI-compatible chat server for demos and benchmarks (no model, no network).

    .venv/bin/python bench/stub_openai.py --port 8099 --delay 1.0

Answers every /v1/chat/completions request after `--delay` seconds with a short reply
that cites source [1] and a realistic `usage` block, so tiers, budgets and the ledger can
be tried end to end without an API key. Requests with `"stream": true` (the chat doors
stream) get server-sent events spread over the same delay, the last one carrying usage.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _reply(request: dict) -> dict:
    messages = request.get("messages", [])
    prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
    text = "According to the documents, here is the answer [1]."
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "stub"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": max(1, prompt_chars // 4),
            "completion_tokens": 12,
            "total_tokens": max(1, prompt_chars // 4) + 12,
        },
    }


def _chunks(reply: dict, *, pieces: int) -> list[dict]:
    """`reply` as chat.completion.chunk events: a role chunk, the text in `pieces`, a
    finish chunk, then the usage chunk (stream_options.include_usage)."""
    words = reply["choices"][0]["message"]["content"].split(" ")
    step = max(1, -(-len(words) // pieces))
    texts = [" ".join(words[i : i + step]) for i in range(0, len(words), step)]
    texts = [t if i == 0 else f" {t}" for i, t in enumerate(texts)]
    base = {k: reply[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}

    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> dict:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return base | {"choices": choices, "usage": usage}

    return [
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"content": t}) for t in texts),
        chunk({}, finish="stop"),
        chunk({}, usage=reply["usage"]),
    ]


def start_stub(*, port: int = 0, delay_s: float = 1.0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            request = json.loads(raw or b"{}")
            if request.get("stream"):
                self._stream(_reply(request))
                return
            time.sleep(delay_s)
            body = json.dumps(_reply(request)).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _stream(self, reply: dict) -> None:
            events = _chunks(reply, pieces=4)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for event in events:
                time.sleep(delay_s / len(events))
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args) -> None:
            pass

    class Server(ThreadingHTTPServer):
        request_queue_size = 256  # the default listen backlog (5) drops bursts of 50

    server = Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args()
    server = start_stub(port=args.port, delay_s=args.delay)
    print(f"stub OpenAI-compatible server on http://127.0.0.1:{server.server_port}/v1")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
