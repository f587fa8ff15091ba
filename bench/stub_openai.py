"""A local OpenAI-compatible chat server for demos and benchmarks (no model, no network).

    .venv/bin/python bench/stub_openai.py --port 8099 --delay 1.0

Answers every /v1/chat/completions request after `--delay` seconds with a short reply
that cites source [1] and a realistic `usage` block, so tiers, budgets and the ledger can
be tried end to end without an API key.
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


def start_stub(*, port: int = 0, delay_s: float = 1.0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            raw = self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(delay_s)
            body = json.dumps(_reply(json.loads(raw or b"{}"))).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

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
