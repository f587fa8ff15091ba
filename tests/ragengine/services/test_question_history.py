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


# --- retention: the daily clean-up empties text past ARANDU_QUESTION_RETENTION_DAYS


def _aged(days: float, **fields):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import QuestionRecordFactory

    row = QuestionRecordFactory(**fields)
    QuestionRecord.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    return row


def test_retention_empties_text_older_than_the_setting_and_keeps_figures(settings):
    from datetime import timedelta

    from django.utils import timezone

    from ragengine.services.question_history import question_history_prune

    settings.ARANDU_QUESTION_RETENTION_DAYS = 30
    old = _aged(31, question="old question", answer="old answer", cost=Decimal("0.5"))
    young = _aged(29, question="young question", answer="young answer")

    assert question_history_prune() == 1
    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.question, old.answer) == ("", "")
    assert old.cost == Decimal("0.5") and old.outcome == "generated"  # figures stay
    assert young.question == "young question"

    # with a clock two days on, the younger row passes the limit too; then nothing is left
    later = timezone.now() + timedelta(days=2)
    assert question_history_prune(now=later) == 1
    assert question_history_prune(now=later) == 0
    young.refresh_from_db()
    assert young.question == "" and young.answer == ""


def test_retention_zero_empties_every_row(settings):
    from ragengine.services.question_history import question_history_prune

    settings.ARANDU_QUESTION_RETENTION_DAYS = 0
    _aged(0, question="just now")
    _aged(5, question="", answer="an answer left from before")
    assert question_history_prune() == 2
    assert not QuestionRecord.objects.exclude(question="", answer="").exists()


def test_the_clean_up_is_scheduled_daily_and_runs_as_a_task(settings):
    from django_q.models import Schedule

    from ragengine.tasks import question_history_prune_task

    schedule = Schedule.objects.get(name="arandu: question history retention")
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "ragengine.tasks.question_history_prune_task",
        Schedule.DAILY,
        -1,
    )
    settings.ARANDU_QUESTION_RETENTION_DAYS = 1
    _aged(2, question="old")
    assert question_history_prune_task() == 1
