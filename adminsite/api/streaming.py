"""Server-sent events for a streamed answer.

`ask()` pushes the text so far into a callback while a model writes; an HTTP response
pulls. So `ask()` runs in a thread of its own and hands text to the response through a
queue: `delta` events carry the new text, a `reset` event the whole text when a fallback
model starts over, then one `answer` event carries `Answer.to_dict()` (the only event of
an extractive or cached answer), or an `error` event if answering broke.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from django.db import close_old_connections, connections
from django.http import StreamingHttpResponse

from ragengine.ask_types import Answer
from ragengine.services.ask import TextSink

logger = logging.getLogger(__name__)

KEEPALIVE_S = 15.0


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def answer_events(
    *, run: Callable[[TextSink], Answer], request_id: str, keepalive_s: float = KEEPALIVE_S
) -> Iterator[bytes]:
    """Run `run(sink)` in a thread and yield its text and answer as SSE bytes.

    A client that goes away stops the events, never the answer: the thread finishes so
    the ledger settles what was spent.
    """
    events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    def work() -> None:
        close_old_connections()
        try:
            events.put(("answer", run(lambda text: events.put(("text", text)))))
        except BaseException:
            logger.exception("streamed answer failed", extra={"request_id": request_id})
            events.put(("error", None))
        finally:
            connections.close_all()  # this thread's connections only

    threading.Thread(target=work, name=f"api-stream-{request_id}", daemon=True).start()
    sent = ""
    while True:
        try:
            kind, value = events.get(timeout=keepalive_s)
        except queue.Empty:
            yield b": keepalive\n\n"  # proxies keep an idle stream open
            continue
        if kind == "text":
            if value.startswith(sent):
                if len(value) > len(sent):
                    yield sse("delta", {"text": value[len(sent) :]})
            else:
                yield sse("reset", {"text": value})
            sent = value
        elif kind == "answer":
            yield sse("answer", value.to_dict())
            return
        else:
            yield sse(
                "error",
                {
                    "error": "internal_error",
                    "detail": "Something went wrong while answering; it was logged "
                    f"(reference {request_id}).",
                },
            )
            return


def event_stream_response(events: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come
    return response
