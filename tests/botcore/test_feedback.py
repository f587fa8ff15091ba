"""Votes and comments from a door, recorded against the clicker's member."""

from __future__ import annotations

import pytest

from botcore.feedback import THANKS_DOWN, THANKS_UP, Clicker, comment, vote
from ragengine.models import Feedback, Identity

pytestmark = pytest.mark.django_db

ANA = Clicker(platform="slack", user_id="U1", workspace_id="T1", user_name="ana", channel_id="C1")


def test_votes_resolve_the_clicker_and_can_be_changed_then_commented():
    assert vote(clicker=ANA, request_id="abcdef123456", up=True) == THANKS_UP
    assert vote(clicker=ANA, request_id="abcdef123456", up=False) == THANKS_DOWN
    assert comment(clicker=ANA, request_id="abcdef123456", text="outdated").startswith("Thanks")

    row = Feedback.objects.get()
    member = Identity.objects.get(platform="slack", workspace_id="T1", user_id="U1").member
    assert (row.member, row.value, row.comment, row.channel) == (member, -1, "outdated", "slack:C1")


def test_errors_come_back_as_text_for_the_user():
    assert "first" in comment(clicker=ANA, request_id="abcdef123456", text="hm")
    assert "doesn't belong" in vote(clicker=ANA, request_id="", up=True)
    assert not Feedback.objects.exists()
