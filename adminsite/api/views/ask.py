"""POST /api/v1/ask: the same `ask()` every door calls, as JSON or server-sent events."""

from __future__ import annotations

import uuid
from functools import partial

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from adminsite.api.renderers import EventStreamRenderer
from adminsite.api.scope import token_scope
from adminsite.api.serializers import (
    AnswerSerializer,
    AskEventSerializer,
    AskSerializer,
    ErrorSerializer,
)
from adminsite.api.streaming import answer_events, event_stream_response
from ragengine.ask_types import Turn
from ragengine.models import ApiScope
from ragengine.selectors.api_scope import api_channel
from ragengine.services.ask import ask


class AskView(APIView):
    required_scope = ApiScope.ASK
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(
        operation_id="ask",
        summary="Ask a question",
        description="Answers from the knowledge sets the token may read, with numbered "
        "sources; the member's tier, budget, rate limits and the answer cache apply. A "
        "refusal (budget, rate limit, blocked question) is an answer with mode `refused`.",
        request=AskSerializer,
        responses={
            (200, "application/json"): AnswerSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                AskEventSerializer,
                description='`stream: true`: `delta` events (`{"text"}` new text), '
                '`reset` (`{"text"}` the whole text when a fallback model starts over), '
                "then one `answer` event (the JSON answer) or `error`.",
            ),
            **{(s, "application/json"): ErrorSerializer for s in (400, 401, 403, 429)},
        },
    )
    def post(self, request: Request) -> Response:
        serializer = AskSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token = request.auth
        scope = token_scope(token=token, requested=data.get("knowledge_sets"))
        request_id = uuid.uuid4().hex[:12]
        answer = partial(
            ask,
            member=token.member,
            question=data["question"],
            channel=api_channel(token=token, scope=scope),
            history=tuple(Turn(role=t["role"], text=t["text"]) for t in data.get("history", [])),
            request_id=request_id,
        )
        if data["stream"]:
            events = answer_events(run=lambda sink: answer(on_text=sink), request_id=request_id)
            return event_stream_response(events)
        return Response(answer().to_dict())
