"""Feedback on answers: one vote per member and answer, linked to the ledger row."""

from __future__ import annotations

import pytest

from ragengine.models import Feedback, UsageRecord
from ragengine.services.feedback import (
    COMMENT_MAX_CHARS,
    FeedbackError,
    feedback_comment,
    feedback_record,
)
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_a_vote_links_the_ledger_row_and_a_second_click_changes_it():
    member = MemberFactory()
    usage = UsageRecord.objects.create(member=member, request_id="abc123def456")

    first = feedback_record(member=member, request_id="abc123def456", value=1, platform="slack")
    second = feedback_record(member=member, request_id="abc123def456", value=-1)

    assert first.pk == second.pk and Feedback.objects.count() == 1
    row = Feedback.objects.get()
    assert (row.value, row.usage_id, row.member_id) == (-1, usage.pk, member.pk)


def test_two_members_vote_separately_and_answers_without_a_ledger_row_still_count():
    a, b = MemberFactory(), MemberFactory()
    feedback_record(member=a, request_id="nolinkedrow1", value=1)
    feedback_record(member=b, request_id="nolinkedrow1", value=-1)
    assert sorted(Feedback.objects.values_list("value", flat=True)) == [-1, 1]
    assert not Feedback.objects.filter(usage__isnull=False).exists()


@pytest.mark.parametrize(
    ("request_id", "value", "message"),
    [
        ("abc", 0, "👍 or 👎"),
        ("", 1, "doesn't belong"),
        ("x" * 33, 1, "doesn't belong"),
        ("abc\x00def", 1, "doesn't belong"),
    ],
)
def test_bad_votes_are_refused_with_a_readable_reason(request_id, value, message):
    with pytest.raises(FeedbackError, match=message):
        feedback_record(member=MemberFactory(), request_id=request_id, value=value)
    assert not Feedback.objects.exists()


def test_comments_need_a_vote_and_a_sane_length():
    member = MemberFactory()
    with pytest.raises(FeedbackError, match="first"):
        feedback_comment(member=member, request_id="r1", comment="meh")

    feedback_record(member=member, request_id="r1", value=-1)
    with pytest.raises(FeedbackError, match=str(COMMENT_MAX_CHARS)):
        feedback_comment(member=member, request_id="r1", comment="x" * (COMMENT_MAX_CHARS + 1))
    feedback_comment(member=member, request_id="r1", comment="  The policy changed in 2026.  ")

    assert Feedback.objects.get().comment == "The policy changed in 2026."


def test_a_comment_with_control_characters_is_refused_and_the_vote_kept():
    member = MemberFactory()
    feedback_record(member=member, request_id="r1", value=-1)

    for comment in ("Outdated\x00 policy", "Broken \ud83d emoji", "bell\x07"):
        with pytest.raises(FeedbackError, match="can't be read"):
            feedback_comment(member=member, request_id="r1", comment=comment)
    feedback_comment(member=member, request_id="r1", comment="Line one\n\tline two")

    row = Feedback.objects.get()
    assert (row.value, row.comment) == (-1, "Line one\n\tline two")
