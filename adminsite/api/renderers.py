"""`Accept: text/event-stream` (what SSE clients send) is served, not refused with 406:
a non-streamed body goes out as one event (`answer`, or `error` for an error body)."""

from __future__ import annotations

from rest_framework.renderers import BaseRenderer

from adminsite.api.streaming import sse


class EventStreamRenderer(BaseRenderer):
    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        response = (renderer_context or {}).get("response")
        failed = response is not None and response.status_code >= 400
        return sse("error" if failed else "answer", data or {})
