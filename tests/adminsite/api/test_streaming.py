"""`stream: true`: server-sent events with the text as a model writes it (replayed
OpenAI stream), then the final answer; an extractive answer is one `answer` event."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from ragengine.ask_types import AnswerMode
from ragengine.llm.registry import reset_providers
from ragengine.models import CacheRule, ModelPrice, ProviderEndpoint, Tier, TierModel, UsageRecord
from tests.adminsite.api.conftest import QUESTION, client_for
from tests.ragengine.llm.replay_server import ReplayServer, Reply

# ask() runs in a thread of its own: it must see committed data.
pytestmark = pytest.mark.django_db(transaction=True)

ASK = reverse("api:ask")
CHAT = "/v1/chat/completions"


def events_of(response) -> list[tuple[str, dict]]:
    assert response["Content-Type"].startswith("text/event-stream")
    raw = b"".join(response.streaming_content).decode()
    events = []
    for block in raw.split("\n\n"):
        lines = [line for line in block.splitlines() if not line.startswith(":")]
        if not lines:
            continue
        event = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads(next(line[6:] for line in lines if line.startswith("data: ")))
        events.append((event, data))
    return events


def stream(issued, body: dict, **headers):
    return client_for(issued).post(ASK, {**body, "stream": True}, format="json", **headers)


def test_an_extractive_answer_streams_as_one_answer_event(issue, handbook):
    issued = issue(sets=[handbook])

    events = events_of(stream(issued, {"question": QUESTION}))

    assert [e for e, _ in events] == ["answer"]
    answer = events[0][1]
    assert answer["mode"] == "extractive" and "25 working days" in answer["answer"]
    assert answer["sources"]
    assert UsageRecord.objects.get(member=issued.token.member).request_id == answer["request_id"]


@pytest.fixture
def streaming_tier(handbook, monkeypatch):
    """A tier whose model is the replayed OpenAI stream (the recorded fixture)."""
    monkeypatch.setenv("ARANDU_TEST_OPENAI_API_KEY", "sk-test-fake-key")
    CacheRule.objects.update(enabled=False)
    # a transactional test starts from an empty database: no seeded prices
    ModelPrice.objects.update_or_create(
        provider_kind="openai",
        model="gpt-4o-mini",
        defaults={"input_per_million": Decimal("0.15"), "output_per_million": Decimal("0.60")},
    )
    reset_providers()
    with ReplayServer() as server:
        server.script(CHAT, Reply.from_fixture("openai_chat_stream"))
        endpoint = ProviderEndpoint.objects.create(
            name="stub",
            kind="openai",
            base_url=f"{server.url}/v1",
            api_key_env="ARANDU_TEST_OPENAI_API_KEY",
            max_retries=0,
            timeout_s=5.0,
        )
        tier = Tier.objects.create(name="Streamed", max_output_tokens=256)
        TierModel.objects.create(tier=tier, position=0, endpoint=endpoint, model="gpt-4o-mini")
        yield tier
    reset_providers()


def test_a_model_answer_streams_deltas_then_the_whole_answer(issue, handbook, streaming_tier):
    issued = issue(sets=[handbook])
    issued.token.member.tier = streaming_tier
    issued.token.member.save()

    events = events_of(stream(issued, {"question": QUESTION}))

    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    assert kinds.count("delta") >= 3
    streamed = "".join(d["text"] for e, d in events if e == "delta")
    answer = events[-1][1]
    assert answer["mode"] == AnswerMode.GENERATED
    assert answer["answer"].startswith(streamed[:40]) and len(streamed) > 40
    assert answer["sources"] and answer["tokens_out"] > 0
    row = UsageRecord.objects.get(member=issued.token.member)
    assert row.status == "settled" and row.cost > 0


def test_sse_clients_may_ask_for_event_stream_without_streaming(issue, handbook):
    issued = issue(sets=[handbook])

    response = client_for(issued).post(
        ASK, {"question": QUESTION}, format="json", HTTP_ACCEPT="text/event-stream"
    )

    assert response.status_code == 200
    assert response.content.decode().startswith("event: answer\ndata: {")


def test_an_error_before_answering_is_a_json_error_not_a_stream(issue):
    issued = issue(sets=["handbook"])

    response = stream(issued, {"question": "hi"})

    assert response.status_code == 400
    assert response.json()["fields"]["question"]


def test_a_crash_while_answering_ends_the_stream_with_an_error_event(issue, handbook, monkeypatch):
    def broken_ask(**kwargs):
        raise RuntimeError("vector store exploded")

    monkeypatch.setattr("adminsite.api.views.ask.ask", broken_ask)
    issued = issue(sets=[handbook])

    events = events_of(stream(issued, {"question": QUESTION}))

    assert [e for e, _ in events] == ["error"]
    assert events[0][1]["error"] == "internal_error"
    assert "reference" in events[0][1]["detail"]
