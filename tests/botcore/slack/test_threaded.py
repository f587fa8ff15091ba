"""The production set-up: Bolt's listener threads hand work to a real worker pool, the
HTTP response returns first, and the answer arrives later (waited for, not slept for)."""

from __future__ import annotations

import pytest

from botcore.models import HandledEvent
from tests.botcore.slack.conftest import mention
from tests.botcore.slack.test_http_events import all_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def threaded_slack(slack_settings, slack, monkeypatch):
    from django.db import connections

    # worker threads close their connections after each job, so none outlive the test
    # (PostgreSQL would refuse to drop the test database)
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    slack_settings.ARANDU_BOT_WORKERS = 2
    from botcore.slack.app import reset_slack_bot, slack_bot

    reset_slack_bot()
    bot = slack_bot()
    slack.fake.clear()
    yield slack, bot
    bot.shutdown()


def test_answer_arrives_from_the_pool_and_a_concurrent_retry_is_dropped(
    threaded_slack, handbook, team_reads_every_set
):
    slack, bot = threaded_slack
    fake = slack.fake

    first = slack.event(mention(), event_id="Ev-threaded")
    retry = slack.event(mention(), event_id="Ev-threaded", retry=1)

    assert first.status_code == retry.status_code == 200
    assert fake.wait_for(lambda f: len(f.calls("chat.update")) >= 1, timeout=20)
    bot.shutdown()  # let any duplicate job finish before counting
    assert len(fake.calls("chat.postMessage")) == 1
    (update,) = fake.calls("chat.update")
    assert "25 working days" in all_text(update.body["blocks"])
    assert HandledEvent.objects.filter(event_id="Ev-threaded").count() == 1


def test_placeholders_appear_while_every_answer_worker_is_busy(
    slack_settings, slack, monkeypatch, handbook, team_reads_every_set
):
    """One answer worker, blocked: the next mentions still get their "Looking that up…"
    at once, and their answers follow when the worker frees up."""
    import threading

    from django.db import connections

    import botcore.slack.handlers as handlers
    from botcore.slack.app import reset_slack_bot, slack_bot

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    slack_settings.ARANDU_BOT_WORKERS = 1
    release = threading.Event()
    real_answer = handlers.answer_incoming

    def slow_answer(incoming, **kwargs):
        release.wait(timeout=30)
        return real_answer(incoming, **kwargs)

    monkeypatch.setattr(handlers, "answer_incoming", slow_answer)
    reset_slack_bot()
    bot = slack_bot()
    fake = slack.fake
    fake.clear()
    try:
        # One event at a time: the test's in-memory SQLite has no busy timeout, so two
        # quick-pool threads claiming at the same instant would see "table is locked".
        for n in range(3):
            ts = f"1699990000.00020{n}"
            assert slack.event(mention(ts=ts), event_id=f"Ev-busy-{n}").status_code == 200
            posted = n + 1
            assert fake.wait_for(lambda f, k=posted: len(f.calls("chat.postMessage")) == k, 20)
        assert fake.calls("chat.update") == []  # nothing answered yet: the worker is stuck
        release.set()
        assert fake.wait_for(lambda f: len(f.calls("chat.update")) == 3, timeout=60)
    finally:
        release.set()
        bot.shutdown()
        reset_slack_bot()
