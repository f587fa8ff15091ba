"""One Slack question, from the signed POST to /slack/events to the posted answer: every
JSON log line it produces shares one request id, the one in the response header, the
ledger and the answer's feedback buttons."""

from __future__ import annotations

import io
import json
import logging

import pytest

from adminsite.logging import JsonLinesFormatter, RequestIdFilter
from ragengine.models import UsageRecord
from tests.botcore.slack.conftest import event_envelope, mention

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def json_logs():
    """The root logger's records as the production handler writes them in JSON mode."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def test_the_json_logs_of_one_slack_question_share_one_request_id(
    slack, fake_slack, handbook, team_reads_every_set, json_logs
):
    response = slack.event(mention())

    assert response.status_code == 200
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    ours = [line for line in lines if line["logger"].startswith(("botcore", "ragengine"))]
    messages = {line["message"] for line in ours}
    assert {"slack event accepted", "question answered", "door question answered"} <= messages
    assert {line.get("request_id") for line in ours} == {response["X-Request-ID"]}
    request_id = response["X-Request-ID"]
    assert UsageRecord.objects.filter(request_id=request_id).exists()
    (update,) = fake_slack.calls("chat.update")
    assert request_id in json.dumps(update.body["blocks"])  # the feedback buttons' value
    # the engine's own lines say which door the question came through
    answered = next(line for line in ours if line["message"] == "question answered")
    assert answered["door"] == "slack"


def test_an_incoming_x_request_id_follows_the_question_to_its_answer(
    slack, fake_slack, handbook, team_reads_every_set, json_logs
):
    """A load balancer's id (X-Request-ID) is the one every line and the ledger use."""
    body = json.dumps(event_envelope(mention(), event_id="EvLb01"))

    response = slack.post(
        body, content_type="application/json", headers={"X-Request-ID": "lb-5f1e2d"}
    )

    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-5f1e2d"
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    ours = [line for line in lines if line["logger"].startswith(("botcore", "ragengine"))]
    assert "question answered" in {line["message"] for line in ours}
    assert {line.get("request_id") for line in ours} == {"lb-5f1e2d"}
    assert UsageRecord.objects.filter(request_id="lb-5f1e2d").exists()
