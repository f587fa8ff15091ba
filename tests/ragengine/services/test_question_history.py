"""Every `ask()` leaves one history row: answered, not found, refused, failed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ragengine.ask_types import AnswerMode, Channel
from ragengine.models import QuestionOutcome, QuestionRecord
from ragengine.retrieval.registry import get_vector_store
from ragengine.services.ask import ask
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_an_extractive_answer_is_recorded_with_its_sources_and_door(handbook):
    member = MemberFactory()
    channel = Channel(platform="slack", channel_id="C123", knowledge_sets=("handbook",))

    answer = ask(member=member, question="How many vacation days do I get?", channel=channel)

    row = QuestionRecord.objects.get()
    assert row.request_id == answer.request_id
    assert (row.member, row.door, row.channel) == (member, "slack", "slack:C123")
    assert row.knowledge_sets == ["handbook"]
    assert row.question == "How many vacation days do I get?"
    assert row.answer == answer.text and "25 working days" in row.answer
    assert row.outcome == QuestionOutcome.EXTRACTIVE and not row.not_found
    assert [s["document_id"] for s in row.sources] == [s.document_id for s in answer.sources]
    assert row.total_ms == pytest.approx(answer.timings_ms["total"], abs=0.001)
    assert row.cost == Decimal("0")


def test_an_answer_that_found_nothing_is_marked_not_found(handbook):
    ask(
        member=MemberFactory(),
        question="What is the price of a pony ride on Mars?",
        channel=Channel(platform="cli"),
    )

    row = QuestionRecord.objects.get()
    assert row.outcome == QuestionOutcome.EXTRACTIVE
    assert row.not_found and row.sources == []
    assert row.knowledge_sets == []  # the CLI reads every set


def test_a_refused_question_is_recorded_readable_without_a_ledger_row(handbook):
    from ragengine.models import UsageRecord

    answer = ask(
        member=MemberFactory(),
        question="How many\x00 vacation days?",
        channel=Channel(platform="discord", channel_id="42"),
    )

    row = QuestionRecord.objects.get()
    assert answer.mode == AnswerMode.REFUSED
    assert row.outcome == QuestionOutcome.REFUSED and not row.not_found
    assert row.question == "How many vacation days?"  # NUL dropped: PostgreSQL refuses it
    assert row.answer == answer.text
    assert not UsageRecord.objects.exists()


def test_an_error_is_recorded_then_raised(handbook, monkeypatch):
    def broken(query):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(get_vector_store(), "search", broken)
    with pytest.raises(RuntimeError):
        ask(
            member=MemberFactory(),
            question="How many vacation days do I get?",
            channel=Channel(platform="api", channel_id="token:1"),
        )

    row = QuestionRecord.objects.get()
    assert (row.outcome, row.door, row.answer) == (QuestionOutcome.ERROR, "api", "")
    assert row.question == "How many vacation days do I get?"


def test_retention_zero_keeps_the_figures_but_no_text(handbook, settings):
    settings.ARANDU_QUESTION_RETENTION_DAYS = 0

    ask(
        member=MemberFactory(),
        question="How many vacation days do I get?",
        channel=Channel(platform="cli"),
    )

    row = QuestionRecord.objects.get()
    assert (row.question, row.answer) == ("", "")
    assert row.outcome == QuestionOutcome.EXTRACTIVE and len(row.sources) >= 1


def test_a_history_failure_never_reaches_the_asker(handbook, monkeypatch, caplog):
    def refuse(**kwargs):
        raise RuntimeError("history table locked")

    monkeypatch.setattr(QuestionRecord.objects, "create", refuse)

    answer = ask(
        member=MemberFactory(),
        question="How many vacation days do I get?",
        channel=Channel(platform="cli"),
    )

    assert "25 working days" in answer.text
    assert "question not recorded in the history" in caplog.text
