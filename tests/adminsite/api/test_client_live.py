"""The Python client (clients/python) against a live server on loopback: every call,
streaming through a real HTTP connection, and errors as `AranduError`."""

from __future__ import annotations

from decimal import Decimal

import pytest
from arandu_client import AranduClient, AranduError, Turn

from ragengine.models import ApiTokenKind, KnowledgeSet, Tier
from tests.adminsite.api.conftest import QUESTION
from tests.adminsite.api.test_streaming import streaming_tier  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)

POLICY = b"# Parking\n\n## Bicycles\n\nBicycles are parked in the basement rack, level -2.\n"


@pytest.fixture
def arandu(live_server, issue, handbook):
    issued = issue(
        kind=ApiTokenKind.SERVICE, sets=[handbook], scopes=["ask", "documents", "reports"]
    )
    with AranduClient(live_server.url, issued.plain, timeout_s=60) as client:
        client.issued = issued
        yield client


def test_ask_knowledge_sets_and_usage(arandu):
    sets = arandu.knowledge_sets()
    answer = arandu.ask(QUESTION, knowledge_sets=["handbook"])
    follow_up = arandu.ask("and in Portuguese?", history=[Turn("user", QUESTION)])
    usage = arandu.usage(period="day", by="member")

    assert sets.names == ["handbook"] and sets.origin == "token"
    assert sets.knowledge_sets[0].documents > 0
    assert answer.mode == "extractive" and "25 working days" in answer.answer
    assert answer.sources[0].number == 1 and answer.cost == Decimal("0")
    assert follow_up.sources
    (row,) = usage.rows
    assert row.key == f"api:{arandu.issued.token.name}" and row.questions == 2


def test_ask_stream_over_http_delivers_deltas_then_the_answer(
    arandu,
    streaming_tier,  # noqa: F811 - the fixture imported above
):
    member = arandu.issued.token.member
    member.tier = streaming_tier
    member.save()

    events = list(arandu.ask_stream(QUESTION))

    assert [e.kind for e in events][-1] == "answer"
    deltas = [e.text for e in events if e.kind == "delta"]
    assert len(deltas) >= 3
    final = events[-1].answer
    assert final.mode == "generated" and final.answer.startswith("".join(deltas)[:40])
    assert final.sources and final.tokens_out > 0


def test_an_extractive_stream_is_one_answer_event(arandu):
    events = list(arandu.ask_stream(QUESTION))
    assert [e.kind for e in events] == ["answer"] and events[0].answer.sources


def test_upload_status_and_delete(arandu, embedder, tmp_path):
    path = tmp_path / "parking.md"
    path.write_bytes(POLICY)

    uploaded = arandu.upload_document(knowledge_set="handbook", file=path)
    status = arandu.document(uploaded.id)
    answer = arandu.ask("Where do I park my bicycle?")
    arandu.delete_document(uploaded.id)

    assert uploaded.filename == "parking.md" and uploaded.url.startswith("http://")
    assert status.status == "ready" and status.chunk_count >= 1
    assert "basement" in answer.answer
    with pytest.raises(AranduError) as gone:
        arandu.document(uploaded.id)
    assert gone.value.status == 404 and gone.value.code == "not_found"
    assert status.kind == "file" and status.records is None and status.parent is None


def test_an_uploaded_export_shows_its_records(arandu, embedder, tmp_path):
    path = tmp_path / "faq.jsonl"
    path.write_text('{"id": "a", "text": "Lunch is at noon."}\n{"id": "b"}\n')

    uploaded = arandu.upload_document(knowledge_set="handbook", file=path)
    status = arandu.document(uploaded.id)

    assert uploaded.kind == "export" and status.status == "ready"
    assert status.records["total"] == 1 and status.records["skipped"] == 1
    assert status.skipped_reasons == ('Line 2 has no "text" or "content" field.',)
    arandu.delete_document(uploaded.id)


def test_errors_carry_status_code_detail_and_fields(arandu, live_server, issue):
    with pytest.raises(AranduError) as invalid:
        arandu.ask("hi")
    assert (invalid.value.status, invalid.value.code) == (400, "invalid")
    assert "question" in invalid.value.fields

    with pytest.raises(AranduError) as forbidden:
        arandu.ask(QUESTION, knowledge_sets=["payroll"])
    assert (forbidden.value.status, forbidden.value.code) == (403, "knowledge_sets_not_allowed")

    stranger = AranduClient(live_server.url, "ak_000000000000_nope")
    with stranger, pytest.raises(AranduError) as unauthorized:
        stranger.knowledge_sets()
    assert unauthorized.value.status == 401

    asker = issue(kind=ApiTokenKind.SERVICE, sets=[KnowledgeSet.objects.get(name="handbook")])
    limited = AranduClient(live_server.url, asker.plain)
    with limited, pytest.raises(AranduError) as no_scope:
        limited.usage()
    assert (no_scope.value.status, no_scope.value.code) == (403, "scope_missing")


def test_throttling_says_when_to_retry(live_server, issue, handbook):
    issued = issue(kind=ApiTokenKind.SERVICE, sets=[handbook], rate_limit="2/min")

    with AranduClient(live_server.url, issued.plain) as client:
        client.knowledge_sets()
        client.knowledge_sets()
        with pytest.raises(AranduError) as throttled:
            client.knowledge_sets()

    assert throttled.value.status == 429 and throttled.value.code == "throttled"
    assert 1 <= throttled.value.retry_after_s <= 60


def test_a_tier_refusal_is_an_answer_not_an_error(arandu):
    tier = Tier.objects.create(name="One a day", questions_per_day=1)
    member = arandu.issued.token.member
    member.tier = tier
    member.save()

    arandu.ask(QUESTION)
    refused = arandu.ask("Can I carry vacation days over?")

    assert refused.mode == "refused" and refused.answer
